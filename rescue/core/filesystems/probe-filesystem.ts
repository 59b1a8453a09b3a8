// Which filesystem, container or volume-manager member a partition or image holds.
// Order matters where signatures can coexist: RAID and LVM members and encrypted containers first
// (their payload may still carry an old filesystem's superblock), then the filesystems with strong
// magic numbers, and FAT last because its boot sector has no unique signature.

import type { ByteSource } from '../byte-source.ts';
import { probeBitlocker } from './bitlocker.ts';
import { probeBtrfs } from './btrfs.ts';
import { probeExfat } from './exfat.ts';
import { probeExt } from './ext.ts';
import { probeFat } from './fat.ts';
import { probeLuks } from './luks.ts';
import { probeLvm } from './lvm.ts';
import { probeMdRaid } from './md-raid.ts';
import { probeNtfs } from './ntfs.ts';
import type { FilesystemProbe } from './probe-types.ts';
import { probeSwap } from './swap.ts';
import { probeXfs } from './xfs.ts';

export type { FilesystemProbe, FilesystemType, ProbeKind, ProbeState } from './probe-types.ts';

const PROBES: ReadonlyArray<(source: ByteSource) => Promise<FilesystemProbe | undefined>> = [
  probeMdRaid, probeLvm, probeLuks, probeBitlocker,
  probeXfs, probeBtrfs, probeExt, probeNtfs, probeExfat, probeSwap, probeFat,
];

/**
 * The one entry point the disks view and backup planners call: undefined when nothing is recognised,
 * LB_FILESYSTEM_CORRUPT / LB_FILESYSTEM_TRUNCATED (with the byte offset) when a recognised format is damaged.
 */
export async function probeFilesystem(source: ByteSource): Promise<FilesystemProbe | undefined> {
  for (const probe of PROBES) {
    const found = await probe(source);
    if (found) return found;
  }
  return undefined;
}
