// The repositories the TUI finds on its own: a candidate folder that is a repository, the
// repositories directly inside one (the medium's data partition), and nothing for missing folders;
// then repositories on attached disks (below).

import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseScanScope } from '../../rescue/core/attached-repositories.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { AttachedRepositories } from '../../rescue/io/attached-repositories.ts';
import { findRepositories } from '../../rescue/io/find-repositories.ts';
import { initRepository } from '../../rescue/io/repository/folder-repository.ts';
import { lifeboat } from '../helpers/repository-harness.ts';
import { makeAttachedDisk, makeExt4Disk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

test('a repository named directly, repositories one level inside a folder, no missing ones', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-find-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  await initRepository(path.join(data, 'laptop'), {});
  await initRepository(path.join(data, 'server'), {});
  await mkdir(path.join(data, 'photos'));
  await initRepository(path.join(data, 'photos', 'too-deep'), {});
  const direct = path.join(dir, 'direct');
  await initRepository(direct, {});
  const found = await findRepositories([undefined, direct, data, path.join(dir, 'missing'), direct]);
  t.deepEqual(found.sort(), [direct, path.join(data, 'laptop'), path.join(data, 'server')].sort());
});

// Repositories on attached disks (io/attached-repositories.ts), with real loop disks: an ext4 and an
// NTFS partition each holding a repository made by `lifeboat init`, an ext4 and an exFAT partition
// holding none, and a FAT one (mounted by the kernel where it has vfat, else skipped with the reason).
// Only these loop devices are scanned (the scope the TUI reads from LIFEBOAT_SCAN_DEVICES).

/** This test's mounts as /proc/mounts shows them: mount point -> options. */
async function mountsUnder(root: string): Promise<Map<string, string>> {
  const lines = (await readFile('/proc/mounts', 'utf8')).split('\n').map((line) => line.split(' '));
  return new Map(lines.filter((fields) => fields[1]?.startsWith(`${root}/`)).map((fields) => [fields[1] ?? '', `${fields[2]} ${fields[3]}`]));
}

test.serial('attached disks: found on ext4 and NTFS, mounted read-only until a backup, the others unmounted, all released at the end', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-attached-'));
  const init = async (folder: string) => {
    const result = await lifeboat(['init', '-r', folder]);
    if (result.exitCode !== 0) throw new Error(result.stderr);
  };
  const first = await makeAttachedDisk(dir, 'first.img', [
    { filesystem: 'ext4', label: 'LINUXREPO', sizeMiB: 40, repository: 'backups' },
    { filesystem: 'ext4', label: 'NOREPO', sizeMiB: 16 },
    { filesystem: 'exfat', label: 'EXNONE', sizeMiB: 16 },
  ], { lifeboatInit: init });
  const second = await makeAttachedDisk(dir, 'second.img', [
    { filesystem: 'ntfs', label: 'WINREPO', sizeMiB: 40, repository: 'Lifeboat' },
    { filesystem: 'vfat', label: 'FATNONE', sizeMiB: 16 },
  ], { lifeboatInit: init });
  const scanner = new AttachedRepositories({ scope: parseScanScope(`${first.device} ${second.device}`) });
  t.teardown(async () => {
    await scanner.release();
    await first.detach();
    await second.detach();
    await rm(dir, { recursive: true, force: true });
  });
  const root = '/run/lifeboat/mnt';
  const [ext4 = '', plain = '', exfat = ''] = first.partitions.map((device) => path.basename(device));
  const [ntfs = '', fat = ''] = second.partitions.map((device) => path.basename(device));

  const report = await scanner.scan();
  // Disks are searched in name order; the loop numbers these got are the system's choice.
  const byPath = <T extends { path: string }>(list: T[]) => [...list].sort((a, b) => a.path.localeCompare(b.path));
  t.deepEqual(byPath(report.found), byPath([
    { path: `${root}/${ext4}/backups`, place: { device: `/dev/${ext4}`, mountPoint: `${root}/${ext4}`, filesystem: 'ext4', label: 'LINUXREPO', readOnly: true } },
    { path: `${root}/${ntfs}/Lifeboat`, place: { device: `/dev/${ntfs}`, mountPoint: `${root}/${ntfs}`, filesystem: 'ntfs', label: 'WINREPO', readOnly: true } },
  ]));
  const kernelHasVfat = /\svfat$/m.test(await readFile('/proc/filesystems', 'utf8'));
  if (!kernelHasVfat) t.deepEqual(report.skipped.filter((entry) => entry.device === `/dev/${fat}`), [{ device: `/dev/${fat}`, reason: 'the kernel has no vfat driver', notable: true }]);
  let mounts = await mountsUnder(root);
  // Both sides sorted: the loop devices' numbers decide the order (loop10 sorts before loop5).
  t.deepEqual([...mounts.keys()].sort(), [`${root}/${ext4}`, `${root}/${ntfs}`].sort(), 'the partitions without a repository are unmounted again');
  t.regex(mounts.get(`${root}/${ext4}`) ?? '', /^ext4 ro,/);
  t.regex(mounts.get(`${root}/${ntfs}`) ?? '', /^fuseblk ro,/);
  for (const name of [plain, exfat, fat]) t.false(existsSync(`${root}/${name}`), `no folder left for ${name}`);

  // A second Lifeboat (the TUI on the other console) searches the same mounts and leaves them to their owner.
  const other = new AttachedRepositories({ scope: parseScanScope(`${first.device} ${second.device}`) });
  t.deepEqual(byPath((await other.scan()).found).map((entry) => entry.path), byPath(report.found).map((entry) => entry.path));
  await other.release();
  t.deepEqual([...(await mountsUnder(root)).keys()].sort(), [`${root}/${ext4}`, `${root}/${ntfs}`], 'still mounted for their owner');

  // Read-only until written: reading works (no lock file written), a backup is refused by the filesystem.
  const ext4Repo = `${root}/${ext4}/backups`;
  t.is((await lifeboat(['snapshots', '-r', ext4Repo])).exitCode, 0);
  const source = await makeExt4Disk(dir, 'source.img', 16 * MiB, 'SOURCE', sampleFiles(MiB));
  const refused = await lifeboat(['backup', 'disk', source, '-r', ext4Repo]);
  t.regex(refused.stderr, /LB_REPO_READ_ONLY[\s\S]*EROFS/);

  // A backup: the mount is made writable first (ext4 mounted again with its journal, ntfs-3g mounted again).
  for (const repository of [ext4Repo, `${root}/${ntfs}/Lifeboat`]) {
    t.regex(await scanner.prepareForWriting(repository) ?? '', /is now mounted read-write on/);
    t.is(await scanner.prepareForWriting(repository), undefined, 'nothing more to do the second time');
    t.deepEqual(scanner.placeOf(repository)?.readOnly, false);
    const backup = await lifeboat(['backup', 'disk', source, '-r', repository, '--note', 'onto an attached disk']);
    t.is(backup.exitCode, 0, backup.stderr);
    const check = await lifeboat(['check', '-r', repository, '--read-data']);
    t.is(check.exitCode, 0, check.stdout + check.stderr);
  }
  mounts = await mountsUnder(root);
  t.regex(mounts.get(`${root}/${ext4}`) ?? '', /^ext4 rw,/);
  t.notRegex(mounts.get(`${root}/${ext4}`) ?? '', /norecovery/, 'written with its journal');
  t.regex(mounts.get(`${root}/${ntfs}`) ?? '', /^fuseblk rw,/);

  // A second scan finds the same repositories on the same mounts (nothing mounted twice).
  const again = await scanner.scan();
  t.deepEqual(byPath(again.found).map((entry) => [entry.path, entry.place?.readOnly]), byPath([{ path: ext4Repo }, { path: `${root}/${ntfs}/Lifeboat` }]).map((entry) => [entry.path, false]));
  t.is((await mountsUnder(root)).size, 2);

  await scanner.release();
  t.deepEqual([...(await mountsUnder(root)).keys()], [], 'nothing stays mounted');
  t.false(existsSync(`${root}/${ext4}`));
  t.false(existsSync(`${root}/${ntfs}`));
  // The snapshots are on the disks.
  const remounted = path.join(dir, 'look');
  await mkdir(remounted);
  await execa('ntfs-3g', ['-o', 'ro', second.partitions[0] ?? '', remounted]);
  try {
    const listed = await lifeboat(['snapshots', '-r', path.join(remounted, 'Lifeboat'), '--json']);
    t.regex(listed.stdout, /onto an attached disk/);
  } finally {
    await execa('umount', [remounted]);
  }
});

test.serial('a repository on a write-protected disk is found and read; a backup to it is refused with LB_FILESYSTEM_MOUNT_FAILED', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-attached-'));
  const disk = await makeAttachedDisk(dir, 'locked.img', [{ filesystem: 'ext4', label: 'LOCKED', sizeMiB: 32, repository: 'repo' }], {
    readOnly: true,
    lifeboatInit: async (folder) => {
      if ((await lifeboat(['init', '-r', folder])).exitCode !== 0) throw new Error('init failed');
    },
  });
  const scanner = new AttachedRepositories({ scope: parseScanScope(disk.device) });
  t.teardown(async () => {
    await scanner.release();
    await disk.detach();
    await rm(dir, { recursive: true, force: true });
  });
  const name = path.basename(disk.partitions[0] ?? '');
  const { found } = await scanner.scan();
  t.deepEqual(found.map((entry) => entry.path), [`/run/lifeboat/mnt/${name}/repo`]);
  const error = await t.throwsAsync(scanner.prepareForWriting(`/run/lifeboat/mnt/${name}/repo`), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_FILESYSTEM_MOUNT_FAILED');
  t.regex(error?.message ?? '', new RegExp(`/dev/${name}`));
  // Still mounted read-only, still readable.
  t.regex((await mountsUnder('/run/lifeboat/mnt')).get(`/run/lifeboat/mnt/${name}`) ?? '', /^ext4 ro,/);
  t.is((await lifeboat(['snapshots', '-r', `/run/lifeboat/mnt/${name}/repo`])).exitCode, 0);
  await scanner.release();
  t.is((await mountsUnder('/run/lifeboat/mnt')).size, 0);
});

test.serial('two Lifeboats scanning at once (the TUIs on the screen and the serial line at boot) mount a partition once and both find its repository', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-attached-race-'));
  const disk = await makeAttachedDisk(dir, 'race.img', [{ filesystem: 'ext4', label: 'RACEREPO', sizeMiB: 24, repository: 'backups' }], {
    lifeboatInit: async (folder) => {
      if ((await lifeboat(['init', '-r', folder])).exitCode !== 0) throw new Error('init failed');
    },
  });
  const root = path.join(dir, 'mnt');
  const scanners = [0, 1].map(() => new AttachedRepositories({ scope: parseScanScope(disk.device), mountRoot: root }));
  t.teardown(async () => {
    for (const scanner of scanners) await scanner.release();
    await disk.detach();
    await rm(dir, { recursive: true, force: true });
  });
  const mountPoint = `${root}/${path.basename(disk.partitions[0] ?? '')}`;
  const reports = await Promise.all(scanners.map((scanner) => scanner.scan()));
  for (const report of reports) t.deepEqual(report.found.map((entry) => entry.path), [`${mountPoint}/backups`]);
  // Without the scan lock both mount it (ext4 stacks a second mount on the same folder; FAT on the medium refused it).
  const entries = (await readFile('/proc/mounts', 'utf8')).split('\n').filter((line) => line.split(' ')[1] === mountPoint);
  t.is(entries.length, 1, entries.join('\n'));
  t.false(existsSync(`${root}.lock`), 'the lock is gone after the scans');
  for (const scanner of scanners) await scanner.release();
  t.false((await readFile('/proc/mounts', 'utf8')).includes(mountPoint), 'released by its owner');
});
