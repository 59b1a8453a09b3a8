// The plan of restoring a Clonezilla image directory, made before anything is written: the hidden
// data after the MBR (boot gap), every partition's used blocks at its offset, swap partitions
// re-created with their UUID and label, and the partition table last (re-encoded from sda-pt.sf with
// the project's own MBR/GPT encoders, with the boot code of sda-mbr), so an interrupted restore never
// leaves a table pointing at half-written filesystems. Printed by --dry-run and before confirmation.

import { formatBytes, formatBytesExact, formatOffset } from '../human-units.ts';
import { LifeboatError } from '../errors.ts';
import { encodeGpt } from '../partition-table/gpt.ts';
import { encodeMbr, EXTENDED_TYPES } from '../partition-table/mbr.ts';
import { describeZeros, spaceOutside, type ByteRun } from '../space-outside.ts';
import type { RestoreTargetFacts } from '../repository/restore-plan.ts';
import type { SfdiskDump, SfdiskPartition } from './sfdisk-dump.ts';
import { mbrTableFromSfdisk, partitionNumber } from './sfdisk-mbr-table.ts';

/** What the planner needs of an image disk (io's ClonezillaDisk fits). */
export interface ClonezillaLayoutDisk {
  readonly name: string;
  readonly partitionTable: SfdiskDump | undefined;
  readonly mbr: Uint8Array | undefined;
  readonly hiddenDataAfterMbrBytes: number;
  /** The disk's size from sda-pt.parted, when saved. */
  readonly sizeBytes?: number | undefined;
  /** The first EBR of each extended partition as saved (sda2-ebr), by partition name. */
  readonly extendedBootRecords?: Readonly<Record<string, Uint8Array>> | undefined;
}

/** What the planner needs of an image partition (io's ClonezillaPartition fits). */
export interface ClonezillaLayoutPartition {
  readonly name: string;
  readonly disk: string | undefined;
  readonly kind: 'partclone' | 'dd' | 'swap' | 'missing';
  readonly filesystem: string | undefined;
  readonly sizeBytes: number | undefined;
  readonly startBytes: number | undefined;
  readonly swap: Readonly<Record<string, string>> | undefined;
  /** How its image is compressed (a file-name suffix: zst, gz, xz, lzma, bz2, lz4, uncomp), when known. */
  readonly compression?: string | undefined;
}

/** An image directory's layout (io's ClonezillaImage fits). */
export interface ClonezillaLayout {
  readonly directory: string;
  readonly disks: readonly ClonezillaLayoutDisk[];
  readonly partitions: readonly ClonezillaLayoutPartition[];
}

/** One step of a Clonezilla restore. */
export type ClonezillaRestoreStep =
  | { readonly kind: 'boot-gap'; readonly disk: string; readonly offset: number; readonly sizeBytes: number; readonly label: string }
  | { readonly kind: 'partition'; readonly partition: string; readonly offset: number; readonly sizeBytes: number; readonly label: string }
  | { readonly kind: 'swap'; readonly partition: string; readonly offset: number; readonly sizeBytes: number; readonly uuid: string | undefined; readonly swapLabel: string | undefined; readonly label: string }
  | { readonly kind: 'table'; readonly sectors: ReadonlyArray<{ readonly lba: number; readonly bytes: Uint8Array }>; readonly sectorSize: number; readonly label: string }
  /** Zeros where the image's disk has no partition and nothing of the image goes (a target that is not a new file). */
  | { readonly kind: 'zero'; readonly runs: readonly ByteRun[]; readonly sizeBytes: number; readonly label: string };

/** The whole plan. */
export interface ClonezillaRestorePlan {
  readonly kind: 'disk' | 'partition';
  readonly directory: string;
  readonly target: RestoreTargetFacts;
  readonly steps: readonly ClonezillaRestoreStep[];
  /** Bytes the target must hold at least. */
  readonly requiredBytes: number;
  readonly notes: readonly string[];
}

/** What to restore: the whole (only) disk, a named disk (sda) or one partition (sda1, or its number). */
export type ClonezillaSelection =
  | { readonly kind: 'disk'; readonly disk: ClonezillaLayoutDisk }
  | { readonly kind: 'partition'; readonly partition: ClonezillaLayoutPartition };

const GPT_ENTRY_BYTES = 128;

/** Resolves `which` (undefined, a disk name, a partition name or number) against the image. */
export function selectClonezillaPart(layout: ClonezillaLayout, which: string | undefined): ClonezillaSelection {
  const disk = which === undefined ? (layout.disks.length === 1 ? layout.disks[0] : undefined) : layout.disks.find((entry) => entry.name === which);
  if (disk) return { kind: 'disk', disk };
  const restorable = layout.partitions.filter((entry) => entry.kind !== 'missing');
  if (which === undefined) {
    if (layout.disks.length === 0 && restorable.length === 1 && restorable[0]) return { kind: 'partition', partition: restorable[0] };
    const names = [...layout.disks.map((entry) => entry.name), ...restorable.map((entry) => entry.name)];
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `${layout.directory} holds ${names.join(', ') || 'nothing restorable'}; name one: ${names.map((name) => `${layout.directory}:${name}`).join(', ')}.`, path: layout.directory });
  }
  const partition = restorable.find((entry) => entry.name === which) ?? (/^\d+$/.test(which) ? restorable.find((entry) => partitionNumber(entry.name) === Number(which)) : undefined);
  if (!partition) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${layout.directory} has no disk or partition ${which} (it has ${[...layout.disks, ...restorable].map((entry) => entry.name).join(', ') || 'none'}).`, path: layout.directory });
  return { kind: 'partition', partition };
}

/** Bytes a new image file needs to hold the selection (the disk's saved size when known). */
export function clonezillaTargetBytes(selection: ClonezillaSelection): number {
  if (selection.kind === 'partition') return selection.partition.sizeBytes ?? 0;
  return Math.max(selection.disk.sizeBytes ?? 0, requiredDiskBytes(selection.disk));
}

/** The sector size the selection was saved with. */
export function clonezillaSectorSize(selection: ClonezillaSelection, layout: ClonezillaLayout): number {
  const disk = selection.kind === 'disk' ? selection.disk : layout.disks.find((entry) => entry.name === selection.partition.disk);
  return disk?.partitionTable?.sectorSize ?? 512;
}

/** Plans the restore of `selection` onto `target`; refuses a too small target, another sector size, layouts it cannot re-create. */
export function planClonezillaRestore(layout: ClonezillaLayout, selection: ClonezillaSelection, target: RestoreTargetFacts): ClonezillaRestorePlan {
  if (selection.kind === 'partition') return planPartition(layout, selection.partition, target);
  const { disk } = selection;
  const table = disk.partitionTable;
  if (!table) throw new LifeboatError('LB_INPUT_IMAGE_UNSUPPORTED', { detail: `${layout.directory} has no ${disk.name}-pt.sf; restore one partition (${layout.directory}:${disk.name}1) instead.`, disk: disk.name });
  if (target.logicalSectorSize !== table.sectorSize) {
    throw new LifeboatError('LB_DEVICE_SECTOR_SIZE_MISMATCH', { detail: `The image has ${table.sectorSize}-byte sectors, ${target.description} has ${target.logicalSectorSize}-byte sectors.`, source: table.sectorSize, target: target.logicalSectorSize });
  }
  const requiredBytes = requiredDiskBytes(disk);
  if (target.sizeBytes < requiredBytes) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; the image's partitions need ${formatBytesExact(requiredBytes)}.`, requiredBytes, targetBytes: target.sizeBytes });
  }
  const steps: ClonezillaRestoreStep[] = [];
  const notes: string[] = [];
  const firstStart = Math.min(...table.partitions.map((entry) => entry.start), target.sizeBytes / table.sectorSize);
  const gapBytes = Math.min(disk.hiddenDataAfterMbrBytes, Math.max(0, firstStart * table.sectorSize - table.sectorSize));
  if (gapBytes > 0 && table.label === 'dos') steps.push({ kind: 'boot-gap', disk: disk.name, offset: table.sectorSize, sizeBytes: gapBytes, label: `boot loader data after the MBR (${formatBytes(gapBytes)}, ${disk.name}-hidden-data-after-mbr)` });
  for (const partition of layout.partitions.filter((entry) => entry.disk === disk.name)) {
    const step = partitionStep(partition, partition.startBytes);
    if (step) steps.push(step);
    else notes.push(`${partition.name} has no image in ${layout.directory}; its space on the target is left as it is.`);
  }
  const tableWrite = tableStep(disk, table, target);
  const zeros = target.fresh ? undefined : zeroStep(disk, table, target, [...steps, tableWrite]);
  steps.push(...(zeros ? [zeros] : []), tableWrite);
  if (!disk.mbr) notes.push(`${layout.directory} has no ${disk.name}-mbr: the boot code is left zero.`);
  return { kind: 'disk', directory: layout.directory, target, steps, requiredBytes, notes };
}

/** The plan as lines for the terminal. */
export function describeClonezillaPlan(plan: ClonezillaRestorePlan): string[] {
  const lines = [`Restore Clonezilla image ${plan.directory} onto ${plan.target.description} (${formatBytes(plan.target.sizeBytes)}; needs ${formatBytes(plan.requiredBytes)}):`];
  for (const step of plan.steps) lines.push(`  - ${step.label}${'offset' in step ? ` at ${formatOffset(step.offset)}` : ''}`);
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  return lines;
}

function planPartition(layout: ClonezillaLayout, partition: ClonezillaLayoutPartition, target: RestoreTargetFacts): ClonezillaRestorePlan {
  const step = partitionStep(partition, 0);
  if (!step) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${partition.name} has no image in ${layout.directory}.`, partition: partition.name });
  const requiredBytes = partition.sizeBytes ?? 0;
  if (target.sizeBytes < requiredBytes) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target.description} holds ${formatBytesExact(target.sizeBytes)}; ${partition.name} needs ${formatBytesExact(requiredBytes)}.`, requiredBytes, targetBytes: target.sizeBytes });
  }
  return { kind: 'partition', directory: layout.directory, target, steps: [{ ...step, sizeBytes: step.sizeBytes || target.sizeBytes }], requiredBytes, notes: [] };
}

function partitionStep(partition: ClonezillaLayoutPartition, offset: number | undefined): Extract<ClonezillaRestoreStep, { kind: 'partition' | 'swap' }> | undefined {
  const sizeBytes = partition.sizeBytes ?? 0;
  const size = sizeBytes ? `, ${formatBytes(sizeBytes)}` : '';
  if (partition.kind === 'missing' || offset === undefined) return undefined;
  if (partition.kind === 'swap') {
    const uuid = partition.swap?.UUID || undefined;
    const swapLabel = partition.swap?.LABEL || undefined;
    return { kind: 'swap', partition: partition.name, offset, sizeBytes, uuid, swapLabel, label: `${partition.name}: new swap area (mkswap${uuid ? ` UUID ${uuid}` : ''}${swapLabel ? ` label "${swapLabel}"` : ''}${size})` };
  }
  const what = partition.kind === 'dd' ? 'raw image, every byte' : `${partition.filesystem ?? 'partclone'}, used blocks`;
  return { kind: 'partition', partition: partition.name, offset, sizeBytes, label: `${partition.name} (${what}${size})` };
}

/**
 * The zeros of a disk restore onto a target that held data: up to the image disk's end (or the
 * target's), every byte that no partition of sda-pt.sf (an image missing or not), the boot gap and
 * no table sector covers: between partitions, around the EBRs, after the last partition.
 */
function zeroStep(disk: ClonezillaLayoutDisk, table: SfdiskDump, target: RestoreTargetFacts, steps: readonly ClonezillaRestoreStep[]): ClonezillaRestoreStep | undefined {
  const sectorSize = table.sectorSize;
  const partitions = table.partitions.filter((entry) => !(table.label === 'dos' && EXTENDED_TYPES.has(Number.parseInt(entry.type, 16)))).map((entry) => ({ offset: entry.start * sectorSize, length: entry.size * sectorSize }));
  const written = steps.flatMap((step): ByteRun[] => {
    if (step.kind === 'boot-gap') return [{ offset: step.offset, length: step.sizeBytes }];
    if (step.kind === 'table') return step.sectors.map(({ lba, bytes }) => ({ offset: lba * sectorSize, length: Math.ceil(bytes.length / sectorSize) * sectorSize }));
    return [];
  });
  const runs = spaceOutside(Math.min(disk.sizeBytes ?? requiredDiskBytes(disk), target.sizeBytes), [...partitions, ...written]);
  if (runs.length === 0) return undefined;
  return { kind: 'zero', runs, sizeBytes: runs.reduce((sum, run) => sum + run.length, 0), label: describeZeros(runs) };
}

function gptTailSectors(table: SfdiskDump): number {
  return Math.ceil(((table.tableLength ?? 128) * GPT_ENTRY_BYTES) / table.sectorSize) + 1;
}

function requiredDiskBytes(disk: ClonezillaLayoutDisk): number {
  const table = disk.partitionTable;
  if (!table) return disk.sizeBytes ?? 0;
  const end = Math.max(1, ...table.partitions.map((entry) => entry.start + entry.size));
  if (table.label !== 'gpt') return end * table.sectorSize;
  return (Math.max(end, (table.lastLba ?? 0) + 1) + gptTailSectors(table)) * table.sectorSize;
}

function tableStep(disk: ClonezillaLayoutDisk, table: SfdiskDump, target: RestoreTargetFacts): ClonezillaRestoreStep {
  const bootCode = disk.mbr ? disk.mbr.subarray(0, 440) : new Uint8Array(440);
  const sectorSize = table.sectorSize;
  if (table.label === 'dos') {
    const { table: mbr, logicalCount } = mbrTableFromSfdisk(table, { diskName: disk.name, bootSector: disk.mbr, savedEbrs: disk.extendedBootRecords ?? {} });
    const count = table.partitions.length;
    const chain = logicalCount > 0 ? ` with ${logicalCount} logical partition${logicalCount === 1 ? '' : 's'} in a chain of EBRs` : '';
    return { kind: 'table', sectors: encodeMbr(mbr), sectorSize, label: `MBR partition table (${count} partition${count === 1 ? '' : 's'}${chain}, disk id ${table.labelId ?? 'none'}) and boot code from ${disk.name}-mbr` };
  }
  if (table.label === 'gpt') {
    if (!table.labelId || table.firstLba === undefined) throw new LifeboatError('LB_DEVICE_GPT_INVALID', { detail: `${disk.name}-pt.sf lacks the disk GUID (label-id) or first-lba.` });
    const sectors = encodeGpt({
      sectorSize,
      diskSectors: Math.floor(target.sizeBytes / sectorSize),
      diskGuid: table.labelId,
      firstUsableLba: table.firstLba,
      entryCount: table.tableLength ?? 128,
      entries: table.partitions.map((entry) => gptEntry(entry, disk.name)),
    }, { bootCode, diskSignature: disk.mbr ? new DataView(disk.mbr.buffer, disk.mbr.byteOffset, disk.mbr.length).getUint32(440, true) : 0, protectiveStyle: 'sfdisk' });
    return { kind: 'table', sectors, sectorSize, label: `GPT (${table.partitions.length} partitions, disk GUID ${table.labelId}) with its backup at the end of the target` };
  }
  throw new LifeboatError('LB_INPUT_IMAGE_UNSUPPORTED', { detail: `${disk.name}-pt.sf holds a "${table.label}" table; Lifeboat re-creates dos (MBR) and gpt tables.`, label: table.label });
}

const GPT_ATTRIBUTE_BITS: Readonly<Record<string, number>> = { RequiredPartition: 0, NoBlockIOProtocol: 1, LegacyBIOSBootable: 2 };

function gptEntry(entry: SfdiskPartition, disk: string) {
  const index = partitionNumber(entry.device);
  if (index === undefined) throw new LifeboatError('LB_DEVICE_GPT_INVALID', { detail: `${disk}-pt.sf names ${entry.device}, which ends in no partition number.` });
  let attributes = 0n;
  for (const token of (entry.attrs ?? '').split(/\s+/).filter(Boolean)) {
    const bits = token.startsWith('GUID:') ? token.slice(5).split(',') : [];
    if (token in GPT_ATTRIBUTE_BITS) attributes |= 1n << BigInt(GPT_ATTRIBUTE_BITS[token] ?? 0);
    for (const bit of bits) if (/^\d{1,2}$/.test(bit) && Number(bit) < 64) attributes |= 1n << BigInt(bit);
  }
  return {
    index,
    typeGuid: entry.type,
    uniqueGuid: entry.uuid ?? '00000000-0000-0000-0000-000000000000',
    firstLba: entry.start,
    lastLba: entry.start + entry.size - 1,
    name: entry.name ?? '',
    ...(attributes === 0n ? {} : { attributes: attributes.toString() }),
  };
}
