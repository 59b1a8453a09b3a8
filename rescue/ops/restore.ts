// Executes a restore plan: every chunk is read from the repository, checked against its id
// (hash or authentication) and only then written; chunks missing from the index are found before
// the first write. Volumes go first, the partition table last, so an interrupted restore does not
// leave a table pointing at half-written filesystems.

import { LifeboatError } from '../core/errors.ts';
import { encodeGpt } from '../core/partition-table/gpt.ts';
import { EMPTY_ENTRY, encodeBootSector, encodeMbr, layoutMbr, makeEntry, parseBootSector } from '../core/partition-table/mbr.ts';
import { mbrLayoutOf } from '../core/layout/layout-tables.ts';
import { fixHiddenSectors, placeNtfsBackupBootSector } from './volume-fixups.ts';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';
import { forEachLimited } from '../core/run-limited.ts';
import { chunkCount, planChunks, type ChunkSpan } from '../core/repository/chunk-plan.ts';
import type { ByteExtent, SnapshotManifest, VolumeContent } from '../core/repository/format.ts';
import type { RepositoryReader } from '../core/repository/repository-port.ts';
import type { RestorePlan, RestoreStep, RestoreTargetFacts } from '../core/repository/restore-plan.ts';
import { decodeChunkList, decodeExtentList } from '../core/repository/tree-blobs.ts';

/** Chunks read, checked and written at once. */
const CHUNKS_IN_FLIGHT = 6;

/**
 * Bytes written between two background syncs of the target. Left to the kernel, most of a restore
 * onto an image file stayed dirty in the page cache and went out in the final sync (834 MiB restored:
 * 0.7 s of fsync after the last write); synced as it goes, the writing overlaps the reading and
 * decoding, and the progress shown is what is on the device.
 */
const SYNC_STEP_BYTES = 64 * 1024 * 1024;

/** Syncs the target in the background every SYNC_STEP_BYTES (one sync at a time); `finish` syncs the rest and reports any failure. */
export class SyncAsWritten {
  private written = 0;
  private running: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  private readonly target: RestoreTarget;

  constructor(target: RestoreTarget) {
    this.target = target;
  }

  wrote(bytes: number): void {
    this.written += bytes;
    if (this.running || this.written < SYNC_STEP_BYTES) return;
    this.written = 0;
    this.running = this.target.sync().catch((error: unknown) => {
      this.failure ??= { error };
    }).finally(() => {
      this.running = undefined;
    });
  }

  async finish(): Promise<void> {
    await this.running;
    if (this.failure) throw this.failure.error;
    await this.target.sync();
  }
}

/** Where a restore writes (a disk, a partition, an image file or a window of one). */
export interface RestoreTarget {
  readonly size: number;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Flushes written data to the device. */
  sync(): Promise<void>;
  /**
   * An image file: reads `into.length` bytes at `offset` into `into`. A zero step then reads first and
   * writes only what is not zeros already, so a hole stays a hole (reading one costs no device I/O).
   * Devices leave it out: there a read before each write would only add to the time.
   */
  readInto?(offset: number, into: Uint8Array): Promise<void>;
  /**
   * A block device: `length` bytes of shared memory whose writes may go around the page cache
   * (O_DIRECT) where offset and length are whole blocks. Others get plain shared memory.
   */
  allocateWriteBuffer?(length: number): Promise<Uint8Array>;
}

/** A target opened by io: the writer plus its facts and what backs it. */
export interface OpenedRestoreTarget extends RestoreTarget {
  readonly facts: RestoreTargetFacts;
  readonly backing: { readonly path: string; readonly offset: number; readonly isBlockDevice: boolean };
  /** Closes it; returns notices for the user (a disk whose new table the kernel did not re-read). */
  close(): Promise<readonly string[]>;
}

/** Runs the filesystem's own resize tool on the restored partition (io supplies it). */
export type GrowFilesystem = (step: Extract<RestoreStep, { kind: 'grow-filesystem' }>) => Promise<void>;

/** Lands a shrink-volume step: the snapshot's volume shrunk on a copy-on-write view, then written (ops/restore-shrink.ts makes it). */
export type ShrinkRestoredVolume = (step: Extract<RestoreStep, { kind: 'shrink-volume' }>) => Promise<void>;

/** Makes a swap area again with its UUID and label (io supplies mkswap). */
export type MakeRestoredSwap = (step: Extract<RestoreStep, { kind: 'swap' }>) => Promise<void>;

/** A volume's trees, loaded and checked. */
interface LoadedContent {
  readonly extents: ByteExtent[];
  readonly chunks: Map<number, string>;
}

/** Loads the extent and chunk lists of a volume or region. */
export async function loadContent(repository: RepositoryReader, content: VolumeContent, chunkBytes: number): Promise<LoadedContent> {
  const extents: ByteExtent[] = [];
  for (const id of content.extentLists) {
    const previous = extents.at(-1);
    extents.push(...decodeExtentList(await repository.readBlob(id), content.sizeBytes, previous ? previous.offset + previous.length : 0));
  }
  const chunks = new Map<number, string>();
  const count = chunkCount(content.sizeBytes, chunkBytes);
  let last = -1;
  for (const id of content.chunkLists) {
    for (const ref of decodeChunkList(await repository.readBlob(id), count, last)) {
      chunks.set(ref.index, ref.id);
      last = ref.index;
    }
  }
  return { extents, chunks };
}

interface RestoreContext {
  readonly repository: RepositoryReader;
  readonly target: RestoreTarget;
  readonly chunkBytes: number;
  readonly fresh: boolean;
  readonly reporter: ProgressReporter;
  readonly total: number;
  readonly signal: AbortSignal | undefined;
  readonly slots: ChunkSlots;
  readonly syncing: SyncAsWritten;
  done: number;
}

/**
 * Memory for the chunks in flight, kept for the whole restore: each chunk is opened into one of
 * these (shared with the chunk workers, so neither copied nor allocated per chunk), written from
 * there and the slot taken again. Fresh memory per chunk cost a 1.2 GB restore ~360,000 page faults.
 */
class ChunkSlots {
  private readonly free: Uint8Array[] = [];
  private readonly bytes: number;
  private readonly target: RestoreTarget;

  constructor(chunkBytes: number, target: RestoreTarget) {
    // One byte more than a chunk: a frame that fills its room holds more than a chunk.
    this.bytes = chunkBytes + 1;
    this.target = target;
  }

  async take(): Promise<Uint8Array> {
    return this.free.pop() ?? (this.target.allocateWriteBuffer ? this.target.allocateWriteBuffer(this.bytes) : new Uint8Array(new SharedArrayBuffer(this.bytes)));
  }

  give(slot: Uint8Array): void {
    this.free.push(slot);
  }
}

async function readChunk(context: RestoreContext, id: string, slot: Uint8Array): Promise<Uint8Array> {
  const { repository } = context;
  return repository.readBlobInto ? repository.readBlobInto(id, slot) : repository.readBlob(id);
}

async function writeContent(context: RestoreContext, loaded: LoadedContent, sizeBytes: number, base: number, label: string): Promise<void> {
  const zeros = new Uint8Array(context.chunkBytes);
  await forEachLimited(planChunks(loaded.extents, sizeBytes, context.chunkBytes), CHUNKS_IN_FLIGHT, async (span) => {
    throwIfStopped(context.signal, 'the restore');
    const id = loaded.chunks.get(span.index);
    const slot = id ? await context.slots.take() : undefined;
    try {
      await writeSpan(context, span, id && slot ? await readChunk(context, id, slot) : undefined, id, base, zeros);
    } finally {
      if (slot) context.slots.give(slot);
    }
    context.reporter.progress({ phase: 'restore', bytesDone: context.done, bytesTotal: context.total, item: label });
  });
}

/** Writes one chunk's used extents: from its data, or zeros for a zero chunk unless the target is new. */
async function writeSpan(context: RestoreContext, span: ChunkSpan, data: Uint8Array | undefined, id: string | undefined, base: number, zeros: Uint8Array): Promise<void> {
  if (data && data.length !== span.length) {
    throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Chunk ${id} holds ${data.length} bytes where ${span.length} are expected.`, chunk: id });
  }
  for (const extent of span.used) {
    if (data) await context.target.write(base + extent.offset, data.subarray(extent.offset - span.start, extent.offset - span.start + extent.length));
    else if (!context.fresh) await context.target.write(base + extent.offset, zeros.subarray(0, extent.length));
    if (data || !context.fresh) context.syncing.wrote(extent.length);
    context.done += extent.length;
  }
}

/** Bytes of zeros written at once by a zero step. */
const ZERO_WRITE_BYTES = 1024 * 1024;

/** True when `bytes` equal the start of `zeros` (a memcmp). */
function allZeros(bytes: Uint8Array, zeros: Uint8Array): boolean {
  return Buffer.compare(bytes, zeros.subarray(0, bytes.length)) === 0;
}

/**
 * Writes a zero step's runs (never planned onto a new image file, which reads as zeros already). Onto
 * an image file (readInto), what reads as zeros already is left alone: the gaps of a sparse image stay
 * holes instead of being filled with written zeros.
 */
async function writeZeros(context: RestoreContext, step: Extract<RestoreStep, { kind: 'zero' }>): Promise<void> {
  const zeros = new Uint8Array(Math.min(ZERO_WRITE_BYTES, step.sizeBytes));
  const seen = context.target.readInto ? new Uint8Array(zeros.length) : undefined;
  for (const run of step.runs) {
    for (let at = 0; at < run.length; at += zeros.length) {
      throwIfStopped(context.signal, 'the restore');
      const length = Math.min(zeros.length, run.length - at);
      if (seen && context.target.readInto) await context.target.readInto(run.offset + at, seen.subarray(0, length));
      if (!seen || !allZeros(seen.subarray(0, length), zeros)) {
        await context.target.write(run.offset + at, zeros.subarray(0, length));
        context.syncing.wrote(length);
      }
      context.done += length;
      context.reporter.progress({ phase: 'restore', bytesDone: context.done, bytesTotal: context.total, item: 'zeros where the disk has no partition' });
    }
  }
}

async function writeGpt(target: RestoreTarget, manifest: SnapshotManifest, step: Extract<RestoreStep, { kind: 'gpt' }>): Promise<void> {
  const table = manifest.table;
  if (!table?.id || table.firstUsableLba === undefined) throw new LifeboatError('LB_REPO_INVALID', { detail: 'The snapshot\'s GPT lacks its disk GUID or usable range.' });
  const sectorSize = table.sectorSize;
  const head = await target.read(0, sectorSize);
  const boot = parseBootSector(head.subarray(0, 512));
  const protectiveStyle = head[446 + 5] === 0xff && head[446 + 6] === 0xff && head[446 + 7] === 0xff ? 'sfdisk' : 'gptfdisk';
  const sectors = encodeGpt({
    sectorSize,
    diskSectors: step.diskSectors,
    diskGuid: table.id,
    firstUsableLba: table.firstUsableLba,
    entryCount: table.gptEntryCount ?? 128,
    entries: step.partitions.map((partition) => ({
      index: partition.number,
      typeGuid: partition.type,
      uniqueGuid: partition.uuid ?? '00000000-0000-0000-0000-000000000000',
      firstLba: partition.startLba,
      lastLba: partition.startLba + partition.sectors - 1,
      name: partition.name ?? '',
      ...(partition.attributes === undefined ? {} : { attributes: partition.attributes }),
    })),
  }, { bootCode: boot.bootCode, diskSignature: boot.diskSignature, protectiveStyle });
  for (const { lba, bytes } of sectors) {
    const out = new Uint8Array(Math.ceil(bytes.length / sectorSize) * sectorSize);
    out.set(bytes);
    await target.write(lba * sectorSize, out);
  }
}

/** Keeps only the listed primary (or extended) slots of the MBR on the target; the others become empty. */
async function writeMbrTable(target: RestoreTarget, step: Extract<RestoreStep, { kind: 'mbr-table' }>): Promise<void> {
  const boot = parseBootSector(await target.read(0, 512));
  const slots = boot.slots.map((slot, index) => (step.keep.includes(index + 1) ? slot : EMPTY_ENTRY)) as unknown as typeof boot.slots;
  await target.write(0, encodeBootSector({ ...boot, slots }));
}

/** The parts of `extents` inside `only` (both ascending): a region step that writes part of a region. */
function clipExtents(extents: readonly ByteExtent[], only: readonly ByteExtent[]): ByteExtent[] {
  const clipped: ByteExtent[] = [];
  for (const extent of extents) {
    for (const range of only) {
      const start = Math.max(extent.offset, range.offset);
      const end = Math.min(extent.offset + extent.length, range.offset + range.length);
      if (end > start) clipped.push({ offset: start, length: end - start });
    }
  }
  return clipped;
}

/** Writes the MBR and EBR chain of a planned layout, keeping the boot code and disk signature the target has now (the snapshot's, from its head). */
async function writeMbrLayout(target: RestoreTarget, step: Extract<RestoreStep, { kind: 'mbr-layout' }>): Promise<void> {
  const boot = parseBootSector(await target.read(0, 512));
  for (const { lba, bytes } of encodeMbr(layoutMbr(mbrLayoutOf(step.layout, { diskSignature: boot.diskSignature, bootCode: boot.bootCode })))) {
    const sectorSize = step.layout.sectorSize;
    const out = new Uint8Array(Math.ceil(bytes.length / sectorSize) * sectorSize);
    out.set(bytes);
    await target.write(lba * sectorSize, out);
  }
}

async function mergeMbrEntries(target: RestoreTarget, step: Extract<RestoreStep, { kind: 'mbr-merge' }>): Promise<void> {
  const boot = parseBootSector(await target.read(0, 512));
  const slots: Array<(typeof boot.slots)[number]> = [...boot.slots];
  for (const partition of step.partitions) {
    const type = Number.parseInt(partition.type, 16);
    if (partition.number < 1 || partition.number > 4 || !Number.isInteger(type) || type <= 0 || type > 0xff) throw new LifeboatError('LB_REPO_INVALID', { detail: `Partition ${partition.number} of the snapshot is not a primary MBR partition (type ${partition.type}).` });
    slots[partition.number - 1] = makeEntry({ type, start: partition.startLba, sectors: partition.sectors, bootable: partition.bootable });
  }
  await target.write(0, encodeBootSector({ ...boot, slots: slots as unknown as typeof boot.slots }));
}

async function writeMbrEntry(target: RestoreTarget, step: Extract<RestoreStep, { kind: 'mbr-entry' }>): Promise<void> {
  const boot = parseBootSector(await target.read(0, 512));
  const slot = step.partition.number - 1;
  const old = boot.slots[slot];
  if (!old || slot > 3) throw new LifeboatError('LB_INPUT_USAGE', { detail: `Partition ${step.partition.number} is not a primary partition.` });
  const slots = [...boot.slots] as [typeof old, typeof old, typeof old, typeof old];
  slots[slot] = makeEntry({ type: old.type, start: step.partition.startLba, sectors: step.partition.sectors, bootable: old.status === 0x80 });
  await target.write(0, encodeBootSector({ ...boot, slots }));
}

/** Restores a snapshot onto a target by the plan made for it. */
export async function restore(options: {
  repository: RepositoryReader;
  manifest: SnapshotManifest;
  plan: RestorePlan;
  target: RestoreTarget;
  reporter: ProgressReporter;
  growFilesystem: GrowFilesystem;
  /** Needed when the plan shrinks a volume. */
  shrinkVolume?: ShrinkRestoredVolume;
  /** Needed when the plan makes a swap area again. */
  makeSwap?: MakeRestoredSwap;
  /** Stops between chunks and steps (LB_INPUT_STOPPED); what was written stays written. */
  signal?: AbortSignal;
}): Promise<void> {
  const { repository, manifest, plan, target, reporter } = options;
  const missingPort = plan.steps.find((step) => (step.kind === 'shrink-volume' && !options.shrinkVolume) || (step.kind === 'swap' && !options.makeSwap));
  if (missingPort) throw new LifeboatError('LB_INTERNAL', { detail: `The restore was given no way to run its step "${missingPort.label}"; nothing was written.` });
  const contents = new Map<RestoreStep, { loaded: LoadedContent; sizeBytes: number }>();
  for (const step of plan.steps) {
    const content = step.kind === 'volume' ? manifest.volumes[step.volume]?.content : step.kind === 'region' ? manifest.regions[step.region]?.content : undefined;
    if (!content) continue;
    const whole = await loadContent(repository, content, manifest.chunkBytes);
    const loaded = step.kind === 'region' && step.only ? { extents: clipExtents(whole.extents, step.only), chunks: whole.chunks } : whole;
    const missing = [...loaded.chunks.values()].find((id) => !repository.hasBlob(id));
    if (missing) throw new LifeboatError('LB_REPO_INDEX_MISSING', { detail: `Chunk ${missing} (${step.label}) is listed in no index; nothing was written.`, chunk: missing });
    contents.set(step, { loaded, sizeBytes: content.sizeBytes });
  }
  const zeroBytes = plan.steps.reduce((sum, step) => sum + (step.kind === 'zero' ? step.sizeBytes : 0), 0);
  const total = zeroBytes + [...contents.values()].reduce((sum, entry) => sum + entry.loaded.extents.reduce((inner, extent) => inner + extent.length, 0), 0);
  const context: RestoreContext = { repository, target, chunkBytes: manifest.chunkBytes, fresh: plan.target.fresh, reporter, total, signal: options.signal, slots: new ChunkSlots(manifest.chunkBytes, target), syncing: new SyncAsWritten(target), done: 0 };
  reporter.progress({ phase: 'restore', bytesDone: 0, bytesTotal: total });
  for (const step of plan.steps) {
    throwIfStopped(options.signal, 'the restore');
    const entry = contents.get(step);
    if (entry && 'offset' in step) await writeContent(context, entry.loaded, entry.sizeBytes, step.offset, step.label);
    else if (step.kind === 'zero') await writeZeros(context, step);
    else if (step.kind === 'gpt') await writeGpt(target, manifest, step);
    else if (step.kind === 'mbr-entry') await writeMbrEntry(target, step);
    else if (step.kind === 'mbr-table') await writeMbrTable(target, step);
    else if (step.kind === 'mbr-merge') await mergeMbrEntries(target, step);
    else if (step.kind === 'mbr-layout') await writeMbrLayout(target, step);
    else if (step.kind === 'hidden-sectors') await fixHiddenSectors(target, { filesystem: step.filesystem, offset: step.offset, partitionBytes: step.sizeBytes, startLba: step.startLba });
    else if (step.kind === 'shrink-volume' && options.shrinkVolume) {
      await context.syncing.finish();
      reporter.notice(`Shrinking partition ${step.partition} (${step.filesystem}) to ${step.sizeBytes} bytes on a view of the snapshot.`);
      await options.shrinkVolume(step);
      if (step.filesystem === 'ntfs') await placeNtfsBackupBootSector(target, step.offset, step.sizeBytes);
    } else if (step.kind === 'swap' && options.makeSwap) {
      await context.syncing.finish();
      await options.makeSwap(step);
    } else if (step.kind === 'grow-filesystem') {
      await context.syncing.finish();
      await options.growFilesystem(step);
      if (step.filesystem === 'ntfs') await placeNtfsBackupBootSector(target, step.offset, step.sizeBytes);
    }
  }
  await context.syncing.finish();
}
