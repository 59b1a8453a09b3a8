// MBR partition tables: the boot sector (LBA 0) and the chain of extended boot records.
//
// Format (LBA 0, little-endian): boot code 0..439, disk signature u32 at 440 (0x1B8), a reserved
// u16 at 444, four 16-byte entries from 446 (0x1BE): status u8 (0x80 bootable), CHS of the first
// sector (3 bytes), type u8, CHS of the last sector (3 bytes), first LBA u32, sector count u32;
// 0x55 0xAA at 510. An extended partition (type 0x05, 0x0F or 0x85) holds a chain of EBRs: each
// EBR's first entry is its logical partition, its start relative to that EBR; its second entry
// links to the next EBR, its start relative to the extended partition's start.

import { LifeboatError } from '../errors.ts';

/** An MBR entry exactly as stored (starts are relative for EBR entries). */
export interface MbrEntry {
  readonly status: number;
  readonly chsStart: readonly [number, number, number];
  readonly type: number;
  readonly chsEnd: readonly [number, number, number];
  readonly startLba: number;
  readonly sectors: number;
}

/** One logical partition: where its EBR is, its entry (relative to the EBR) and the link. */
export interface LogicalPartition {
  readonly ebrLba: number;
  readonly entry: MbrEntry;
  readonly link: MbrEntry;
  /** Bytes before the entries (boot code some boot loaders chain into), written as they are; zero when absent. */
  readonly bootCode?: Uint8Array;
}

/** A whole MBR table: boot sector fields, the four slots, and the logical partitions. */
export interface MbrTable {
  readonly bootCode: Uint8Array;
  readonly diskSignature: number;
  readonly reserved: number;
  readonly slots: readonly [MbrEntry, MbrEntry, MbrEntry, MbrEntry];
  readonly logicals: readonly LogicalPartition[];
}

/** Partition types that hold a chain of EBRs. */
export const EXTENDED_TYPES: ReadonlySet<number> = new Set([0x05, 0x0f, 0x85]);

/** The type of a GPT protective MBR entry. */
export const GPT_PROTECTIVE_TYPE = 0xee;

/** Bytes of the MBR structure at the start of its sector, whatever the sector size. */
export const MBR_BYTES = 512;

const ENTRY_OFFSET = 446;
const MAX_LOGICALS = 256;

/** True when the first 512 bytes end with the boot signature 0x55 0xAA. */
export function hasBootSignature(sector: Uint8Array): boolean {
  return sector.length >= MBR_BYTES && sector[510] === 0x55 && sector[511] === 0xaa;
}

/** An entry slot with nothing in it. */
export function isEmptyEntry(entry: MbrEntry): boolean {
  return entry.type === 0 && entry.sectors === 0 && entry.startLba === 0;
}

function readEntry(sector: Uint8Array, slot: number): MbrEntry {
  const at = ENTRY_OFFSET + slot * 16;
  const view = new DataView(sector.buffer, sector.byteOffset + at, 16);
  return {
    status: view.getUint8(0),
    chsStart: [view.getUint8(1), view.getUint8(2), view.getUint8(3)],
    type: view.getUint8(4),
    chsEnd: [view.getUint8(5), view.getUint8(6), view.getUint8(7)],
    startLba: view.getUint32(8, true),
    sectors: view.getUint32(12, true),
  };
}

function writeEntry(sector: Uint8Array, slot: number, entry: MbrEntry): void {
  const view = new DataView(sector.buffer, sector.byteOffset + ENTRY_OFFSET + slot * 16, 16);
  view.setUint8(0, entry.status);
  entry.chsStart.forEach((byte, i) => view.setUint8(1 + i, byte));
  view.setUint8(4, entry.type);
  entry.chsEnd.forEach((byte, i) => view.setUint8(5 + i, byte));
  view.setUint32(8, entry.startLba, true);
  view.setUint32(12, entry.sectors, true);
}

/** Parses the boot sector's fields and four slots (no chain following). */
export function parseBootSector(sector: Uint8Array): Omit<MbrTable, 'logicals'> {
  if (!hasBootSignature(sector)) {
    throw new LifeboatError('LB_DEVICE_MBR_INVALID', { detail: 'No 0x55AA boot signature at byte 510.', offset: 510 });
  }
  const view = new DataView(sector.buffer, sector.byteOffset, MBR_BYTES);
  return {
    bootCode: Uint8Array.from(sector.subarray(0, 440)),
    diskSignature: view.getUint32(440, true),
    reserved: view.getUint16(444, true),
    slots: [readEntry(sector, 0), readEntry(sector, 1), readEntry(sector, 2), readEntry(sector, 3)],
  };
}

/** Reads sectors by LBA; the parser asks for the boot sector and each EBR. */
export type SectorReader = (lba: number) => Promise<Uint8Array>;

function invalid(detail: string, offset: number): LifeboatError {
  return new LifeboatError('LB_DEVICE_MBR_INVALID', { detail, offset });
}

/** Parses an MBR and follows the EBR chain, checking every start and size against the disk. */
export async function parseMbr(readSector: SectorReader, diskSectors: number, sectorSize: number): Promise<MbrTable> {
  const boot = parseBootSector(await readSector(0));
  const logicals: LogicalPartition[] = [];
  boot.slots.forEach((entry, slot) => {
    if (isEmptyEntry(entry) || entry.type === 0) return;
    if (entry.startLba === 0 || entry.startLba + entry.sectors > diskSectors) {
      throw invalid(`Partition ${slot + 1} (sectors ${entry.startLba}+${entry.sectors}) lies outside the disk of ${diskSectors} sectors.`, ENTRY_OFFSET + slot * 16 + 8);
    }
  });
  const extendedSlot = boot.slots.findIndex((entry) => EXTENDED_TYPES.has(entry.type));
  if (boot.slots.filter((entry) => EXTENDED_TYPES.has(entry.type)).length > 1) {
    throw invalid('More than one extended partition.', ENTRY_OFFSET);
  }
  if (extendedSlot >= 0) {
    const extended = boot.slots[extendedSlot] as MbrEntry;
    const extendedEnd = extended.startLba + extended.sectors;
    const visited = new Set<number>();
    let ebrLba = extended.startLba;
    for (;;) {
      const byteOffset = ebrLba * sectorSize;
      if (visited.has(ebrLba)) throw invalid(`The extended-partition chain loops back to LBA ${ebrLba}.`, byteOffset);
      if (visited.size >= MAX_LOGICALS) throw invalid(`More than ${MAX_LOGICALS} logical partitions.`, byteOffset);
      visited.add(ebrLba);
      const sector = await readSector(ebrLba);
      if (!hasBootSignature(sector)) throw invalid(`The EBR at LBA ${ebrLba} has no 0x55AA signature.`, byteOffset + 510);
      const entry = readEntry(sector, 0);
      const link = readEntry(sector, 1);
      if (entry.type === 0 || entry.sectors === 0) {
        // an empty EBR ends the chain (some tools write one when no logicals are left)
        if (logicals.length === 0 && link.type === 0) break;
        throw invalid(`The EBR at LBA ${ebrLba} holds no partition.`, byteOffset + ENTRY_OFFSET);
      }
      const start = ebrLba + entry.startLba;
      if (entry.startLba === 0 || start + entry.sectors > extendedEnd) {
        throw invalid(`Logical partition ${5 + logicals.length} (sectors ${start}+${entry.sectors}) lies outside its extended partition.`, byteOffset + ENTRY_OFFSET + 8);
      }
      logicals.push({ ebrLba, entry, link });
      if (link.type === 0 && link.startLba === 0) break;
      if (!EXTENDED_TYPES.has(link.type)) throw invalid(`The EBR at LBA ${ebrLba} links with type 0x${link.type.toString(16)}.`, byteOffset + ENTRY_OFFSET + 16 + 4);
      const next = extended.startLba + link.startLba;
      if (link.startLba === 0 || next >= extendedEnd) throw invalid(`The EBR at LBA ${ebrLba} links outside the extended partition.`, byteOffset + ENTRY_OFFSET + 16 + 8);
      ebrLba = next;
    }
  }
  const table: MbrTable = { ...boot, logicals };
  assertNoOverlaps(table, sectorSize);
  return table;
}

/** Absolute [start, end) of every data partition (primaries except the extended one, and logicals). */
export function mbrPartitionRanges(table: MbrTable): Array<{ number: number; start: number; end: number }> {
  const ranges: Array<{ number: number; start: number; end: number }> = [];
  table.slots.forEach((entry, slot) => {
    if (entry.type !== 0 && !EXTENDED_TYPES.has(entry.type) && entry.sectors > 0) ranges.push({ number: slot + 1, start: entry.startLba, end: entry.startLba + entry.sectors });
  });
  table.logicals.forEach((logical, i) => {
    const start = logical.ebrLba + logical.entry.startLba;
    ranges.push({ number: 5 + i, start, end: start + logical.entry.sectors });
  });
  return ranges;
}

function assertNoOverlaps(table: MbrTable, sectorSize: number): void {
  const ranges = mbrPartitionRanges(table).sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i += 1) {
    const previous = ranges[i - 1];
    const current = ranges[i];
    if (previous && current && current.start < previous.end) {
      throw invalid(`Partitions ${previous.number} and ${current.number} overlap at LBA ${current.start}.`, current.start * sectorSize);
    }
  }
}

/** Encodes the boot sector (512 bytes: the caller places it at LBA 0). */
export function encodeBootSector(table: Omit<MbrTable, 'logicals'>): Uint8Array {
  const sector = new Uint8Array(MBR_BYTES);
  sector.set(table.bootCode.subarray(0, 440));
  const view = new DataView(sector.buffer);
  view.setUint32(440, table.diskSignature, true);
  view.setUint16(444, table.reserved, true);
  table.slots.forEach((entry, slot) => writeEntry(sector, slot, entry));
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** Encodes the whole table: the boot sector at LBA 0 and one 512-byte EBR per logical partition. */
export function encodeMbr(table: MbrTable): Array<{ lba: number; bytes: Uint8Array }> {
  const sectors = [{ lba: 0, bytes: encodeBootSector(table) }];
  for (const logical of table.logicals) {
    const ebr = new Uint8Array(MBR_BYTES);
    if (logical.bootCode) ebr.set(logical.bootCode.subarray(0, ENTRY_OFFSET));
    writeEntry(ebr, 0, logical.entry);
    writeEntry(ebr, 1, logical.link);
    ebr[510] = 0x55;
    ebr[511] = 0xaa;
    sectors.push({ lba: logical.ebrLba, bytes: ebr });
  }
  return sectors;
}

/** CHS address of an LBA as fdisk computes it (255 heads, 63 sectors; 1023/254/63 past cylinder 1023). */
export function chsForLba(lba: number): [number, number, number] {
  const heads = 255;
  const sectorsPerTrack = 63;
  let cylinder = Math.floor(lba / (heads * sectorsPerTrack));
  let head = Math.floor(lba / sectorsPerTrack) % heads;
  let sector = (lba % sectorsPerTrack) + 1;
  if (cylinder > 1023) {
    cylinder = 1023;
    head = 254;
    sector = 63;
  }
  return [head, ((cylinder >> 2) & 0xc0) | sector, cylinder & 0xff];
}

/** An entry for absolute sectors [start, start+sectors), stored relative to `base`, with fdisk's CHS. */
export function makeEntry(options: { type: number; start: number; sectors: number; base?: number; bootable?: boolean }): MbrEntry {
  return {
    status: options.bootable ? 0x80 : 0,
    chsStart: chsForLba(options.start),
    type: options.type,
    chsEnd: chsForLba(options.start + options.sectors - 1),
    startLba: options.start - (options.base ?? 0),
    sectors: options.sectors,
  };
}

/** An empty slot. */
export const EMPTY_ENTRY: MbrEntry = { status: 0, chsStart: [0, 0, 0], type: 0, chsEnd: [0, 0, 0], startLba: 0, sectors: 0 };

/** A partition of an MBR layout, in absolute sectors. */
export interface MbrLayoutPartition {
  readonly type: number;
  readonly start: number;
  readonly sectors: number;
  readonly bootable?: boolean;
}

/** What a new MBR table should hold: up to four primaries (one may be extended) and logicals with their EBR places. */
export interface MbrLayout {
  readonly diskSignature: number;
  readonly bootCode?: Uint8Array;
  readonly primaries: ReadonlyArray<MbrLayoutPartition | undefined>;
  readonly logicals?: ReadonlyArray<MbrLayoutPartition & { readonly ebrLba: number }>;
}

/** Builds a table from a layout the way sfdisk writes one (CHS, relative EBR starts, link sizes). */
export function layoutMbr(layout: MbrLayout): MbrTable {
  if (layout.primaries.length > 4) throw new Error('an MBR has four primary slots');
  const slots = [0, 1, 2, 3].map((slot) => {
    const partition = layout.primaries[slot];
    return partition ? makeEntry(partition) : EMPTY_ENTRY;
  }) as [MbrEntry, MbrEntry, MbrEntry, MbrEntry];
  const extended = slots.find((entry) => EXTENDED_TYPES.has(entry.type));
  const logicals = layout.logicals ?? [];
  if (logicals.length > 0 && !extended) throw new Error('logical partitions need an extended partition');
  return {
    bootCode: layout.bootCode ?? new Uint8Array(440),
    diskSignature: layout.diskSignature,
    reserved: 0,
    slots,
    logicals: logicals.map((logical, i) => {
      const next = logicals[i + 1];
      return {
        ebrLba: logical.ebrLba,
        entry: makeEntry({ ...logical, base: logical.ebrLba }),
        link: next && extended
          ? makeEntry({ type: 0x05, start: next.ebrLba, sectors: next.start + next.sectors - next.ebrLba, base: extended.startLba })
          : EMPTY_ENTRY,
      };
    }),
  };
}
