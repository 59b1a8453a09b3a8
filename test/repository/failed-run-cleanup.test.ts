// A run that ends without a manifest (stopped, or failed) removes what it wrote: its packs and the
// index naming them, even when the index was already written (a stop during the verification),
// and never what an earlier run on the same handle saved.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import type { ProgressReporter } from '../../rescue/core/progress.ts';
import { openBackupSource } from '../../rescue/io/device-endpoints.ts';
import { initRepository, openRepository } from '../../rescue/io/repository/folder-repository.ts';
import { backup } from '../../rescue/ops/backup.ts';
import { checkRepository } from '../../rescue/ops/check-repository.ts';
import { makeExt4Disk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

const quiet: ProgressReporter = { progress: () => undefined, notice: () => undefined };

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name))).sort();
}

test('abort after the index was written removes the index and the packs it names', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-cleanup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repo');
  await initRepository(repo, {});
  const repository = await openRepository(repo, async () => undefined);
  t.teardown(() => repository.close());
  await repository.acquireLock(true, 'test');
  const stored = [];
  for (let index = 0; index < 3; index++) stored.push(await repository.storeBlob('data', randomBytes(MiB), { compressionLevel: 1 }));
  await repository.flush();
  const before = await filesUnder(repo);
  t.is(before.filter((file) => file.startsWith('index/')).length, 1, 'flush wrote an index');
  t.is(before.filter((file) => file.endsWith('.pack')).length, 1, 'and a pack');
  t.true(repository.hasBlob(stored[0]!.id));
  await repository.abort();
  t.deepEqual((await filesUnder(repo)).filter((file) => !file.startsWith('locks/')), ['config.json']);
  t.false(repository.hasBlob(stored[0]!.id), 'the handle no longer counts the removed blobs as stored');
  const again = await repository.storeBlob('data', randomBytes(MiB), { compressionLevel: 1 });
  t.true(again.isNew);
  await repository.abort();
});

test('a stopped backup after a saved one on the same handle removes only its own packs', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-cleanup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const disk = await makeExt4Disk(dir, 'source.img', 96 * MiB, 'CLEANUP', sampleFiles(72 * MiB));
  const repo = path.join(dir, 'repo');
  await initRepository(repo, { chunkBytes: MiB });
  const repository = await openRepository(repo, async () => undefined);
  t.teardown(() => repository.close());
  await repository.acquireLock(true, 'test');
  const run = async (signal?: AbortSignal, reporter: ProgressReporter = quiet) => {
    const { source, facts } = await openBackupSource(disk, 'disk');
    try {
      return await backup({ kind: 'disk', source, facts, tags: [], note: '', sectorBySector: false, compressionLevel: 1, verify: true, host: 'test', lifeboatVersion: 'test', ...(signal ? { signal } : {}) }, repository, reporter);
    } finally {
      await source.close();
    }
  };
  const saved = await run();
  const afterSaved = await filesUnder(repo);
  // A second backup of changed content (72 MiB of new random data), stopped once it has closed a pack.
  const changed = await makeExt4Disk(dir, 'source.img.new', 96 * MiB, 'CLEANUP', sampleFiles(72 * MiB));
  await rm(disk);
  await rename(changed, disk);
  const packsSaved = repository.writtenPacks().length;
  let packsAtStop = 0;
  const controller = new AbortController();
  const stopped = await t.throwsAsync(run(controller.signal, {
    progress: () => {
      if (controller.signal.aborted || repository.writtenPacks().length === packsSaved) return;
      packsAtStop = repository.writtenPacks().length;
      controller.abort();
    },
    notice: () => undefined,
  }), { instanceOf: LifeboatError });
  t.is(stopped?.code, 'LB_INPUT_STOPPED');
  t.true(packsAtStop > packsSaved, 'the stopped run had closed a pack of its own');
  t.deepEqual((await filesUnder(repo)).filter((file) => !file.startsWith('locks/')), afterSaved.filter((file) => !file.startsWith('locks/')), 'exactly the files of the saved run stay');
  const report = await checkRepository(repository, { readData: true }, quiet);
  t.deepEqual(report.problems, []);
  t.deepEqual(report.info, []);
  t.deepEqual((await repository.listSnapshots()).map((snapshot) => snapshot.id), [saved.id]);
});
