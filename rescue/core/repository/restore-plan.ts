// The plan of a restore, made before anything is written: which volume and region goes where,
// whether the partition table is re-encoded for a target of another size, which partition grows,
// and the checks that refuse a target (too small, other sector size). Printed by --dry-run,
// shown before the confirmation, then executed step by step by ops/restore.ts.

import { LifeboatError } from '../errors.ts';
import { formatBytes, formatBytesExact, formatOffset } from '../human-units.ts';
import type { ByteExtent, SnapshotManifest, SnapshotPartition } from './format.ts';
import { describeZeros, spaceOutside } from '../space-outside.ts';
import { describeLayoutPlan } from '../layout/describe-layout-plan.ts';
import type { LayoutPlan } from '../layout/layout-types.ts';
import { sourceLayoutOf } from '../layout/layout-tables.ts';
import { planLayout } from '../layout/plan-layout.ts';

/** What the restore needs to know of the target. */
export interface RestoreTargetFacts {
  readonly path: string;
  readonly sizeBytes: number;
  /** Logical sector size (image files take the snapshot's). */
  readonly logicalSectorSize: number;
  /** A new image file created by this restore: it reads as zeros, so zero runs need not be written. */
  readonly fresh: boolean;
  /** Partition N of a disk image, when the target names one. */
  readonly description: string;
}

/** One step of a restore. */
export type RestoreStep =
  | { readonly kind: 'volume'; readonly volume: number; readonly offset: number; readonly sizeBytes: number; readonly usedBytes: number; readonly label: string }
  | { readonly kind: 'region'; readonly region: number; readonly offset: number; readonly sizeBytes: number; readonly label: string; readonly only?: readonly ByteExtent[] }
  | { readonly kind: 'mbr-table'; readonly keep: readonly number[]; readonly label: string }
  | { readonly kind: 'gpt'; readonly diskSectors: number; readonly partitions: readonly SnapshotPartition[]; readonly label: string }
  | { readonly kind: 'mbr-entry'; readonly partition: SnapshotPartition; readonly label: string }
  /** Sets the MBR slots of `partitions` (primaries of the snapshot) and leaves the target's other slots as they are. */
  | { readonly kind: 'mbr-merge'; readonly partitions: readonly SnapshotPartition[]; readonly label: string }
  /** A moved NTFS or FAT volume: its boot sectors' hidden-sectors field set to its partition's new start. */
  | { readonly kind: 'hidden-sectors'; readonly filesystem: string; readonly offset: number; readonly sizeBytes: number; readonly startLba: number; readonly label: string }
  /** Writes the MBR and the EBR chain of a layout the planner made (boot code and disk signature as the target has them then). */
  | { readonly kind: 'mbr-layout'; readonly layout: LayoutPlan; readonly label: string }
  /** A volume landed smaller (ext2/3/4, NTFS): shrunk from `fromBytes` to `sizeBytes` (at least `minimumBytes`) on a copy-on-write view of the snapshot's volume, then written at `offset`. */
  | { readonly kind: 'shrink-volume'; readonly volume: number; readonly partition: number; readonly filesystem: string; readonly offset: number; readonly sizeBytes: number; readonly fromBytes: number; readonly minimumBytes: number; readonly label: string }
  /** A swap partition made again (mkswap) with the snapshot's UUID and label, where it shrank. */
  | { readonly kind: 'swap'; readonly partition: number; readonly offset: number; readonly sizeBytes: number; readonly uuid?: string; readonly swapLabel?: string; readonly label: string }
  | { readonly kind: 'grow-filesystem'; readonly filesystem: string; readonly offset: number; readonly sizeBytes: number; readonly partition: number; readonly label: string }
  /** Zeros written where the snapshot's disk has no partition and holds nothing saved (a target that is not a new file). */
  | { readonly kind: 'zero'; readonly runs: readonly ByteExtent[]; readonly sizeBytes: number; readonly label: string };

/** The whole plan. */
export interface RestorePlan {
  readonly kind: 'disk' | 'partition' | 'system';
  readonly target: RestoreTargetFacts;
  readonly steps: readonly RestoreStep[];
  /** Bytes the target must hold at least. */
  readonly requiredBytes: number;
  readonly notes: readonly string[];
  /** The new layout, when the layout planner made one (restore --fit). */
  readonly layout?: LayoutPlan;
}

/** GPT structures at the end of a disk: the entry array plus the header. */
export function gptTailSectors(entryCount: number, sectorSize: number): number {
  return Math.ceil((entryCount * 128) / sectorSize) + 1;
}

/** How a plan names a volume: partition, filesystem, used and total bytes, method. */
export function volumeLabel(manifest: SnapshotManifest, index: number): string {
  const volume = manifest.volumes[index];
  if (!volume) return 'volume';
  const fs = volume.filesystem ? `${volume.filesystem.type}${volume.filesystem.label ? ` "${volume.filesystem.label}"` : ''}` : 'unknown contents';
  const name = volume.partition === undefined ? 'filesystem' : `partition ${volume.partition}`;
  return `${name} (${fs}, ${formatBytes(volume.content.usedBytes)} used of ${formatBytes(volume.content.sizeBytes)}, ${volume.method})`;
}

/**
 * The zeros a whole-disk restore writes onto a target that held data: every byte up to `endBytes`
 * (the source's end, or the target's when smaller) that no partition of the snapshot's table and no
 * written region covers. Undefined for a new image file (it reads as zeros) or when nothing is left.
 */
export function zeroStepOutside(manifest: SnapshotManifest, target: RestoreTargetFacts, written: readonly ByteExtent[]): RestoreStep | undefined {
  if (target.fresh || !manifest.table) return undefined;
  const sectorSize = manifest.table.sectorSize;
  const partitions = manifest.table.partitions.filter((partition) => partition.kind !== 'extended').map((partition) => ({ offset: partition.startLba * sectorSize, length: partition.sectors * sectorSize }));
  const volumes = manifest.volumes.map((volume) => ({ offset: volume.offset, length: volume.content.sizeBytes }));
  const runs = spaceOutside(Math.min(manifest.source.sizeBytes, target.sizeBytes), [...partitions, ...volumes, ...written]);
  if (runs.length === 0) return undefined;
  return { kind: 'zero', runs, sizeBytes: runs.reduce((sum, run) => sum + run.length, 0), label: describeZeros(runs) };
}

/** Plans restoring partition N of a disk snapshot, or a partition snapshot, onto a partition-sized target. */
function planPartition(manifest: SnapshotManifest, target: RestoreTargetFacts, partition: number | undefined): RestorePlan {
  const index = partition === undefined ? 0 : manifest.volumes.findIndex((volume) => volume.partition === partition);
  const volume = manifest.volumes[index];
  if (!volume || (partition === undefined && manifest.kind === 'disk' && manifest.volumes.length !== 1)) {
    const numbers = manifest.volumes.map((entry) => entry.partition).filter((number) => number !== undefined);
    throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: partition === undefined ? 'Name the partition to restore (SNAPSHOT:N).' : `The snapshot holds no partition ${partition}; it holds ${numbers.join(', ')}.`, partition });
  }
  const requiredBytes = volume.content.sizeBytes;
  if (target.sizeBytes < requiredBytes) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; the partition needs ${formatBytesExact(requiredBytes)}.`, requiredBytes, targetBytes: target.sizeBytes });
  }
  const notes = target.sizeBytes > requiredBytes ? [`The target is ${formatBytes(target.sizeBytes - requiredBytes)} larger than the partition; the filesystem keeps its size.`] : [];
  return { kind: 'partition', target, requiredBytes, notes, steps: [{ kind: 'volume', volume: index, offset: 0, sizeBytes: volume.content.sizeBytes, usedBytes: volume.content.usedBytes, label: volumeLabel(manifest, index) }] };
}

function lastPartition(partitions: readonly SnapshotPartition[]): SnapshotPartition | undefined {
  return [...partitions].filter((partition) => partition.kind !== 'extended').sort((a, b) => b.startLba + b.sectors - (a.startLba + a.sectors))[0];
}

/** What a whole-disk restore's size refusal adds: the way onto the smaller disk. */
const FIT_HINT = 'With --fit largest the partitions are laid out again for it, shrinking their filesystems as far as they allow.';

/** The planner's keep refusal (a target that cuts a partition) with FIT_HINT added. */
function withFitHint<T>(plan: () => T): T {
  try {
    return plan();
  } catch (error) {
    if (!(error instanceof LifeboatError) || error.code !== 'LB_DEVICE_TARGET_TOO_SMALL') throw error;
    throw new LifeboatError(error.code, { ...error.details, detail: `${String(error.details.detail)} ${FIT_HINT}` }, { cause: error });
  }
}

/** Plans a whole-disk restore. */
function planDisk(manifest: SnapshotManifest, target: RestoreTargetFacts, grow: boolean): RestorePlan {
  const table = manifest.table;
  if (!table) throw new LifeboatError('LB_REPO_INVALID', { detail: 'A disk snapshot without a partition table.' });
  if (target.logicalSectorSize !== table.sectorSize) {
    throw new LifeboatError('LB_DEVICE_SECTOR_SIZE_MISMATCH', { detail: `The snapshot has ${table.sectorSize}-byte sectors, ${target.description} has ${target.logicalSectorSize}-byte sectors.`, source: table.sectorSize, target: target.logicalSectorSize });
  }
  const sectorSize = table.sectorSize;
  const sourceBytes = manifest.source.sizeBytes;
  const sameSize = target.sizeBytes === sourceBytes;
  // Where every partition stays (the layout planner's keep): it refuses a target that cuts a
  // partition, and shortens an MBR extended partition that ran past the new end to end after its
  // logical partitions (a container: its logical partitions and EBRs are what must fit).
  const kept = table.kind === 'none' ? undefined : withFitHint(() => planLayout(sourceLayoutOf(table, new Map()), { target: { sizeBytes: target.sizeBytes, sectorSize, description: target.description }, fit: 'keep' }));
  const extended = kept?.partitions.find((partition) => partition.kind === 'extended');
  const volumesEnd = Math.max(0, ...manifest.volumes.map((volume) => volume.offset + volume.content.sizeBytes));
  const requiredBytes = sameSize ? sourceBytes : Math.max(kept?.minimumBytes ?? 0, volumesEnd, ...manifest.regions.filter((region) => region.name !== 'gpt-backup').map((region) => region.offset + region.content.sizeBytes));
  if (target.sizeBytes < requiredBytes) {
    const fit = table.kind === 'none' ? '' : ` ${FIT_HINT}`;
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; the snapshot's partitions need ${formatBytesExact(requiredBytes)}.${fit}`, requiredBytes, targetBytes: target.sizeBytes });
  }
  const notes: string[] = [];
  const steps: RestoreStep[] = manifest.volumes.map((volume, index) => ({ kind: 'volume', volume: index, offset: volume.offset, sizeBytes: volume.content.sizeBytes, usedBytes: volume.content.usedBytes, label: volumeLabel(manifest, index) }));
  manifest.regions.forEach((region, index) => {
    if (region.name === 'gpt-backup' && !sameSize) return;
    steps.push({ kind: 'region', region: index, offset: region.offset, sizeBytes: region.content.sizeBytes, label: region.name === 'head' ? 'partition table, boot code and boot gap' : region.name === 'gpt-backup' ? 'backup GPT' : `extended boot record (${region.name})` });
  });
  const zeros = zeroStepOutside(manifest, target, steps.flatMap((step) => (step.kind === 'region' ? [{ offset: step.offset, length: step.sizeBytes }] : [])));
  if (zeros) steps.push(zeros);
  const targetSectors = Math.floor(target.sizeBytes / sectorSize);
  if (extended?.change === 'shrink') {
    // Only the MBR slot changes: each EBR's link to the next is relative to the extended start.
    const { sectors } = extended;
    const slot = table.partitions.find((partition) => partition.number === extended.number) ?? extended;
    steps.push({ kind: 'mbr-entry', partition: { ...slot, sectors }, label: `shrink the extended partition ${extended.number} to ${formatBytes(sectors * sectorSize)} (its logical partitions keep their places)` });
    notes.push(`The extended partition ${extended.number} ends past the target; it is shrunk to end at the target's end. Its logical partitions are unchanged.`);
  }
  let partitions = table.partitions;
  const last = lastPartition(partitions);
  if (grow && last && table.kind !== 'none') {
    // libparted (fatresize) refuses to resize a FAT whose partition ends on the disk's last sector
    // ("GNU Parted cannot resize this partition to this size"): on MBR such a partition ends one sector before.
    const fatOnMbr = table.kind === 'mbr' && manifest.volumes.find((entry) => entry.partition === last.number)?.filesystem?.type === 'vfat';
    const newEnd = table.kind === 'gpt' ? targetSectors - gptTailSectors(table.gptEntryCount ?? 128, sectorSize) : Math.min(targetSectors - (fatOnMbr ? 1 : 0), 0xffffffff);
    if (last.kind === 'logical') throw new LifeboatError('LB_INPUT_USAGE', { detail: `The last partition (${last.number}) is a logical partition; --grow enlarges primary and GPT partitions only.` });
    const sectors = newEnd - last.startLba;
    if (sectors > last.sectors) {
      partitions = partitions.map((partition) => (partition.number === last.number ? { ...partition, sectors } : partition));
      const volume = manifest.volumes.find((entry) => entry.partition === last.number);
      if (table.kind === 'mbr') steps.push({ kind: 'mbr-entry', partition: { ...last, sectors }, label: `grow partition ${last.number} to ${formatBytes(sectors * sectorSize)}` });
      if (volume?.filesystem) steps.push({ kind: 'grow-filesystem', filesystem: volume.filesystem.type, offset: last.startLba * sectorSize, sizeBytes: sectors * sectorSize, partition: last.number, label: `grow the ${volume.filesystem.type} filesystem of partition ${last.number} to fill it` });
    } else {
      notes.push('--grow: the last partition already reaches the end of the target.');
    }
  } else if (!sameSize && target.sizeBytes > sourceBytes) {
    notes.push(`The target is ${formatBytes(target.sizeBytes - sourceBytes)} larger than the source; that space stays unpartitioned (use --grow to enlarge the last partition).`);
  }
  if (table.kind === 'gpt' && (!sameSize || partitions !== table.partitions)) {
    steps.push({ kind: 'gpt', diskSectors: targetSectors, partitions, label: `GPT for a disk of ${formatBytes(target.sizeBytes)} (backup header at the new end)` });
  }
  const growSteps = steps.filter((step) => step.kind === 'grow-filesystem');
  return { kind: 'disk', target, requiredBytes, notes, steps: [...steps.filter((step) => step.kind !== 'grow-filesystem'), ...growSteps] };
}

/** Plans a restore of `manifest` (or of one partition of it) onto `target`. */
export function planRestore(manifest: SnapshotManifest, target: RestoreTargetFacts, options: { partition?: number; grow?: boolean }): RestorePlan {
  if (manifest.kind === 'partition' || options.partition !== undefined) {
    if (options.grow) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--grow applies to whole-disk restores.' });
    return planPartition(manifest, target, options.partition);
  }
  if (manifest.kind === 'system') throw new LifeboatError('LB_INPUT_USAGE', { detail: 'A system snapshot is restored whole by planSystemRestore (system-restore-plan.ts), which needs the target\'s layout.' });
  return planDisk(manifest, target, options.grow ?? false);
}

/** The plan as lines for the terminal. */
export function describePlan(plan: RestorePlan): string[] {
  const lines = [`Restore onto ${plan.target.description} (${formatBytes(plan.target.sizeBytes)}; needs ${formatBytes(plan.requiredBytes)}):`];
  for (const step of plan.steps) {
    const where = 'offset' in step ? ` at ${formatOffset(step.offset)}` : '';
    lines.push(`  - ${step.label}${where}`);
  }
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  if (plan.layout) lines.push(...describeLayoutPlan(plan.layout).map((line) => `  ${line}`));
  return lines;
}
