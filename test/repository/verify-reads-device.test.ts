// Verification reads packs back from the device, not from the page cache that still holds what
// was written: a repository on a real ext4 (loop device) whose pack loses bytes on the "device"
// (the backing image is changed under the mounted filesystem, whose cache keeps the good bytes, as
// with a USB stick that drops writes) passes a buffered read, and `check --read-data` still finds it.

import test from 'ava';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sparseFile, withLoop, writeAt } from '../helpers/filesystem-images.ts';
import { lifeboat, MiB } from '../helpers/repository-harness.ts';

/** Physical byte offset of a file's first block on its filesystem (filefrag's extent list). */
async function firstBlockOffset(file: string): Promise<number> {
  const { stdout } = await execa('filefrag', ['-v', '-b4096', file]);
  const match = /^\s*0:\s+0\.\.\s*\d+:\s+(\d+)\.\./m.exec(stdout);
  if (!match) throw new Error(`no first extent in filefrag output:\n${stdout}`);
  return Number(match[1]) * 4096;
}

test.serial('check --read-data finds a pack the device lost bytes of while the page cache still holds them whole', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-direct-verify-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const image = await sparseFile(path.join(dir, 'fs.img'), 128 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', image]);
  const source = path.join(dir, 'source.img');
  await writeFile(source, randomBytes(6 * MiB));
  const mountPoint = path.join(dir, 'mnt');
  await mkdir(mountPoint);
  await withLoop(image, async (device) => {
    await execa('mount', [device, mountPoint]);
    try {
      const repo = path.join(mountPoint, 'repo');
      const backup = await lifeboat(['backup', 'partition', source, '-r', repo]);
      t.is(backup.exitCode, 0, backup.stderr);
      const folder = (await readdir(path.join(repo, 'data'))).find((name) => /^[0-9a-f]{2}$/.test(name));
      if (!folder) throw new Error('no pack folder');
      const name = (await readdir(path.join(repo, 'data', folder)))[0]!;
      const pack = path.join(repo, 'data', folder, name);
      const id = name.replace(/\.pack$/, '');
      await execa('sync');
      // The pack's bytes on the device change; the mounted filesystem's cache of the pack does not.
      const offset = await firstBlockOffset(pack);
      await writeAt(image, offset + 1000, randomBytes(16));
      const cached = createHash('sha256').update(await readFile(pack)).digest('hex');
      t.is(cached, id, 'a buffered read still sees the pack whole (from the page cache): the setup tests what it means to');
      const check = await lifeboat(['check', '-r', repo, '--read-data']);
      t.not(check.exitCode, 0, check.stdout);
      t.regex(check.stdout + check.stderr, /LB_REPO_DATA_CORRUPT/);
      t.regex(check.stdout + check.stderr, new RegExp(`${id.slice(0, 8)}[0-9a-f]* does not match its hash \\(damaged, as read back from the device\\)`));
    } finally {
      await execa('umount', [mountPoint], { reject: false });
    }
  });
});
