// A repository on a filesystem that fills up during a backup: the backup must stop with
// LB_REPO_DESTINATION_FULL (exit 5) instead of hanging, and the repository must stay sound,
// with the snapshot saved before still restoring byte for byte.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sparseFile, withLoop } from '../helpers/filesystem-images.ts';
import { prng } from '../helpers/mutation.ts';
import {
  MiB,
  describe,
  doneSnapshotId,
  errorCode,
  lifeboat,
  listSnapshots,
  makeExt4Image,
  restoredSha256,
  sha256File,
  writeMixedTree,
} from '../helpers/repository-harness.ts';

const DESTINATION_BYTES = 24 * MiB;

/** Free bytes of the filesystem mounted at `mountPoint`. */
async function freeBytes(mountPoint: string): Promise<number> {
  const { stdout } = await execa('df', ['--block-size=1', '--output=avail', mountPoint]);
  return Number(stdout.trim().split('\n').pop());
}

test('a backup that fills the destination ends with LB_REPO_DESTINATION_FULL; the repository stays sound', async (t) => {
  t.timeout(5 * 60_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-full-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const small = await makeExt4Image(path.join(dir, 'small.img'), 8 * MiB, await tree(dir, 'small-tree', 2 * MiB));
  const large = await makeExt4Image(path.join(dir, 'large.img'), 96 * MiB, await tree(dir, 'large-tree', 48 * MiB));
  const smallSha = await sha256File(small);
  const backing = await sparseFile(path.join(dir, 'destination.img'), DESTINATION_BYTES);
  await execa('mkfs.ext4', ['-q', '-F', backing]);
  const mountPoint = path.join(dir, 'mnt');
  await mkdir(mountPoint);

  await withLoop(backing, async (device) => {
    await execa('mount', [device, mountPoint]);
    try {
      const repo = path.join(mountPoint, 'repo');
      const first = await lifeboat(['backup', 'partition', small, '-r', repo, '--json']);
      t.is(first.exitCode, 0, `the small backup fits: ${describe(first)}`);
      const smallId = doneSnapshotId(first.stdout) ?? '';
      const free = await freeBytes(mountPoint);
      t.log(`small snapshot ${smallId.slice(0, 8)} saved; ${(free / MiB).toFixed(1)} MiB free for a source with ${48} MiB of mostly incompressible files`);

      const started = Date.now();
      const full = await lifeboat(['backup', 'partition', large, '-r', repo, '--json'], { timeoutMs: 60_000 });
      t.log(`the large backup ended after ${Date.now() - started} ms with exit ${full.exitCode}${full.signal ? ` (${full.signal})` : ''}`);
      t.is(full.signal, null, `the backup did not end by itself within 60 s (hang?): ${describe(full)}`);
      t.is(errorCode(full), 'LB_REPO_DESTINATION_FULL', describe(full));
      t.is(full.exitCode, 5, describe(full));

      const check = await lifeboat(['check', '-r', repo, '--read-data']);
      t.is(check.exitCode, 0, `check after the full destination: ${describe(check)}`);
      const listed = await listSnapshots(repo);
      t.deepEqual(listed.map((entry) => entry.id), [smallId], 'only the small snapshot is listed');
      t.is(await restoredSha256(repo, smallId, dir), smallSha, 'the small snapshot restores to its source');
    } finally {
      await execa('umount', [mountPoint], { reject: false });
    }
  });
});

async function tree(dir: string, name: string, bytes: number): Promise<string> {
  const root = path.join(dir, name);
  await writeMixedTree(root, prng(bytes), bytes, name);
  return root;
}
