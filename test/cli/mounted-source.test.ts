// A backup of a disk or partition that is mounted read-write is refused with
// LB_DEVICE_SOURCE_MOUNTED (as Clonezilla refuses), naming the partition and where it is mounted;
// --allow-mounted backs it up with a warning (output and run log) that the copy may be
// inconsistent. A read-only mount is fine. Before, any mounted source was copied without a word.
// Real devices: a disk image with two ext4 partitions made by sfdisk and mkfs.ext4, on a loop
// device whose partition nodes partx makes, its first partition mounted by the kernel.

import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { attachLoop, makeTwoPartitionDisk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

test('a read-write mounted partition: backup disk and partition refused, --allow-mounted warns, a read-only mount is backed up', async (t) => {
  if (process.getuid?.() !== 0) return t.fail('needs root: loop devices and mount');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-mounted-source-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { disk } = await makeTwoPartitionDisk(dir, 'disk.img', 32 * MiB, sampleFiles(64 * 1024));
  const logs = path.join(dir, 'logs');
  const lifeboat = (args: readonly string[]) => execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: logs } });
  const mountPoint = path.join(dir, 'mnt');
  await mkdir(mountPoint);
  const loop = await attachLoop(disk);
  try {
    const first = `${loop.device}p1`;
    t.true(existsSync(first), `partx made ${first}`);
    await execa('mount', [first, mountPoint]);
    try {
      for (const [kind, source] of [['disk', loop.device], ['partition', first], ['disk', disk]] as const) {
        const refused = await lifeboat(['backup', kind, source, '-r', 'repo']);
        t.is(refused.exitCode, 3, `backup ${kind} ${source}: ${refused.stderr}`);
        t.regex(refused.stderr, /LB_DEVICE_SOURCE_MOUNTED/);
        t.true(refused.stderr.includes(`${first} on ${mountPoint}`), refused.stderr);
        t.regex(refused.stderr, /--allow-mounted/, 'the fix names the option');
      }
      t.false(existsSync(path.join(dir, 'repo')), 'nothing was written: no repository made');
      // The other partition is not mounted: backing it up alone is fine.
      const other = await lifeboat(['backup', 'partition', `${loop.device}p2`, '-r', 'repo']);
      t.is(other.exitCode, 0, other.stderr);
      t.notRegex(other.stderr, /warning/);

      const allowed = await lifeboat(['backup', 'disk', loop.device, '-r', 'repo', '--allow-mounted']);
      t.is(allowed.exitCode, 0, allowed.stderr);
      const warning = `warning: ${loop.device} is mounted read-write (${first} on ${mountPoint}): the copy may be inconsistent`;
      t.true(allowed.stderr.includes(warning), allowed.stderr);
      t.regex(allowed.stdout, /snapshot [0-9a-f]{8} saved/);
      const log = (await readdir(logs)).filter((name) => name.includes('backup-disk')).sort().at(-1) ?? 'none';
      t.true((await readFile(path.join(logs, log), 'utf8')).includes(warning), `the run log ${log} holds the warning`);

      await execa('mount', ['-o', 'remount,ro', mountPoint]);
      const readOnly = await lifeboat(['backup', 'disk', loop.device, '-r', 'repo']);
      t.is(readOnly.exitCode, 0, readOnly.stderr);
      t.notRegex(readOnly.stderr, /warning|LB_DEVICE_SOURCE_MOUNTED/);
    } finally {
      await execa('umount', [mountPoint], { reject: false });
    }
  } finally {
    await loop.detach();
  }
});
