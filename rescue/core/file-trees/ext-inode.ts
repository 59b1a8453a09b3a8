// One ext2/3/4 inode decoded into the values a file tree shows. Inode fields (little-endian):
// 0x00 i_mode, 0x02 i_uid, 0x04 i_size_lo, 0x08 i_atime, 0x0C i_ctime, 0x10 i_mtime, 0x18 i_gid,
// 0x1A i_links_count, 0x1C i_blocks_lo, 0x20 i_flags, 0x28 i_block[15] (60 bytes), 0x68 i_file_acl_lo,
// 0x6C i_size_high, 0x74 l_i_blocks_high, 0x76 l_i_file_acl_high, 0x78 l_i_uid_high, 0x7A l_i_gid_high;
// past 128 bytes: 0x80 i_extra_isize, 0x84 i_ctime_extra, 0x88 i_mtime_extra, 0x8C i_atime_extra,
// 0x90 i_crtime, 0x94 i_crtime_extra (each *_extra: low 2 bits extend the signed 32-bit seconds
// past 2038, the other 30 bits are nanoseconds). Fields past 128 + i_extra_isize are absent.

import type { FileEntry, FileKind } from './file-tree.ts';
import { Fields } from '../filesystems/fields.ts';
import { inodeChecksumSeed } from './ext-checksums.ts';
import { EXT_READ_FEATURE, type ExtVolume } from './ext-volume.ts';

/** i_flags bits the reader acts on. */
export const EXT_INODE_FLAG = {
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  EA_INODE: 0x200000,
  INLINE_DATA: 0x10000000,
} as const;

const GOOD_OLD_INODE_BYTES = 128;
const I_BLOCK_OFFSET = 0x28;
/** i_block's 60 bytes: 12 direct, 1 indirect, 1 double and 1 triple indirect block number. */
export const I_BLOCK_BYTES = 60;

const KIND_BY_FORMAT: Readonly<Record<number, FileKind>> = {
  0x1000: 'fifo',
  0x2000: 'char-device',
  0x4000: 'directory',
  0x6000: 'block-device',
  0x8000: 'file',
  0xa000: 'symlink',
  0xc000: 'socket',
};

/** The decoded inode, plus its raw bytes for the block map, inline data and extended attributes. */
export interface ExtInode {
  readonly number: number;
  /** Absolute byte offset of the inode, for errors. */
  readonly offset: number;
  readonly fields: Fields;
  readonly kind: FileKind;
  readonly mode: number;
  readonly size: number;
  readonly flags: number;
  /** Bytes 0x28..0x64, the block map, extent root, inline data or fast symlink target. */
  readonly iBlock: Uint8Array;
  /** The extended-attribute block, 0 when none. */
  readonly xattrBlock: number;
  /** Where the in-inode extended attributes start (128 + i_extra_isize), or undefined when there is no room. */
  readonly extraEnd: number | undefined;
  /** metadata_csum: the seed of this inode's extent and directory block checksums. */
  readonly checksumSeed: number | undefined;
  readonly entry: Omit<FileEntry, 'name'>;
}

/** Decodes inode `number` from its `bytes` (inodeSize bytes read at `offset`). */
export function decodeInode(volume: ExtVolume, number: number, bytes: Uint8Array, offset: number): ExtInode {
  const f = new Fields(bytes, offset, 'ext');
  const mode = f.u16(0x00, 'i_mode');
  const kind = KIND_BY_FORMAT[mode & 0xf000];
  if (!kind) throw f.fail(0x00, 'i_mode', `inode ${number} has file type ${(mode >> 12).toString(16)}, which is none of the seven.`);
  const flags = f.u32(0x20, 'i_flags');
  const sizeHigh = kind === 'file' || (kind === 'directory' && volume.hasIncompat(EXT_READ_FEATURE.INCOMPAT_LARGEDIR)) ? f.u32(0x6c, 'i_size_high') : 0;
  const size = f.u32(0x04, 'i_size_lo') + sizeHigh * 2 ** 32;
  const maxBytes = 2 ** 32 * volume.blockSize; // logical block numbers are 32 bits
  if (size > Math.min(Number.MAX_SAFE_INTEGER, maxBytes)) throw f.fail(0x04, 'i_size', `inode ${number} claims ${size} bytes.`);
  const blocksLo = f.u32(0x1c, 'i_blocks_lo');
  const blocksHi = f.u16(0x74, 'l_i_blocks_high');
  const hugeUnits = (volume.roCompat & EXT_READ_FEATURE.RO_COMPAT_HUGE_FILE) !== 0 && (flags & EXT_INODE_FLAG.HUGE_FILE) !== 0;
  const allocatedBytes = (blocksLo + blocksHi * 2 ** 32) * (hugeUnits ? volume.blockSize : 512);

  let extraEnd: number | undefined;
  if (volume.inodeSize > GOOD_OLD_INODE_BYTES) {
    const extraIsize = f.u16(0x80, 'i_extra_isize');
    if (extraIsize % 4 !== 0 || GOOD_OLD_INODE_BYTES + extraIsize > volume.inodeSize) {
      throw f.fail(0x80, 'i_extra_isize', `inode ${number}'s ${extraIsize} extra bytes do not fit a ${volume.inodeSize}-byte inode.`);
    }
    extraEnd = GOOD_OLD_INODE_BYTES + extraIsize;
  }
  const has = (field: number): boolean => extraEnd !== undefined && field + 4 <= extraEnd;
  const time = (at: number, extraAt: number, field: string): number => {
    const seconds = f.u32(at, field) | 0; // signed
    if (!has(extraAt)) return seconds * 1000;
    const extra = f.u32(extraAt, `${field}_extra`);
    return (seconds + (extra & 3) * 2 ** 32) * 1000 + Math.floor(extra / 4) / 1e6;
  };

  const iBlock = new Uint8Array(f.slice(I_BLOCK_OFFSET, I_BLOCK_BYTES, 'i_block'));
  const entry: Omit<FileEntry, 'name'> = {
    kind,
    id: number,
    size,
    allocatedBytes,
    mode,
    uid: f.u16(0x02, 'i_uid') + f.u16(0x78, 'l_i_uid_high') * 0x10000,
    gid: f.u16(0x18, 'i_gid') + f.u16(0x7a, 'l_i_gid_high') * 0x10000,
    links: f.u16(0x1a, 'i_links_count'),
    mtimeMs: time(0x10, 0x88, 'i_mtime'),
    atimeMs: time(0x08, 0x8c, 'i_atime'),
    ctimeMs: time(0x0c, 0x84, 'i_ctime'),
    ...(has(0x90) ? { birthtimeMs: time(0x90, 0x94, 'i_crtime') } : {}),
    ...(kind === 'char-device' || kind === 'block-device' ? { device: decodeDevice(iBlock) } : {}),
  };
  return {
    number, offset, fields: f, kind, mode, size, flags, iBlock,
    xattrBlock: f.u32(0x68, 'i_file_acl_lo') + f.u16(0x76, 'l_i_file_acl_high') * 2 ** 32,
    extraEnd,
    checksumSeed: inodeChecksumSeed(volume, number, bytes),
    entry,
  };
}

/** Linux's old (8:8 bits in i_block[0]) or new (i_block[1], ext2fs new_decode_dev) device number. */
function decodeDevice(iBlock: Uint8Array): { major: number; minor: number } {
  const view = new DataView(iBlock.buffer, iBlock.byteOffset, iBlock.byteLength);
  const old = view.getUint32(0, true);
  if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
  const dev = view.getUint32(4, true);
  return { major: (dev & 0xfff00) >>> 8, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
}
