// Crash-safe file writes for the repository: write under NAME.tmp, sync, rename, sync the folder.
// Errors of the filesystem holding the repository become coded errors (a full disk says so).

import { open, rename, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../../core/errors.ts';

/** Maps a write failure to LB_REPO_DESTINATION_FULL (ENOSPC, EDQUOT, EFBIG), LB_REPO_READ_ONLY (EROFS, EACCES, EPERM) or LB_REPO_WRITE_FAILED. */
export function toWriteError(error: unknown, root: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const errno = (error as { code?: string }).code ?? 'unknown';
  if (errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'EFBIG') {
    return new LifeboatError('LB_REPO_DESTINATION_FULL', { detail: `${root}: ${errno}.`, path: root, errno }, { cause: error });
  }
  if (errno === 'EROFS' || errno === 'EACCES' || errno === 'EPERM') {
    return new LifeboatError('LB_REPO_READ_ONLY', { detail: `${root}: ${errno === 'EROFS' ? 'the filesystem is mounted read-only' : 'no permission to write'} (${errno}).`, path: root, errno }, { cause: error });
  }
  return new LifeboatError('LB_REPO_WRITE_FAILED', { detail: `${root}: ${errno}.`, path: root, errno }, { cause: error });
}

/** statfs f_type of FAT (vfat, msdos): MSDOS_SUPER_MAGIC. */
const FAT_FILESYSTEM_TYPE = 0x4d44;

/** fsync of a folder: its entries reach the disk. */
export async function syncFolder(folder: string): Promise<void> {
  const directory = await open(folder, 'r');
  await directory.sync().finally(() => directory.close());
}

/** True when `folder` is on FAT, whose folder entries need the order writeFileAtomic gives them there. */
export async function isOnFat(folder: string): Promise<boolean> {
  return (await statfs(folder).catch(() => undefined))?.type === FAT_FILESYSTEM_TYPE;
}

/**
 * Writes `bytes` to folder/name atomically (other processes see the whole file or none) and, unless
 * `durable` is false, durably. Locks are not synced: after a crash a lock is stale whether or not it
 * survived, and an fsync waits for the filesystem's journal, which on ext4 also writes back other
 * files' dirty pages (0.7 s measured after copying a 4 GiB image onto the same filesystem).
 * The file is synced before the rename (its bytes first) and again after it: on FAT a rename writes
 * the new name's entry with size 0 and no first cluster, and the file's size and clusters reach that
 * entry only when the file itself is written out again; syncing the folder alone left index files
 * and manifests empty after a power cut (test/boot/power-cut.test.ts). On ext4 the second sync
 * commits the journal the folder's sync would have committed.
 * On FAT the folder is also synced right after each new entry (the temp file's, the new name's),
 * before the file's own sync: that sync writes only the sector holding the file's short entry, and
 * when the entry's long-name slots start in the sector before, which held the folder's end mark
 * (zeros), a power cut before the folder's sync left that mark in front of a live entry. Linux and
 * fsck.fat read past it; mtools, and FAT readers that follow the specification, stop there and
 * miss every file after it (test/boot/fat-folder-order.test.ts). In this order a cut leaves the name
 * empty at worst (FORMAT.md: an empty index or manifest is a write that never finished).
 */
export async function writeFileAtomic(folder: string, name: string, bytes: Uint8Array, { durable = true }: { durable?: boolean } = {}): Promise<void> {
  const temp = path.join(folder, `${name}.tmp`);
  try {
    const fat = durable && (await isOnFat(folder));
    const handle = await open(temp, 'w');
    try {
      if (fat) await syncFolder(folder);
      await handle.writeFile(bytes);
      if (durable) await handle.sync();
      await rename(temp, path.join(folder, name));
      if (fat) await syncFolder(folder);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    if (durable && !fat) await syncFolder(folder);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw toWriteError(error, folder);
  }
}
