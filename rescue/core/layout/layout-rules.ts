// The rules of the layout planner for one partition: which roles keep their size, which
// filesystems may shrink and to what, which partitions share the space a target adds or lacks.

import type { SourcePartition } from './layout-types.ts';
import type { PartitionRole } from '../partition-table/partition-types.ts';
import { formatBytes } from '../human-units.ts';

/** Bytes partitions start on: 1 MiB suits SSDs, 4K physical sectors and every tool since 2009. */
export const ALIGN_BYTES = 1024 * 1024;

/** The smallest a swap partition is made (mkswap wants 10 pages; a MiB keeps the alignment). */
export const SWAP_MINIMUM_BYTES = 1024 * 1024;

/** Roles whose size firmware, Windows or the boot loader expect as they are. */
const FIXED_ROLES: ReadonlySet<PartitionRole> = new Set(['esp', 'microsoft-reserved', 'bios-boot', 'windows-recovery']);

/** Filesystems Lifeboat can land smaller than they were (ext, NTFS and FAT are shrunk; exFAT is copied file by file). */
const SHRINKABLE: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4', 'ntfs', 'vfat', 'exfat']);

const ROLE_WORDS: Readonly<Partial<Record<PartitionRole, string>>> = {
  esp: 'an EFI system partition', 'microsoft-reserved': 'a Microsoft reserved partition', 'bios-boot': 'a BIOS boot partition', 'windows-recovery': 'a Windows recovery partition',
};

/** True for a partition whose role keeps its size (ESP, MSR, BIOS boot, Windows recovery). */
export function keepsItsSize(partition: SourcePartition): boolean {
  return FIXED_ROLES.has(partition.role);
}

/** True for swap (by role or contents): it may shrink and is made again with its UUID and label. */
export function isSwap(partition: SourcePartition): boolean {
  return partition.role === 'linux-swap' || partition.filesystem === 'swap';
}

/** True for a partition Lifeboat could make smaller given its minimum: swap, and ext, NTFS, FAT and exFAT. */
export function mayShrink(partition: SourcePartition): boolean {
  return partition.kind !== 'extended' && !keepsItsSize(partition) && (isSwap(partition) || SHRINKABLE.has(partition.filesystem ?? ''));
}

/** True for a partition that shares the target's extra or missing space (not fixed, not swap, not the extended container). */
export function isDataPartition(partition: SourcePartition): boolean {
  return partition.kind !== 'extended' && !keepsItsSize(partition) && !isSwap(partition);
}

/** The fewest sectors a partition may have on the target, and the rule that says so. */
export function partitionFloor(partition: SourcePartition, sectorSize: number): { sectors: number; rule: string } {
  if (keepsItsSize(partition)) return { sectors: partition.sectors, rule: `${ROLE_WORDS[partition.role] ?? partition.role} keeps its size` };
  if (isSwap(partition)) return { sectors: Math.min(partition.sectors, Math.ceil(SWAP_MINIMUM_BYTES / sectorSize)), rule: 'swap may shrink (made again with its UUID and label)' };
  const fs = partition.filesystem;
  if (fs === 'xfs') return { sectors: partition.sectors, rule: 'XFS cannot shrink' };
  if (fs === undefined || !SHRINKABLE.has(fs)) return { sectors: partition.sectors, rule: fs === undefined ? 'no known filesystem: never shrunk' : `${fs} is never shrunk` };
  if (partition.minimumBytes === undefined) return { sectors: partition.sectors, rule: `the ${fs} filesystem's minimum size is unknown: not shrunk` };
  const sectors = Math.min(partition.sectors, Math.max(1, Math.ceil(partition.minimumBytes / sectorSize)));
  return { sectors, rule: `${fs} can shrink to ${formatBytes(sectors * sectorSize)}${partition.usedBytes === undefined ? '' : ` (${formatBytes(partition.usedBytes)} used)`}` };
}
