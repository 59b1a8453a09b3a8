// A whole-disk restore laid out again by the layout planner (core/layout/plan-layout.ts), when
// `restore --fit largest|proportional|keep` asks for it: each volume is written at its partition's
// new start, the boot code and boot gap up to the new first partition, zeros where the new layout
// has no partition, then the table re-encoded for the target (GPT with its backup at the new end,
// or MBR with a new EBR chain), then each grown filesystem enlarged. A smaller target shrinks
// ext2/3/4 and NTFS volumes down to their measured minimum (resize2fs -P, ntfsresize --info, given
// by the caller; FAT and exFAT from their own structures): the shrink runs on a copy-on-write view
// of the snapshot's volume (FAT and exFAT are made again there and their files copied) and lands the
// shrunk filesystem on the target (ops/restore-shrink.ts); a shrunk swap partition is made again
// with its UUID and label. Other filesystems keep their size.

import { LifeboatError } from '../errors.ts';
import { formatBytes } from '../human-units.ts';
import { sourceLayoutOf } from '../layout/layout-tables.ts';
import type { FitMode, LayoutPlan, PlannedPartition, SizeRequest } from '../layout/layout-types.ts';
import { planLayout } from '../layout/plan-layout.ts';
import { isSwap } from '../layout/layout-rules.ts';
import { describeZeros, spaceOutside } from '../space-outside.ts';
import { growProgramsFor } from '../external-programs.ts';
import type { SnapshotManifest, SnapshotPartition } from './format.ts';
import { volumeLabel, type RestorePlan, type RestoreStep, type RestoreTargetFacts } from './restore-plan.ts';

/** Filesystems a snapshot restore shrinks (on a copy-on-write view of the snapshot's volume; FAT and exFAT are made again and their files copied). */
export const RESTORE_SHRINKS: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4', 'ntfs', 'vfat', 'exfat']);

/** True when a restore onto a target of `sizeBytes` may need the volumes' minimums (a smaller target, or sizes asked). */
export function restoreNeedsMinimums(manifest: SnapshotManifest, sizeBytes: number, options: { fit: FitMode; sizes?: readonly SizeRequest[] }): boolean {
  return options.fit !== 'keep' && (sizeBytes < manifest.source.sizeBytes || (options.sizes ?? []).length > 0);
}

/** The partitions of `manifest` whose filesystem a restore can shrink, with their type (what the caller measures). */
export function shrinkableVolumes(manifest: SnapshotManifest): Array<{ partition: number; volume: number; filesystem: string }> {
  return manifest.volumes.flatMap((volume, index) => (volume.partition !== undefined && volume.filesystem && RESTORE_SHRINKS.has(volume.filesystem.type) ? [{ partition: volume.partition, volume: index, filesystem: volume.filesystem.type }] : []));
}

/** A shrink step: the snapshot's volume shrunk to its new partition's size on a view, then written. */
function shrinkStep(manifest: SnapshotManifest, index: number, partition: PlannedPartition, sectorSize: number): RestoreStep {
  const volume = manifest.volumes[index];
  const filesystem = volume?.filesystem?.type ?? 'unknown';
  const fromBytes = volume?.content.sizeBytes ?? 0;
  const sizeBytes = partition.sectors * sectorSize;
  const minimumBytes = partition.minimumSectors * sectorSize;
  return {
    kind: 'shrink-volume', volume: index, partition: partition.number, filesystem, offset: partition.startLba * sectorSize, sizeBytes, fromBytes, minimumBytes,
    label: `shrink the ${filesystem} filesystem of partition ${partition.number} from ${formatBytes(fromBytes)} to ${formatBytes(sizeBytes)} (its minimum ${formatBytes(minimumBytes)}; ${formatBytes(volume?.content.usedBytes ?? 0)} used) on a copy-on-write view of the snapshot, then write it`,
  };
}

/** Plans a whole-disk restore whose layout the planner makes for the target; `minimums` holds the measured minimum bytes of the filesystems it may shrink (by partition). */
export function planDiskLayout(manifest: SnapshotManifest, target: RestoreTargetFacts, options: { fit: FitMode; sizes?: readonly SizeRequest[]; minimums?: ReadonlyMap<number, number> }): RestorePlan & { layout: LayoutPlan } {
  const table = manifest.table;
  if (!table || table.kind === 'none') throw new LifeboatError('LB_INPUT_USAGE', { detail: '--fit lays out a partition table; this snapshot has none.' });
  const minimumOf = (partition: number, filesystem: string | undefined) => (filesystem !== undefined && RESTORE_SHRINKS.has(filesystem) ? options.minimums?.get(partition) : undefined);
  const facts = new Map(manifest.volumes.flatMap((volume) => (volume.partition === undefined ? [] : [[volume.partition, { filesystem: volume.filesystem?.type, usedBytes: volume.content.usedBytes, minimumBytes: minimumOf(volume.partition, volume.filesystem?.type) }] as const])));
  // The EBRs the snapshot saved (regions ebr-LBA, in chain order): --fit keep leaves them where they were.
  const ebrs = manifest.regions.flatMap((region) => (/^ebr-\d+$/.test(region.name) ? [{ ebrLba: Number(region.name.slice(4)) }] : [])).sort((a, b) => a.ebrLba - b.ebrLba);
  const layout = planLayout(sourceLayoutOf(ebrs.length > 0 ? { ...table, mbr: { logicals: ebrs } } : table, facts), {
    target: { sizeBytes: target.sizeBytes, sectorSize: target.logicalSectorSize, description: target.description },
    fit: options.fit, ...(options.sizes ? { sizes: options.sizes } : {}),
  });
  const sectorSize = layout.sectorSize;
  const placed = new Map(layout.partitions.map((partition) => [partition.number, partition]));
  const steps: RestoreStep[] = manifest.volumes.map((volume, index): RestoreStep => {
    const partition = volume.partition === undefined ? undefined : placed.get(volume.partition);
    const offset = partition ? partition.startLba * sectorSize : volume.offset;
    if (partition?.change === 'shrink' && partition.sectors * sectorSize < volume.content.sizeBytes) {
      if (isSwap(partition)) {
        const uuid = volume.filesystem?.uuid;
        const label = volume.filesystem?.label;
        return { kind: 'swap', partition: partition.number, offset, sizeBytes: partition.sectors * sectorSize, ...(uuid ? { uuid } : {}), ...(label ? { swapLabel: label } : {}), label: `partition ${partition.number}: swap made again at ${formatBytes(partition.sectors * sectorSize)} (mkswap${uuid ? ` UUID ${uuid}` : ''}${label ? ` label "${label}"` : ''})` };
      }
      if (!RESTORE_SHRINKS.has(volume.filesystem?.type ?? '')) throw new LifeboatError('LB_INTERNAL', { detail: `The layout shrinks partition ${partition.number}, whose ${volume.filesystem?.type ?? 'unknown'} contents a restore cannot shrink.`, partition: partition.number });
      return shrinkStep(manifest, index, partition, sectorSize);
    }
    return { kind: 'volume', volume: index, offset, sizeBytes: volume.content.sizeBytes, usedBytes: volume.content.usedBytes, label: volumeLabel(manifest, index) };
  });
  for (const partition of layout.partitions) {
    const filesystem = manifest.volumes.find((entry) => entry.partition === partition.number)?.filesystem?.type;
    if (partition.moved && (filesystem === 'ntfs' || filesystem === 'vfat')) {
      steps.push({ kind: 'hidden-sectors', filesystem, offset: partition.startLba * sectorSize, sizeBytes: partition.sectors * sectorSize, startLba: partition.startLba, label: `set the ${filesystem} boot sector's hidden sectors of partition ${partition.number} to its new start (${partition.startLba})` });
    }
  }
  const firstStart = Math.min(...layout.partitions.map((partition) => partition.ebrLba ?? partition.startLba)) * sectorSize;
  const notes: string[] = [];
  const head = manifest.regions.findIndex((region) => region.name === 'head');
  const headRegion = manifest.regions[head];
  const headBytes = headRegion ? Math.min(headRegion.content.sizeBytes, firstStart) : 0;
  if (headRegion) {
    steps.push({ kind: 'region', region: head, offset: 0, sizeBytes: headRegion.content.sizeBytes, label: 'boot code and boot gap', only: [{ offset: 0, length: headBytes }] });
    if (headBytes < headRegion.content.sizeBytes) notes.push(`The source's boot gap ran to ${formatBytes(headRegion.content.sizeBytes)}; the first ${formatBytes(headBytes)} of it are written, up to the new first partition.`);
  }
  if (table.kind === 'mbr' && manifest.regions.some((region) => region.name.startsWith('ebr'))) notes.push('The logical partitions get a new chain of EBRs at their new places (boot code inside the old EBRs is not kept).');
  const tableRuns = table.kind === 'gpt'
    ? [{ offset: 0, length: layout.firstUsableLba * sectorSize }, { offset: (layout.gptBackup?.entriesLba ?? 0) * sectorSize, length: (layout.diskSectors - (layout.gptBackup?.entriesLba ?? 0)) * sectorSize }]
    : [{ offset: 0, length: sectorSize }, ...layout.partitions.filter((partition) => partition.ebrLba !== undefined).map((partition) => ({ offset: (partition.ebrLba ?? 0) * sectorSize, length: sectorSize }))];
  if (!target.fresh) {
    const taken = [...layout.partitions.filter((partition) => partition.kind !== 'extended').map((partition) => ({ offset: partition.startLba * sectorSize, length: partition.sectors * sectorSize })), { offset: 0, length: headBytes }, ...tableRuns];
    const runs = spaceOutside(Math.min(manifest.source.sizeBytes, target.sizeBytes), taken);
    if (runs.length > 0) steps.push({ kind: 'zero', runs, sizeBytes: runs.reduce((sum, run) => sum + run.length, 0), label: describeZeros(runs) });
  }
  const partitions: SnapshotPartition[] = layout.partitions.map(({ number, startLba, sectors, type, kind, bootable, uuid, name, attributes }) => ({ number, startLba, sectors, type, kind, bootable, ...(uuid === undefined ? {} : { uuid }), ...(name === undefined ? {} : { name }), ...(attributes === undefined ? {} : { attributes }) }));
  steps.push(table.kind === 'gpt'
    ? { kind: 'gpt', diskSectors: layout.diskSectors, partitions, label: `GPT laid out for a disk of ${formatBytes(target.sizeBytes)} (backup header at the new end)` }
    : { kind: 'mbr-layout', layout, label: `MBR laid out for a disk of ${formatBytes(target.sizeBytes)}${layout.partitions.some((partition) => partition.kind === 'logical') ? ' with a new chain of EBRs' : ''} (boot code and disk signature kept)` });
  for (const partition of layout.partitions) {
    const volume = manifest.volumes.find((entry) => entry.partition === partition.number);
    const filesystem = volume?.filesystem?.type;
    if (partition.change !== 'grow' || !filesystem) continue;
    if (!growProgramsFor(filesystem)) {
      notes.push(`Partition ${partition.number} grows; its ${filesystem} filesystem has no grow tool here and keeps its size.`);
      continue;
    }
    steps.push({ kind: 'grow-filesystem', filesystem, offset: partition.startLba * sectorSize, sizeBytes: partition.sectors * sectorSize, partition: partition.number, label: `grow the ${filesystem} filesystem of partition ${partition.number} to fill it` });
  }
  return { kind: 'disk', target, requiredBytes: layout.minimumBytes, notes, steps, layout };
}
