// NTFS files that are not plain files or folders, read as ntfs-3g reads them:
// - reparse points ($REPARSE_POINT, 0xC0: +0 tag, +4 data length, +8 data). Symlinks (0xA000000C) and
//   junctions (0xA0000003) hold substitute-name offset and length, print-name offset and length (u16
//   each, from the path buffer), symlinks then a u32 of flags; the path buffer follows.
// - Interix special files, which ntfs-3g writes for `ln -s`, mknod and mkfifo: files with the system
//   attribute whose data is "IntxLNK\1" + a UTF-16LE target, "IntxCHR\0"/"IntxBLK\0" + u64 major + u64
//   minor; without the hidden attribute an empty one is a FIFO and a 1-byte one a socket.

import { Fields, utf16Text } from '../filesystems/fields.ts';
import type { FileKind } from './file-tree.ts';
import { openStream } from './ntfs-stream.ts';
import type { NtfsFile, NtfsVolume } from './ntfs-volume.ts';

const ATTR_DATA = 0x80;
const ATTR_REPARSE_POINT = 0xc0;
/** IO_REPARSE_TAG_SYMLINK and IO_REPARSE_TAG_MOUNT_POINT (junctions). */
export const REPARSE_TAG_SYMLINK = 0xa000000c;
export const REPARSE_TAG_MOUNT_POINT = 0xa0000003;
const MAX_REPARSE_BYTES = 16 * 1024;
const DOS_HIDDEN = 0x02;
const DOS_SYSTEM = 0x04;
const INTERIX_MAGIC_BYTES = 8;
/** ntfs-3g reads Interix files up to the magic plus PATH_MAX UTF-16 characters. */
const INTERIX_MAX_BYTES = INTERIX_MAGIC_BYTES + 2 * 4096;
const INTERIX_DEVICE_BYTES = INTERIX_MAGIC_BYTES + 16;

/** What a special file is, with the link target or device numbers. */
export interface SpecialFile {
  readonly kind: FileKind;
  readonly target?: string;
  readonly reparseTag?: number;
  readonly device?: { readonly major: number; readonly minor: number };
}

/** The reparse point or Interix file `file` is; undefined for plain files and folders. */
export async function readSpecialFile(volume: NtfsVolume, file: NtfsFile, dosAttributes: number): Promise<SpecialFile | undefined> {
  const reparse = volume.stream(file, ATTR_REPARSE_POINT, '');
  if (reparse) return readReparsePoint(await volume.readValue(reparse, MAX_REPARSE_BYTES, `record ${file.number} $REPARSE_POINT`));
  if (file.directory || (dosAttributes & DOS_SYSTEM) === 0) return undefined;
  const data = volume.stream(file, ATTR_DATA, '');
  if (!data) return undefined;
  const size = data.resident ? data.bytes.length : data.dataSize;
  if ((dosAttributes & DOS_HIDDEN) === 0 && size === 0) return { kind: 'fifo' };
  if ((dosAttributes & DOS_HIDDEN) === 0 && size === 1) return { kind: 'socket' };
  if (size <= INTERIX_MAGIC_BYTES || size > INTERIX_MAX_BYTES) return undefined;
  const bytes = await openStream(volume, data, `record ${file.number} Interix data`).read(0, size);
  const magic = Buffer.from(bytes.subarray(0, INTERIX_MAGIC_BYTES)).toString('latin1');
  if (magic === 'IntxLNK\x01') return { kind: 'symlink', target: utf16Text(bytes.subarray(INTERIX_MAGIC_BYTES)) ?? '' };
  if ((magic === 'IntxCHR\0' || magic === 'IntxBLK\0') && size === INTERIX_DEVICE_BYTES) {
    const fields = new Fields(bytes, 0, 'NTFS');
    return { kind: magic === 'IntxCHR\0' ? 'char-device' : 'block-device', device: { major: fields.u64(8, 'Interix major'), minor: fields.u64(16, 'Interix minor') } };
  }
  return undefined;
}

function readReparsePoint({ bytes, at }: { bytes: Uint8Array; at: number }): SpecialFile {
  const fields = new Fields(bytes, at, 'NTFS');
  const tag = fields.u32(0, '$REPARSE_POINT tag');
  if (tag !== REPARSE_TAG_SYMLINK && tag !== REPARSE_TAG_MOUNT_POINT) return { kind: 'reparse-point', reparseTag: tag };
  const buffer = 8 + (tag === REPARSE_TAG_SYMLINK ? 0x0c : 0x08);
  const name = (offsetAt: number, label: string) => {
    const offset = fields.u16(8 + offsetAt, `$REPARSE_POINT ${label} offset`);
    const length = fields.u16(8 + offsetAt + 2, `$REPARSE_POINT ${label} length`);
    return utf16Text(fields.slice(buffer + offset, length, `$REPARSE_POINT ${label}`)) ?? '';
  };
  const print = name(4, 'print name');
  return { kind: 'symlink', reparseTag: tag, target: print !== '' ? print : name(0, 'substitute name').replace(/^\\\?\?\\/, '') };
}
