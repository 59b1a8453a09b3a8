// The ext2/3/4 superblock constants the probe and the used-block map both need (one definition).

/** Byte offset and length of the primary superblock. */
export const EXT_SUPERBLOCK_OFFSET = 1024;
export const EXT_SUPERBLOCK_BYTES = 1024;
export const EXT_MAGIC = 0xef53;
/** s_log_block_size above this would mean blocks larger than 64 KiB. */
export const EXT_MAX_LOG_BLOCK_SIZE = 6;

/** Feature flags (s_feature_compat / incompat / ro_compat). */
export const EXT_FEATURE = {
  COMPAT_HAS_JOURNAL: 0x4,
  COMPAT_SPARSE_SUPER2: 0x200,
  INCOMPAT_FILETYPE: 0x2,
  INCOMPAT_RECOVER: 0x4,
  INCOMPAT_JOURNAL_DEV: 0x8,
  INCOMPAT_META_BG: 0x10,
  INCOMPAT_64BIT: 0x80,
  INCOMPAT_CSUM_SEED: 0x2000,
  RO_COMPAT_SPARSE_SUPER: 0x1,
  RO_COMPAT_GDT_CSUM: 0x10,
  RO_COMPAT_BIGALLOC: 0x200,
  RO_COMPAT_METADATA_CSUM: 0x400,
} as const;
