// ext2/ext3/ext4 superblock probe.
// Format: the superblock is 1024 bytes at byte 1024. Fields read (offsets inside it, little-endian):
// 0x04 s_blocks_count_lo, 0x0C s_free_blocks_count_lo, 0x14 s_first_data_block, 0x18 s_log_block_size,
// 0x20 s_blocks_per_group, 0x38 s_magic (0xEF53), 0x3A s_state, 0x5C/0x60/0x64 compat/incompat/ro_compat
// features, 0x3E s_minor_rev_level, 0x4C s_rev_level, 0x68 s_uuid, 0x78 s_volume_name[16], 0x150 s_blocks_count_hi, 0x158 s_free_blocks_count_hi
// (both with EXT_FEATURE.INCOMPAT_64BIT), 0x3FC s_checksum (crc32c of bytes 0..0x3FB, with EXT_FEATURE.RO_COMPAT_METADATA_CSUM).

import type { ByteSource } from '../byte-source.ts';
import { crc32cUpdate } from './crc32c.ts';
import { Fields, formatUuid, nulTerminatedText, readIfPresent, truncated } from './fields.ts';
import type { FilesystemProbe, FilesystemType, ProbeState } from './probe-types.ts';
import { EXT_FEATURE, EXT_MAGIC, EXT_MAX_LOG_BLOCK_SIZE, EXT_SUPERBLOCK_BYTES, EXT_SUPERBLOCK_OFFSET } from './ext-constants.ts';

const RO_COMPAT_EXT2_SET = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir
const STATE_VALID = 0x1;
const STATE_ERRORS = 0x2;

/** Recognises ext2/3/4 and reads size, free blocks, state, label and UUID from the superblock. */
export async function probeExt(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const bytes = await readIfPresent(source, EXT_SUPERBLOCK_OFFSET, EXT_SUPERBLOCK_BYTES);
  if (!bytes) return undefined;
  const sb = new Fields(bytes, EXT_SUPERBLOCK_OFFSET, 'ext');
  if (sb.u16(0x38, 's_magic') !== EXT_MAGIC) return undefined;
  const incompat = sb.u32(0x60, 's_feature_incompat');
  if (incompat & EXT_FEATURE.INCOMPAT_JOURNAL_DEV) return undefined; // an external journal device, not a filesystem
  const compat = sb.u32(0x5c, 's_feature_compat');
  const roCompat = sb.u32(0x64, 's_feature_ro_compat');

  if (roCompat & EXT_FEATURE.RO_COMPAT_METADATA_CSUM) {
    const stored = sb.u32(0x3fc, 's_checksum');
    const computed = crc32cUpdate(0xffffffff, bytes.subarray(0, 0x3fc));
    if (stored !== computed) throw sb.fail(0x3fc, 's_checksum', `superblock checksum ${hex(stored)} does not match ${hex(computed)}.`);
  }

  const logBlockSize = sb.u32(0x18, 's_log_block_size');
  if (logBlockSize > EXT_MAX_LOG_BLOCK_SIZE) throw sb.fail(0x18, 's_log_block_size', `${logBlockSize} means blocks larger than 64 KiB.`);
  const blockSize = 1024 << logBlockSize;
  const is64 = (incompat & EXT_FEATURE.INCOMPAT_64BIT) !== 0;
  const totalBlocks = sb.u32(0x04, 's_blocks_count_lo') + (is64 ? sb.u32(0x150, 's_blocks_count_hi') * 2 ** 32 : 0);
  const freeBlocks = sb.u32(0x0c, 's_free_blocks_count_lo') + (is64 ? sb.u32(0x158, 's_free_blocks_count_hi') * 2 ** 32 : 0);
  const firstDataBlock = sb.u32(0x14, 's_first_data_block');
  const blocksPerGroup = sb.u32(0x20, 's_blocks_per_group');

  if (totalBlocks === 0 || totalBlocks * blockSize > Number.MAX_SAFE_INTEGER) throw sb.fail(0x04, 's_blocks_count', `${totalBlocks} blocks is not a usable size.`);
  // 1 with 1 KiB blocks (the superblock fills block 1), 0 otherwise; mke2fs also uses 0 for 1 KiB bigalloc.
  if (firstDataBlock > 1 || (firstDataBlock === 1 && blockSize !== 1024)) throw sb.fail(0x14, 's_first_data_block', `${firstDataBlock} does not fit ${blockSize}-byte blocks.`);
  // With bigalloc a group's bitmap counts clusters: a group spans up to 8 x blockSize clusters.
  const bigalloc = (roCompat & EXT_FEATURE.RO_COMPAT_BIGALLOC) !== 0;
  const logClusterSize = bigalloc ? sb.u32(0x1c, 's_log_cluster_size') : logBlockSize;
  if (logClusterSize < logBlockSize || logClusterSize > logBlockSize + 16) throw sb.fail(0x1c, 's_log_cluster_size', `${logClusterSize} does not fit ${blockSize}-byte blocks.`);
  const maxBlocksPerGroup = blockSize * 8 * 2 ** (logClusterSize - logBlockSize);
  if (blocksPerGroup === 0 || blocksPerGroup > maxBlocksPerGroup) throw sb.fail(0x20, 's_blocks_per_group', `${blocksPerGroup} is not between 1 and ${maxBlocksPerGroup}.`);

  const sizeBytes = totalBlocks * blockSize;
  if (sizeBytes > source.size) throw truncated('ext', 's_blocks_count', EXT_SUPERBLOCK_OFFSET + 0x04, `the filesystem spans ${sizeBytes} bytes, the source has ${source.size}.`);

  const rawState = sb.u16(0x3a, 's_state');
  const warnings: string[] = [];
  // A summary counter e2fsck recounts: a wrong one is a hint, not damage (f_readonly_fsck: 4294968254 of 2048).
  const countedFree = freeBlocks <= totalBlocks;
  if (!countedFree) warnings.push(freeBlocksWarning(freeBlocks, totalBlocks));
  let state: ProbeState = 'clean';
  if (!(rawState & STATE_VALID)) {
    state = 'needs-check';
    warnings.push('The filesystem was not unmounted cleanly (or is mounted now).');
  }
  if (rawState & STATE_ERRORS) {
    state = 'needs-check';
    warnings.push('The kernel recorded errors on this filesystem.');
  }
  if (incompat & EXT_FEATURE.INCOMPAT_RECOVER) {
    state = 'needs-check';
    warnings.push('The journal holds transactions that have not been replayed.');
  }

  const type = extFlavour(compat, incompat, roCompat);
  const label = nulTerminatedText(sb.slice(0x78, 16, 's_volume_name'));
  return {
    type,
    kind: 'filesystem',
    version: `${sb.u32(0x4c, 's_rev_level')}.${sb.u16(0x3e, 's_minor_rev_level')}`,
    ...(label === undefined ? {} : { label }),
    uuid: formatUuid(sb.slice(0x68, 16, 's_uuid')),
    sizeBytes,
    blockSize,
    totalBlocks,
    ...(countedFree ? { freeBlocks, usedBytes: (totalBlocks - freeBlocks) * blockSize } : {}),
    state,
    warnings,
  };
}

/** The notice for a free-blocks count larger than the filesystem (the probe, the file reader and the map share it). */
export function freeBlocksWarning(freeBlocks: number, totalBlocks: number): string {
  return `The superblock's free-blocks count (${freeBlocks}) is larger than the filesystem's ${totalBlocks} blocks: the count is ignored (e2fsck -f recounts it); the block bitmaps decide what is used.`;
}

/** blkid's rule: ext2 has no journal and only ext2 features, ext3 adds a journal, anything newer is ext4. */
function extFlavour(compat: number, incompat: number, roCompat: number): FilesystemType {
  const onlyExt2Ro = (roCompat & ~RO_COMPAT_EXT2_SET) === 0;
  const journal = (compat & EXT_FEATURE.COMPAT_HAS_JOURNAL) !== 0;
  if (!journal && onlyExt2Ro && (incompat & ~(EXT_FEATURE.INCOMPAT_FILETYPE | EXT_FEATURE.INCOMPAT_META_BG)) === 0) return 'ext2';
  if (journal && onlyExt2Ro && (incompat & ~(EXT_FEATURE.INCOMPAT_FILETYPE | EXT_FEATURE.INCOMPAT_RECOVER | EXT_FEATURE.INCOMPAT_META_BG)) === 0) return 'ext3';
  return 'ext4';
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
