// What a filesystem probe reports: the shape every per-format parser returns and the disks view shows.

/** Format names exactly as blkid prints TYPE, so results compare directly with `blkid -p`. */
export type FilesystemType =
  | 'ext2' | 'ext3' | 'ext4' | 'vfat' | 'exfat' | 'ntfs' | 'swap' | 'xfs' | 'btrfs'
  | 'BitLocker' | 'crypto_LUKS' | 'LVM2_member' | 'linux_raid_member';

/** What the bytes hold: a mountable filesystem, swap, an encrypted container or a volume-manager member. */
export type ProbeKind = 'filesystem' | 'swap' | 'encrypted' | 'lvm-member' | 'raid-member';

/**
 * clean: the on-disk flags say it was closed properly; needs-check: dirty, errors recorded or a journal
 * to replay; hibernated: a suspended system's image is inside; unknown: the format keeps no such flag
 * where a probe can read it cheaply (XFS log state, containers).
 */
export type ProbeState = 'clean' | 'needs-check' | 'hibernated' | 'unknown';

/** The facts a probe reads from a filesystem's own metadata. Counts are in blocks of blockSize. */
export interface FilesystemProbe {
  readonly type: FilesystemType;
  readonly kind: ProbeKind;
  /** Format version as blkid prints VERSION (FAT12, 1.0, 2...), when the header has one. */
  readonly version?: string;
  readonly fatVariant?: 12 | 16 | 32;
  readonly label?: string;
  /** Formatted as blkid prints UUID. */
  readonly uuid?: string;
  /** Bytes the filesystem (or container) spans from the start of the source. */
  readonly sizeBytes?: number;
  /** Allocation unit: block (ext, XFS), cluster (FAT, exFAT, NTFS), page (swap), sector (btrfs). */
  readonly blockSize?: number;
  /** Allocation units the allocation map covers (FAT/exFAT: data clusters; others: the whole volume). */
  readonly totalBlocks?: number;
  readonly freeBlocks?: number;
  /** (totalBlocks - freeBlocks) * blockSize, or the superblock's own figure (btrfs bytes_used). */
  readonly usedBytes?: number;
  readonly state: ProbeState;
  readonly warnings: string[];
}
