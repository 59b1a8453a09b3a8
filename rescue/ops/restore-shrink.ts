// A snapshot restored onto a smaller disk (issue 16): the minimum of each ext2/3/4 and NTFS volume
// is measured on a view of the snapshot's volume (the layout planner needs it), the room each shrink's
// copy-on-write overlay needs is checked before anything is written, and each shrink step shrinks the
// snapshot's volume on a view (ops/shrink-volume.ts) and writes the shrunk filesystem to the target.

import type { ByteSource } from '../core/byte-source.ts';
import { readUsedBlockMap } from '../core/block-maps/read-used-block-map.ts';
import { LifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { formatBytes } from '../core/human-units.ts';
import type { SnapshotManifest } from '../core/repository/format.ts';
import type { RepositoryReader } from '../core/repository/repository-port.ts';
import type { RestorePlan, RestoreTargetFacts } from '../core/repository/restore-plan.ts';
import { planDiskLayout, restoreNeedsMinimums, shrinkableVolumes } from '../core/repository/restore-layout-plan.ts';
import type { FitMode, SizeRequest } from '../core/layout/layout-types.ts';
import { checkShrinkRoom, estimateShrinkOverlay, type ShrinkEstimate } from '../core/shrink-estimate.ts';
import type { ShrinkRestoredVolume } from './restore.ts';
import { shrinkVolumeOnto, type ShrinkOnView, type ShrinkRoom, type ShrinkTarget } from './shrink-volume.ts';
import { openSnapshotVolume } from './snapshot-source.ts';

/** Measures the minimum of a filesystem given as bytes (io/measure-on-view.ts measureMinimumOnView). */
export type MeasureVolumeMinimum = (request: { source: ByteSource; filesystem: string; signal?: AbortSignal }) => Promise<{ readonly bytes: number | undefined; readonly how: string }>;

/** Shrinks are made to whole 4 KiB blocks (shrink-volume.ts rounds the same way). */
const SHRINK_BLOCK_BYTES = 4096;

async function volumeSource(repository: RepositoryReader, manifest: SnapshotManifest, index: number): Promise<ByteSource> {
  const volume = manifest.volumes[index];
  if (!volume) throw new LifeboatError('LB_REPO_INVALID', { detail: `The snapshot has no volume ${index}.` });
  return openSnapshotVolume(repository, volume.content, manifest.chunkBytes);
}

/** The measured minimum bytes of every volume a restore can shrink (by partition), and notes for those it could not measure. */
export async function measureSnapshotMinimums(options: { repository: RepositoryReader; manifest: SnapshotManifest; measure: MeasureVolumeMinimum; signal?: AbortSignal }): Promise<{ minimums: Map<number, number>; notes: string[] }> {
  const minimums = new Map<number, number>();
  const notes: string[] = [];
  for (const { partition, volume, filesystem } of shrinkableVolumes(options.manifest)) {
    const source = await volumeSource(options.repository, options.manifest, volume);
    const measured = await options.measure({ source, filesystem, ...(options.signal ? { signal: options.signal } : {}) });
    if (measured.bytes === undefined) notes.push(`Partition ${partition} (${filesystem}) keeps its size: ${measured.how}.`);
    else minimums.set(partition, measured.bytes);
  }
  return { minimums, notes };
}

/** Each shrink step's overlay estimate, refused (LB_DEVICE_SCRATCH_TOO_SMALL, with the figures) when the room cannot hold the largest; run before anything is written. */
export async function checkRestoreShrinkRoom(options: { repository: RepositoryReader; manifest: SnapshotManifest; plan: RestorePlan; room: ShrinkRoom }): Promise<Array<{ partition: number; estimate: ShrinkEstimate }>> {
  const estimates: Array<{ partition: number; estimate: ShrinkEstimate }> = [];
  for (const step of options.plan.steps) {
    if (step.kind !== 'shrink-volume') continue;
    const source = await volumeSource(options.repository, options.manifest, step.volume);
    const map = await readUsedBlockMap(source, await probeFilesystem(source));
    const estimate = await estimateShrinkOverlay(map, Math.floor(step.sizeBytes / SHRINK_BLOCK_BYTES) * SHRINK_BLOCK_BYTES, step.filesystem);
    try {
      checkShrinkRoom(estimate, { memoryBytes: options.room.memoryBytes, scratchBytes: options.room.scratchBytes ?? 0, ...(options.room.scratchFolder ? { scratchFolder: options.room.scratchFolder } : {}) });
    } catch (error) {
      if (!(error instanceof LifeboatError)) throw error;
      throw new LifeboatError(error.code, { ...error.details, detail: `Partition ${step.partition} (${step.filesystem}, ${formatBytes(step.fromBytes)} -> ${formatBytes(step.sizeBytes)}): ${String(error.details.detail)} Nothing was written.`, partition: step.partition }, { cause: error });
    }
    estimates.push({ partition: step.partition, estimate });
  }
  return estimates;
}

/** The shrink-volume step runner of ops/restore.ts: the snapshot's volume shrunk on a view, written at the step's offset of the target. */
export function restoreShrinker(options: { repository: RepositoryReader; manifest: SnapshotManifest; target: ShrinkTarget; room: ShrinkRoom; shrinkOnView: ShrinkOnView; signal?: AbortSignal; onProgress?: (written: number, total: number, partition: number) => void }): ShrinkRestoredVolume {
  return async (step) => {
    const source = await volumeSource(options.repository, options.manifest, step.volume);
    await shrinkVolumeOnto({
      source, filesystem: step.filesystem, newSize: step.sizeBytes, target: options.target, targetOffset: step.offset, room: options.room, shrinkOnView: options.shrinkOnView,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (written, total) => options.onProgress?.(written, total, step.partition),
    });
  };
}

/**
 * A whole-disk restore laid out by the layout planner (--fit, --size). Onto a smaller target (or with
 * sizes asked) each shrinkable volume's minimum is measured first on a view of the snapshot's volume,
 * so the planner may shrink it.
 */
export async function planFittedRestore(options: { repository: RepositoryReader; manifest: SnapshotManifest; target: RestoreTargetFacts; fit: FitMode; sizes: readonly SizeRequest[]; measure: MeasureVolumeMinimum; signal?: AbortSignal }): Promise<RestorePlan> {
  const { manifest } = options;
  const layoutOptions = { fit: options.fit, sizes: options.sizes };
  if (!restoreNeedsMinimums(manifest, options.target.sizeBytes, layoutOptions)) return planDiskLayout(manifest, options.target, layoutOptions);
  const measured = await measureSnapshotMinimums({ repository: options.repository, manifest, measure: options.measure, ...(options.signal ? { signal: options.signal } : {}) });
  const plan = planDiskLayout(manifest, options.target, { ...layoutOptions, minimums: measured.minimums });
  return measured.notes.length === 0 ? plan : { ...plan, notes: [...plan.notes, ...measured.notes] };
}

/** Before anything is written (a dry run too): the room each of the plan's shrinks needs, refused with the figures when short, and a line for each. */
export async function planRestoreShrinkRoom(options: { repository: RepositoryReader; manifest: SnapshotManifest; plan: RestorePlan; measureRoom: () => Promise<ShrinkRoom> }): Promise<{ room: ShrinkRoom; lines: string[] } | undefined> {
  if (!options.plan.steps.some((step) => step.kind === 'shrink-volume')) return undefined;
  const room = await options.measureRoom();
  const estimates = await checkRestoreShrinkRoom({ repository: options.repository, manifest: options.manifest, plan: options.plan, room });
  const have = `${formatBytes(room.memoryBytes)} of memory${room.scratchFolder ? ` and ${formatBytes(room.scratchBytes ?? 0)} in ${room.scratchFolder}` : ''}`;
  const scratch = `${formatBytes(room.scratchBytes ?? 0)} in ${room.scratchFolder ?? 'no scratch folder'}`;
  return {
    room,
    lines: estimates.map(({ partition, estimate }) => (estimate.scratchOnly
      ? `  shrink room: partition ${partition} is made again in a scratch file and its files copied: about ${formatBytes(estimate.overlayBytes)}; there is ${scratch}`
      : `  shrink room: partition ${partition} rewrites about ${formatBytes(estimate.overlayBytes)} on its view (${formatBytes(estimate.movedBytes)} moved, ${formatBytes(estimate.metadataBytes)} metadata); there is ${have}`)),
  };
}
