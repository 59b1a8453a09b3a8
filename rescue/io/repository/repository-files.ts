// Crash-safe file writes for the repository: write under NAME.tmp, sync, rename, sync the folder.
// Errors of the filesystem holding the repository become coded errors (a full disk says so).

import { open, rename, rm } from 'node:fs/promises';
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

/**
 * Writes `bytes` to folder/name atomically (other processes see the whole file or none) and, unless
 * `durable` is false, durably. Locks are not synced: after a crash a lock is stale whether or not it
 * survived, and an fsync waits for the filesystem's journal, which on ext4 also writes back other
 * files' dirty pages (0.7 s measured after copying a 4 GiB image onto the same filesystem).
 */
export async function writeFileAtomic(folder: string, name: string, bytes: Uint8Array, { durable = true }: { durable?: boolean } = {}): Promise<void> {
  const temp = path.join(folder, `${name}.tmp`);
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(bytes);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path.join(folder, name));
    if (!durable) return;
    const directory = await open(folder, 'r');
    await directory.sync().finally(() => directory.close());
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw toWriteError(error, folder);
  }
}
