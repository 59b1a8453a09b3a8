// `clone partition SOURCE DISK:free`: the largest free area of a disk (1 MiB aligned) and the
// partition made there for the copy: as large as the source (rounded up to whole MiB), with the
// source's GPT type GUID (or one for its filesystem), the first unused entry number; on an MBR a
// primary partition in a free slot. Refusals carry the numbers. Pure: the table is read by the caller.

import { LifeboatError } from '../errors.ts';
import { formatBytesExact } from '../human-units.ts';
import type { PartitionTableInfo } from '../partition-table/partition-table.ts';

const MIB = 1024 * 1024;

/** A run of free sectors of a disk, starting on a 1 MiB boundary. */
export interface FreeArea {
  readonly startLba: number;
  readonly sectors: number;
}

/** The partition the copy gets, added to the table after the copy (sfdisk --append). */
export interface NewPartition {
  readonly table: 'gpt' | 'mbr';
  readonly number: number;
  readonly startLba: number;
  readonly sectors: number;
  /** GPT type GUID, or the MBR type as hex (83, 7, c). */
  readonly type: string;
}

/** The largest free area of the disk, each start rounded up to 1 MiB; undefined when none is left. */
export function largestFreeArea(table: PartitionTableInfo): FreeArea | undefined {
  const align = Math.max(1, MIB / table.sectorSize);
  const first = table.kind === 'gpt' ? table.firstUsableLba ?? 34 : 1;
  const last = table.kind === 'gpt' ? table.lastUsableLba ?? table.diskSectors - 34 : table.diskSectors - 1;
  // Logical partitions live inside their extended partition, which counts as used.
  const used = table.partitions.filter((partition) => partition.kind !== 'logical').map((partition) => [partition.startLba, partition.startLba + partition.sectors - 1] as const).sort((a, b) => a[0] - b[0]);
  let best: FreeArea | undefined;
  let from = first;
  for (const [start, end] of [...used, [last + 1, last + 1] as const]) {
    const alignedStart = Math.ceil(from / align) * align;
    const sectors = Math.min(start, last + 1) - alignedStart;
    if (sectors > 0 && (!best || sectors > best.sectors)) best = { startLba: alignedStart, sectors };
    from = Math.max(from, end + 1);
  }
  return best;
}

/** GPT type GUIDs and MBR types for a filesystem whose source has no type (an image file). */
function typeFor(table: 'gpt' | 'mbr', filesystem: string | undefined): string {
  const windows = filesystem === 'ntfs' || filesystem === 'exfat' || filesystem === 'vfat';
  if (table === 'gpt') return windows ? 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' : filesystem === 'swap' ? '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F' : '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
  if (filesystem === 'vfat') return 'c';
  if (filesystem === 'ntfs' || filesystem === 'exfat') return '7';
  return filesystem === 'swap' ? '82' : '83';
}

/** What the new partition is planned from. */
export interface FreeAreaRequest {
  readonly disk: string;
  readonly table: PartitionTableInfo;
  readonly sourceBytes: number;
  /** The source partition's own type (its disk's table), when it has one of the target's kind. */
  readonly sourceType: string | undefined;
  readonly filesystem: string | undefined;
}

/** Plans the copy's partition in the disk's largest free area; refuses with numbers when it does not fit. */
export function planFreeAreaPartition(request: FreeAreaRequest): NewPartition {
  const { table, disk } = request;
  if (table.kind === 'none') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${disk} has no partition table: a partition for the copy cannot be added to it. Make one (sfdisk) or clone onto the disk itself.`, path: disk });
  const sectorSize = table.sectorSize;
  const sectors = (Math.ceil(request.sourceBytes / MIB) * MIB) / sectorSize;
  const area = largestFreeArea(table);
  if (!area || area.sectors < sectors) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', {
      detail: `The largest free area of ${disk} holds ${formatBytesExact((area?.sectors ?? 0) * sectorSize)}${area ? ` (at sector ${area.startLba})` : ''}; the copy of a ${formatBytesExact(request.sourceBytes)} partition needs ${formatBytesExact(sectors * sectorSize)} (whole MiB, from a 1 MiB boundary).`,
      requiredBytes: sectors * sectorSize, freeBytes: (area?.sectors ?? 0) * sectorSize, path: disk,
    });
  }
  const numbers = new Set(table.partitions.map((partition) => partition.number));
  if (table.kind === 'gpt') {
    const slots = table.gpt?.entryCount ?? 128;
    const number = Array.from({ length: slots }, (_, index) => index + 1).find((candidate) => !numbers.has(candidate));
    if (number === undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: `All ${slots} entries of ${disk}'s GPT are used: no partition can be added.`, path: disk });
    const sourceType = request.sourceType && /^[0-9A-F-]{36}$/i.test(request.sourceType) ? request.sourceType.toUpperCase() : undefined;
    return { table: 'gpt', number, startLba: area.startLba, sectors, type: sourceType ?? typeFor('gpt', request.filesystem) };
  }
  const number = [1, 2, 3, 4].find((candidate) => !numbers.has(candidate));
  if (number === undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${disk}'s MBR has no free primary slot (partitions ${[...numbers].sort((a, b) => a - b).join(', ')}): the copy needs one. Delete a partition, or clone onto an existing partition (DISK:N).`, path: disk });
  if (area.startLba + sectors > 0xffffffff) throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `The free area of ${disk} lies past the 2 TiB an MBR can address.`, path: disk });
  const sourceType = request.sourceType && /^[0-9a-f]{1,2}$/i.test(request.sourceType) && !['5', 'f', '85'].includes(request.sourceType.toLowerCase()) ? request.sourceType.toLowerCase() : undefined;
  return { table: 'mbr', number, startLba: area.startLba, sectors, type: sourceType ?? typeFor('mbr', request.filesystem) };
}
