// A backup verifies its packs by reading them back from the device (O_DIRECT). Where the
// repository's filesystem cannot be read around the page cache, the verification only shows the
// packs were written whole: the backup says so, in its output and in its run log, and so does
// `check --read-data`. FUSE accepts O_DIRECT, but exfat-fuse and ntfs-3g read their disk through the
// disk's page cache, so they count as cached (before, such a backup said only "verified"). An ext4
// repository, read around the cache, gets no such notice.
// Real filesystems: exFAT by mkfs.exfat mounted with mount.exfat-fuse, NTFS by mkntfs mounted with
// ntfs-3g, ext4 by mkfs.ext4 mounted by the kernel, each on its own loop device.

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { sparseFile, withLoop } from '../helpers/filesystem-images.ts';
import { makeExt4Image } from '../helpers/repository-harness.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');
const MiB = 1024 * 1024;
const NOTICE = /note: The verification read (the pack|all \d+ packs) through the page cache, not from the device: the repository's filesystem cannot be read around the cache/;

const FILESYSTEMS = [
  { name: 'exFAT (mount.exfat-fuse)', make: ['mkfs.exfat'], mount: (device: string, at: string) => execa('mount.exfat-fuse', [device, at]), cached: true },
  { name: 'NTFS (ntfs-3g)', make: ['mkntfs', '-F', '-Q'], mount: (device: string, at: string) => execa('ntfs-3g', [device, at]), cached: true },
  { name: 'ext4 (kernel)', make: ['mkfs.ext4', '-q', '-F'], mount: (device: string, at: string) => execa('mount', [device, at]), cached: false },
] as const;

test('a repository on exFAT-FUSE or ntfs-3g: the backup says its verification read through the page cache (output and log), check --read-data too; on ext4 it does not', async (t) => {
  if (process.getuid?.() !== 0) return t.fail('needs root: loop devices and mounts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-page-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'random.bin'), randomBytes(3 * MiB));
  const source = await makeExt4Image(path.join(dir, 'source.img'), 16 * MiB, tree);
  for (const filesystem of FILESYSTEMS) {
    const image = await sparseFile(path.join(dir, `${filesystem.make[0]}.img`), 64 * MiB);
    await execa(filesystem.make[0], [...filesystem.make.slice(1), image]);
    const mountPoint = path.join(dir, `mnt-${filesystem.make[0]}`);
    await mkdir(mountPoint);
    const logs = path.join(dir, `logs-${filesystem.make[0]}`);
    const lifeboat = (args: readonly string[]) => execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: logs } });
    await withLoop(image, async (device) => {
      await filesystem.mount(device, mountPoint);
      try {
        const repo = path.join(mountPoint, 'repo');
        const backup = await lifeboat(['backup', 'partition', source, '-r', repo]);
        t.is(backup.exitCode, 0, `${filesystem.name}: ${backup.stderr}`);
        t.regex(backup.stdout, /snapshot [0-9a-f]{8} saved: .*, verified\./);
        const log = (await readdir(logs)).find((name) => name.includes('backup-partition')) ?? 'none';
        const logText = await readFile(path.join(logs, log), 'utf8');
        const check = await lifeboat(['check', '-r', repo, '--read-data']);
        t.is(check.exitCode, 0, `${filesystem.name}: ${check.stdout} ${check.stderr}`);
        if (filesystem.cached) {
          t.regex(backup.stderr, NOTICE, `${filesystem.name}: the output says so`);
          t.regex(logText, /The verification read .* through the page cache, not from the device/, `${filesystem.name}: the run log says so`);
          t.regex(check.stdout, /info: The check read .* through the page cache, not from the device/, `${filesystem.name}: check says so`);
        } else {
          t.notRegex(backup.stderr + logText, /page cache/, `${filesystem.name}: read from the device, nothing to say`);
          t.notRegex(check.stdout, /page cache/, filesystem.name);
        }
      } finally {
        await execa('umount', [mountPoint], { reject: false });
      }
    });
  }
});
