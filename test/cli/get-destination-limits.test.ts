// `get` into a destination whose filesystem cannot hold everything: an exFAT stick (exfat-fuse on
// a loop device, as a technician plugs in a USB stick). A name exFAT forbids and a symlink are
// refused one by one with LB_INPUT_DESTINATION_CANNOT_HOLD and the other files are restored; a
// destination that fills up stops the run with LB_DEVICE_WRITE_FAILED (the device group's exit
// code) and leaves no half-written file. Before, both were remarks of LB_INTERNAL, and the full
// destination kept a truncated file and went on. Needs root (losetup, mount).

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { ERROR_CATALOGUE } from '../../rescue/core/errors.ts';
import { EXIT_CODES } from '../../rescue/ui/cli/exit-codes.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');
const MiB = 1024 * 1024;

test.serial('get onto exFAT: forbidden names and links refused one by one; a full destination stops the run and leaves no partial file', async (t) => {
  if (process.getuid?.() !== 0) t.fail('needs root: it attaches a loop device and mounts exFAT with exfat-fuse');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-get-limits-'));
  const mountPoint = path.join(dir, 'stick');
  let loop = '';
  t.teardown(async () => {
    await execa('umount', [mountPoint], { reject: false });
    if (loop) await execa('losetup', ['-d', loop], { reject: false });
    await rm(dir, { recursive: true, force: true });
  });

  // The source: an ext4 image made by mke2fs -d from a folder.
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'small'), { recursive: true });
  await writeFile(path.join(tree, 'small', 'plain.txt'), 'kept\n');
  await writeFile(path.join(tree, 'small', 'time 10:30.txt'), 'a colon\n');
  await symlink('plain.txt', path.join(tree, 'small', 'link'));
  const big = randomBytes(40 * MiB);
  await writeFile(path.join(tree, 'big.bin'), big);
  const image = path.join(dir, 'source.img');
  await execa('truncate', ['-s', `${96 * MiB}`, image]);
  await execa('mkfs.ext4', ['-q', '-F', '-d', tree, image]);

  // The destination: a 24 MiB exFAT filesystem, mounted through FUSE as the medium does.
  const stickImage = path.join(dir, 'stick.img');
  await execa('truncate', ['-s', `${24 * MiB}`, stickImage]);
  await execa('mkfs.exfat', [stickImage]);
  loop = (await execa('losetup', ['--find', '--show', stickImage])).stdout.trim();
  await mkdir(mountPoint);
  await execa('mount.exfat-fuse', [loop, mountPoint]);

  const run = (args: string[]) => execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });

  const small = await run(['get', image, '/small', mountPoint]);
  t.notRegex(`${small.stdout}${small.stderr}`, /LB_INTERNAL/);
  t.is(small.exitCode, EXIT_CODES[ERROR_CATALOGUE.LB_INPUT_DESTINATION_CANNOT_HOLD.group], small.stderr);
  t.regex(small.stderr, /small\/time 10:30\.txt: not restored: .*\(LB_INPUT_DESTINATION_CANNOT_HOLD\)/);
  t.regex(small.stderr, /small\/link: not restored: .*Creating the link \S+ failed: .*\(LB_INPUT_DESTINATION_CANNOT_HOLD\)/);
  t.regex(small.stderr, /LB_INPUT_DESTINATION_CANNOT_HOLD: .*2 entries were not restored, the first /);
  t.is(await readFile(path.join(mountPoint, 'small', 'plain.txt'), 'utf8'), 'kept\n', 'the file the stick can hold is restored');
  t.deepEqual((await readdir(path.join(mountPoint, 'small'))).sort(), ['plain.txt']);

  const full = await run(['get', image, '/big.bin', mountPoint]);
  t.is(full.exitCode, EXIT_CODES[ERROR_CATALOGUE.LB_DEVICE_WRITE_FAILED.group], full.stderr);
  t.regex(full.stderr, /LB_DEVICE_WRITE_FAILED: .*big\.bin failed: the destination is full \(ENOSPC\)/);
  t.notRegex(full.stderr, /LB_INTERNAL/);
  t.false((await readdir(mountPoint)).includes('big.bin'), 'the file cut short is removed');
});
