// The clone's steps that land a volume smaller than its source (issue 16): ext and NTFS are shrunk
// on a copy-on-write view of the source (ops/shrink-volume.ts; the source is never written) and
// written to their new place, NTFS's boot sectors then name the new start and its backup boot
// sector sits at the new end; swap is made again (mkswap, its UUID and label). Before anything is
// written, the room the overlays need is checked against memory and the scratch folder.

import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { readUsedBlockMap } from '../core/block-maps/read-used-block-map.ts';
import type { ClonePlan, CloneStep } from '../core/clone/clone-plan.ts';
import { LifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { checkShrinkRoom, estimateShrinkOverlay, type ShrinkEstimate } from '../core/shrink-estimate.ts';
import { formatBytes } from '../core/disk-facts.ts';
import type { OpenedRestoreTarget, RestoreTarget } from './restore.ts';
import { shrinkVolumeOnto, type ShrinkOnView, type ShrinkRoom } from './shrink-volume.ts';
import { fixHiddenSectors, placeNtfsBackupBootSector } from './volume-fixups.ts';

/** A shrink step of a clone plan. */
export type ShrinkFilesystemStep = Extract<CloneStep, { kind: 'shrink-filesystem' }>;
/** A swap step of a clone plan. */
export type CloneSwapStep = Extract<CloneStep, { kind: 'swap' }>;

/** What a clone that shrinks needs from io: the room for overlays, the view, and mkswap. */
export interface CloneShrinkPorts {
  readonly room: ShrinkRoom;
  readonly shrinkOnView: ShrinkOnView;
  /** Makes a swap area at the step's place on the target (mkswap with its UUID and label). */
  makeSwap(step: CloneSwapStep): Promise<void>;
}

/** The largest overlay one of the plan's shrinks needs (they run one after another); refused (LB_DEVICE_SCRATCH_TOO_SMALL) when the room cannot hold it. */
export async function checkCloneShrinkRoom(plan: ClonePlan, source: ByteSource, room: ShrinkRoom): Promise<ShrinkEstimate | undefined> {
  let largest: ShrinkEstimate | undefined;
  for (const step of plan.steps) {
    if (step.kind !== 'shrink-filesystem') continue;
    const volume = sliceSource(source, step.volume.sourceOffset, step.volume.sourceBytes);
    const estimate = await estimateShrinkOverlay(await readUsedBlockMap(volume, await probeFilesystem(volume)), step.newSizeBytes, step.filesystem);
    if (!largest || estimate.overlayBytes > largest.overlayBytes) largest = estimate;
  }
  if (largest) checkShrinkRoom(largest, { memoryBytes: room.memoryBytes, scratchBytes: room.scratchBytes ?? 0, scratchFolder: room.scratchFolder });
  return largest;
}

/** The shrink services the front ends have (ui/cli/context.ts repositories.shrink). */
export interface CloneShrinkServices {
  measureRoom(options: { scratchFolder?: string }): Promise<ShrinkRoom>;
  readonly shrinkOnView: ShrinkOnView;
  makeSwap(request: { path: string; offset: number; sizeBytes: number; uuid: string | undefined; label: string | undefined }): Promise<void>;
}

/** The room a plan's shrinks get, and the plan's line that says so. */
export interface ShrinkRoomLine {
  readonly room: ShrinkRoom;
  readonly line: string;
}

/**
 * The room for a plan's shrinks (a memory share, then the scratch folder), checked against the largest
 * one's estimate before anything is written, and the plan's line saying so; undefined when nothing shrinks.
 */
export async function planShrinkRoom(plan: ClonePlan, source: ByteSource, services: CloneShrinkServices, scratchFolder: string): Promise<ShrinkRoomLine | undefined> {
  if (!plan.steps.some((step) => step.kind === 'shrink-filesystem')) return undefined;
  const room = await services.measureRoom({ scratchFolder });
  const estimate = await checkCloneShrinkRoom(plan, source, room);
  const line = `Shrink room: about ${formatBytes(estimate?.overlayBytes ?? 0)} of rewritten blocks at most; ${formatBytes(room.memoryBytes)} of memory and ${formatBytes(room.scratchBytes ?? 0)} free in ${room.scratchFolder ?? 'no scratch folder'} (--scratch DIR).`;
  return { room, line };
}

/** runClone's shrink ports for `target`, with the room planShrinkRoom measured (none when nothing shrinks). */
export function cloneShrinkPorts(services: CloneShrinkServices, target: OpenedRestoreTarget, room: ShrinkRoom | undefined): CloneShrinkPorts {
  return {
    room: room ?? { memoryBytes: 0 },
    shrinkOnView: services.shrinkOnView,
    makeSwap: (step) => services.makeSwap({ path: target.backing.path, offset: target.backing.offset + step.offset, sizeBytes: step.sizeBytes, uuid: step.uuid, label: step.swapLabel }),
  };
}

/** Runs a shrink step: the filesystem shrunk on a view, written at its place, its boot sectors fixed. Returns the bytes written. */
export async function runShrinkStep(step: ShrinkFilesystemStep, options: { source: ByteSource; target: RestoreTarget; ports: CloneShrinkPorts | undefined; signal?: AbortSignal; onProgress(written: number): void }): Promise<number> {
  const { ports, target } = options;
  if (!ports) throw new LifeboatError('LB_INTERNAL', { detail: `The clone plan shrinks ${step.volume.label}, and no shrink was wired in.` });
  const { volume } = step;
  const result = await shrinkVolumeOnto({
    source: sliceSource(options.source, volume.sourceOffset, volume.sourceBytes), filesystem: step.filesystem, newSize: step.newSizeBytes,
    target, targetOffset: volume.targetOffset, room: ports.room, shrinkOnView: ports.shrinkOnView,
    ...(options.signal ? { signal: options.signal } : {}), onProgress: (written) => options.onProgress(written),
  });
  await fixHiddenSectors(target, { filesystem: volume.filesystem, offset: volume.targetOffset, partitionBytes: volume.targetBytes, startLba: volume.targetStartLba });
  if (step.filesystem === 'ntfs') await placeNtfsBackupBootSector(target, volume.targetOffset, volume.targetBytes);
  return result.writtenBytes;
}

/** Runs a swap step; refuses when no mkswap was wired in. */
export async function runSwapStep(step: CloneSwapStep, ports: CloneShrinkPorts | undefined): Promise<void> {
  if (!ports) throw new LifeboatError('LB_INTERNAL', { detail: `The clone plan makes ${step.label}, and no mkswap was wired in.` });
  await ports.makeSwap(step);
}
