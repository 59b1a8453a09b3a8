// After a restore onto a whole disk, Lifeboat asks the kernel to read the new partition table
// (blockdev --rereadpt). When the kernel refuses (here a loop device attached without partition
// scanning: EINVAL), the restore still succeeds (everything was written, synced and verified) and
// says so in a notice with the command to run, on its output and in its run log. A restore refused
// after the disk was opened wrote nothing, so it asks the kernel nothing and gives no such notice.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { makeBlankDisk, makeExt4Disk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

test('a restore onto a loop device whose table the kernel will not re-read ends with a notice, not an error', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-rereadpt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') };
  const disk = await makeExt4Disk(dir, 'source.img', 32 * MiB, 'REREAD', sampleFiles(4 * MiB));
  const repo = path.join(dir, 'repo');
  t.is((await execa(process.execPath, [LIFEBOAT, 'backup', 'disk', disk, '-r', repo], { env, reject: false })).exitCode, 0);
  const target = await makeBlankDisk(dir, 'target.img', 32 * MiB);
  const device = (await execa('losetup', ['--find', '--show', target])).stdout.trim();
  t.teardown(async () => {
    await execa('losetup', ['-d', device], { reject: false });
  });
  t.is((await readFile(`/sys/block/${path.basename(device)}/loop/partscan`, 'utf8')).trim(), '0', 'attached without partition scanning');
  // Refused once opened (the plan needs its size: too small): nothing written, no re-read, no notice.
  const small = (await execa('losetup', ['--find', '--show', await makeBlankDisk(dir, 'small.img', 16 * MiB)])).stdout.trim();
  t.teardown(async () => {
    await execa('losetup', ['-d', small], { reject: false });
  });
  const refused = await execa(process.execPath, [LIFEBOAT, 'restore', '-r', repo, 'latest', small, '--yes'], { env: { LIFEBOAT_LOG_DIR: path.join(dir, 'refused-logs') }, reject: false });
  t.regex(refused.stderr, /LB_DEVICE_TARGET_TOO_SMALL/);
  t.notRegex(refused.stderr, /did not read the new partition table/);
  const result = await execa(process.execPath, [LIFEBOAT, 'restore', '-r', repo, 'latest', device, '--yes'], { env, reject: false });
  t.is(result.exitCode, 0, result.stderr);
  t.regex(result.stdout, /Restored snapshot [0-9a-f]{8} onto /);
  t.regex(result.stderr, new RegExp(`note: The kernel did not read the new partition table of ${device} \\(blockdev --rereadpt ${device} exited with status 1: blockdev: ioctl error on BLKRRPART: Invalid argument\\): .*Run \`blockdev --rereadpt ${device}\` once nothing uses the disk`));
  const logs = await readdir(env.LIFEBOAT_LOG_DIR);
  const log = await readFile(path.join(env.LIFEBOAT_LOG_DIR, logs.find((name) => name.includes('-restore')) ?? 'none'), 'utf8');
  t.regex(log, /notice +The kernel did not read the new partition table/);
  t.true((await readFile(target)).equals(await readFile(disk)), 'the restore itself is complete');
});
