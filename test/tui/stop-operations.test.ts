// A stop request (AbortSignal) ends a backup and a restore cleanly between chunks with
// LB_INPUT_STOPPED: the stopped backup saves no snapshot and leaves a repository that checks
// clean; the next backup and a restore still work. The TUI's Cancel uses exactly this.

import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import type { ProgressReporter } from '../../rescue/core/progress.ts';
import { planRestore } from '../../rescue/core/repository/restore-plan.ts';
import { openBackupSource, openRestoreTarget } from '../../rescue/io/device-endpoints.ts';
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
