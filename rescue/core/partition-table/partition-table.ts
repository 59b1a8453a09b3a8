// Reads whatever partitioning a disk has (GPT, MBR with logical partitions, or none: a
// filesystem on the whole disk) into one description that listings, backups and restores use.

import { type ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { parseGpt, type GptTable } from './gpt.ts';
import { EXTENDED_TYPES, GPT_PROTECTIVE_TYPE, hasBootSignature, parseBootSector, parseMbr, type MbrTable } from './mbr.ts';

/** One partition, whatever the table kind. */
export interface PartitionInfo {
  /** The number Linux gives it (sda1; logicals from 5). */
  readonly number: number;
  readonly startLba: number;
  readonly sectors: number;
  /** GPT type GUID (upper case) or MBR type byte in hex without leading zeros (as sfdisk prints). */
  readonly type: string;
  readonly kind: 'gpt' | 'primary' | 'extended' | 'logical';
  readonly bootable: boolean;
  readonly uuid?: string;
  readonly name?: string;
  readonly attributes?: string;
}

/** The partitioning of a disk. */
export interface PartitionTableInfo {
  readonly kind: 'gpt' | 'mbr' | 'none';
  readonly sectorSize: number;
  readonly diskSectors: number;
  /** GPT disk GUID, or the MBR disk signature as 0x%08x (sfdisk's label-id). */
  readonly id: string | undefined;
  readonly firstUsableLba?: number;
  readonly lastUsableLba?: number;
  readonly partitions: readonly PartitionInfo[];
  /**
   * Sectors between the table and the first partition (MBR: 1..first-1, where GRUB's core.img lives
   * on BIOS systems; GPT: after the entry array). A backup keeps them.
   */
  readonly bootGap: { readonly startLba: number; readonly sectors: number } | undefined;
  readonly warnings: readonly string[];
  readonly mbr?: MbrTable;
  readonly gpt?: GptTable;
}

/** GPT type of the BIOS boot partition (GRUB's core.img on GPT disks with BIOS boot). */
export const BIOS_BOOT_GUID = '21686148-6449-6E6F-744E-656564454649';

/** Sector sizes Lifeboat handles. */
export const SECTOR_SIZES: readonly number[] = [512, 4096];

/** True when sector 0 is a filesystem's boot sector rather than an MBR (FAT, exFAT, NTFS on the whole disk). */
export function looksLikeFilesystemBootSector(sector: Uint8Array): boolean {
  const text = (from: number, to: number) => Buffer.from(sector.subarray(from, to)).toString('latin1');
  const jump = sector[0] === 0xeb || sector[0] === 0xe9;
  if (!jump) return false;
  return text(3, 11) === 'NTFS    ' || text(3, 11) === 'EXFAT   ' || text(54, 59) === 'FAT12' || text(54, 59) === 'FAT16' || text(82, 87) === 'FAT32';
}

/** Reads the partition table of a whole disk (or image) with the given logical sector size. */
export async function readPartitionTable(source: ByteSource, sectorSize: number): Promise<PartitionTableInfo> {
  if (!SECTOR_SIZES.includes(sectorSize)) throw new LifeboatError('LB_INPUT_USAGE', { detail: `Unsupported sector size ${sectorSize}.` });
  const diskSectors = Math.floor(source.size / sectorSize);
  if (diskSectors < 1) throw new LifeboatError('LB_DEVICE_TABLE_TRUNCATED', { detail: `${source.size} bytes hold no ${sectorSize}-byte sector.`, offset: 0 });
  const readSector = async (lba: number) => {
    if (lba >= diskSectors) throw new LifeboatError('LB_DEVICE_TABLE_TRUNCATED', { detail: `LBA ${lba} is past the end (${diskSectors} sectors).`, offset: lba * sectorSize });
    return source.read(lba * sectorSize, sectorSize);
  };
  const none: PartitionTableInfo = { kind: 'none', sectorSize, diskSectors, id: undefined, partitions: [], bootGap: undefined, warnings: [] };
  const first = await readSector(0);
  if (!hasBootSignature(first) || looksLikeFilesystemBootSector(first)) return none;
  const boot = parseBootSector(first);
  if (boot.slots.some((entry) => entry.type === GPT_PROTECTIVE_TYPE)) {
    const gpt = await parseGpt(readSector, diskSectors, sectorSize);
    const partitions: PartitionInfo[] = gpt.entries.map((entry) => ({
      number: entry.index,
      startLba: entry.firstLba,
      sectors: entry.lastLba - entry.firstLba + 1,
      type: entry.typeGuid,
      kind: 'gpt',
      bootable: (BigInt(entry.attributes) & 4n) !== 0n,
      uuid: entry.uniqueGuid,
      name: entry.name,
      attributes: entry.attributes,
    }));
    const arrayEnd = 2 + Math.ceil((gpt.entryCount * gpt.entrySize) / sectorSize);
    const firstStart = Math.min(...partitions.map((partition) => partition.startLba), gpt.lastUsableLba + 1);
    return {
      kind: 'gpt', sectorSize, diskSectors, id: gpt.diskGuid, firstUsableLba: gpt.firstUsableLba, lastUsableLba: gpt.lastUsableLba,
      partitions, bootGap: firstStart > arrayEnd ? { startLba: arrayEnd, sectors: firstStart - arrayEnd } : undefined, warnings: gpt.warnings, gpt,
    };
  }
  const mbr = await parseMbr(readSector, diskSectors, sectorSize);
  const partitions: PartitionInfo[] = [];
  mbr.slots.forEach((entry, slot) => {
    if (entry.type === 0) return;
    partitions.push({ number: slot + 1, startLba: entry.startLba, sectors: entry.sectors, type: entry.type.toString(16), kind: EXTENDED_TYPES.has(entry.type) ? 'extended' : 'primary', bootable: entry.status === 0x80 });
  });
  mbr.logicals.forEach((logical, i) => {
    partitions.push({ number: 5 + i, startLba: logical.ebrLba + logical.entry.startLba, sectors: logical.entry.sectors, type: logical.entry.type.toString(16), kind: 'logical', bootable: logical.entry.status === 0x80 });
  });
  const warnings = mbr.slots.filter((entry) => entry.status !== 0 && entry.status !== 0x80).map((entry) => `An entry has the invalid status byte 0x${entry.status.toString(16)}.`);
  const firstStart = Math.min(...partitions.map((partition) => partition.startLba), diskSectors);
  return {
    kind: 'mbr', sectorSize, diskSectors, id: `0x${mbr.diskSignature.toString(16).padStart(8, '0')}`,
    partitions, bootGap: firstStart > 1 ? { startLba: 1, sectors: firstStart - 1 } : undefined, warnings, mbr,
  };
}

/** For image files, whose sector size nothing records: 4096 when a GPT header sits at byte 4096 and not at 512. */
export async function detectSectorSize(source: ByteSource): Promise<number> {
  const signatureAt = async (offset: number) =>
    source.size >= offset + 8 && Buffer.from(await source.read(offset, 8)).toString('latin1') === 'EFI PART';
  return !(await signatureAt(512)) && (await signatureAt(4096)) ? 4096 : 512;
}
