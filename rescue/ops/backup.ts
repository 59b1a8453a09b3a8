// Backup of a disk or a partition into a repository: reads only the used blocks the filesystems'
// own maps name (everything, sector by sector, where no map can be read), cuts them into chunks at
// fixed device offsets, stores each new chunk once, verifies the new packs, and writes the
// manifest last, so an interrupted run leaves the repository as it was plus ignorable packs.

import { allocateReadBuffer, readInto, sliceSource, type ByteSource } from '../core/byte-source.ts';
import { readUsedBlockMap } from '../core/block-maps/read-used-block-map.ts';
import { wholeDeviceMap, type UsedBlockMap } from '../core/block-maps/used-block-map.ts';
import { LifeboatError, toLifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import type { FilesystemProbe } from '../core/filesystems/probe-types.ts';
import { readPartitionTable, type PartitionTableInfo } from '../core/partition-table/partition-table.ts';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';
import { forEachLimited } from '../core/run-limited.ts';
import { isAllZero, planChunks, zeroUnused, type ChunkSpan } from '../core/repository/chunk-plan.ts';
import { DELTA_BLOBS_VERSION, snapshotTableOf, type ByteExtent, type SnapshotManifest, type SnapshotOptions, type SnapshotRegion, type SnapshotSource, type SnapshotTable, type SnapshotVolume, type VolumeContent } from '../core/repository/format.ts';
import type { RepositoryWriter } from '../core/repository/repository-port.ts';
import type { SystemChoice } from '../core/repository/system-selection.ts';
import { encodeChunkList, encodeExtentList, splitForTrees, type ChunkRef } from '../core/repository/tree-blobs.ts';
import { loadContent } from './restore.ts';
import { manifestHead, verifyBeforeSaving } from './snapshot-common.ts';

/** Chunks processed at once: reads, hashes and compressions overlap on the thread pool. */
const CHUNKS_IN_FLIGHT = 8;
/** The head of a disk (tables, boot code, boot gap) is kept up to this size. */
const MAX_HEAD_BYTES = 128 * 1024 * 1024;

/** What to back up and how. */
export interface BackupRequest extends SnapshotOptions {
  /** 'system': a disk backup keeping only the volumes `system` chooses (tables and head regions complete). */
  readonly kind: 'disk' | 'partition' | 'system';
  /** For 'system': the decision for every partition of the table (gather-system-facts.ts). */
  readonly system?: readonly SystemChoice[];
  readonly source: ByteSource;
  readonly facts: SnapshotSource;
  readonly sectorBySector: boolean;
  /** Stops the backup between chunks (LB_INPUT_STOPPED); the repository stays as it was. */
  readonly signal?: AbortSignal;
}

/** The saved snapshot. */
export interface BackupResult {
  readonly id: string;
  readonly manifest: SnapshotManifest;
}

interface PlannedItem {
  readonly name: string;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly source: ByteSource;
  readonly extents: ByteExtent[];
  readonly volume?: Omit<SnapshotVolume, 'content'>;
}

interface RunCounters {
  deltaChunks: number;
  readBytes: number;
  newBytes: number;
  chunks: number;
  newChunks: number;
  doneBytes: number;
}

async function collectExtents(map: UsedBlockMap): Promise<ByteExtent[]> {
  const extents: ByteExtent[] = [];
  for await (const extent of map.extents()) extents.push({ offset: extent.offset, length: extent.length });
  return extents;
}

/** Bytes past an NTFS volume's last sector that a restore needs: the backup boot sector, which
 * NTFS keeps in the sector after the volume (ntfsfix and chkdsk check it). Capped at 1 MiB. */
const NTFS_TAIL_MAX_BYTES = 1024 * 1024;

export function ntfsTail(source: ByteSource, probe: FilesystemProbe): ByteExtent[] {
  const end = probe.sizeBytes ?? source.size;
  const length = Math.min(source.size - end, NTFS_TAIL_MAX_BYTES);
  return length > 0 ? [{ offset: end, length }] : [];
}

function filesystemFacts(probe: FilesystemProbe | undefined): SnapshotVolume['filesystem'] {
  return probe ? { type: probe.type, label: probe.label ?? '', uuid: probe.uuid ?? '' } : undefined;
}

async function planVolume(source: ByteSource, name: string, offset: number, partition: number | undefined, sectorBySector: boolean, reporter: ProgressReporter): Promise<PlannedItem> {
  let probe: FilesystemProbe | undefined;
  let map: UsedBlockMap;
  let notice: string | undefined;
  try {
    probe = await probeFilesystem(source);
    map = sectorBySector ? wholeDeviceMap(source, probe?.type ?? 'unrecognised') : await readUsedBlockMap(source, probe);
    if (sectorBySector) notice = 'Backed up sector by sector (--sector-by-sector).';
    else notice = map.notice;
  } catch (error) {
    const coded = toLifeboatError(error);
    map = wholeDeviceMap(source, probe?.type ?? 'unrecognised');
    notice = `${name}: ${coded.code} (${coded.message}); backed up sector by sector instead.`;
  }
  if (notice) reporter.notice(`${name}: ${notice}`);
  const extents = await collectExtents(map);
  if (probe?.type === 'ntfs' && map.notice === undefined) extents.push(...ntfsTail(source, probe));
  const method = map.notice === undefined && !sectorBySector ? 'used-blocks' : 'sector-by-sector';
  return { name, offset, sizeBytes: source.size, source, extents, volume: { partition, offset, filesystem: filesystemFacts(probe), method, notice } };
}

/** The bytes outside partitions a restore needs: head (MBR/GPT, boot code, gap), EBRs, backup GPT. */
function planRegions(table: PartitionTableInfo, disk: ByteSource): PlannedItem[] {
  const sectorSize = table.sectorSize;
  const diskBytes = disk.size;
  const regions: PlannedItem[] = [];
  const add = (name: string, offset: number, length: number) => {
    if (length > 0 && offset + length <= diskBytes) regions.push({ name, offset, sizeBytes: length, source: sliceSource(disk, offset, length), extents: [{ offset: 0, length }] });
  };
  const firstStart = Math.min(...table.partitions.map((partition) => partition.startLba * sectorSize), diskBytes);
  add('head', 0, Math.min(firstStart, MAX_HEAD_BYTES));
  for (const logical of table.mbr?.logicals ?? []) add(`ebr-${logical.ebrLba}`, logical.ebrLba * sectorSize, sectorSize);
  if (table.kind === 'gpt' && table.lastUsableLba !== undefined) add('gpt-backup', (table.lastUsableLba + 1) * sectorSize, diskBytes - (table.lastUsableLba + 1) * sectorSize);
  return regions;
}

async function planDisk(request: BackupRequest, reporter: ProgressReporter): Promise<{ table: SnapshotTable | undefined; regions: PlannedItem[]; volumes: PlannedItem[] }> {
  const table = await readPartitionTable(request.source, request.facts.logicalSectorSize);
  const chosen = request.kind === 'system' ? new Set((request.system ?? []).filter((choice) => choice.chosen).map((choice) => choice.partition)) : undefined;
  if (chosen && (table.kind === 'none' || table.partitions.some((partition) => !request.system?.some((choice) => choice.partition === partition.number)))) {
    throw new LifeboatError('LB_INPUT_USAGE', { detail: table.kind === 'none' ? 'The disk has no partition table: back it up with `backup disk`.' : 'The system selection does not cover every partition of the disk (it changed since it was made).' });
  }
  if (table.kind === 'none') return { table: snapshotTableOf(table), regions: [], volumes: [await planVolume(request.source, 'disk', 0, undefined, request.sectorBySector, reporter)] };
  const volumes: PlannedItem[] = [];
  for (const partition of table.partitions) {
    if (partition.kind === 'extended' || (chosen && !chosen.has(partition.number))) continue;
    const offset = partition.startLba * table.sectorSize;
    const source = sliceSource(request.source, offset, partition.sectors * table.sectorSize);
    volumes.push(await planVolume(source, `partition ${partition.number}`, offset, partition.number, request.sectorBySector, reporter));
  }
  return { table: snapshotTableOf(table), regions: planRegions(table, request.source), volumes };
}

/**
 * Memory for one chunk in flight: the bytes read, and room for their compressed form. Both lie on
 * SharedArrayBuffers, so the chunk workers read and write them in place and nothing is allocated
 * per chunk (no garbage for the collector, no page faults for fresh buffers).
 */
interface ChunkSlot {
  readonly input: Uint8Array;
  readonly output: Uint8Array;
}

class ChunkSlots {
  private readonly free: ChunkSlot[] = [];

  private constructor(slots: ChunkSlot[]) {
    this.free.push(...slots);
  }

  /** Input buffers come from the source, so it can read into them directly (around the page cache). */
  static async create(count: number, chunkBytes: number, source: ByteSource): Promise<ChunkSlots> {
    const slots: ChunkSlot[] = [];
    for (let i = 0; i < count; i++) slots.push({ input: await allocateReadBuffer(source, chunkBytes), output: new Uint8Array(new SharedArrayBuffer(chunkBytes)) });
    return new ChunkSlots(slots);
  }

  /** Runs `work` with a free slot; there is one per chunk in flight, so one is always free. */
  async with<T>(work: (slot: ChunkSlot) => Promise<T>): Promise<T> {
    const slot = this.free.pop();
    if (!slot) throw new LifeboatError('LB_INTERNAL', { detail: 'No free chunk slot.' });
    try {
      return await work(slot);
    } finally {
      this.free.push(slot);
    }
  }
}

/** Reads a chunk's used bytes into `slot`; unused bytes inside it are zero. */
async function readChunk(source: ByteSource, span: ChunkSpan, slot: ChunkSlot): Promise<Uint8Array> {
  const chunk = slot.input.subarray(0, span.length);
  const first = span.used[0];
  const last = span.used.at(-1);
  if (!first || !last) {
    chunk.fill(0);
    return chunk;
  }
  const from = first.offset;
  const to = last.offset + last.length;
  try {
    await readInto(source, chunk.subarray(from - span.start, to - span.start), from);
  } catch (error) {
    const errno = (error as { code?: string }).code;
    const detail = error instanceof LifeboatError ? error.message : `${errno ?? 'error'} at byte ${from}`;
    throw new LifeboatError('LB_DEVICE_READ_FAILED', { detail, offset: from, errno }, { cause: error });
  }
  zeroUnused(chunk, span.start, span.used);
  return chunk;
}

async function storeTrees(repository: RepositoryWriter, refs: ChunkRef[], extents: ByteExtent[], counters: RunCounters): Promise<Pick<VolumeContent, 'chunkLists' | 'extentLists'>> {
  const store = async (bytes: Uint8Array) => {
    const result = await repository.storeBlob('tree', bytes, { compressionLevel: 3 });
    counters.newBytes += result.storedBytes;
    return result.id;
  };
  const chunkLists: string[] = [];
  for (const group of splitForTrees(refs)) chunkLists.push(await store(encodeChunkList(group)));
  const extentLists: string[] = [];
  for (const group of splitForTrees(extents)) extentLists.push(await store(encodeExtentList(group)));
  return { chunkLists, extentLists };
}

async function backUpItem(request: BackupRequest, repository: RepositoryWriter, slots: ChunkSlots, item: PlannedItem, parent: ReadonlyMap<number, string>, total: number, counters: RunCounters, reporter: ProgressReporter): Promise<VolumeContent> {
  const chunkBytes = repository.config.chunkBytes;
  const refs: ChunkRef[] = [];
  await forEachLimited(planChunks(item.extents, item.sizeBytes, chunkBytes), CHUNKS_IN_FLIGHT, (span) => slots.with(async (slot) => {
    throwIfStopped(request.signal, 'the backup');
    const chunk = await readChunk(item.source, span, slot);
    const usedBytes = span.used.reduce((sum, extent) => sum + extent.length, 0);
    counters.readBytes += usedBytes;
    if (!isAllZero(chunk)) {
      const similar = parent.get(span.index);
      const result = await repository.storeBlob('data', chunk, { compressionLevel: request.compressionLevel, output: slot.output, ...(similar === undefined ? {} : { similar }) });
      refs.push({ index: span.index, id: result.id });
      counters.chunks++;
      if (result.isNew) {
        counters.newChunks++;
        if (result.base !== undefined) counters.deltaChunks++;
        counters.newBytes += result.storedBytes;
      }
    }
    counters.doneBytes += usedBytes;
    reporter.progress({ phase: 'backup', bytesDone: counters.doneBytes, bytesTotal: total, item: item.name });
  }));
  refs.sort((a, b) => a.index - b.index);
  const usedBytes = item.extents.reduce((sum, extent) => sum + extent.length, 0);
  return { sizeBytes: item.sizeBytes, usedBytes, ...(await storeTrees(repository, refs, item.extents, counters)) };
}

/** Whether two snapshots' sources are the same disk or file: serial and model when both have one, else the path; same size. */
function sameSource(a: SnapshotSource, b: SnapshotSource): boolean {
  if (a.sizeBytes !== b.sizeBytes) return false;
  if (a.serial !== '' && b.serial !== '') return a.serial === b.serial && a.model === b.model;
  return a.path === b.path;
}

/**
 * The snapshot a new backup is compared with: the latest one of the same kind and source, cut into
 * chunks of the same size. A changed chunk is then stored as a delta against the chunk that was at
 * its place (see FORMAT.md, delta blobs); each snapshot still stands on its own.
 */
async function findParent(request: BackupRequest, repository: RepositoryWriter): Promise<SnapshotManifest | undefined> {
  const candidates = (await repository.listSnapshots())
    .map((snapshot) => snapshot.manifest)
    .filter((manifest) => manifest.kind === request.kind && manifest.chunkBytes === repository.config.chunkBytes && sameSource(manifest.source, request.facts));
  return candidates.sort((a, b) => b.time.localeCompare(a.time))[0];
}

/** The parent's chunks of the same region or volume (same place, same size), by chunk index. */
async function parentChunks(repository: RepositoryWriter, parent: SnapshotManifest | undefined, item: PlannedItem): Promise<ReadonlyMap<number, string>> {
  if (!parent) return new Map();
  const content = item.volume
    ? parent.volumes.find((volume) => volume.partition === item.volume?.partition && volume.offset === item.offset)?.content
    : parent.regions.find((region) => region.name === item.name && region.offset === item.offset)?.content;
  if (!content || content.sizeBytes !== item.sizeBytes) return new Map();
  try {
    return (await loadContent(repository, content, parent.chunkBytes)).chunks;
  } catch {
    return new Map(); // damaged parent trees: no deltas (check reports the damage)
  }
}

/** Backs up a disk or a partition and saves the snapshot; the repository must be locked for writing. */
export async function backup(request: BackupRequest, repository: RepositoryWriter, reporter: ProgressReporter): Promise<BackupResult> {
  const started = Date.now();
  const plan = request.kind !== 'partition'
    ? await planDisk(request, reporter)
    : { table: undefined, regions: [], volumes: [await planVolume(request.source, 'partition', 0, undefined, request.sectorBySector, reporter)] };
  const items = [...plan.regions, ...plan.volumes];
  const total = items.reduce((sum, item) => sum + item.extents.reduce((inner, extent) => inner + extent.length, 0), 0);
  const counters: RunCounters = { deltaChunks: 0, readBytes: 0, newBytes: 0, chunks: 0, newChunks: 0, doneBytes: 0 };
  reporter.progress({ phase: 'backup', bytesDone: 0, bytesTotal: total });
  const regions: SnapshotRegion[] = [];
  const volumes: SnapshotVolume[] = [];
  const slots = await ChunkSlots.create(CHUNKS_IN_FLIGHT, repository.config.chunkBytes, request.source);
  const parent = await findParent(request, repository);
  if (request.verify) repository.verifyPacksAsWritten();
  try {
    for (const item of items) {
      const content = await backUpItem(request, repository, slots, item, await parentChunks(repository, parent, item), total, counters, reporter);
      if (item.volume) volumes.push({ ...item.volume, content });
      else regions.push({ name: item.name, offset: item.offset, content });
    }
    await repository.flush();
  } catch (error) {
    await repository.abort();
    throw error;
  }
  await verifyBeforeSaving(repository, reporter, request);
  const manifest: SnapshotManifest = {
    ...manifestHead(repository, request.kind, started, request),
    source: request.facts,
    table: plan.table,
    regions,
    volumes,
    ...(request.kind === 'system' ? { system: [...(request.system ?? [])] } : {}),
    stats: { logicalBytes: total, readBytes: counters.readBytes, newBytes: counters.newBytes, chunks: counters.chunks, newChunks: counters.newChunks, ...(repository.config.version >= DELTA_BLOBS_VERSION ? { deltaChunks: counters.deltaChunks } : {}), durationMs: Date.now() - started },
  };
  const id = await repository.saveSnapshot(manifest);
  return { id, manifest };
}
