// GUID partition tables: protective MBR, primary header (LBA 1) and entry array, backup entry
// array and header at the end of the disk.
//
// Header (little-endian): "EFI PART" 0, revision u32 8 (0x00010000), header size u32 12 (92),
// header CRC32 u32 16 (computed with this field zeroed, over header-size bytes), reserved u32 20,
// current LBA u64 24, backup LBA u64 32, first usable LBA u64 40, last usable LBA u64 48, disk GUID
// 56, entries LBA u64 72, entry count u32 80, entry size u32 84, entries CRC32 u32 88.
// Entry: type GUID 0, unique GUID 16, first LBA u64 32, last LBA u64 40 (inclusive), attributes u64
// 48, name 56..127 (UTF-16LE, 36 units). GUIDs keep their first three fields little-endian.

import { LifeboatError } from '../errors.ts';
import { formatBytes } from '../human-units.ts';
import { crc32 } from './crc32.ts';
import { encodeGuid, formatGuid, ZERO_GUID } from './guid.ts';
import { chsForLba, encodeBootSector, GPT_PROTECTIVE_TYPE, type MbrEntry, type SectorReader, EMPTY_ENTRY, parseBootSector } from './mbr.ts';

/** A used GPT entry. */
export interface GptEntry {
  /** 1-based slot in the entry array (the partition number). */
  readonly index: number;
  readonly typeGuid: string;
  readonly uniqueGuid: string;
  readonly firstLba: number;
  readonly lastLba: number;
  /** The 64 attribute bits, as a decimal string (bit 0 required, 1 no block IO, 2 legacy BIOS bootable, 48-63 type-specific). */
  readonly attributes: string;
  readonly name: string;
}

/** The header fields that describe the table (the rest is derived when encoding). */
export interface GptHeader {
  readonly revision: number;
  readonly headerSize: number;
  readonly currentLba: number;
  readonly backupLba: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  readonly diskGuid: string;
  readonly entriesLba: number;
  readonly entryCount: number;
  readonly entrySize: number;
}

/** A parsed GPT. */
export interface GptTable {
  readonly sectorSize: number;
  readonly diskSectors: number;
  readonly diskGuid: string;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  readonly entryCount: number;
  readonly entrySize: number;
  readonly entries: readonly GptEntry[];
  /** The header that was used (primary unless it was damaged) and the other copy, if it was sound. */
  readonly primary: GptHeader | undefined;
  readonly backup: GptHeader | undefined;
  readonly protectiveEntry: MbrEntry;
  readonly warnings: readonly string[];
}

export const GPT_SIGNATURE = 'EFI PART';
const HEADER_MIN_BYTES = 92;
/** Entry arrays above this are refused (the usual one is 16 KiB). */
const MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024;

function invalid(detail: string, offset: number): LifeboatError {
  return new LifeboatError('LB_DEVICE_GPT_INVALID', { detail, offset });
}

function u64(view: DataView, at: number, offset: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`A 64-bit LBA (${value}) is beyond any disk.`, offset + at);
  return Number(value);
}

/** Sectors the entry array takes. */
export function entryArraySectors(entryCount: number, entrySize: number, sectorSize: number): number {
  return Math.ceil((entryCount * entrySize) / sectorSize);
}

/**
 * Parses and checks one header sector read at `lba`; returns a reason when it is not sound. A
 * sound header (CRC correct) that reaches past the disk also gives the disk size it was written
 * for (`claimedSectors`: its backup header's LBA + 1): a truncated image, or a table of a larger disk.
 */
export function parseGptHeader(sector: Uint8Array, lba: number, diskSectors: number, sectorSize: number): { header: GptHeader; entriesCrc: number } | { problem: string; claimedSectors?: number } {
  const offset = lba * sectorSize;
  if (sector.length < HEADER_MIN_BYTES || Buffer.from(sector.subarray(0, 8)).toString('latin1') !== GPT_SIGNATURE) return { problem: `no "EFI PART" signature at LBA ${lba}` };
  const view = new DataView(sector.buffer, sector.byteOffset, sector.length);
  const headerSize = view.getUint32(12, true);
  if (headerSize < HEADER_MIN_BYTES || headerSize > sectorSize) return { problem: `header size ${headerSize} at LBA ${lba}` };
  // A real copy (Buffer#slice would share memory) with the CRC field zeroed.
  const copy = new Uint8Array(headerSize);
  copy.set(sector.subarray(0, headerSize));
  new DataView(copy.buffer).setUint32(16, 0, true);
  const stored = view.getUint32(16, true);
  if (crc32(copy) !== stored) return { problem: `header CRC32 mismatch at LBA ${lba}` };
  const header: GptHeader = {
    revision: view.getUint32(8, true),
    headerSize,
    currentLba: u64(view, 24, offset),
    backupLba: u64(view, 32, offset),
    firstUsableLba: u64(view, 40, offset),
    lastUsableLba: u64(view, 48, offset),
    diskGuid: formatGuid(sector.subarray(56, 72)),
    entriesLba: u64(view, 72, offset),
    entryCount: view.getUint32(80, true),
    entrySize: view.getUint32(84, true),
  };
  if (header.currentLba !== lba) return { problem: `header at LBA ${lba} says it is at LBA ${header.currentLba}` };
  if (header.entrySize < 128 || header.entrySize % 8 !== 0 || header.entryCount === 0 || header.entryCount * header.entrySize > MAX_ENTRY_ARRAY_BYTES) {
    return { problem: `entry array of ${header.entryCount} x ${header.entrySize} bytes at LBA ${lba}` };
  }
  const arraySectors = entryArraySectors(header.entryCount, header.entrySize, sectorSize);
  const claimed = Math.max(header.backupLba, header.currentLba, header.lastUsableLba) + 1;
  const pastEnd = claimed > diskSectors ? { claimedSectors: claimed } : {};
  if (header.entriesLba < 2 || header.entriesLba + arraySectors > diskSectors) return { problem: `entry array at LBA ${header.entriesLba} outside the disk`, ...(header.entriesLba >= 2 ? pastEnd : {}) };
  if (header.firstUsableLba > header.lastUsableLba || header.lastUsableLba >= diskSectors) {
    return { problem: `usable range ${header.firstUsableLba}..${header.lastUsableLba} outside the disk of ${diskSectors} sectors`, ...(header.firstUsableLba <= header.lastUsableLba ? pastEnd : {}) };
  }
  return { header, entriesCrc: view.getUint32(88, true) };
}

/** Parses the used entries of an entry array, checking each against the usable range. */
export function parseGptEntries(array: Uint8Array, header: GptHeader, sectorSize: number): GptEntry[] {
  const entries: GptEntry[] = [];
  for (let index = 0; index < header.entryCount; index += 1) {
    const at = index * header.entrySize;
    const bytes = array.subarray(at, at + header.entrySize);
    const typeGuid = formatGuid(bytes.subarray(0, 16));
    if (typeGuid === ZERO_GUID) continue;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const offset = header.entriesLba * sectorSize + at;
    const firstLba = u64(view, 32, offset);
    const lastLba = u64(view, 40, offset);
    if (firstLba > lastLba || firstLba < header.firstUsableLba || lastLba > header.lastUsableLba) {
      throw invalid(`Partition ${index + 1} (LBA ${firstLba}..${lastLba}) lies outside the usable range ${header.firstUsableLba}..${header.lastUsableLba}.`, offset + 32);
    }
    entries.push({
      index: index + 1,
      typeGuid,
      uniqueGuid: formatGuid(bytes.subarray(16, 32)),
      firstLba,
      lastLba,
      attributes: view.getBigUint64(48, true).toString(),
      name: decodeName(bytes.subarray(56, 128)),
    });
  }
  const sorted = [...entries].sort((a, b) => a.firstLba - b.firstLba);
  for (let i = 1; i < sorted.length; i += 1) {
    const previous = sorted[i - 1];
    const current = sorted[i];
    if (previous && current && current.firstLba <= previous.lastLba) {
      throw invalid(`Partitions ${previous.index} and ${current.index} overlap at LBA ${current.firstLba}.`, header.entriesLba * sectorSize + (current.index - 1) * header.entrySize + 32);
    }
  }
  return entries;
}

function decodeName(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('utf16le');
  const end = text.indexOf('\u0000');
  return end < 0 ? text : text.slice(0, end);
}

async function readHeaderAndEntries(readSector: SectorReader, lba: number, diskSectors: number, sectorSize: number) {
  const parsed = parseGptHeader(await readSector(lba), lba, diskSectors, sectorSize);
  if ('problem' in parsed) return parsed;
  const { header } = parsed;
  const sectors = entryArraySectors(header.entryCount, header.entrySize, sectorSize);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < sectors; i += 1) chunks.push(await readSector(header.entriesLba + i));
  const array = Buffer.concat(chunks).subarray(0, header.entryCount * header.entrySize);
  if (crc32(array) !== parsed.entriesCrc) return { problem: `entry array CRC32 mismatch (array at LBA ${header.entriesLba})` };
  return { header, array };
}

/** Parses a GPT; a damaged primary is read from the backup (with a warning), a misplaced backup is reported. */
export async function parseGpt(readSector: SectorReader, diskSectors: number, sectorSize: number): Promise<GptTable> {
  const boot = parseBootSector(await readSector(0));
  const protectiveEntry = boot.slots.find((entry) => entry.type === GPT_PROTECTIVE_TYPE) ?? EMPTY_ENTRY;
  const warnings: string[] = [];
  const primary = await readHeaderAndEntries(readSector, 1, diskSectors, sectorSize);
  const backupLba = 'header' in primary ? primary.header.backupLba : diskSectors - 1;
  const backup = backupLba > 1 && backupLba < diskSectors ? await readHeaderAndEntries(readSector, backupLba, diskSectors, sectorSize) : { problem: `backup header LBA ${backupLba} outside the disk` };
  const used = 'header' in primary ? primary : 'header' in backup ? backup : undefined;
  if (!used) {
    const problems = `Primary: ${(primary as { problem: string }).problem}; backup: ${(backup as { problem: string }).problem}.`;
    const claimed = 'claimedSectors' in primary ? primary.claimedSectors : undefined;
    if (claimed !== undefined) {
      throw new LifeboatError('LB_DEVICE_TABLE_TRUNCATED', {
        detail: `The primary GPT header is sound (its CRC32 matches) but was written for a disk of at least ${claimed} sectors (${formatBytes(claimed * sectorSize)}); this one has ${diskSectors} (${formatBytes(diskSectors * sectorSize)}), and its backup GPT, at the end, is not there. ${problems}`,
        offset: sectorSize, claimedSectors: claimed, diskSectors,
      });
    }
    throw invalid(problems, sectorSize);
  }
  if (!('header' in primary)) warnings.push(`The primary GPT is damaged (${primary.problem}); the table was read from the backup at LBA ${backupLba}.`);
  if (!('header' in backup)) warnings.push(`The backup GPT is damaged or missing (${backup.problem}).`);
  if ('header' in primary && primary.header.backupLba !== diskSectors - 1) {
    warnings.push(`The backup GPT header is at LBA ${primary.header.backupLba}, not at the disk's last LBA ${diskSectors - 1}: the disk was enlarged or the image truncated.`);
  }
  if ('header' in primary && 'header' in backup && Buffer.compare(primary.array, backup.array) !== 0) {
    warnings.push('The primary and backup GPT entry arrays differ; the primary was used.');
  }
  const entries = parseGptEntries(used.array, used.header, sectorSize);
  return {
    sectorSize,
    diskSectors,
    diskGuid: used.header.diskGuid,
    firstUsableLba: used.header.firstUsableLba,
    lastUsableLba: used.header.lastUsableLba,
    entryCount: used.header.entryCount,
    entrySize: used.header.entrySize,
    entries,
    primary: 'header' in primary ? primary.header : undefined,
    backup: 'header' in backup ? backup.header : undefined,
    protectiveEntry,
    warnings,
  };
}

/** What a new GPT holds; sizes and places of the structures follow from diskSectors and sectorSize. */
export interface GptLayout {
  readonly sectorSize: number;
  readonly diskSectors: number;
  readonly diskGuid: string;
  readonly firstUsableLba: number;
  /** Defaults to the last LBA before the backup entry array. */
  readonly lastUsableLba?: number;
  readonly entryCount?: number;
  readonly entries: ReadonlyArray<Omit<GptEntry, 'attributes'> & { readonly attributes?: string }>;
}

function encodeEntryArray(layout: GptLayout, entryCount: number, entrySize: number): Uint8Array {
  const array = new Uint8Array(entryCount * entrySize);
  for (const entry of layout.entries) {
    if (entry.index < 1 || entry.index > entryCount) throw new Error(`entry index ${entry.index} outside 1..${entryCount}`);
    const at = (entry.index - 1) * entrySize;
    array.set(encodeGuid(entry.typeGuid), at);
    array.set(encodeGuid(entry.uniqueGuid), at + 16);
    const view = new DataView(array.buffer, at, entrySize);
    view.setBigUint64(32, BigInt(entry.firstLba), true);
    view.setBigUint64(40, BigInt(entry.lastLba), true);
    view.setBigUint64(48, BigInt(entry.attributes ?? '0'), true);
    const name = Buffer.from(entry.name, 'utf16le');
    if (name.length > 72) throw new Error(`partition name "${entry.name}" is longer than 36 UTF-16 units`);
    array.set(name, at + 56);
  }
  return array;
}

function encodeHeader(fields: GptHeader, entriesCrc: number, sectorSize: number): Uint8Array {
  const sector = new Uint8Array(sectorSize);
  sector.set(Buffer.from(GPT_SIGNATURE, 'latin1'));
  const view = new DataView(sector.buffer);
  view.setUint32(8, fields.revision, true);
  view.setUint32(12, fields.headerSize, true);
  view.setBigUint64(24, BigInt(fields.currentLba), true);
  view.setBigUint64(32, BigInt(fields.backupLba), true);
  view.setBigUint64(40, BigInt(fields.firstUsableLba), true);
  view.setBigUint64(48, BigInt(fields.lastUsableLba), true);
  sector.set(encodeGuid(fields.diskGuid), 56);
  view.setBigUint64(72, BigInt(fields.entriesLba), true);
  view.setUint32(80, fields.entryCount, true);
  view.setUint32(84, fields.entrySize, true);
  view.setUint32(88, entriesCrc, true);
  view.setUint32(16, crc32(sector.subarray(0, fields.headerSize)), true);
  return sector;
}

/** Whose protective MBR to write: sfdisk ends it at CHS FF FF FF, gptfdisk (sgdisk) at the last sector's CHS. */
export type ProtectiveMbrStyle = 'sfdisk' | 'gptfdisk';

/** The protective MBR entry: type 0xEE from LBA 1 over the disk (sector count capped at 2^32-1). */
export function protectiveMbrEntry(diskSectors: number, style: ProtectiveMbrStyle = 'sfdisk'): MbrEntry {
  const chsEnd = style === 'sfdisk' ? ([0xff, 0xff, 0xff] as const) : chsForLba(diskSectors - 1);
  return { status: 0, chsStart: chsForLba(1), type: GPT_PROTECTIVE_TYPE, chsEnd, startLba: 1, sectors: Math.min(diskSectors - 1, 0xffffffff) };
}

/** Encodes a GPT: the sectors to write, in gptfdisk's safe order (backup array, backup header, primary array, primary header, protective MBR). */
export function encodeGpt(layout: GptLayout, options: { bootCode?: Uint8Array; diskSignature?: number; protectiveStyle?: ProtectiveMbrStyle } = {}): Array<{ lba: number; bytes: Uint8Array }> {
  const entrySize = 128;
  const entryCount = layout.entryCount ?? 128;
  const arraySectors = entryArraySectors(entryCount, entrySize, layout.sectorSize);
  const lastLba = layout.diskSectors - 1;
  const backupArrayLba = lastLba - arraySectors;
  const lastUsableLba = layout.lastUsableLba ?? backupArrayLba - 1;
  if (layout.firstUsableLba < 2 + arraySectors || lastUsableLba >= backupArrayLba) throw new Error('usable range overlaps the GPT structures');
  const array = new Uint8Array(arraySectors * layout.sectorSize);
  const entries = encodeEntryArray(layout, entryCount, entrySize);
  array.set(entries);
  const entriesCrc = crc32(entries);
  const common = { revision: 0x00010000, headerSize: 92, firstUsableLba: layout.firstUsableLba, lastUsableLba, diskGuid: layout.diskGuid, entryCount, entrySize };
  const primaryHeader = encodeHeader({ ...common, currentLba: 1, backupLba: lastLba, entriesLba: 2 }, entriesCrc, layout.sectorSize);
  const backupHeader = encodeHeader({ ...common, currentLba: lastLba, backupLba: 1, entriesLba: backupArrayLba }, entriesCrc, layout.sectorSize);
  const mbr = new Uint8Array(layout.sectorSize);
  mbr.set(encodeBootSector({
    bootCode: options.bootCode ?? new Uint8Array(440),
    diskSignature: options.diskSignature ?? 0,
    reserved: 0,
    slots: [protectiveMbrEntry(layout.diskSectors, options.protectiveStyle), EMPTY_ENTRY, EMPTY_ENTRY, EMPTY_ENTRY],
  }));
  return [
    { lba: backupArrayLba, bytes: array },
    { lba: lastLba, bytes: backupHeader },
    { lba: 2, bytes: array },
    { lba: 1, bytes: primaryHeader },
    { lba: 0, bytes: mbr },
  ];
}
