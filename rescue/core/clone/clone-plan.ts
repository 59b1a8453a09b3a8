// The plan of a clone, made before anything is written: which byte ranges of the target are wiped
// first (its old tables, so a clone stopped midway leaves no valid table), each partition's copy
// from its source place to its planned place (used blocks, or every sector), the boot-sector
// fix-ups, the filesystems grown, the boot gap (GRUB's core.img on BIOS disks) and, last, the new
// partition table. The layout (each partition's new start and size) is an input: it comes from the
// one layout planner (core/layout/plan-layout.ts), so this file only turns it into steps.

import { LifeboatError } from '../errors.ts';
import { growProgramsFor } from '../external-programs.ts';
import { formatBytes, formatBytesExact } from '../human-units.ts';
import type { LayoutPlan } from '../layout/layout-types.ts';
import type { PartitionTableInfo } from '../partition-table/partition-table.ts';
import type { NewIds, NewIdsStep } from './new-ids.ts';
import type { FstabNofailStep } from './fstab-nofail.ts';

/** One volume copied: where from, where to, and how. */
export interface CloneVolume {
  /** Partition number on the source (undefined: a partition clone). */
  readonly partition: number | undefined;
  readonly label: string;
  readonly sourceOffset: number;
  readonly sourceBytes: number;
  readonly targetOffset: number;
  readonly targetBytes: number;
  /** The partition's first sector on the target's disk (what NTFS and FAT boot sectors record). */
  readonly targetStartLba: number;
  readonly filesystem: string | undefined;
  /** Every sector, not only the used blocks (--sector-by-sector). */
  readonly sectorBySector: boolean;
}

/** A step of a clone, in the order they run. */
export type CloneStep =
  | { readonly kind: 'wipe'; readonly label: string; readonly runs: ReadonlyArray<{ readonly offset: number; readonly length: number }> }
  | { readonly kind: 'volume'; readonly label: string; readonly volume: CloneVolume }
  | { readonly kind: 'grow-filesystem'; readonly label: string; readonly partition: number; readonly offset: number; readonly sizeBytes: number; readonly filesystem: string }
  | { readonly kind: 'boot-gap'; readonly label: string; readonly sourceOffset: number; readonly targetOffset: number; readonly length: number }
  | NewIdsStep
  | FstabNofailStep
  | {
    readonly kind: 'table'; readonly label: string; readonly layout: LayoutPlan; readonly diskId: string; readonly gptEntryCount: number | undefined;
    /** A GPT's first usable LBA: the source's (sfdisk writes 2048, gptfdisk 34) where the layout's first partition still starts at or after it. */
    readonly gptFirstUsableLba: number | undefined;
    /** A new MBR disk signature (--new-ids; also the protective MBR's); undefined: the source's. */
    readonly diskSignature?: number;
  };

/** A clone's plan: data to print, confirm and then run. */
export interface ClonePlan {
  readonly kind: 'disk' | 'partition' | 'system';
  readonly source: { readonly path: string; readonly sizeBytes: number };
  readonly target: { readonly description: string; readonly sizeBytes: number };
  readonly layout: LayoutPlan | undefined;
  readonly steps: readonly CloneStep[];
  /** Kept: without --new-ids the copy carries the source's disk and filesystem ids; with it, the new ids (core/clone/new-ids.ts). */
  readonly ids: 'kept' | NewIds;
  readonly notes: readonly string[];
}

/** Bytes wiped at the target's head and tail before the copy: every table and its backup lives there. */
const WIPE_BYTES = 1024 * 1024;

/** What the disk clone is planned from: the source's table and filesystems, and the layout for the target. */
export interface DiskCloneRequest {
  readonly source: { readonly path: string; readonly sizeBytes: number; readonly table: PartitionTableInfo };
  /** Each partition's filesystem as probed (by number). */
  readonly filesystems: ReadonlyMap<number, string | undefined>;
  readonly target: { readonly description: string; readonly sizeBytes: number };
  readonly layout: LayoutPlan;
  readonly sectorBySector: boolean;
}

/** Refuses a layout that shrinks a partition: landing on a smaller target (shrinking filesystems) comes later. */
function refuseShrinking(request: DiskCloneRequest): void {
  const shrinking = request.layout.partitions.filter((partition) => partition.kind !== 'extended' && partition.change === 'shrink');
  if (shrinking.length === 0) return;
  const sourceBytes = request.source.table.partitions.reduce((end, partition) => Math.max(end, (partition.startLba + partition.sectors) * request.layout.sectorSize), 0);
  throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', {
    detail: `${request.target.description} holds ${formatBytesExact(request.target.sizeBytes)}; the plan would shrink partition ${shrinking.map((partition) => partition.number).join(', ')}, and a clone does not shrink partitions yet: the target needs at least ${formatBytesExact(request.layout.minimumBytes)} with every partition at its size (the source's partitions end at ${formatBytesExact(sourceBytes)}).`,
    requiredBytes: request.layout.minimumBytes, targetBytes: request.target.sizeBytes, shrinking: shrinking.map((partition) => partition.number),
  });
}

/** Plans a whole-disk clone onto the layout given. */
export function planDiskClone(request: DiskCloneRequest): ClonePlan {
  refuseShrinking(request);
  const { layout, source } = request;
  const sectorSize = layout.sectorSize;
  const placed = layout.partitions.filter((partition) => partition.kind !== 'extended');
  const firstTargetStart = Math.min(...layout.partitions.map((partition) => partition.startLba), layout.diskSectors) * sectorSize;
  const head = Math.min(WIPE_BYTES, firstTargetStart, request.target.sizeBytes);
  const tail = Math.min(WIPE_BYTES, request.target.sizeBytes - head);
  const steps: CloneStep[] = [{ kind: 'wipe', label: 'the target\'s old partition tables (head and end of the disk)', runs: [{ offset: 0, length: head }, ...(tail > 0 ? [{ offset: request.target.sizeBytes - tail, length: tail }] : [])] }];
  const grows: Array<Extract<CloneStep, { kind: 'grow-filesystem' }>> = [];
  for (const partition of placed) {
    const filesystem = request.filesystems.get(partition.number);
    const volume: CloneVolume = {
      partition: partition.number, label: `partition ${partition.number} (${filesystem ?? 'unknown contents'})`,
      sourceOffset: partition.from.startLba * sectorSize, sourceBytes: partition.from.sectors * sectorSize,
      targetOffset: partition.startLba * sectorSize, targetBytes: partition.sectors * sectorSize, targetStartLba: partition.startLba,
      filesystem, sectorBySector: request.sectorBySector,
    };
    steps.push({ kind: 'volume', label: volume.label, volume });
    if (partition.change === 'grow' && filesystem && growProgramsFor(filesystem)) {
      grows.push({ kind: 'grow-filesystem', label: `grow ${filesystem} of partition ${partition.number} to ${formatBytes(volume.targetBytes)}`, partition: partition.number, offset: volume.targetOffset, sizeBytes: volume.targetBytes, filesystem });
    }
  }
  // fatresize finds its partition through the table: FAT grows after the table is written, the others before.
  steps.push(...grows.filter((step) => step.filesystem !== 'vfat'));
  const gap = source.table.bootGap;
  if (gap) {
    const length = Math.min(gap.sectors * sectorSize, firstTargetStart - gap.startLba * sectorSize);
    if (length > 0) steps.push({ kind: 'boot-gap', label: `the boot gap after the table (${formatBytes(length)}, as it is)`, sourceOffset: gap.startLba * sectorSize, targetOffset: gap.startLba * sectorSize, length });
  }
  const sourceFirstUsable = source.table.firstUsableLba;
  const gptFirstUsableLba = layout.table === 'gpt' && sourceFirstUsable !== undefined && sourceFirstUsable >= layout.firstUsableLba && sourceFirstUsable <= firstTargetStart / sectorSize ? sourceFirstUsable : undefined;
  steps.push({ kind: 'table', label: `the ${layout.table.toUpperCase()} partition table${layout.gptBackup ? ' with its backup at the new end' : ''} (last)`, layout, diskId: source.table.id ?? '', gptEntryCount: source.table.gpt?.entryCount, gptFirstUsableLba });
  steps.push(...grows.filter((step) => step.filesystem === 'vfat'));
  const notes: string[] = [];
  for (const partition of layout.partitions) {
    if (partition.role === 'bios-boot' && partition.moved) notes.push(`The BIOS boot partition ${partition.number} moves: GRUB's boot code points at its old place, so run grub-install on the copy before booting it by BIOS.`);
  }
  return { kind: 'disk', source: { path: source.path, sizeBytes: source.sizeBytes }, target: request.target, layout, steps, ids: 'kept', notes };
}

/** What a partition clone is planned from. */
export interface PartitionCloneRequest {
  readonly source: { readonly path: string; readonly sizeBytes: number; readonly filesystem: string | undefined };
  readonly target: { readonly description: string; readonly sizeBytes: number; readonly startLba: number };
  readonly sectorBySector: boolean;
}

/** Plans a partition clone onto an existing partition at least as large; the filesystem grows to fill it. */
export function planPartitionClone(request: PartitionCloneRequest): ClonePlan {
  const { source, target } = request;
  if (target.sizeBytes < source.sizeBytes) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; ${source.path} holds ${formatBytesExact(source.sizeBytes)}, and a clone does not shrink filesystems yet.`, requiredBytes: source.sizeBytes, targetBytes: target.sizeBytes });
  }
  const volume: CloneVolume = {
    partition: undefined, label: `${source.path} (${source.filesystem ?? 'unknown contents'})`, sourceOffset: 0, sourceBytes: source.sizeBytes,
    targetOffset: 0, targetBytes: target.sizeBytes, targetStartLba: target.startLba, filesystem: source.filesystem, sectorBySector: request.sectorBySector,
  };
  const steps: CloneStep[] = [{ kind: 'volume', label: volume.label, volume }];
  const notes: string[] = [];
  if (target.sizeBytes > source.sizeBytes && source.filesystem) {
    if (growProgramsFor(source.filesystem) && source.filesystem !== 'vfat') steps.push({ kind: 'grow-filesystem', label: `grow ${source.filesystem} to ${formatBytes(target.sizeBytes)}`, partition: 0, offset: 0, sizeBytes: target.sizeBytes, filesystem: source.filesystem });
    else notes.push(`The ${source.filesystem} filesystem keeps its size (${formatBytes(source.sizeBytes)}) in the larger partition.`);
  }
  return { kind: 'partition', source: { path: source.path, sizeBytes: source.sizeBytes }, target: { description: target.description, sizeBytes: target.sizeBytes }, layout: undefined, steps, ids: 'kept', notes };
}
