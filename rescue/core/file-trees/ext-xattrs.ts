// Extended attributes of an ext inode: those stored inside the inode after i_extra_isize (a 4-byte
// magic 0xEA020000, then entries; value offsets count from the first entry) and those in the
// attribute block i_file_acl (32-byte header: 0x00 h_magic 0xEA020000, 0x08 h_blocks = 1; entries
// from byte 32; value offsets count from the block start). Entry: 0x00 e_name_len, 0x01
// e_name_index (the prefix), 0x02 e_value_offs, 0x04 e_value_inum (ea_inode: the value is that
// inode's data), 0x08 e_value_size, 0x0C e_hash, 0x10 the name, padded to 4 bytes; a zero word ends
// the list. With metadata_csum the block's h_checksum (0x10) is checked (ext-checksums.ts). POSIX ACLs are stored in ext4's short form and returned in the kernel's xattr form.

import { Fields } from '../filesystems/fields.ts';
import { verifyXattrBlockChecksum } from './ext-checksums.ts';
import type { ExtInode } from './ext-inode.ts';
import type { ExtVolume } from './ext-volume.ts';

const XATTR_MAGIC = 0xea020000;
const BLOCK_HEADER_BYTES = 32;
const ENTRY_HEADER_BYTES = 16;
const MAX_VALUE_BYTES = 64 * 1024 * 1024;

/** e_name_index values (Linux fs/ext4/xattr.c ext4_xattr_handler_map). */
const PREFIX_BY_INDEX: Readonly<Record<number, string>> = {
  0: '',
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  6: 'security.',
  7: 'system.',
  8: 'system.richacl',
  9: 'ext4-internal.encryption.',
  11: 'ext4-internal.verity.',
};

/** Attributes ext4 keeps for itself and Linux never lists (9: the encryption context "c", 11: fs-verity's descriptor location "v", f_verity). */
export function isInternalXattr(index: number): boolean {
  return index === 9 || index === 11;
}

/** One attribute as stored: prefix index, name without its prefix, and where its value is. */
export interface RawXattr {
  readonly index: number;
  readonly suffix: string;
  /** The full name (prefix + suffix). */
  readonly name: string;
  readonly value: Uint8Array | { readonly inode: number; readonly size: number };
}

/** The attributes stored inside the inode (empty when it has no room or no magic). */
export function inodeXattrs(volume: ExtVolume, inode: ExtInode): RawXattr[] {
  if (inode.extraEnd === undefined || inode.extraEnd + 4 > volume.inodeSize) return [];
  const f = inode.fields;
  if (f.u32(inode.extraEnd, 'in-inode xattr magic') !== XATTR_MAGIC) return [];
  const start = inode.extraEnd + 4;
  return parseEntries(f, inode, start, start, volume.inodeSize, 'in-inode xattr');
}

/** The attributes in the inode's attribute block (empty when it has none). */
export async function blockXattrs(volume: ExtVolume, inode: ExtInode): Promise<RawXattr[]> {
  if (inode.xattrBlock === 0) return [];
  const bytes = await volume.readBlocks(inode.xattrBlock, 1, inode.number, 'i_file_acl', inode.offset + 0x68);
  const f = new Fields(bytes, inode.xattrBlock * volume.blockSize, 'ext');
  if (f.u32(0, 'h_magic') !== XATTR_MAGIC) throw f.fail(0, `inode ${inode.number} xattr block h_magic`, `0x${f.u32(0, 'h_magic').toString(16)} is not 0xea020000.`);
  if (f.u32(8, 'h_blocks') !== 1) throw f.fail(8, `inode ${inode.number} xattr block h_blocks`, `${f.u32(8, 'h_blocks')} blocks; only 1 is defined.`);
  verifyXattrBlockChecksum(volume, inode.number, inode.xattrBlock, f);
  return parseEntries(f, inode, BLOCK_HEADER_BYTES, 0, bytes.length, 'xattr block');
}

function parseEntries(f: Fields, inode: ExtInode, first: number, valueBase: number, end: number, where: string): RawXattr[] {
  const found: RawXattr[] = [];
  let at = first;
  while (at + 4 <= end && f.u32(at, `${where} entry`) !== 0) {
    const field = `inode ${inode.number} ${where} entry`;
    if (at + ENTRY_HEADER_BYTES > end) throw f.fail(at, field, 'the entry runs past the end of its area.');
    const nameLength = f.u8(at, 'e_name_len');
    const index = f.u8(at + 1, 'e_name_index');
    const valueOffset = f.u16(at + 2, 'e_value_offs');
    const valueInode = f.u32(at + 4, 'e_value_inum');
    const valueSize = f.u32(at + 8, 'e_value_size');
    if (at + ENTRY_HEADER_BYTES + nameLength > end) throw f.fail(at, `${field} e_name_len`, `a ${nameLength}-byte name runs past the end of its area.`);
    const suffix = new TextDecoder().decode(f.slice(at + ENTRY_HEADER_BYTES, nameLength, 'e_name'));
    const prefix = PREFIX_BY_INDEX[index];
    if (prefix === undefined) throw f.fail(at + 1, `${field} e_name_index`, `prefix index ${index} is unknown.`);
    let value: RawXattr['value'];
    if (valueInode !== 0) {
      if (valueSize > MAX_VALUE_BYTES) throw f.fail(at + 8, `${field} e_value_size`, `${valueSize} bytes.`);
      value = { inode: valueInode, size: valueSize };
    } else {
      if (valueBase + valueOffset + valueSize > end) throw f.fail(at + 2, `${field} e_value_offs`, `a ${valueSize}-byte value at ${valueOffset} runs past the end of its area.`);
      value = new Uint8Array(f.slice(valueBase + valueOffset, valueSize, 'e_value'));
    }
    found.push({ index, suffix, name: prefix + suffix, value });
    at += (ENTRY_HEADER_BYTES + nameLength + 3) & ~3;
  }
  return found;
}

const ACL_EXT4_VERSION = 1;
const ACL_XATTR_VERSION = 2;
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;
const ACL_UNDEFINED_ID = 0xffffffff;

/** ext4's on-disk POSIX ACL (short entries without ids) as the kernel's xattr form getfattr shows. */
export function aclToXattrForm(value: Uint8Array, field: string, offset: number): Uint8Array {
  const f = new Fields(value, offset, 'ext');
  if (value.length < 4 || f.u32(0, 'a_version') !== ACL_EXT4_VERSION) throw f.fail(0, `${field} a_version`, 'not a version-1 ext4 ACL.');
  const entries: Array<[number, number, number]> = [];
  let at = 4;
  while (at < value.length) {
    const tag = f.u16(at, 'e_tag');
    const perm = f.u16(at + 2, 'e_perm');
    if (tag === ACL_USER || tag === ACL_GROUP) {
      entries.push([tag, perm, f.u32(at + 4, 'e_id')]);
      at += 8;
    } else {
      entries.push([tag, perm, ACL_UNDEFINED_ID]);
      at += 4;
    }
  }
  const out = new Uint8Array(4 + entries.length * 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, ACL_XATTR_VERSION, true);
  entries.forEach(([tag, perm, id], i) => {
    view.setUint16(4 + i * 8, tag, true);
    view.setUint16(6 + i * 8, perm, true);
    view.setUint32(8 + i * 8, id, true);
  });
  return out;
}
