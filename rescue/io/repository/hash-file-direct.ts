// A pack is verified by reading it back from the device, not from the page cache that still holds
// what was written (a medium that lost the write, like a failing or fake-capacity USB stick, is
// caught only so): O_DIRECT reads into a buffer whose start the kernel accepts, found by trying
// (JavaScript cannot see addresses) once per thread. Where O_DIRECT is refused, or fails midway,
// the rest is read through the page cache. On FUSE (exfat-fuse, ntfs-3g) O_DIRECT is accepted but
// the driver reads its disk through the disk's page cache, and tmpfs is memory: neither counts as
// read from the device (measured: dd iflag=direct succeeds on both FUSE drivers and on tmpfs under
// Linux 6.18). Runs on a chunk worker.

import { createHash } from 'node:crypto';
import fs from 'node:fs';

const HASH_PIECE_BYTES = 4 * 1024 * 1024;
/** statfs f_type of filesystems whose reads never reach a device around the page cache: FUSE, tmpfs, ramfs. */
const CACHED_FILESYSTEM_TYPES = new Set([0x65735546, 0x01021994, 0x858458f6]);

function onCachedFilesystem(file: string): boolean {
  try {
    return CACHED_FILESYSTEM_TYPES.has(fs.statfsSync(file).type);
  } catch {
    return false;
  }
}
const DIRECT_ALIGN_BYTES = 4096;

/** The aligned read buffer, once found; null when no start worked. */
let directPiece: Buffer | null | undefined;

function alignedPiece(fd: number): Buffer | null {
  if (directPiece !== undefined) return directPiece;
  const raw = Buffer.allocUnsafeSlow(HASH_PIECE_BYTES + DIRECT_ALIGN_BYTES);
  directPiece = null;
  for (let start = 0; start < DIRECT_ALIGN_BYTES; start += 16) {
    try {
      fs.readSync(fd, raw, start, DIRECT_ALIGN_BYTES, 0);
      directPiece = raw.subarray(start, start + HASH_PIECE_BYTES);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') break;
    }
  }
  return directPiece;
}

function openDirect(file: string): number | undefined {
  try {
    return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch {
    return undefined;
  }
}

/** SHA-256 of a whole file and its length; `direct` when every byte came from the device (O_DIRECT, not on FUSE or tmpfs). */
export function hashFileDirect(file: string): { hash: string; bytes: number; direct: boolean } {
  const hash = createHash('sha256');
  let bytes = 0;
  let direct = false; // the whole file came from the device
  const directFd = openDirect(file);
  if (directFd !== undefined) {
    try {
      const piece = alignedPiece(directFd);
      while (piece) {
        const read = fs.readSync(directFd, piece, 0, HASH_PIECE_BYTES, bytes);
        hash.update(piece.subarray(0, read));
        bytes += read;
        if (read < HASH_PIECE_BYTES) { // a direct read is short only at the end of the file
          direct = true;
          break;
        }
      }
    } catch {
      // refused midway: the rest through the page cache
    } finally {
      fs.closeSync(directFd);
    }
  }
  if (!direct) {
    const fd = fs.openSync(file, 'r');
    try {
      const piece = Buffer.allocUnsafe(HASH_PIECE_BYTES);
      for (let read; (read = fs.readSync(fd, piece, 0, piece.length, bytes)) > 0; bytes += read) hash.update(piece.subarray(0, read));
    } finally {
      fs.closeSync(fd);
    }
  }
  return { hash: hash.digest('hex'), bytes, direct: direct && !onCachedFilesystem(file) };
}
