// Runs a clone plan (core/clone/clone-plan.ts): straight from the source device to the target, with
// no repository between. The source is only read. Each partition's used blocks (its filesystem's
// own map; every sector for unknown filesystems or --sector-by-sector) are read in pieces with
// several pieces in flight, so reading and writing overlap; the target is synced as it goes. The
// target's old tables are wiped first and the new table is written last, so a clone stopped
// midway leaves a target with no valid partition table.

import { allocateReadBuffer, readInto, sliceSource, type ByteSource } from '../core/byte-source.ts';
import { readUsedBlockMap } from '../core/block-maps/read-used-block-map.ts';
import { wholeDeviceMap, type UsedExtent } from '../core/block-maps/used-block-map.ts';
import type { CloneStep, CloneVolume, ClonePlan } from '../core/clone/clone-plan.ts';
import type { FstabNofailStep } from '../core/clone/fstab-nofail.ts';
import { LifeboatError, toLifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { gptLayoutOf, mbrLayoutOf } from '../core/layout/layout-tables.ts';
import { encodeGpt } from '../core/partition-table/gpt.ts';
import { encodeMbr, layoutMbr, parseBootSector } from '../core/partition-table/mbr.ts';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';
import { forEachLimited } from '../core/run-limited.ts';
import { ntfsTail } from './backup.ts';
import { runShrinkStep, runSwapStep, type CloneShrinkPorts } from './clone-shrink.ts';
import { SyncAsWritten, type RestoreTarget } from './restore.ts';
import { applyNewIds, type SetExtUuid } from './clone-new-ids.ts';
import { fixHiddenSectors, placeNtfsBackupBootSector } from './volume-fixups.ts';

/** Bytes read and written at once. */
const COPY_PIECE_BYTES = 4 * 1024 * 1024;
/** Pieces in flight: while some are read, others are written. */
const PIECES_IN_FLIGHT = 4;

/** Grows a filesystem on the target (io runs the filesystem's own tool). */
export type GrowClonedFilesystem = (step: Extract<CloneStep, { kind: 'grow-filesystem' }>) => Promise<void>;

/** What a clone runs with. */
export interface CloneOptions {
  readonly plan: ClonePlan;
  /** The source, opened read-only. */
  readonly source: ByteSource;
  readonly target: RestoreTarget;
  readonly reporter: ProgressReporter;
  readonly growFilesystem: GrowClonedFilesystem;
  /** Shrinks on a view and mkswap, for plans with shrink-filesystem or swap steps (ops/clone-shrink.ts). */
  readonly shrink?: CloneShrinkPorts;
  /** Stops between pieces (LB_INPUT_STOPPED); the target then holds no valid table. */
  readonly signal?: AbortSignal;
  /** Gives an ext2/3/4 filesystem of the target a new UUID (--new-ids; io runs tune2fs). */
  readonly setExtUuid?: SetExtUuid;
  /** Adds nofail to fstab lines in the copy (clone system's fstab-nofail step; io runs debugfs). */
  readonly addNofail?: (step: FstabNofailStep) => Promise<void>;
}

/** A piece of a copy: `length` bytes from `from` on the source to `to` on the target. */
interface Piece {
  readonly from: number;
  readonly to: number;
  readonly length: number;
  readonly label: string;
}

/** The byte ranges of a volume to copy, from the start of the volume. */
async function volumeExtents(source: ByteSource, volume: CloneVolume, reporter: ProgressReporter): Promise<UsedExtent[]> {
  const slice = sliceSource(source, volume.sourceOffset, volume.sourceBytes);
  const extents: UsedExtent[] = [];
  try {
    const probe = await probeFilesystem(slice);
    const map = volume.sectorBySector || !probe ? wholeDeviceMap(slice, probe?.type ?? 'unrecognised') : await readUsedBlockMap(slice, probe);
    if (map.notice && !volume.sectorBySector && probe) reporter.notice(`${volume.label}: ${map.notice.replace('backed up', 'copied')}`);
    for await (const extent of map.extents()) extents.push(extent);
    if (probe?.type === 'ntfs' && map.notice === undefined) extents.push(...ntfsTail(slice, probe));
  } catch (error) {
    const coded = toLifeboatError(error);
    reporter.notice(`${volume.label}: ${coded.code} (${coded.message}); copied sector by sector instead.`);
    extents.splice(0, extents.length, { offset: 0, length: volume.sourceBytes });
  }
  return extents;
}

function* piecesOf(extents: readonly UsedExtent[], volume: { sourceOffset: number; targetOffset: number; label: string }): Iterable<Piece> {
  for (const extent of extents) {
    for (let at = 0; at < extent.length; at += COPY_PIECE_BYTES) {
      const length = Math.min(COPY_PIECE_BYTES, extent.length - at);
      yield { from: volume.sourceOffset + extent.offset + at, to: volume.targetOffset + extent.offset + at, length, label: volume.label };
    }
  }
}

/** Writes the new table: EBRs or the backup GPT first, sector 0 last. */
async function writeTable(source: ByteSource, target: RestoreTarget, step: Extract<CloneStep, { kind: 'table' }>): Promise<void> {
  const { layout } = step;
  const head = await source.read(0, layout.sectorSize);
  const boot = parseBootSector(head.subarray(0, 512));
  const sectors = layout.table === 'gpt'
    ? encodeGpt(gptLayoutOf(step.gptFirstUsableLba === undefined ? layout : { ...layout, firstUsableLba: step.gptFirstUsableLba }, { diskGuid: step.diskId, ...(step.gptEntryCount === undefined ? {} : { entryCount: step.gptEntryCount }) }), {
      bootCode: boot.bootCode, diskSignature: step.diskSignature ?? boot.diskSignature,
      protectiveStyle: head[446 + 5] === 0xff && head[446 + 6] === 0xff && head[446 + 7] === 0xff ? 'sfdisk' : 'gptfdisk',
    })
    : encodeMbr(layoutMbr(mbrLayoutOf(layout, { diskSignature: step.diskSignature ?? boot.diskSignature, bootCode: boot.bootCode })));
  const ordered = [...sectors.filter((sector) => sector.lba !== 0), ...sectors.filter((sector) => sector.lba === 0)];
  for (const { lba, bytes } of ordered) {
    const out = new Uint8Array(Math.ceil(bytes.length / layout.sectorSize) * layout.sectorSize);
    out.set(bytes);
    // Sector 0 of a 4Kn disk: the boot code and table fill its first 512 bytes, the rest as on the source.
    if (lba === 0 && out.length > 512) out.set(head.subarray(512), 512);
    await target.write(lba * layout.sectorSize, out);
  }
}

/** Runs the plan; returns the bytes copied. */
export async function runClone(options: CloneOptions): Promise<{ bytesCopied: number }> {
  const { plan, source, target, reporter, signal } = options;
  const copies = new Map<CloneStep, Piece[]>();
  // A shrink writes about its source's used bytes: that is its share of the progress total.
  const shrinkBytes = new Map<CloneStep, number>();
  for (const step of plan.steps) {
    if (step.kind === 'shrink-filesystem') shrinkBytes.set(step, (await volumeExtents(source, step.volume, reporter)).reduce((sum, extent) => sum + extent.length, 0));
    if (step.kind === 'volume') copies.set(step, [...piecesOf(await volumeExtents(source, step.volume, reporter), { ...step.volume, label: step.label })]);
    if (step.kind === 'boot-gap') copies.set(step, [...piecesOf([{ offset: 0, length: step.length }], { sourceOffset: step.sourceOffset, targetOffset: step.targetOffset, label: step.label })]);
  }
  const total = [...copies.values()].flat().reduce((sum, piece) => sum + piece.length, 0) + [...shrinkBytes.values()].reduce((sum, bytes) => sum + bytes, 0);
  const syncing = new SyncAsWritten(target);
  const free: Uint8Array[] = [];
  let done = 0;
  reporter.progress({ phase: 'clone', bytesDone: 0, bytesTotal: total });
  const copy = async (piece: Piece) => {
    throwIfStopped(signal, 'the clone');
    const buffer = free.pop() ?? (await allocateReadBuffer(source, COPY_PIECE_BYTES));
    try {
      const bytes = buffer.subarray(0, piece.length);
      await readInto(source, bytes, piece.from);
      await target.write(piece.to, bytes);
    } finally {
      free.push(buffer);
    }
    syncing.wrote(piece.length);
    done += piece.length;
    reporter.progress({ phase: 'clone', bytesDone: done, bytesTotal: total, item: piece.label });
  };
  for (const step of plan.steps) {
    throwIfStopped(signal, 'the clone');
    if (step.kind === 'wipe') {
      for (const run of step.runs) await target.write(run.offset, new Uint8Array(run.length));
      await target.sync();
    } else if (step.kind === 'volume' || step.kind === 'boot-gap') {
      await forEachLimited(copies.get(step) ?? [], PIECES_IN_FLIGHT, copy);
      if (step.kind === 'volume') await fixHiddenSectors(target, { filesystem: step.volume.filesystem, offset: step.volume.targetOffset, partitionBytes: step.volume.targetBytes, startLba: step.volume.targetStartLba });
    } else if (step.kind === 'grow-filesystem') {
      await syncing.finish();
      await options.growFilesystem(step);
      if (step.filesystem === 'ntfs') await placeNtfsBackupBootSector(target, step.offset, step.sizeBytes);
    } else if (step.kind === 'new-ids') {
      await syncing.finish();
      await applyNewIds({ target, step, reporter, ...(options.setExtUuid ? { setExtUuid: options.setExtUuid } : {}) });
    } else if (step.kind === 'fstab-nofail') {
      await syncing.finish();
      if (!options.addNofail) throw new LifeboatError('LB_INTERNAL', { detail: 'a clone plan edits the copy\'s fstab, but no editor was given' });
      await options.addNofail(step);
    } else if (step.kind === 'shrink-filesystem') {
      await syncing.finish();
      const base = done;
      const written = await runShrinkStep(step, {
        source, target, ports: options.shrink, ...(signal ? { signal } : {}),
        onProgress: (bytes) => reporter.progress({ phase: 'clone', bytesDone: base + bytes, bytesTotal: Math.max(total, base + bytes), item: step.volume.label }),
      });
      done = base + written;
    } else if (step.kind === 'swap') {
      await syncing.finish();
      await runSwapStep(step, options.shrink);
    } else if (step.kind === 'table') {
      await syncing.finish();
      await writeTable(source, target, step);
    }
  }
  await syncing.finish();
  return { bytesCopied: done };
}
