// What the disk/partition/system backup (backup.ts) and the files backup (backup-files.ts) share:
// the verification of the packs a run wrote, and the head of the manifest every snapshot carries.

import os from 'node:os';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';
import type { SnapshotManifest, SnapshotOptions } from '../core/repository/format.ts';
import type { RepositoryWriter } from '../core/repository/repository-port.ts';
import { forEachLimited } from '../core/run-limited.ts';

/** Packs checked at once (each on a chunk worker). */
const PACKS_VERIFIED_AT_ONCE = Math.max(1, os.availableParallelism());

/**
 * Checks every pack this run wrote against its hash and the index, read back from the device.
 * Most were checked already as they closed (RepositoryWriter.verifyPacksAsWritten): their outcome
 * is awaited here.
 */
async function verifyWrittenPacks(repository: RepositoryWriter, reporter: ProgressReporter, signal: AbortSignal | undefined): Promise<void> {
  const packs = repository.writtenPacks();
  const total = packs.reduce((sum, pack) => sum + pack.size, 0);
  let done = 0;
  let throughCache = 0;
  reporter.progress({ phase: 'verify', bytesDone: 0, bytesTotal: total });
  await forEachLimited(packs, PACKS_VERIFIED_AT_ONCE, async (pack) => {
    throwIfStopped(signal, 'the verification');
    if (!(await repository.verifyPack(pack.id)).fromDevice) throughCache++;
    done += pack.size;
    reporter.progress({ phase: 'verify', bytesDone: done, bytesTotal: total, item: pack.id.slice(0, 8) });
  });
  if (throughCache > 0) reporter.notice(pageCacheNotice(throughCache, packs.length, 'The verification', 'It shows the packs were written whole, not that the device holds them; `check --read-data` after unplugging and plugging in the disk again reads them from it.'));
}

/**
 * Says that `what` read packs through the page cache (O_DIRECT refused, or a FUSE filesystem such
 * as exfat-fuse or ntfs-3g, whose driver reads its disk through the cache, or tmpfs), and so could
 * not see the device itself: the cache may hold what was written when the device lost it (a failing
 * or fake-capacity stick). `then` says what that means.
 */
export function pageCacheNotice(throughCache: number, total: number, what: string, then: string): string {
  const which = throughCache === total ? (total === 1 ? 'the pack' : `all ${total} packs`) : `${throughCache} of ${total} packs`;
  return `${what} read ${which} through the page cache, not from the device: the repository's filesystem cannot be read around the cache (a FUSE filesystem such as exfat-fuse or ntfs-3g, tmpfs, or one that refuses O_DIRECT). ${then}`;
}

/**
 * The step between a run's last pack and its manifest: stops if asked to, verifies the written
 * packs when the run verifies, and on any failure drops what the writer still holds.
 */
export async function verifyBeforeSaving(repository: RepositoryWriter, reporter: ProgressReporter, request: { readonly verify: boolean; readonly signal?: AbortSignal | undefined }): Promise<void> {
  try {
    throwIfStopped(request.signal, 'the backup');
    if (request.verify) await verifyWrittenPacks(repository, reporter, request.signal);
    throwIfStopped(request.signal, 'the verification');
  } catch (error) {
    await repository.abort();
    throw error;
  }
}

/** The fields every manifest starts with: format version, kind, start time, host, version, tags, note, chunk size. */
export function manifestHead(repository: RepositoryWriter, kind: SnapshotManifest['kind'], started: number, options: SnapshotOptions): Pick<SnapshotManifest, 'version' | 'kind' | 'time' | 'host' | 'lifeboatVersion' | 'tags' | 'note' | 'chunkBytes'> {
  return {
    version: repository.config.version,
    kind,
    time: new Date(started).toISOString(),
    host: options.host,
    lifeboatVersion: options.lifeboatVersion,
    tags: [...options.tags],
    note: options.note,
    chunkBytes: repository.config.chunkBytes,
  };
}
