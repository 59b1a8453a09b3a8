// Plans an in-place MBR -> GPT conversion (legacy BIOS to UEFI) without moving any partition: checks
// everything that forbids it (each refusal a coded error), keeps every partition's first and last LBA
// and its number (sda5 stays sda5), maps the types, and places a new EFI System partition in free
// space, 1 MiB aligned. Returns data only; ops/convert-uefi.ts writes it.

import { LifeboatError } from '../errors.ts';
import { entryArraySectors, type GptLayout } from '../partition-table/gpt.ts';
import { GPT_PROTECTIVE_TYPE, hasBootSignature, mbrPartitionRanges } from '../partition-table/mbr.ts';
import { looksLikeFilesystemBootSector, type PartitionTableInfo } from '../partition-table/partition-table.ts';
import { ESP_TYPE_GUID, gptTypeForMbr } from './mbr-gpt-types.ts';

/** The ESP's size when --esp-size is not given (Microsoft's recommendation for 4Kn disks, fine for all). */
export const DEFAULT_ESP_BYTES = 260 * 1024 * 1024;
const MiB = 1024 * 1024;
const GPT_ARRAY_BYTES = 16 * 1024;
/** Filesystems whose tail can be shrunk to free room (the shrink itself is a later step). */
const SHRINKABLE = new Set(['ext2', 'ext3', 'ext4', 'ntfs', 'vfat']);

/** An operating system found inside a partition (read-only). */
export interface SystemFacts {
  readonly kind: 'linux' | 'windows';
  /** PRETTY_NAME of os-release, or "Windows". */
  readonly name: string;
  /** Linux: grub (BIOS), grub (EFI), ...; Windows: bootmgr. */
  readonly bootLoader?: string;
  /** Windows: Windows/Boot/EFI/bootmgfw.efi is there; Linux: /etc/fstab is there. */
  readonly facts: readonly string[];
}

/** What the inventory found in one partition. */
export interface ConvertPartitionFacts {
  readonly number: number;
  readonly filesystem?: { readonly type: string; readonly state: string; readonly usedBytes?: number; readonly label?: string };
  readonly system?: SystemFacts;
}

/** Everything the planner decides on, read before anything is written. */
export interface ConvertInventory {
  readonly device: string;
  readonly sectorSize: number;
  readonly physicalSectorSize: number;
  readonly diskSectors: number;
  readonly serial?: string;
  readonly table: PartitionTableInfo;
  readonly partitions: readonly ConvertPartitionFacts[];
}

/** One partition of the converted disk. */
export interface ConvertedPartition {
  readonly number: number;
  readonly mbrType: number | undefined;
  readonly typeGuid: string;
  readonly attributes: string;
  readonly firstLba: number;
  readonly lastLba: number;
  readonly filesystem?: string;
  readonly system?: string;
  readonly isNewEsp: boolean;
}

/** The conversion, as data: shown, confirmed, then carried out. */
export interface ConvertPlan {
  readonly device: string;
  readonly sectorSize: number;
  readonly diskSectors: number;
  readonly diskSignature: number;
  readonly partitions: readonly ConvertedPartition[];
  /** The new ESP (formatted FAT32 with this label), or undefined when the disk has one (type 0xEF). */
  readonly esp: { readonly number: number; readonly firstLba: number; readonly lastLba: number; readonly label: string } | undefined;
  readonly gpt: GptLayout;
  /** Sector ranges the undo file saves: the first and last MiB, every EBR, the new ESP. */
  readonly undoRanges: ReadonlyArray<{ readonly lba: number; readonly sectors: number }>;
  readonly ebrLbas: readonly number[];
  readonly systems: readonly SystemFacts[];
  readonly notes: readonly string[];
}

/** Refuses a first sector that is not an MBR (LB_DEVICE_CONVERT_NOT_MBR) or is GPT/hybrid (LB_DEVICE_CONVERT_ALREADY_GPT). */
export function checkConvertibleBootSector(sector: Uint8Array, device: string): void {
  if (!hasBootSignature(sector)) throw new LifeboatError('LB_DEVICE_CONVERT_NOT_MBR', { detail: `${device} has no 0x55AA signature at byte 510: there is no MBR to convert.`, device, offset: 510 });
  if (looksLikeFilesystemBootSector(sector)) throw new LifeboatError('LB_DEVICE_CONVERT_NOT_MBR', { detail: `${device} holds a filesystem on the whole disk, not a partition table.`, device, offset: 0 });
  for (let slot = 0; slot < 4; slot += 1) {
    if (sector[446 + slot * 16 + 4] === GPT_PROTECTIVE_TYPE) {
      throw new LifeboatError('LB_DEVICE_CONVERT_ALREADY_GPT', { detail: `${device} has a GPT (protective or hybrid MBR entry 0xEE in slot ${slot + 1}).`, device, slot: slot + 1 });
    }
  }
}

const alignUp = (lba: number, align: number) => Math.ceil(lba / align) * align;
const alignDown = (lba: number, align: number) => Math.floor(lba / align) * align;

function refuseContents(inventory: ConvertInventory): void {
  const mbr = inventory.table.mbr;
  if (!mbr) throw new LifeboatError('LB_DEVICE_CONVERT_NOT_MBR', { detail: `${inventory.device} has no MBR partition table.`, device: inventory.device });
  const types = [...mbr.slots.map((entry, slot) => ({ number: slot + 1, type: entry.type })), ...mbr.logicals.map((logical, i) => ({ number: 5 + i, type: logical.entry.type }))];
  const dynamic = types.find((entry) => entry.type === 0x42);
  if (dynamic) throw new LifeboatError('LB_DEVICE_CONVERT_DYNAMIC_DISK', { detail: `Partition ${dynamic.number} has type 0x42: ${inventory.device} is a Windows dynamic disk.`, device: inventory.device, partition: dynamic.number });
  for (const range of mbrPartitionRanges(mbr)) {
    const type = types.find((entry) => entry.number === range.number)?.type ?? 0;
    if (!gptTypeForMbr(type)) throw new LifeboatError('LB_DEVICE_CONVERT_UNKNOWN_TYPE', { detail: `Partition ${range.number} has MBR type 0x${type.toString(16).padStart(2, '0')}, which has no GPT type the conversion knows.`, device: inventory.device, partition: range.number, type });
  }
  for (const facts of inventory.partitions) {
    const fs = facts.filesystem;
    if (fs?.type === 'BitLocker') throw new LifeboatError('LB_DEVICE_CONVERT_BITLOCKER', { detail: `Partition ${facts.number} is encrypted with BitLocker ("-FVE-FS-").`, device: inventory.device, partition: facts.number });
    if (fs?.type === 'ntfs' && (fs.state === 'hibernated' || fs.state === 'needs-check')) {
      throw new LifeboatError('LB_FILESYSTEM_CONVERT_NTFS_UNCLEAN', { detail: `The NTFS on partition ${facts.number} is ${fs.state === 'hibernated' ? 'hibernated (hiberfil.sys holds a suspended Windows)' : 'marked dirty'}.`, device: inventory.device, partition: facts.number, state: fs.state });
    }
  }
}

/** Usable range of the GPT on this disk: after the primary array, before the backup array. */
export function gptUsableRange(diskSectors: number, sectorSize: number): { first: number; last: number } {
  const arraySectors = entryArraySectors(128, 128, sectorSize);
  return { first: 2 + arraySectors, last: diskSectors - 2 - arraySectors };
}

function refuseNoRoomForTables(inventory: ConvertInventory, ranges: ReturnType<typeof mbrPartitionRanges>, usable: { first: number; last: number }): void {
  const first = ranges.reduce((best, range) => (range.start < best.start ? range : best), ranges[0] as (typeof ranges)[number]);
  const last = ranges.reduce((best, range) => (range.end > best.end ? range : best), ranges[0] as (typeof ranges)[number]);
  const arraySectors = GPT_ARRAY_BYTES / inventory.sectorSize;
  if (first.start < usable.first) {
    throw new LifeboatError('LB_DEVICE_CONVERT_NO_ROOM_FOR_GPT', { detail: `Partition ${first.number} starts at LBA ${first.start}; the GPT's header and ${arraySectors}-sector entry array need LBA 0..${usable.first - 1}.`, device: inventory.device, partition: first.number, startLba: first.start, neededStartLba: usable.first });
  }
  if (last.end - 1 > usable.last) {
    throw new LifeboatError('LB_DEVICE_CONVERT_NO_ROOM_FOR_GPT', { detail: `Partition ${last.number} ends at LBA ${last.end - 1}; the backup GPT needs the last ${inventory.diskSectors - 1 - usable.last} sectors (after LBA ${usable.last}).`, device: inventory.device, partition: last.number, endLba: last.end - 1, lastUsableLba: usable.last });
  }
}

type Range = { number: number; start: number; end: number };

function placeEsp(ranges: readonly Range[], usable: { first: number; last: number }, espSectors: number, align: number): number | undefined {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const gaps: Array<{ start: number; end: number }> = [];
  let cursor = usable.first;
  for (const range of sorted) {
    gaps.push({ start: cursor, end: range.start });
    cursor = Math.max(cursor, range.end);
  }
  gaps.push({ start: cursor, end: usable.last + 1 });
  const fitting = gaps.filter((gap) => alignUp(gap.start, align) + espSectors <= gap.end);
  const chosen = fitting[fitting.length - 1];
  return chosen ? alignUp(chosen.start, align) : undefined;
}

/** Partitions whose tail a shrink could give up to make room for the ESP (behind them, aligned). */
export function shrinkCandidates(inventory: ConvertInventory, ranges: readonly Range[], usable: { first: number; last: number }, espSectors: number, align: number): Array<{ number: number; newSectors: number; freedBytes: number }> {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: Array<{ number: number; newSectors: number; freedBytes: number }> = [];
  sorted.forEach((range, i) => {
    const fs = inventory.partitions.find((facts) => facts.number === range.number)?.filesystem;
    if (!fs || !SHRINKABLE.has(fs.type) || fs.usedBytes === undefined) return;
    const gapEnd = sorted[i + 1]?.start ?? usable.last + 1;
    const newEnd = alignDown(gapEnd - espSectors, align);
    const newSectors = newEnd - range.start;
    if (newSectors <= 0 || newEnd >= range.end) return;
    if (newSectors * inventory.sectorSize < fs.usedBytes * 1.1 + 64 * MiB) return;
    out.push({ number: range.number, newSectors, freedBytes: (range.end - newEnd) * inventory.sectorSize });
  });
  return out;
}

/** Plans the conversion or refuses with the first reason; `newGuid` gives random GUIDs (io supplies them). */
export function planConversion(inventory: ConvertInventory, options: { espBytes: number; newGuid: () => string }): ConvertPlan {
  refuseContents(inventory);
  const mbr = inventory.table.mbr;
  if (!mbr) throw new Error('unreachable: refuseContents checks the MBR');
  const { sectorSize, diskSectors, device } = inventory;
  const ranges = mbrPartitionRanges(mbr);
  if (ranges.length === 0) throw new LifeboatError('LB_DEVICE_CONVERT_NOT_MBR', { detail: `${device} has an MBR without partitions: nothing to convert.`, device });
  const usable = gptUsableRange(diskSectors, sectorSize);
  refuseNoRoomForTables(inventory, ranges, usable);
  const align = MiB / sectorSize;
  const typeOf = (number: number) => (number <= 4 ? mbr.slots[number - 1]?.type : mbr.logicals[number - 5]?.entry.type) ?? 0;
  const facts = (number: number) => inventory.partitions.find((entry) => entry.number === number);
  const partitions: ConvertedPartition[] = ranges.map((range) => {
    const mapped = gptTypeForMbr(typeOf(range.number));
    const found = facts(range.number);
    return {
      number: range.number, mbrType: typeOf(range.number), typeGuid: mapped?.typeGuid ?? '', attributes: mapped?.attributes ?? '0',
      firstLba: range.start, lastLba: range.end - 1, isNewEsp: false,
      ...(found?.filesystem ? { filesystem: found.filesystem.type } : {}), ...(found?.system ? { system: found.system.name } : {}),
    };
  });
  const notes: string[] = [];
  let esp: ConvertPlan['esp'];
  if (partitions.some((partition) => partition.typeGuid === ESP_TYPE_GUID)) {
    notes.push('The disk already has an EFI System partition (type 0xEF); it is kept and no new one is made.');
  } else {
    const espSectors = Math.ceil(options.espBytes / sectorSize);
    const start = placeEsp(ranges, usable, espSectors, align);
    if (start === undefined) {
      const candidates = shrinkCandidates(inventory, ranges, usable, espSectors, align);
      const hint = candidates.length > 0
        ? ` Shrinking the tail of partition ${candidates.map((c) => `${c.number} (to ${Math.floor((c.newSectors * sectorSize) / MiB)} MiB)`).join(' or ')} would make room; Lifeboat does not shrink during a conversion yet.`
        : ' No partition\'s tail can be shrunk far enough.';
      throw new LifeboatError('LB_DEVICE_CONVERT_NO_ROOM_FOR_ESP', { detail: `No free space of ${Math.round(options.espBytes / MiB)} MiB (1 MiB aligned) for the EFI System partition on ${device}.${hint}`, device, espBytes: options.espBytes, shrinkCandidates: candidates });
    }
    const used = new Set(partitions.map((partition) => partition.number));
    let number = 1;
    while (used.has(number)) number += 1;
    esp = { number, firstLba: start, lastLba: start + espSectors - 1, label: 'ESP' };
    partitions.push({ number, mbrType: undefined, typeGuid: ESP_TYPE_GUID, attributes: '0', firstLba: esp.firstLba, lastLba: esp.lastLba, isNewEsp: true, filesystem: 'vfat' });
  }
  partitions.sort((a, b) => a.number - b.number);
  const gpt: GptLayout = {
    sectorSize, diskSectors, diskGuid: options.newGuid(), firstUsableLba: usable.first, lastUsableLba: usable.last,
    entries: partitions.map((partition) => ({ index: partition.number, typeGuid: partition.typeGuid, uniqueGuid: options.newGuid(), firstLba: partition.firstLba, lastLba: partition.lastLba, attributes: partition.attributes, name: partition.isNewEsp ? 'EFI system partition' : '' })),
  };
  const ebrLbas = mbr.logicals.map((logical) => logical.ebrLba);
  const edge = Math.min(align, diskSectors);
  const undoRanges = mergeRanges([
    { lba: 0, sectors: edge }, { lba: diskSectors - edge, sectors: edge },
    ...ebrLbas.map((lba) => ({ lba, sectors: 1 })),
    ...(esp ? [{ lba: esp.firstLba, sectors: esp.lastLba - esp.firstLba + 1 }] : []),
  ]);
  const systems = inventory.partitions.flatMap((entry) => (entry.system ? [entry.system] : []));
  if (partitions.some((partition) => partition.number > 4 && !partition.isNewEsp)) notes.push('Logical partitions become GPT partitions with the same numbers (sda5 stays sda5).');
  notes.push('The BIOS boot code in LBA 0..first partition is replaced by the GPT: the disk no longer boots in legacy BIOS mode until a UEFI boot loader is installed.');
  return { device, sectorSize, diskSectors, diskSignature: mbr.diskSignature, partitions, esp, gpt, undoRanges, ebrLbas, systems, notes };
}

/** Sorted, merged sector ranges. */
export function mergeRanges(ranges: ReadonlyArray<{ lba: number; sectors: number }>): Array<{ lba: number; sectors: number }> {
  const sorted = [...ranges].filter((range) => range.sectors > 0).sort((a, b) => a.lba - b.lba);
  const out: Array<{ lba: number; sectors: number }> = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last && range.lba <= last.lba + last.sectors) last.sectors = Math.max(last.sectors, range.lba + range.sectors - last.lba);
    else out.push({ ...range });
  }
  return out;
}
