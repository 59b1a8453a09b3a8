// A stop request (AbortSignal) ends a backup and a restore cleanly between chunks with
// LB_INPUT_STOPPED: the stopped backup saves no snapshot and leaves a repository that checks
// clean; the next backup and a restore still work. The same for a files backup (between files and
// chunks), a check (between packs and chunks) and a file restore (between entries and pieces; the
// file cut short is removed). The TUI's Cancel uses exactly this.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import type { ProgressReporter } from '../../rescue/core/progress.ts';
import { planRestore } from '../../rescue/core/repository/restore-plan.ts';
import { openBackupSource, openRestoreTarget } from '../../rescue/io/device-endpoints.ts';
import { localFileWriter } from '../../rescue/io/file-writer.ts';
import { createFileWalker } from '../../rescue/io/walk-files.ts';
import { backupFiles } from '../../rescue/ops/backup-files.ts';
import { restoreFiles } from '../../rescue/ops/restore-files.ts';
import { openFilesSnapshot } from '../../rescue/ops/snapshot-file-tree.ts';
import { initRepository, openRepository } from '../../rescue/io/repository/folder-repository.ts';
import { backup } from '../../rescue/ops/backup.ts';
import { checkRepository } from '../../rescue/ops/check-repository.ts';
import { restore } from '../../rescue/ops/restore.ts';
import { makeBlankDisk, makeExt4Disk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

/** A reporter that aborts `controller` at the first progress with some bytes done. */
function stoppingReporter(controller: AbortController): ProgressReporter & { events: number } {
  const reporter = {
    events: 0,
    progress: (event: { bytesDone: number }) => {
      reporter.events += 1;
      if (event.bytesDone > 0) controller.abort();
    },
    notice: () => undefined,
  };
  return reporter;
}

const quiet: ProgressReporter = { progress: () => undefined, notice: () => undefined };

test('a stopped backup saves nothing and a stopped restore ends with LB_INPUT_STOPPED', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-stop-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const disk = await makeExt4Disk(dir, 'source.img', 64 * MiB, 'STOPME', sampleFiles(24 * MiB));
  const repo = path.join(dir, 'repo');
  await initRepository(repo, { chunkBytes: MiB });
  const repository = await openRepository(repo, async () => undefined);
  t.teardown(() => repository.close());
  await repository.acquireLock(true, 'test');
  const run = async (signal?: AbortSignal, reporter: ProgressReporter = quiet) => {
    const { source, facts } = await openBackupSource(disk, 'disk');
    try {
      return await backup({ kind: 'disk', source, facts, tags: [], note: 'stop test', sectorBySector: false, compressionLevel: 1, verify: true, host: 'test', lifeboatVersion: 'test', ...(signal ? { signal } : {}) }, repository, reporter);
    } finally {
      await source.close();
    }
  };

  const controller = new AbortController();
  const reporter = stoppingReporter(controller);
  const stopped = await t.throwsAsync(run(controller.signal, reporter), { instanceOf: LifeboatError });
  t.is(stopped?.code, 'LB_INPUT_STOPPED');
  t.true(reporter.events > 0);
  t.deepEqual(await repository.listSnapshots(), [], 'no snapshot saved');
  const report = await checkRepository(repository, { readData: true }, quiet);
  t.deepEqual(report.problems, [], 'the repository checks clean after the stop');

  const saved = await run();
  t.truthy(saved.id);

  const target = await makeBlankDisk(dir, 'target.img', 64 * MiB);
  const opened = await openRestoreTarget(target, { createBytes: 0, sectorSize: 512 });
  t.teardown(() => opened.close());
  const plan = planRestore(saved.manifest, opened.facts, {});
  const restoreController = new AbortController();
  const restoreStopped = await t.throwsAsync(restore({ repository, manifest: saved.manifest, plan, target: opened, reporter: stoppingReporter(restoreController), growFilesystem: async () => undefined, signal: restoreController.signal }), { instanceOf: LifeboatError });
  t.is(restoreStopped?.code, 'LB_INPUT_STOPPED');
  const after = await readFile(target);
  t.is(after.readUInt16LE(510), 0, 'the partition table (written last) was not written');
  await restore({ repository, manifest: saved.manifest, plan, target: opened, reporter: quiet, growFilesystem: async () => undefined });
  t.true((await readFile(target)).equals(await readFile(disk)), 'the full restore afterwards gives the source bytes');
});

test('a stopped files backup saves nothing and checks clean; a stopped check and a stopped file restore end with LB_INPUT_STOPPED', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-stop-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Large files go through openFile (small ones are read whole into batches): the stop comes while the 5th is opened.
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'many'), { recursive: true });
  const contents = new Map<string, Buffer>();
  for (let index = 0; index < 16; index++) contents.set(`many/file-${String(index).padStart(2, '0')}.bin`, randomBytes(2 * MiB));
  for (let index = 0; index < 40; index++) contents.set(`many/small-${index}.txt`, randomBytes(4096));
  contents.set('big.bin', randomBytes(10 * MiB));
  for (const [name, bytes] of contents) await writeFile(path.join(tree, name), bytes);
  const repo = path.join(dir, 'repo');
  await initRepository(repo, {});
  const repository = await openRepository(repo, async () => undefined);
  t.teardown(() => repository.close());
  await repository.acquireLock(true, 'test');
  const walker = await createFileWalker({ excludes: [], oneFileSystem: false, defaultExcludes: true });
  const request = { roots: [tree], tags: [], note: 'files stop test', compressionLevel: 1, verify: true, host: 'test', lifeboatVersion: 'test' };

  const controller = new AbortController();
  let opened = 0;
  const stopping = { ...walker, openFile: (entry: Parameters<typeof walker.openFile>[0]) => {
    opened += 1;
    if (opened === 5) controller.abort();
    return walker.openFile(entry);
  } };
  const stopped = await t.throwsAsync(backupFiles({ ...request, signal: controller.signal }, stopping, repository, quiet), { instanceOf: LifeboatError });
  t.is(stopped?.code, 'LB_INPUT_STOPPED');
  t.true(opened < 17, 'not every large file was opened');
  t.deepEqual(await repository.listSnapshots(), [], 'no snapshot saved');
  t.deepEqual((await checkRepository(repository, { readData: true }, quiet)).problems, [], 'the repository checks clean after the stop');

  const saved = await backupFiles(request, walker, repository, quiet);
  t.truthy(saved.id, 'the same backup without a stop saves its snapshot');
  t.deepEqual((await checkRepository(repository, { readData: true }, quiet)).problems, []);

  // A check stops between chunks of a pack: the stop comes while the first pack is read.
  const checkController = new AbortController();
  const readingRepository = new Proxy(repository, {
    get(target, property) {
      if (property === 'readPackFile') return async (id: string) => {
        checkController.abort();
        return target.readPackFile(id);
      };
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const checkStopped = await t.throwsAsync(checkRepository(readingRepository, { readData: true, signal: checkController.signal }, quiet), { instanceOf: LifeboatError });
  t.is(checkStopped?.code, 'LB_INPUT_STOPPED');

  // A file restore: a stop in the middle of big.bin (10 MiB, copied in 4 MiB pieces) leaves no big.bin.
  const files = openFilesSnapshot(repository, saved.manifest);
  const out = path.join(dir, 'out');
  await mkdir(out);
  const restoreController = new AbortController();
  const getStopped = await t.throwsAsync(restoreFiles({ tree: files, paths: [`${tree}/big.bin`], destination: out, existing: 'refuse', writer: localFileWriter(), reporter: stoppingReporter(restoreController), signal: restoreController.signal }), { instanceOf: LifeboatError });
  t.is(getStopped?.code, 'LB_INPUT_STOPPED');
  t.deepEqual(await readdir(out), [], 'the file cut short was removed');
  // Stopped after the first file of the folder: what was restored is whole, the rest is not there.
  const folderController = new AbortController();
  const folderStopped = await t.throwsAsync(restoreFiles({ tree: files, paths: [`${tree}/many`], destination: out, existing: 'refuse', writer: localFileWriter(), reporter: stoppingReporter(folderController), signal: folderController.signal }), { instanceOf: LifeboatError });
  t.is(folderStopped?.code, 'LB_INPUT_STOPPED');
  const restored = await readdir(path.join(out, 'many'));
  t.true(restored.length > 0 && restored.length < 56, `${restored.length} of 56 restored`);
  for (const name of restored) t.true((await readFile(path.join(out, 'many', name))).equals(contents.get(`many/${name}`) ?? Buffer.alloc(0)), `${name} is whole`);
  // Without a stop, everything.
  const all = await restoreFiles({ tree: files, paths: [`${tree}/big.bin`], destination: out, existing: 'refuse', writer: localFileWriter(), reporter: quiet });
  t.is(all.files, 1);
  t.true((await readFile(path.join(out, 'big.bin'))).equals(contents.get('big.bin') ?? Buffer.alloc(0)));
});
