// ext4 metadata_csum (ro_compat 0x400) checks of what the file reader reads, as the kernel makes
// them (fs/ext4/inode.c, extents.c, namei.c), so a damaged structure is a LB_FILESYSTEM_CORRUPT for
// that entry instead of silently wrong names or contents. All crc32c without final inversion.
// - Filesystem seed: s_checksum_seed (0x270) with incompat CSUM_SEED, else crc32c(~0, s_uuid)
//   (ext-layout.ts reads it).
// - Inode seed: crc32c(fs seed, le32 inode number), then over le32 i_generation (inode 0x64).
// - Inode: crc32c(inode seed, the whole inode (s_inode_size bytes) with i_checksum_lo (0x7C, 2
//   bytes) and, when i_extra_isize >= 4, i_checksum_hi (0x82, 2 bytes) zeroed); the low 16 bits are
//   in i_checksum_lo, the high in i_checksum_hi (only the low 16 bits count without it). An inode of
//   all zeros passes (e2fsprogs' rule for unused inodes).
// - Extent block (not the root in i_block): et_checksum, 4 bytes right after eh_max entries (at
//   12 + 12 * eh_max) = crc32c(inode seed, the block up to that offset).
// - Directory leaf block: a 12-byte tail record at block end (inode 0, rec_len 12, name_len 0,
//   file_type 0xDE, then det_checksum) = crc32c(inode seed, the block before the tail). In a
//   directory with the htree flag (i_flags 0x1000), logical block 0 (dx_root) and any block whose
//   first record spans the whole block (dx_node) are index blocks: they hold no names, may keep a
//   stale tail from an earlier life as a leaf, and are not checked here (the kernel's rule in
//   __ext4_read_dirblock). A leaf without the tail passes (e2fsck reports it, the names are intact).
// - Extended-attribute block (shared between inodes, so seeded by the filesystem, not an inode):
//   h_checksum (0x10) = crc32c(fs seed, le64 block number, then the block with h_checksum zeroed).

import { crc32cUpdate } from '../filesystems/crc32c.ts';
import { corrupt, Fields } from '../filesystems/fields.ts';
import { decodeRecordLength } from './ext-directory.ts';
import type { ExtVolume } from './ext-volume.ts';

const GOOD_OLD_INODE_BYTES = 128;
const CHECKSUM_LO = 0x7c;
const CHECKSUM_HI = 0x82;
const GENERATION = 0x64;
const EXTRA_ISIZE = 0x80;
const DIR_TAIL_BYTES = 12;
const DIR_TAIL_FILE_TYPE = 0xde;
const INDEX_FLAG = 0x1000;

function le32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return bytes;
}

/** The per-inode seed extent and directory checksums start from; undefined without metadata_csum. */
export function inodeChecksumSeed(volume: ExtVolume, number: number, inodeBytes: Uint8Array): number | undefined {
  const seed = volume.checksumSeed;
  if (seed === undefined) return undefined;
  const generation = new Fields(inodeBytes, 0, 'ext').u32(GENERATION, 'i_generation');
  return crc32cUpdate(crc32cUpdate(seed, le32(number)), le32(generation));
}

/** Throws LB_FILESYSTEM_CORRUPT when inode `number`'s bytes (read at `offset`) fail their checksum. */
export function verifyInodeChecksum(volume: ExtVolume, number: number, bytes: Uint8Array, offset: number): void {
  const seed = inodeChecksumSeed(volume, number, bytes);
  if (seed === undefined || bytes.every((byte) => byte === 0)) return;
  const f = new Fields(bytes, offset, 'ext');
  const zeroed = new Uint8Array(bytes);
  zeroed.fill(0, CHECKSUM_LO, CHECKSUM_LO + 2);
  let stored = f.u16(CHECKSUM_LO, 'i_checksum_lo');
  let mask = 0xffff;
  if (bytes.length > GOOD_OLD_INODE_BYTES && GOOD_OLD_INODE_BYTES + f.u16(EXTRA_ISIZE, 'i_extra_isize') >= CHECKSUM_HI + 2) {
    zeroed.fill(0, CHECKSUM_HI, CHECKSUM_HI + 2);
    stored += f.u16(CHECKSUM_HI, 'i_checksum_hi') * 0x10000;
    mask = 0xffffffff;
  }
  const computed = (crc32cUpdate(seed, zeroed) & mask) >>> 0;
  if (computed !== stored) {
    throw corrupt('ext', `inode ${number} i_checksum`, offset + CHECKSUM_LO, `checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)} (metadata_csum): the inode is damaged.`);
  }
}

/** Throws LB_FILESYSTEM_CORRUPT when an extent block (eh_max entries, at absolute `base`) fails its tail checksum. */
export function verifyExtentBlockChecksum(seed: number | undefined, inode: number, node: Fields, entriesMax: number): void {
  if (seed === undefined) return;
  const tail = 12 + 12 * entriesMax;
  const stored = node.u32(tail, 'et_checksum');
  const computed = crc32cUpdate(seed, node.bytes.subarray(0, tail));
  if (computed !== stored) throw node.fail(tail, `inode ${inode} extent block et_checksum`, `checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)} (metadata_csum).`);
}

/** Throws LB_FILESYSTEM_CORRUPT when a directory leaf block with a checksum tail fails it; htree index blocks and blocks without the tail pass. */
export function verifyDirectoryBlockChecksum(seed: number | undefined, directory: { number: number; flags: number }, logical: number, block: Uint8Array, base: number): void {
  if (seed === undefined || block.length < DIR_TAIL_BYTES) return;
  const f = new Fields(block, base, 'ext');
  if (directory.flags & INDEX_FLAG && (logical === 0 || decodeRecordLength(f.u16(4, 'rec_len'), block.length) === block.length)) return;
  const at = block.length - DIR_TAIL_BYTES;
  const isTail = f.u32(at, 'det_reserved_zero1') === 0 && f.u16(at + 4, 'det_rec_len') === DIR_TAIL_BYTES && f.u8(at + 6, 'det_reserved_zero2') === 0 && f.u8(at + 7, 'det_reserved_ft') === DIR_TAIL_FILE_TYPE;
  if (!isTail) return;
  const stored = f.u32(at + 8, 'det_checksum');
  const computed = crc32cUpdate(seed, block.subarray(0, at));
  if (computed !== stored) throw f.fail(at + 8, `directory inode ${directory.number} block det_checksum`, `checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)} (metadata_csum).`);
}

const XATTR_CHECKSUM = 0x10;

/** Throws LB_FILESYSTEM_CORRUPT when the extended-attribute block `block` (its bytes in `node`) fails its checksum. */
export function verifyXattrBlockChecksum(volume: ExtVolume, inode: number, block: number, node: Fields): void {
  const seed = volume.checksumSeed;
  if (seed === undefined) return;
  const blockNumber = new Uint8Array(8);
  new DataView(blockNumber.buffer).setBigUint64(0, BigInt(block), true);
  const zeroed = new Uint8Array(node.bytes);
  zeroed.fill(0, XATTR_CHECKSUM, XATTR_CHECKSUM + 4);
  const stored = node.u32(XATTR_CHECKSUM, 'h_checksum');
  const computed = crc32cUpdate(crc32cUpdate(seed, blockNumber), zeroed);
  if (computed !== stored) throw node.fail(XATTR_CHECKSUM, `inode ${inode} xattr block h_checksum`, `checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)} (metadata_csum).`);
}
