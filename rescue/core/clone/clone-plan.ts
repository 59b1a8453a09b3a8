// The plan of a clone, made before anything is written: which byte ranges of the target are wiped
// first (its old tables, so a clone stopped midway leaves no valid table), each partition's copy
// from its source place to its planned place (used blocks, or every sector), the boot-sector
// fix-ups, the filesystems grown or shrunk (ext and NTFS on a copy-on-write view of the source, which
// is never written; swap made again), the boot gap (GRUB's core.img on BIOS disks) and, last, the new
// partition table. The layout (each partition's new start and size) is an input: it comes from the
// one layout planner (core/layout/plan-layout.ts), so this file only turns it into steps.

import { LifeboatError } from '../errors.ts';
import { growProgramsFor } from '../external-programs.ts';
import type { ProbeState } from '../filesystems/probe-types.ts';
import { formatBytes, formatBytesExact } from '../human-units.ts';
import { isSwap } from '../layout/layout-rules.ts';
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
  /** The volume's filesystem shrunk to `newSizeBytes` on a view of the source and written to its target place (ops/clone-shrink.ts). */
  | { readonly kind: 'shrink-filesystem'; readonly label: string; readonly volume: CloneVolume; readonly filesystem: string; readonly newSizeBytes: number; readonly minimumBytes: number }
  /** A swap area made again at its smaller size, with the source's UUID and label. */
  | { readonly kind: 'swap'; readonly label: string; readonly partition: number | undefined; readonly offset: number; readonly sizeBytes: number; readonly fromBytes: number; readonly uuid: string | undefined; readonly swapLabel: string | undefined }
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

/** What the probe said of a source volume that may have to shrink: its state, and a swap area's UUID and label. */
export interface CloneSourceVolume {
  readonly state?: ProbeState | undefined;
  readonly uuid?: string | undefined;
  readonly label?: string | undefined;
}

/** What the disk clone is planned from: the source's table and filesystems, and the layout for the target. */
export interface DiskCloneRequest {
  readonly source: { readonly path: string; readonly sizeBytes: number; readonly table: PartitionTableInfo };
  /** Each partition's filesystem as probed (by number). */
  readonly filesystems: ReadonlyMap<number, string | undefined>;
  /** Each partition's probe state, UUID and label (by number), for those that shrink. */
  readonly volumes?: ReadonlyMap<number, CloneSourceVolume>;
  readonly target: { readonly description: string; readonly sizeBytes: number };
  readonly layout: LayoutPlan;
  readonly sectorBySector: boolean;
}

/** Filesystems a clone shrinks from a copy-on-write view of the source (core/external-programs.ts shrinkProgramsFor): ext and NTFS by their tools, FAT and exFAT made again and copied. */
const SHRUNK_ON_VIEW: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4', 'ntfs', 'vfat', 'exfat']);

/** Refuses (before anything is written) to shrink a filesystem whose flags say it is dirty or hibernated. */
function refuseUnclean(what: string, filesystem: string, volume: CloneSourceVolume | undefined): void {
  const state = volume?.state;
  if (state === 'hibernated') {
    throw new LifeboatError('LB_DEVICE_SOURCE_HIBERNATED', { detail: `${what} must shrink, and its ${filesystem} ${filesystem === 'swap' ? 'area holds a hibernated Linux system' : 'volume belongs to a hibernated Windows (hiberfil.sys holds a memory image)'}; a shrunk copy would not match what the system resumes.`, filesystem, state });
  }
  if (state === 'needs-check' && filesystem !== 'swap') {
    throw new LifeboatError('LB_DEVICE_SOURCE_DIRTY', { detail: `${what} must shrink, and its ${filesystem} filesystem ${filesystem === 'ntfs' ? 'is marked dirty (Windows would run chkdsk on it)' : 'was not unmounted cleanly (or has errors recorded, or a journal to replay)'}.`, filesystem, state });
  }
}

/** The step that lands a volume smaller than its source: a shrink on a view (ext, NTFS), a new swap area, or a refusal. */
function shrinkStep(volume: CloneVolume, what: string, options: { minimumBytes: number; swap: boolean; source: CloneSourceVolume | undefined }): CloneStep {
  const filesystem = volume.filesystem ?? 'unknown';
  if (options.swap || filesystem === 'swap') {
    refuseUnclean(what, 'swap', options.source);
    return { kind: 'swap', label: `make ${what}'s swap area again at ${formatBytes(volume.targetBytes)} (was ${formatBytes(volume.sourceBytes)}; mkswap${options.source?.uuid ? ` UUID ${options.source.uuid}` : ''}${options.source?.label ? ` label "${options.source.label}"` : ''})`, partition: volume.partition, offset: volume.targetOffset, sizeBytes: volume.targetBytes, fromBytes: volume.sourceBytes, uuid: options.source?.uuid, swapLabel: options.source?.label };
  }
  if (!SHRUNK_ON_VIEW.has(filesystem)) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${what} holds ${filesystem === 'unknown' ? 'no known filesystem' : `a ${filesystem} filesystem`}, which a clone does not shrink; it needs ${formatBytesExact(volume.sourceBytes)}, its place on the target holds ${formatBytesExact(volume.targetBytes)}.`, requiredBytes: volume.sourceBytes, targetBytes: volume.targetBytes, filesystem });
  }
  refuseUnclean(what, filesystem, options.source);
  const newSizeBytes = Math.floor(volume.targetBytes / 4096) * 4096;
  return {
    kind: 'shrink-filesystem', label: `shrink ${what} from ${formatBytes(volume.sourceBytes)} to ${formatBytes(newSizeBytes)} (its minimum ${formatBytes(options.minimumBytes)}) on a copy-on-write view of the source, and write it`,
    volume, filesystem, newSizeBytes, minimumBytes: options.minimumBytes,
  };
}

/** Plans a whole-disk clone onto the layout given. */
export function planDiskClone(request: DiskCloneRequest): ClonePlan {
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
    if (partition.change === 'shrink') {
      steps.push(shrinkStep(volume, `partition ${partition.number}`, { minimumBytes: partition.minimumSectors * sectorSize, swap: isSwap(partition), source: request.volumes?.get(partition.number) }));
      continue;
    }
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
  readonly source: {
    readonly path: string; readonly sizeBytes: number; readonly filesystem: string | undefined;
    /** The smallest its filesystem can be made (resize2fs -P, ntfsresize --info), when measured; a target below its size needs it. */
    readonly minimumBytes?: number | undefined;
    readonly volume?: CloneSourceVolume;
  };
  readonly target: { readonly description: string; readonly sizeBytes: number; readonly startLba: number };
  readonly sectorBySector: boolean;
}

/** Refuses a partition target below the filesystem's minimum (or with no minimum known), with the numbers. */
function refuseBelowMinimum(request: PartitionCloneRequest): number {
  const { source, target } = request;
  const filesystem = source.filesystem;
  if (filesystem === 'swap') return 0;
  if (filesystem === undefined || !SHRUNK_ON_VIEW.has(filesystem) || source.minimumBytes === undefined) {
    const why = filesystem === undefined ? 'holds no known filesystem, which a clone never shrinks' : SHRUNK_ON_VIEW.has(filesystem) ? `holds ${filesystem}, whose minimum size could not be measured` : `holds ${filesystem}, which a clone does not shrink`;
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; ${source.path} holds ${formatBytesExact(source.sizeBytes)} and ${why}.`, requiredBytes: source.sizeBytes, targetBytes: target.sizeBytes });
  }
  if (target.sizeBytes < source.minimumBytes) {
    throw new LifeboatError('LB_DEVICE_TARGET_BELOW_MINIMUM', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; the ${filesystem} filesystem of ${source.path} (${formatBytesExact(source.sizeBytes)}) can shrink to ${formatBytesExact(source.minimumBytes)} at least.`, targetBytes: target.sizeBytes, minimumBytes: source.minimumBytes, sourceBytes: source.sizeBytes });
  }
  return source.minimumBytes;
}

/** Plans a partition clone onto an existing partition: a larger one (the filesystem grows to fill it) or a smaller one down to the filesystem's minimum (ext and NTFS shrink, swap is made again). */
export function planPartitionClone(request: PartitionCloneRequest): ClonePlan {
  const { source, target } = request;
  const volume: CloneVolume = {
    partition: undefined, label: `${source.path} (${source.filesystem ?? 'unknown contents'})`, sourceOffset: 0, sourceBytes: source.sizeBytes,
    targetOffset: 0, targetBytes: target.sizeBytes, targetStartLba: target.startLba, filesystem: source.filesystem, sectorBySector: request.sectorBySector,
  };
  const shrinking = target.sizeBytes < source.sizeBytes;
  const steps: CloneStep[] = shrinking
    ? [shrinkStep(volume, source.path, { minimumBytes: refuseBelowMinimum(request), swap: false, source: source.volume })]
    : [{ kind: 'volume', label: volume.label, volume }];
  const notes: string[] = [];
  if (target.sizeBytes > source.sizeBytes && source.filesystem) {
    if (growProgramsFor(source.filesystem) && source.filesystem !== 'vfat') steps.push({ kind: 'grow-filesystem', label: `grow ${source.filesystem} to ${formatBytes(target.sizeBytes)}`, partition: 0, offset: 0, sizeBytes: target.sizeBytes, filesystem: source.filesystem });
    else notes.push(`The ${source.filesystem} filesystem keeps its size (${formatBytes(source.sizeBytes)}) in the larger partition.`);
  }
  return { kind: 'partition', source: { path: source.path, sizeBytes: source.sizeBytes }, target: { description: target.description, sizeBytes: target.sizeBytes }, layout: undefined, steps, ids: 'kept', notes };
}
