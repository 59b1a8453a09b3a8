// A pack is synced to the device while it is written, every PACK_SYNC_STEP_BYTES, not only when it
// closes (folder-repository.ts, PackWriter.syncSoon): the kernel would otherwise hold a whole pack
// in the page cache and write it out in one burst. A failed background sync ends the run with the
// repository's write error; nothing names the pack.
// The tests watch FileHandle's datasync in this worker (each ava file runs in a thread of its own),
// so they run one after the other.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { open, mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { initRepository, openRepository, PACK_SYNC_STEP_BYTES } from '../../rescue/io/repository/folder-repository.ts';

const MiB = 1024 * 1024;

/** FileHandle's prototype, found through a handle (the class is not exported by node:fs). */
async function fileHandlePrototype(): Promise<{ datasync: () => Promise<void> }> {
  const handle = await open(import.meta.filename, 'r');
  await handle.close();
  return Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
}

/** Runs `work` with datasync replaced by `replacement` (which gets the original). */
async function withDatasync<T>(replacement: (original: () => Promise<void>, self: unknown) => Promise<void>, work: () => Promise<T>): Promise<T> {
  const prototype = await fileHandlePrototype();
  const original = prototype.datasync;
  prototype.datasync = function (this: unknown) {
    return replacement(() => original.call(this), this);
  };
  try {
    return await work();
  } finally {
    prototype.datasync = original;
  }
}

/** A repository on a disk (tmpfs would make syncs free), default pack size (64 MiB), 1 MiB chunks. */
async function diskRepository(t: { teardown(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(path.join('/var/tmp', 'lifeboat-pack-sync-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await initRepository(root, { chunkBytes: MiB });
  return openRepository(root, async () => undefined);
}

test.serial('a pack being written is synced every PACK_SYNC_STEP_BYTES, before it closes', async (t) => {
  const repository = await diskRepository(t);
  let syncs = 0;
  const blobs = Math.ceil((3 * PACK_SYNC_STEP_BYTES) / MiB) + 1;
  await withDatasync(async (original) => {
    syncs++;
    await original();
  }, async () => {
    for (let i = 0; i < blobs; i++) await repository.storeBlob('data', randomBytes(MiB), { compressionLevel: 3 });
    t.is(repository.writtenPacks().length, 0, 'the pack is still open (it holds fewer bytes than a pack may)');
    t.true(syncs >= 2, `${syncs} background syncs while ${blobs} MiB were written into one pack`);
    await repository.flush();
  });
  t.is(repository.writtenPacks().length, 1);
  await t.notThrowsAsync(repository.verifyPack(repository.writtenPacks()[0]!.id));
});

test.serial('a background sync that fails makes the flush fail with LB_REPO_WRITE_FAILED; no index names the pack', async (t) => {
  const repository = await diskRepository(t);
  const error = await withDatasync(async () => {
    throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
  }, async () => {
    for (let i = 0; i < PACK_SYNC_STEP_BYTES / MiB + 2; i++) await repository.storeBlob('data', randomBytes(MiB), { compressionLevel: 3 });
    return t.throwsAsync(repository.flush());
  });
  t.true(error instanceof LifeboatError, String(error));
  t.is((error as LifeboatError).code, 'LB_REPO_WRITE_FAILED');
  t.is((error as LifeboatError).details.errno, 'EIO');
  t.deepEqual((await readdir(path.join(repository.path, 'index'))).filter((name) => name.endsWith('.json')), []);
});
