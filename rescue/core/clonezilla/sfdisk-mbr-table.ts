// An sfdisk `dos` dump (Clonezilla's sda-pt.sf) turned back into an MBR table: the four primary
// slots, and for an extended partition the chain of EBRs of its logical partitions (sda5, sda6...).
// The dump gives no EBR places, so they are put where sfdisk puts them when Clonezilla restores the
// same dump: the first EBR at the start of the extended partition, each later one 1 MiB (sfdisk's
// alignment grain) before its logical partition, or where the saved first EBR (sda2-ebr) links.
// The first EBR keeps the 446 bytes of code Clonezilla saved in sda2-ebr, as ocs-restore-ebr does.

import { LifeboatError } from '../errors.ts';
import { EXTENDED_TYPES, hasBootSignature, layoutMbr, type MbrLayoutPartition, type MbrTable } from '../partition-table/mbr.ts';
import type { SfdiskDump, SfdiskPartition } from './sfdisk-dump.ts';

/** sfdisk's alignment grain: logical partitions start 1 MiB after their EBR. */
const GRAIN_BYTES = 1024 * 1024;
/** Bytes of code at the start of an EBR that Clonezilla restores from DISKn-ebr. */
const EBR_CODE_BYTES = 446;
const LINK_ENTRY_OFFSET = 446 + 16;
const MAX_LOGICALS = 256;

/** What the table is rebuilt from besides the dump. */
export interface SfdiskMbrSources {
  readonly diskName: string;
  /** The saved boot sector (sda-mbr): boot code and the reserved bytes. */
  readonly bootSector: Uint8Array | undefined;
  /** Saved first EBRs by partition name (sda2 -> the 512 bytes of sda2-ebr). */
  readonly savedEbrs: Readonly<Record<string, Uint8Array>>;
}

/** Partition number at the end of a device name (sda1, nvme0n1p2, loop0p5). */
export function partitionNumber(device: string): number | undefined {
  const match = /(?:^|\D)(\d{1,3})$/.exec(device.replace(/^.*\//, ''));
  return match?.[1] ? Number(match[1]) : undefined;
}

/** Builds the MBR table (boot sector and EBR chain) a `dos` dump describes; refuses what an MBR cannot hold. */
export function mbrTableFromSfdisk(table: SfdiskDump, sources: SfdiskMbrSources): { table: MbrTable; logicalCount: number } {
  const primaries: Array<MbrLayoutPartition | undefined> = [undefined, undefined, undefined, undefined];
  const logicals: Array<{ entry: SfdiskPartition; number: number; partition: MbrLayoutPartition }> = [];
  let extended: { entry: SfdiskPartition; partition: MbrLayoutPartition } | undefined;
  for (const entry of table.partitions) {
    const number = partitionNumber(entry.device);
    const type = Number.parseInt(entry.type, 16);
    if (!/^[0-9a-fA-F]{1,2}$/.test(entry.type) || type <= 0) throw invalid(`${entry.device} has type "${entry.type}", not an MBR type.`, entry.device);
    if (number === undefined || number < 1) throw invalid(`${entry.device} ends in no partition number.`, entry.device);
    const partition = { type, start: entry.start, sectors: entry.size, bootable: entry.bootable };
    if (number > 4) {
      logicals.push({ entry, number, partition });
      continue;
    }
    if (primaries[number - 1]) throw invalid(`${entry.device} appears twice.`, entry.device);
    primaries[number - 1] = partition;
    if (EXTENDED_TYPES.has(type)) {
      if (extended) throw invalid(`${entry.device} is a second extended partition (after ${extended.entry.device}).`, entry.device);
      extended = { entry, partition };
    }
  }
  if (logicals.length === 0) return { table: withBootSector(layoutMbr({ diskSignature: diskSignature(table), primaries }), sources), logicalCount: 0 };
  if (!extended) throw invalid(`${logicals[0]?.entry.device} is a logical partition, but ${sources.diskName}-pt.sf lists no extended partition.`, logicals[0]?.entry.device);
  if (logicals.length > MAX_LOGICALS) throw invalid(`more than ${MAX_LOGICALS} logical partitions.`, extended.entry.device);
  logicals.sort((a, b) => a.number - b.number);
  const grain = Math.max(1, Math.floor(GRAIN_BYTES / table.sectorSize));
  const extStart = extended.partition.start;
  const extEnd = extStart + extended.partition.sectors;
  const savedEbr = sources.savedEbrs[deviceName(extended.entry.device)];
  let previousEnd = extStart;
  const placed = logicals.map((logical, i) => {
    if (logical.number !== 5 + i) throw invalid(`the logical partitions are numbered ${logicals.map((l) => l.number).join(', ')}, not 5, 6, ... in order.`, logical.entry.device);
    const { start, sectors } = logical.partition;
    if (start < previousEnd || start + sectors > extEnd) throw invalid(`logical partition ${logical.entry.device} (sectors ${start}+${sectors}) does not follow the previous one inside the extended partition ${extended?.entry.device} (sectors ${extStart}+${extEnd - extStart}).`, logical.entry.device);
    const ebrLba = i === 0 ? extStart : laterEbrLba({ start, previousEnd, extStart, grain, linked: i === 1 ? linkedEbrLba(savedEbr, extStart) : undefined });
    if (ebrLba === undefined || ebrLba >= start) throw invalid(`there is no free sector for the EBR of ${logical.entry.device} between the previous partition (ending at sector ${previousEnd}) and its start ${start}.`, logical.entry.device);
    previousEnd = start + sectors;
    return { ...logical.partition, ebrLba };
  });
  const mbr = withBootSector(layoutMbr({ diskSignature: diskSignature(table), primaries, logicals: placed }), sources);
  if (!savedEbr || !hasBootSignature(savedEbr)) return { table: mbr, logicalCount: logicals.length };
  const [first, ...rest] = mbr.logicals;
  return { table: { ...mbr, logicals: first ? [{ ...first, bootCode: savedEbr.subarray(0, EBR_CODE_BYTES) }, ...rest] : [] }, logicalCount: logicals.length };
}

/** sfdisk's place for the EBR of the second and later logicals, unless the saved first EBR links elsewhere (sane places only). */
function laterEbrLba(options: { start: number; previousEnd: number; extStart: number; grain: number; linked: number | undefined }): number | undefined {
  const { start, previousEnd, extStart, grain, linked } = options;
  const free = (lba: number) => lba >= previousEnd && lba > extStart && lba < start;
  if (linked !== undefined && free(linked)) return linked;
  if (free(start - grain)) return start - grain;
  return free(start - 1) ? start - 1 : undefined;
}

/** Where the saved first EBR's link entry points (absolute LBA), if it holds one. */
function linkedEbrLba(ebr: Uint8Array | undefined, extStart: number): number | undefined {
  if (!ebr || !hasBootSignature(ebr)) return undefined;
  const view = new DataView(ebr.buffer, ebr.byteOffset, ebr.length);
  const type = view.getUint8(LINK_ENTRY_OFFSET + 4);
  const relative = view.getUint32(LINK_ENTRY_OFFSET + 8, true);
  return EXTENDED_TYPES.has(type) && relative > 0 ? extStart + relative : undefined;
}

function withBootSector(table: MbrTable, sources: SfdiskMbrSources): MbrTable {
  const boot = sources.bootSector;
  if (!boot) return table;
  return { ...table, bootCode: boot.subarray(0, 440), reserved: (boot[444] ?? 0) | ((boot[445] ?? 0) << 8) };
}

function diskSignature(table: SfdiskDump): number {
  const value = table.labelId ? Number.parseInt(table.labelId.replace(/^0x/i, ''), 16) : 0;
  return Number.isFinite(value) ? value >>> 0 : 0;
}

function deviceName(device: string): string {
  return device.replace(/^\/dev\//, '').replace(/\//g, '-');
}

function invalid(detail: string, partition: string | undefined): LifeboatError {
  return new LifeboatError('LB_DEVICE_MBR_INVALID', { detail: `sfdisk dump: ${detail}`, partition });
}
