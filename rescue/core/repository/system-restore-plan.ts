// The plan of restoring a system snapshot (kind 'system'): onto its original layout (same table
// kind, same partitions at the same places and sizes) only the chosen partitions, the boot code
// and the boot gap are written, and the table and the data partitions stay untouched; onto a
// blank disk the snapshot's table is written restricted to the chosen partitions at their
// original places. Onto another disk of the same table kind whose partitions leave room at the
// chosen partitions' places (and whose numbers are free), the chosen partitions are added to the
// target's table and its partitions stay as they are. Any other target is refused with the
// reason: the plan never writes over partitions it did not restore.

import { LifeboatError } from '../errors.ts';
import { formatBytes, formatBytesExact } from '../human-units.ts';
import type { ByteExtent, SnapshotManifest, SnapshotPartition, SnapshotRegion, SnapshotTable } from './format.ts';
import { gptTailSectors, volumeLabel, zeroStepOutside, type RestorePlan, type RestoreStep, type RestoreTargetFacts } from './restore-plan.ts';

/** What the target holds now (read by the restore command before planning). */
export interface TargetLayout {
  readonly kind: 'gpt' | 'mbr' | 'none';
  readonly partitions: ReadonlyArray<{ readonly number: number; readonly startLba: number; readonly sectors: number }>;
  /** A filesystem found on the whole disk when there is no table (then the disk is not blank). */
  readonly wholeDiskFilesystem: string | undefined;
  /** The target's table in full (types, GUIDs, names), when it has one: kept when partitions are added to it. */
  readonly table?: SnapshotTable;
}

/** Bytes of the boot sector that hold boot code (the rest is disk signature and table). */
const BOOT_CODE_BYTES = 440;

function sameLayout(table: SnapshotTable, layout: TargetLayout): boolean {
  if (layout.kind !== table.kind || layout.partitions.length !== table.partitions.length) return false;
  return table.partitions.every((partition) => layout.partitions.some((other) => other.number === partition.number && other.startLba === partition.startLba && other.sectors === partition.sectors));
}

/** Where the table ends inside the head: the MBR sector, or the GPT header and entry array. */
function tableEndBytes(table: SnapshotTable): number {
  return table.kind === 'gpt' ? (2 + Math.ceil(((table.gptEntryCount ?? 128) * 128) / table.sectorSize)) * table.sectorSize : 512;
}

function numbers(partitions: readonly { number: number }[]): string {
  return partitions.map((partition) => partition.number).join(', ') || 'none';
}

function volumeSteps(manifest: SnapshotManifest): RestoreStep[] {
  return manifest.volumes.map((volume, index) => ({ kind: 'volume', volume: index, offset: volume.offset, sizeBytes: volume.content.sizeBytes, usedBytes: volume.content.usedBytes, label: volumeLabel(manifest, index) }));
}

function headIndex(manifest: SnapshotManifest): number {
  return manifest.regions.findIndex((region) => region.name === 'head');
}

/** Onto the original layout: the chosen volumes, boot code and gap; never the table. */
function planOntoOriginal(manifest: SnapshotManifest, table: SnapshotTable, target: RestoreTargetFacts, left: readonly SnapshotPartition[]): RestorePlan {
  const steps = volumeSteps(manifest);
  const head = headIndex(manifest);
  const region = manifest.regions[head];
  if (region) {
    const start = tableEndBytes(table);
    const only: ByteExtent[] = [{ offset: 0, length: Math.min(BOOT_CODE_BYTES, region.content.sizeBytes) }];
    if (region.content.sizeBytes > start) only.push({ offset: start, length: region.content.sizeBytes - start });
    steps.push({ kind: 'region', region: head, offset: region.offset, sizeBytes: region.content.sizeBytes, label: 'boot code and boot gap (the partition table is not written)', only });
  }
  const notes = [`The target has the snapshot's original layout: only the chosen partitions (${numbers(manifest.volumes.map((volume) => ({ number: volume.partition ?? 0 })))}) and the boot code are written; the partition table and partitions ${numbers(left)} stay untouched.`];
  return { kind: 'system', target, requiredBytes: target.sizeBytes, notes, steps };
}

/** Onto a blank disk: the chosen volumes, the head, then the table restricted to the chosen partitions. */
function planOntoBlank(manifest: SnapshotManifest, table: SnapshotTable, target: RestoreTargetFacts, chosen: readonly SnapshotPartition[], left: readonly SnapshotPartition[]): RestorePlan {
  const sectorSize = table.sectorSize;
  const logicals = table.partitions.filter((partition) => partition.kind === 'logical');
  const chosenLogicals = logicals.filter((partition) => chosen.includes(partition));
  if (chosenLogicals.length > 0 && chosenLogicals.length < logicals.length) {
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `Chosen logical partitions (${numbers(chosenLogicals)}) share their extended partition's chain with left-out ones (${numbers(logicals.filter((partition) => !chosen.includes(partition)))}); restore onto the original disk, or restore the partitions one by one (SNAPSHOT:N onto FILE:N).` });
  }
  const tail = table.kind === 'gpt' ? gptTailSectors(table.gptEntryCount ?? 128, sectorSize) * sectorSize : 0;
  const head = manifest.regions[headIndex(manifest)];
  const requiredBytes = Math.max(head ? head.offset + head.content.sizeBytes : 0, ...chosen.map((partition) => (partition.startLba + partition.sectors) * sectorSize + tail));
  if (target.sizeBytes < requiredBytes) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; the chosen partitions at their original places need ${formatBytesExact(requiredBytes)}.`, requiredBytes, targetBytes: target.sizeBytes });
  }
  const steps = volumeSteps(manifest);
  manifest.regions.forEach((region, index) => {
    if (region.name === 'gpt-backup' || (region.name.startsWith('ebr-') && chosenLogicals.length === 0)) return;
    steps.push({ kind: 'region', region: index, offset: region.offset, sizeBytes: region.content.sizeBytes, label: region.name === 'head' ? 'boot code, boot gap and the snapshot\'s table (restricted below)' : `extended boot record (${region.name})` });
  });
  const zeros = zeroStepOutside(manifest, target, steps.flatMap((step) => (step.kind === 'region' ? [{ offset: step.offset, length: step.sizeBytes }] : [])));
  if (zeros) steps.push(zeros);
  const kept = table.partitions.filter((partition) => chosen.includes(partition) || (partition.kind === 'extended' && chosenLogicals.length > 0));
  if (table.kind === 'gpt') steps.push({ kind: 'gpt', diskSectors: Math.floor(target.sizeBytes / sectorSize), partitions: kept, label: `GPT with the chosen partitions only (${numbers(kept)}), backup header at the end` });
  else steps.push({ kind: 'mbr-table', keep: kept.filter((partition) => partition.kind !== 'logical').map((partition) => partition.number), label: `MBR with the chosen partitions only (${numbers(kept)})` });
  const notes = [`The target is blank: the snapshot's ${table.kind.toUpperCase()} is written with the chosen partitions (${numbers(kept)}) at their original places. Data partitions (${numbers(left)}) are not created; that space stays unpartitioned.`];
  return { kind: 'system', target, requiredBytes, notes, steps };
}

/** Why the chosen partitions cannot be added to the target's table; undefined when they can. */
function mergeRefusal(table: SnapshotTable, layout: TargetLayout, target: RestoreTargetFacts, chosen: readonly SnapshotPartition[], head: SnapshotRegion | undefined): string | undefined {
  const existing = layout.table?.partitions ?? [];
  const taken = chosen.filter((partition) => existing.some((other) => other.number === partition.number));
  if (taken.length > 0) return `its partitions ${numbers(taken)} are other partitions than the snapshot's, and the chosen ones keep their numbers`;
  const sectorSize = table.sectorSize;
  const targetSectors = Math.floor(target.sizeBytes / sectorSize);
  const end = table.kind === 'gpt' ? targetSectors - gptTailSectors(table.gptEntryCount ?? 128, sectorSize) : targetSectors;
  const outside = chosen.filter((partition) => partition.startLba + partition.sectors > end);
  if (outside.length > 0) return `partitions ${numbers(outside)} would end past its last usable sector`;
  if (table.kind === 'mbr') {
    const logical = chosen.filter((partition) => partition.kind !== 'primary');
    if (logical.length > 0) return `the chosen partitions ${numbers(logical)} are logical partitions, which live in the snapshot's extended partition`;
  } else {
    const first = table.firstUsableLba ?? 34;
    const early = existing.filter((partition) => partition.startLba < first || partition.number > (table.gptEntryCount ?? 128));
    if (early.length > 0) return `its partitions ${numbers(early)} lie before the snapshot's first usable sector or past its GPT entry count`;
  }
  const firstTarget = Math.min(...existing.map((partition) => partition.startLba * sectorSize));
  if (head && firstTarget < tableEndBytes(table)) return 'its first partition starts inside the area of the partition table';
  return undefined;
}

/**
 * Onto another disk of the same table kind: the chosen partitions are added to the target's table at
 * their original places, the target's partitions stay; boot code (and, as far as it is free, the boot
 * gap) come from the snapshot, and so does the disk's identifier (Windows names its boot disk by it).
 */
function planMerge(manifest: SnapshotManifest, table: SnapshotTable, target: RestoreTargetFacts, layout: TargetLayout, chosen: readonly SnapshotPartition[]): RestorePlan {
  const existing = layout.table?.partitions ?? [];
  const sectorSize = table.sectorSize;
  const steps = volumeSteps(manifest);
  const headAt = headIndex(manifest);
  const head = manifest.regions[headAt];
  const notes: string[] = [];
  if (head) {
    // Boot code, and for MBR the disk signature after it; the slots are set by the table step.
    const only: ByteExtent[] = [{ offset: 0, length: Math.min(table.kind === 'mbr' ? 446 : BOOT_CODE_BYTES, head.content.sizeBytes) }];
    const gapStart = tableEndBytes(table);
    const firstTarget = Math.min(head.content.sizeBytes, ...existing.map((partition) => partition.startLba * sectorSize));
    if (firstTarget > gapStart) only.push({ offset: gapStart, length: firstTarget - gapStart });
    if (firstTarget < head.content.sizeBytes) notes.push(`The snapshot's boot gap is written only up to ${formatBytes(firstTarget)}, where the target's first partition starts.`);
    steps.push({ kind: 'region', region: headAt, offset: head.offset, sizeBytes: head.content.sizeBytes, label: table.kind === 'mbr' ? 'boot code, disk signature and boot gap' : 'boot code and boot gap', only });
  }
  const kept = existing.filter((partition) => partition.kind !== 'logical');
  if (table.kind === 'gpt') {
    const partitions = [...existing, ...chosen].sort((a, b) => a.number - b.number);
    steps.push({ kind: 'gpt', diskSectors: Math.floor(target.sizeBytes / sectorSize), partitions, label: `GPT with the target's partitions (${numbers(existing)}) and the chosen ones (${numbers(chosen)}), the snapshot's disk GUID, backup header at the end` });
  } else {
    steps.push({ kind: 'mbr-merge', partitions: chosen, label: `MBR slots ${numbers(chosen)} set to the chosen partitions; slots ${numbers(kept)} stay` });
  }
  notes.unshift(`The target has its own ${table.kind.toUpperCase()} with room at the chosen partitions' places: they are added to it (${numbers(chosen)}); its partitions ${numbers(existing)} and their contents stay untouched. The disk's identifier becomes the snapshot's.`);
  const requiredBytes = Math.max(...chosen.map((partition) => (partition.startLba + partition.sectors) * sectorSize));
  return { kind: 'system', target, requiredBytes, notes, steps };
}

/** Plans restoring a system snapshot onto a target whose current layout is `layout`. */
export function planSystemRestore(manifest: SnapshotManifest, target: RestoreTargetFacts, layout: TargetLayout): RestorePlan {
  const table = manifest.table;
  if (!table || table.kind === 'none' || !manifest.system) throw new LifeboatError('LB_REPO_INVALID', { detail: 'A system snapshot without a partition table or selection.' });
  if (target.logicalSectorSize !== table.sectorSize) {
    throw new LifeboatError('LB_DEVICE_SECTOR_SIZE_MISMATCH', { detail: `The snapshot has ${table.sectorSize}-byte sectors, ${target.description} has ${target.logicalSectorSize}-byte sectors.`, source: table.sectorSize, target: target.logicalSectorSize });
  }
  const chosenNumbers = new Set(manifest.system.filter((choice) => choice.chosen).map((choice) => choice.partition));
  const chosen = table.partitions.filter((partition) => chosenNumbers.has(partition.number) && partition.kind !== 'extended');
  const left = table.partitions.filter((partition) => !chosenNumbers.has(partition.number) && partition.kind !== 'extended');
  if (!target.fresh && sameLayout(table, layout)) return planOntoOriginal(manifest, table, target, left);
  if (target.fresh || (layout.kind === 'none' && layout.wholeDiskFilesystem === undefined)) return planOntoBlank(manifest, table, target, chosen, left);
  const sectorSize = table.sectorSize;
  const overlapping = layout.partitions.filter((other) => chosen.some((partition) => other.startLba < partition.startLba + partition.sectors && partition.startLba < other.startLba + other.sectors));
  if (layout.kind === 'none') {
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target.description} holds a ${layout.wholeDiskFilesystem} filesystem on the whole disk; a system snapshot is restored onto its original layout or onto a blank disk. Clear the disk first (wipefs -a) if its contents may go.` });
  }
  if (overlapping.length === 0 && layout.kind === table.kind && layout.table) {
    const refusal = mergeRefusal(table, layout, target, chosen, manifest.regions[headIndex(manifest)]);
    if (refusal === undefined) return planMerge(manifest, table, target, layout, chosen);
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `The chosen partitions (${numbers(chosen)}) cannot be added to the table of ${target.description}: ${refusal}. Nothing was written. Restore onto the original disk, onto a blank disk, or clear this one's table first (wipefs -a) if its partitions may go.` });
  }
  const where = overlapping.map((other) => `${other.number} (${formatBytes(other.startLba * sectorSize)}..${formatBytes((other.startLba + other.sectors) * sectorSize)})`).join(', ');
  throw new LifeboatError('LB_INPUT_USAGE', {
    detail: overlapping.length > 0
      ? `${target.description} has partitions where the chosen ones (${numbers(chosen)}) would go: ${where}. Nothing was written. Restore onto the original disk, onto a blank disk, or clear this one's table first (wipefs -a) if its partitions may go.`
      : `${target.description} has another partition table (partitions ${numbers(layout.partitions)}); a system snapshot is restored onto its original layout or onto a blank disk. Nothing was written; clear the table first (wipefs -a) if its partitions may go, or restore single partitions (SNAPSHOT:N onto FILE:N).`,
  });
}
