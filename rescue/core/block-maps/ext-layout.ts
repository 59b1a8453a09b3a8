// The geometry of an ext2/3/4 filesystem as the used-block map needs it, read from the superblock
// and checked field by field. Superblock offsets (1024 bytes at byte 1024, little-endian):
// 0x04 s_blocks_count_lo, 0x0C s_free_blocks_count_lo, 0x14 s_first_data_block, 0x18 s_log_block_size,
// 0x1C s_log_cluster_size, 0x20 s_blocks_per_group, 0x24 s_clusters_per_group, 0x28 s_inodes_per_group,
// 0x38 s_magic, 0x4C s_rev_level, 0x58 s_inode_size, 0x5C/0x60/0x64 compat/incompat/ro_compat,
// 0xCE s_reserved_gdt_blocks, 0xFE s_desc_size, 0x104 s_first_meta_bg, 0x150 s_blocks_count_hi,
// 0x158 s_free_blocks_count_hi, 0x174 s_log_groups_per_flex, 0x24C s_backup_bgs[2], 0x270 s_checksum_seed,
// 0x3FC s_checksum; 0x68 s_uuid (16 bytes) seeds the descriptor checksums.

import type { ByteSource } from '../byte-source.ts';
import { crc16Update } from '../filesystems/crc16.ts';
import { crc32cUpdate } from '../filesystems/crc32c.ts';
import { Fields, readIfPresent, truncated } from '../filesystems/fields.ts';
import { freeBlocksWarning } from '../filesystems/ext.ts';
import { EXT_FEATURE, EXT_MAGIC, EXT_MAX_LOG_BLOCK_SIZE, EXT_SUPERBLOCK_BYTES, EXT_SUPERBLOCK_OFFSET } from '../filesystems/ext-constants.ts';

const MAX_LOG_CLUSTER_RATIO = 16; // mke2fs allows clusters of up to 2^16 blocks
const MAX_GROUPS = 2 ** 32;

/** Everything the map reader needs to find groups, descriptors and bitmaps; all values checked. */
export interface ExtLayout {
  readonly blockSize: number;
  /** Blocks per allocation unit (1 without bigalloc), a power of two, and its log2. */
  readonly clusterRatio: number;
  readonly clusterBits: number;
  readonly blocksCount: number;
  readonly firstDataBlock: number;
  readonly blocksPerGroup: number;
  readonly clustersPerGroup: number;
  readonly groupCount: number;
  readonly descSize: number;
  readonly descPerBlock: number;
  readonly descBlocks: number;
  readonly reservedGdtBlocks: number;
  readonly metaBg: boolean;
  readonly firstMetaBg: number;
  readonly sparseSuper: boolean;
  readonly sparseSuper2: boolean;
  readonly backupGroups: readonly [number, number];
  /** uninit_bg or metadata_csum: BLOCK_UNINIT flags are meaningful. */
  readonly groupChecksums: boolean;
  readonly is64: boolean;
  readonly inodeBlocksPerGroup: number;
  /** How bg_checksum is computed (ext2fs_group_desc_csum), or undefined when descriptors carry none. */
  readonly descriptorChecksum: DescriptorChecksum | undefined;
  /** Superblock fields that were wrong but not needed as they stand (a summary counter, s_first_meta_bg past the descriptors): what was assumed. */
  readonly notices: readonly string[];
}

/** metadata_csum: crc32c from the filesystem's checksum seed; gdt_csum (uninit_bg) alone: crc16 over s_uuid first. */
export type DescriptorChecksum =
  | { readonly kind: 'crc32c'; readonly seed: number }
  | { readonly kind: 'crc16'; readonly uuid: Uint8Array };

/** Reads and checks the superblock; undefined when the bytes are not an ext filesystem. */
export async function readExtLayout(source: ByteSource): Promise<ExtLayout | undefined> {
  const bytes = await readIfPresent(source, EXT_SUPERBLOCK_OFFSET, EXT_SUPERBLOCK_BYTES);
  if (!bytes) return undefined;
  const sb = new Fields(bytes, EXT_SUPERBLOCK_OFFSET, 'ext');
  if (sb.u16(0x38, 's_magic') !== EXT_MAGIC) return undefined;
  const compat = sb.u32(0x5c, 's_feature_compat');
  const incompat = sb.u32(0x60, 's_feature_incompat');
  const roCompat = sb.u32(0x64, 's_feature_ro_compat');
  if (incompat & EXT_FEATURE.INCOMPAT_JOURNAL_DEV) return undefined; // an external journal, no block groups

  if (roCompat & EXT_FEATURE.RO_COMPAT_METADATA_CSUM) {
    const stored = sb.u32(0x3fc, 's_checksum');
    const computed = crc32cUpdate(0xffffffff, bytes.subarray(0, 0x3fc));
    if (stored !== computed) throw sb.fail(0x3fc, 's_checksum', `superblock checksum ${stored} does not match ${computed}.`);
  }

  const logBlockSize = sb.u32(0x18, 's_log_block_size');
  if (logBlockSize > EXT_MAX_LOG_BLOCK_SIZE) throw sb.fail(0x18, 's_log_block_size', `${logBlockSize} means blocks larger than 64 KiB.`);
  const blockSize = 1024 << logBlockSize;
  const bigalloc = (roCompat & EXT_FEATURE.RO_COMPAT_BIGALLOC) !== 0;
  let clusterBits = 0;
  if (bigalloc) {
    const logClusterSize = sb.u32(0x1c, 's_log_cluster_size');
    clusterBits = logClusterSize - logBlockSize;
    if (logClusterSize < logBlockSize || clusterBits > MAX_LOG_CLUSTER_RATIO) throw sb.fail(0x1c, 's_log_cluster_size', `${logClusterSize} does not fit ${blockSize}-byte blocks.`);
  }
  const clusterRatio = 2 ** clusterBits;

  const is64 = (incompat & EXT_FEATURE.INCOMPAT_64BIT) !== 0;
  const blocksCount = sb.u32(0x04, 's_blocks_count_lo') + (is64 ? sb.u32(0x150, 's_blocks_count_hi') * 2 ** 32 : 0);
  const freeBlocks = sb.u32(0x0c, 's_free_blocks_count_lo') + (is64 ? sb.u32(0x158, 's_free_blocks_count_hi') * 2 ** 32 : 0);
  if (blocksCount === 0 || blocksCount * blockSize > Number.MAX_SAFE_INTEGER) throw sb.fail(0x04, 's_blocks_count', `${blocksCount} blocks is not a usable size.`);
  const notices: string[] = [];
  if (freeBlocks > blocksCount) notices.push(freeBlocksWarning(freeBlocks, blocksCount));
  const sizeBytes = blocksCount * blockSize;
  if (sizeBytes > source.size) throw truncated('ext', 's_blocks_count', EXT_SUPERBLOCK_OFFSET + 0x04, `the filesystem spans ${sizeBytes} bytes, the source has ${source.size}.`);

  const firstDataBlock = sb.u32(0x14, 's_first_data_block');
  const expectedFirst = blockSize === 1024 && !bigalloc ? 1 : 0;
  if (firstDataBlock !== expectedFirst) throw sb.fail(0x14, 's_first_data_block', `${firstDataBlock} does not fit ${blockSize}-byte blocks.`);

  const blocksPerGroup = sb.u32(0x20, 's_blocks_per_group');
  const clustersPerGroup = bigalloc ? sb.u32(0x24, 's_clusters_per_group') : blocksPerGroup;
  if (clustersPerGroup === 0 || clustersPerGroup > blockSize * 8 || clustersPerGroup % 8 !== 0) {
    throw sb.fail(bigalloc ? 0x24 : 0x20, bigalloc ? 's_clusters_per_group' : 's_blocks_per_group', `${clustersPerGroup} is not a multiple of 8 between 8 and ${blockSize * 8}.`);
  }
  if (blocksPerGroup !== clustersPerGroup * clusterRatio) throw sb.fail(0x20, 's_blocks_per_group', `${blocksPerGroup} is not ${clustersPerGroup} clusters of ${clusterRatio} blocks.`);
  if (blocksCount <= firstDataBlock) throw sb.fail(0x04, 's_blocks_count', `${blocksCount} blocks leave no block group.`);
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (groupCount > MAX_GROUPS) throw sb.fail(0x04, 's_blocks_count', `${groupCount} block groups.`);

  const descSize = is64 ? sb.u16(0xfe, 's_desc_size') : 32;
  if (is64 && (descSize < 64 || descSize > Math.min(1024, blockSize) || (descSize & (descSize - 1)) !== 0)) throw sb.fail(0xfe, 's_desc_size', `${descSize} is not a power of two between 64 and 1024.`);
  const descPerBlock = blockSize / descSize;
  const descBlocks = Math.ceil(groupCount / descPerBlock);
  const metaBg = (incompat & EXT_FEATURE.INCOMPAT_META_BG) !== 0;
  let firstMetaBg = metaBg ? sb.u32(0x104, 's_first_meta_bg') : 0;
  if (firstMetaBg > descBlocks) {
    // libext2fs opens it so when told to ignore superblock errors (e2fsck, f_first_meta_bg_too_big):
    // every descriptor block then lies before s_first_meta_bg, in its classic place after the superblock.
    notices.push(`The superblock's s_first_meta_bg (${firstMetaBg}) is past the ${descBlocks} group descriptor block(s): all of them are read from their classic place after the superblock, as e2fsck does.`);
    firstMetaBg = descBlocks;
  }
  const reservedGdtBlocks = sb.u16(0xce, 's_reserved_gdt_blocks');
  if (reservedGdtBlocks > blockSize / 4) throw sb.fail(0xce, 's_reserved_gdt_blocks', `${reservedGdtBlocks} is more than a block of addresses.`);
  if (!metaBg && 1 + descBlocks + reservedGdtBlocks > blocksPerGroup) throw sb.fail(0xce, 's_reserved_gdt_blocks', `${descBlocks} descriptor and ${reservedGdtBlocks} reserved blocks do not fit in a group.`);

  const revLevel = sb.u32(0x4c, 's_rev_level');
  const inodeSize = revLevel === 0 ? 128 : sb.u16(0x58, 's_inode_size');
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) throw sb.fail(0x58, 's_inode_size', `${inodeSize} is not a power of two between 128 and the block size.`);
  const inodesPerGroup = sb.u32(0x28, 's_inodes_per_group');
  if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8) throw sb.fail(0x28, 's_inodes_per_group', `${inodesPerGroup} is not between 1 and ${blockSize * 8}.`);
  const inodeBlocksPerGroup = Math.ceil((inodesPerGroup * inodeSize) / blockSize);

  const sparseSuper2 = (compat & EXT_FEATURE.COMPAT_SPARSE_SUPER2) !== 0;
  const backupGroups: [number, number] = sparseSuper2 ? [sb.u32(0x24c, 's_backup_bgs[0]'), sb.u32(0x250, 's_backup_bgs[1]')] : [0, 0];
  const uuid = sb.slice(0x68, 16, 's_uuid');
  let descriptorChecksum: DescriptorChecksum | undefined;
  if (roCompat & EXT_FEATURE.RO_COMPAT_METADATA_CSUM) {
    const seed = incompat & EXT_FEATURE.INCOMPAT_CSUM_SEED ? sb.u32(0x270, 's_checksum_seed') : crc32cUpdate(0xffffffff, uuid);
    descriptorChecksum = { kind: 'crc32c', seed };
  } else if (roCompat & EXT_FEATURE.RO_COMPAT_GDT_CSUM) {
    descriptorChecksum = { kind: 'crc16', uuid: new Uint8Array(uuid) };
  }
  return {
    blockSize, clusterRatio, clusterBits, blocksCount, firstDataBlock, blocksPerGroup, clustersPerGroup, groupCount,
    descSize, descPerBlock, descBlocks, reservedGdtBlocks, metaBg, firstMetaBg,
    sparseSuper: (roCompat & EXT_FEATURE.RO_COMPAT_SPARSE_SUPER) !== 0,
    sparseSuper2,
    backupGroups,
    groupChecksums: (roCompat & (EXT_FEATURE.RO_COMPAT_GDT_CSUM | EXT_FEATURE.RO_COMPAT_METADATA_CSUM)) !== 0,
    is64,
    inodeBlocksPerGroup,
    descriptorChecksum,
    notices,
  };
}

const BG_CHECKSUM_OFFSET = 0x1e;

/** e2fsprogs' ext2fs_group_desc_csum: the 16-bit bg_checksum `descriptor` (descSize bytes) of group `group` should hold. */
export function groupDescriptorChecksum(checksum: DescriptorChecksum, group: number, descriptor: Uint8Array): number {
  const groupBytes = new Uint8Array(4);
  new DataView(groupBytes.buffer).setUint32(0, group, true);
  if (checksum.kind === 'crc32c') {
    const zeroed = new Uint8Array(descriptor); // a copy even when given a Buffer (whose slice() shares memory)
    zeroed[BG_CHECKSUM_OFFSET] = 0;
    zeroed[BG_CHECKSUM_OFFSET + 1] = 0;
    return crc32cUpdate(crc32cUpdate(checksum.seed, groupBytes), zeroed) & 0xffff;
  }
  let crc = crc16Update(crc16Update(0xffff, checksum.uuid), groupBytes);
  crc = crc16Update(crc, descriptor.subarray(0, BG_CHECKSUM_OFFSET));
  if (descriptor.length > BG_CHECKSUM_OFFSET + 2) crc = crc16Update(crc, descriptor.subarray(BG_CHECKSUM_OFFSET + 2));
  return crc;
}

/** e2fsprogs' ext2fs_bg_has_super: does group `group` hold a superblock copy? */
export function groupHasSuper(layout: ExtLayout, group: number): boolean {
  if (group === 0) return true;
  if (layout.sparseSuper2) return group === layout.backupGroups[0] || group === layout.backupGroups[1];
  if (group <= 1 || !layout.sparseSuper) return true;
  if ((group & 1) === 0) return false;
  return isPowerOf(group, 3) || isPowerOf(group, 5) || isPowerOf(group, 7);
}

function isPowerOf(value: number, base: number): boolean {
  let n = base;
  while (n < value) n *= base;
  return n === value;
}

/** First block of a group. */
export function groupFirstBlock(layout: ExtLayout, group: number): number {
  return layout.firstDataBlock + group * layout.blocksPerGroup;
}

/** Blocks in a group (the last one may be short). */
export function groupBlockCount(layout: ExtLayout, group: number): number {
  return Math.min(layout.blocksPerGroup, layout.blocksCount - groupFirstBlock(layout, group));
}

/** Where descriptor block `index` lives (ext2fs_descriptor_block_loc2 of the primary copy). */
export function descriptorBlockLocation(layout: ExtLayout, index: number): number {
  // 1 KiB blocks with bigalloc: s_first_data_block is 0 but the superblock still fills block 1.
  const superBlock = layout.firstDataBlock === 0 && layout.blockSize === 1024 ? 1 : layout.firstDataBlock;
  if (!layout.metaBg || index < layout.firstMetaBg) return superBlock + 1 + index;
  const group = layout.descPerBlock * index;
  return groupFirstBlock(layout, group) + (groupHasSuper(layout, group) ? 1 : 0);
}

/** A run of blocks [start, start+count). */
export interface BlockRun {
  readonly start: number;
  readonly count: number;
}

/** The superblock copy and descriptor blocks a group holds (ext2fs_super_and_bgd_loc2 + ext2fs_reserve_super_and_bgd). */
export function superAndDescriptorRuns(layout: ExtLayout, group: number): BlockRun[] {
  const runs: BlockRun[] = [];
  let groupBlock = groupFirstBlock(layout, group);
  if (groupBlock === 0 && layout.blockSize === 1024) groupBlock = 1; // 1 KiB blocks with bigalloc
  const hasSuper = groupHasSuper(layout, group);
  if (hasSuper) runs.push({ start: groupBlock, count: 1 });
  if (group === 0 && layout.blockSize === 1024 && layout.clusterRatio > 1) runs.push({ start: 0, count: 1 });
  const metaGroup = Math.floor(group / layout.descPerBlock);
  if (!layout.metaBg || metaGroup < layout.firstMetaBg) {
    if (hasSuper) {
      const oldDescBlocks = layout.metaBg ? layout.firstMetaBg : layout.descBlocks + layout.reservedGdtBlocks;
      const start = groupBlock + 1;
      runs.push({ start, count: Math.max(0, Math.min(oldDescBlocks, layout.blocksCount - start)) });
    }
  } else {
    const inMeta = group % layout.descPerBlock;
    if (inMeta === 0 || inMeta === 1 || inMeta === layout.descPerBlock - 1) runs.push({ start: groupBlock + (hasSuper ? 1 : 0), count: 1 });
  }
  return runs;
}
