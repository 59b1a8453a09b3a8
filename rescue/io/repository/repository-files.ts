// Crash-safe file writes for the repository: write under NAME.tmp, sync, rename, sync the folder.
// Errors of the filesystem holding the repository become coded errors (a full disk says so).

import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../../core/errors.ts';

/** Maps a write failure to LB_REPO_DESTINATION_FULL (ENOSPC, EDQUOT, EFBIG) or LB_REPO_WRITE_FAILED. */
export function toWriteError(error: unknown, root: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const errno = (error as { code?: string }).code ?? 'unknown';
  if (errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'EFBIG') {
    return new LifeboatError('LB_REPO_DESTINATION_FULL', { detail: `${root}: ${errno}.`, path: root, errno }, { cause: error });
  }
  return new LifeboatError('LB_REPO_WRITE_FAILED', { detail: `${root}: ${errno}.`, path: root, errno }, { cause: error });
}

/** Writes `bytes` to folder/name atomically and durably. */
export async function writeFileAtomic(folder: string, name: string, bytes: Uint8Array): Promise<void> {
  const temp = path.join(folder, `${name}.tmp`);
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path.join(folder, name));
    const directory = await open(folder, 'r');
    await directory.sync().finally(() => directory.close());
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw toWriteError(error, folder);
  }
}
