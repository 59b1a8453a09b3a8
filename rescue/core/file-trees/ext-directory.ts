// Directory entries of ext2/3/4, read linearly: every directory block (or inline area) is a chain of
// ext4_dir_entry_2 records: 0x00 inode (0: unused), 0x04 rec_len, 0x06 name_len, 0x07 file_type,
// 0x08 the name. htree index blocks (dx_root, dx_node) and metadata_csum tails look like unused or
// "."/".." records, so a linear read sees every name exactly once.

import { Fields } from '../filesystems/fields.ts';

const DIRENT_HEADER_BYTES = 8;
const DECODER = new TextDecoder('utf-8');

/** One live name in a directory. */
export interface RawDirent {
  readonly inode: number;
  readonly name: string;
}

/** The live entries (not "." or "..") of one directory block or inline area of `bytes` at absolute `base`. */
export function parseDirents(bytes: Uint8Array, base: number, blockSize: number, directory: number): RawDirent[] {
  const f = new Fields(bytes, base, 'ext');
  const found: RawDirent[] = [];
  let at = 0;
  while (at < bytes.length) {
    const field = `directory inode ${directory} entry`;
    if (at + DIRENT_HEADER_BYTES > bytes.length) throw f.fail(at, `${field} rec_len`, `an entry starts ${bytes.length - at} bytes before the end of its block.`);
    const inode = f.u32(at, 'inode');
    const recordLength = decodeRecordLength(f.u16(at + 4, 'rec_len'), blockSize);
    const nameLength = f.u8(at + 6, 'name_len');
    if (recordLength < DIRENT_HEADER_BYTES || recordLength % 4 !== 0 || at + recordLength > bytes.length) {
      throw f.fail(at + 4, `${field} rec_len`, `record length ${recordLength} does not fit the ${bytes.length - at} bytes left in the block.`);
    }
    if (inode !== 0 && nameLength > 0) {
      if (DIRENT_HEADER_BYTES + nameLength > recordLength) throw f.fail(at + 6, `${field} name_len`, `a ${nameLength}-byte name does not fit a ${recordLength}-byte record.`);
      const raw = f.slice(at + DIRENT_HEADER_BYTES, nameLength, 'name');
      const dots = (nameLength === 1 && raw[0] === 0x2e) || (nameLength === 2 && raw[0] === 0x2e && raw[1] === 0x2e);
      if (!dots) found.push({ inode, name: DECODER.decode(raw) });
    }
    at += recordLength;
  }
  return found;
}

/** e2fsprogs' ext2fs_get_rec_len: 64 KiB blocks store 65536 as 0 or 65535, and use the low 2 bits as bits 16-17. */
/** rec_len as stored to bytes (65536-byte blocks encode the length in 16 bits). */
export function decodeRecordLength(stored: number, blockSize: number): number {
  if (blockSize < 65536) return stored;
  if (stored === 65535 || stored === 0) return blockSize;
  return (stored & 65532) | ((stored & 3) << 16);
}
