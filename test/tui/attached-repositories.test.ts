// The TUI finds a repository on an attached disk by itself (keys only, tmux at 80x25): the home
// screen lists it with its partition and label, read-only; a backup into it mounts it read-write
// first; quitting unmounts it; the backup leaves a run log that `logs list` shows with its outcome.
// The search is limited to the test's loop disk (LIFEBOAT_SCAN_DEVICES).

import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lifeboat } from '../helpers/repository-harness.ts';
import { openLifeboatTui, typeLine } from '../helpers/tmux.ts';
import { makeAttachedDisk, makeExt4Disk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

const LONG_MS = 180_000;
const STEP_MS = 60_000;

/** Lines of /proc/mounts for mount points under `root`: mount point -> "type options". */
async function mountsUnder(root: string): Promise<Map<string, string>> {
  const lines = (await readFile('/proc/mounts', 'utf8')).split('\n').map((line) => line.split(' '));
  return new Map(lines.filter((fields) => fields[1]?.startsWith(`${root}/`)).map((fields) => [fields[1] ?? '', `${fields[2]} ${fields[3]}`]));
}

test.serial('home lists a repository found on an attached loop disk; a backup into it mounts it read-write; quitting unmounts it', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-attached-'));
  const disk = await makeAttachedDisk(dir, 'usb.img', [
    { filesystem: 'ext4', label: 'TUIREPO', sizeMiB: 48, repository: 'backups' },
    { filesystem: 'ext4', label: 'EMPTY', sizeMiB: 16 },
  ], {
    lifeboatInit: async (folder) => {
      const result = await lifeboat(['init', '-r', folder]);
      if (result.exitCode !== 0) throw new Error(result.stderr);
    },
  });
  const source = await makeExt4Disk(dir, 'laptop.img', 24 * MiB, 'LAPTOP', sampleFiles(2 * MiB));
  const logDir = path.join(dir, 'logs');
  const session = await openLifeboatTui({ env: { LIFEBOAT_SCAN_DEVICES: disk.device, LIFEBOAT_LOG_DIR: logDir } });
  const [repoPartition = '', emptyPartition = ''] = disk.partitions.map((device) => path.basename(device));
  const mountPoint = `/run/lifeboat/mnt/${repoPartition}`;
  const repository = `${mountPoint}/backups`;
  t.teardown(async () => {
    await session.close();
    await execa('umount', [mountPoint], { reject: false });
    await disk.detach();
    await rm(dir, { recursive: true, force: true });
  });

  const home = await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repoPartition}, ext4 "TUIREPO", read-only: /backups`), STEP_MS);
  t.notRegex(home, new RegExp(`${emptyPartition}, ext4`), 'the partition without a repository is not listed');
  let mounts = await mountsUnder('/run/lifeboat/mnt');
  t.regex(mounts.get(mountPoint) ?? '', /^ext4 ro,/, 'mounted read-only while only searched');
  t.false(mounts.has(`/run/lifeboat/mnt/${emptyPartition}`), 'the partition without a repository is unmounted');

  // Backup disk -> typed image -> the found repository (listed with its partition) -> options -> progress.
  await session.sendKeys('b');
  await session.waitFor(/What to back up\?/);
  await session.sendKeys('d');
  await session.waitFor(/Backup disk: source[\s\S]*Type a device/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await typeLine(session, source);
  const chooser = await session.waitFor(/Backup: repository/);
  t.regex(chooser, new RegExp(`${repository}\\s+\\(${repoPartition}, ext4 "TUIREPO", read-only\\)`));
  await session.sendKeys('Enter');
  const writable = await session.waitFor(/Mounted for writing/, STEP_MS);
  t.regex(writable, new RegExp(`/dev/${repoPartition} \\(ext4\\) is now mounted read-write`));
  t.regex((await mountsUnder('/run/lifeboat/mnt')).get(mountPoint) ?? '', /^ext4 rw,/);
  await session.sendKeys('Enter');
  await session.waitFor(/Start the backup/);
  await session.sendKeys('s');
  const done = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(done, /Snapshot [0-9a-f]{8} saved/);
  await session.sendKeys('Enter');
  const after = await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repoPartition}, ext4 "TUIREPO": /backups`), STEP_MS);
  t.notRegex(after, /TUIREPO", read-only/);
  mounts = await mountsUnder('/run/lifeboat/mnt');
  t.regex(mounts.get(mountPoint) ?? '', /^ext4 rw,/);

  await session.sendKeys('q');
  t.is(await session.waitForExit(STEP_MS), 0);
  t.deepEqual([...(await mountsUnder('/run/lifeboat/mnt')).keys()].filter((point) => point.includes(path.basename(disk.device))), [], 'nothing of the disk stays mounted');
  t.false(existsSync(mountPoint), 'the mount folder is removed');

  // The TUI's backup wrote a run log, as the same command typed in a shell would.
  const logs = await lifeboat(['logs', 'list'], { env: { LIFEBOAT_LOG_DIR: logDir } });
  t.regex(logs.stdout, /^\d{8}T\d{6}\.\d{3}Z-backup-disk\.log\s+[\d.]+ K?i?B\s+success$/m);
  const [logName = ''] = (JSON.parse((await lifeboat(['logs', 'list', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } })).stdout) as { logs: Array<{ name: string }> }).logs.map((entry) => entry.name);
  const logText = await readFile(path.join(logDir, logName), 'utf8');
  t.regex(logText, new RegExp(`start\\s+lifeboat backup disk ${source} -r ${repository}`));
  t.regex(logText, /event\s+started from the TUI/);
  t.regex(logText, /progress\s+backup ended: \d+ of \d+ bytes/);
  t.regex(logText, /out\s+Snapshot [0-9a-f]{8} saved/);
  t.regex(logText, /result\s+success/);

  // The snapshot is on the disk.
  const look = path.join(dir, 'look');
  await mkdir(look);
  await execa('mount', ['-o', 'ro', disk.partitions[0] ?? '', look]);
  try {
    const listed = JSON.parse((await lifeboat(['snapshots', '-r', path.join(look, 'backups'), '--json'])).stdout) as Array<{ manifest?: { kind?: string } }>;
    t.is(listed.length, 1);
  } finally {
    await execa('umount', [look]);
  }
});

test.serial('a TUI ended by its terminal closing (SIGHUP) unmounts what it mounted', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-attached-'));
  const disk = await makeAttachedDisk(dir, 'stick.img', [{ filesystem: 'ntfs', label: 'STICK', sizeMiB: 32, repository: 'Lifeboat' }], {
    lifeboatInit: async (folder) => {
      if ((await lifeboat(['init', '-r', folder])).exitCode !== 0) throw new Error('init failed');
    },
  });
  const session = await openLifeboatTui({ env: { LIFEBOAT_SCAN_DEVICES: disk.device } });
  const mountPoint = `/run/lifeboat/mnt/${path.basename(disk.partitions[0] ?? '')}`;
  t.teardown(async () => {
    await session.close();
    await execa('umount', [mountPoint], { reject: false });
    await disk.detach();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(/STICK", read-only: \/Lifeboat/, STEP_MS);
  t.regex((await mountsUnder('/run/lifeboat/mnt')).get(mountPoint) ?? '', /^fuseblk ro,/);
  // Killing the tmux server closes the terminal: the TUI gets SIGHUP.
  await session.close();
  // The mount goes first, its folder right after: wait for both (under load the check fell between them).
  for (let tries = 0; tries < 100 && ((await mountsUnder('/run/lifeboat/mnt')).has(mountPoint) || existsSync(mountPoint)); tries++) await new Promise((resolve) => setTimeout(resolve, 200));
  t.false((await mountsUnder('/run/lifeboat/mnt')).has(mountPoint), 'unmounted on the way out');
  t.false(existsSync(mountPoint));
});
