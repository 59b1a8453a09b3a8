// `lifeboat backup partition DISK.img:N`: one partition of a disk image backed up on its own (the
// restore and browse commands already take FILE:N). The snapshot names the image and the partition,
// restores byte for byte, and lists; a disk backup of FILE:N and a missing partition are refused.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { describe, errorCode, lifeboat, listSnapshots, MiB, pseudoRandomBytes } from '../helpers/repository-harness.ts';

test('backup partition DISK.img:2 backs up that partition only; it restores byte for byte and lists its files', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-image-partition-'));
  try {
    const disk = await sparseFile(path.join(dir, 'disk.img'), 24 * MiB);
    await execa('sfdisk', ['-q', disk], { input: 'label: gpt\n\nstart=2048, size=8MiB\nstart=18432, size=12MiB\n' });
    const tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'photos'), { recursive: true });
    await writeFile(path.join(tree, 'photos', 'one.bin'), pseudoRandomBytes('partition two', 300_000));
    const part2 = path.join(dir, 'p2.img');
    await execa('mkfs.ext4', ['-q', '-F', '-L', 'second', '-d', tree, part2, '12M']);
    await execa('dd', [`if=${part2}`, `of=${disk}`, 'bs=512', 'seek=18432', 'conv=notrunc,sparse', 'status=none']);
    const repo = path.join(dir, 'repo');
    const backup = await lifeboat(['backup', 'partition', `${disk}:2`, '-r', repo]);
    t.is(backup.exitCode, 0, describe(backup));
    const listed = await lifeboat(['snapshots', '-r', repo, '--json']);
    const [snapshot] = JSON.parse(listed.stdout) as Array<{ kind: string; source: { path: string; sizeBytes: number } }>;
    t.is(snapshot?.kind, 'partition');
    const source = snapshot?.source;
    t.is(source?.path, `${disk}:2`);
    t.is(source?.sizeBytes, 12 * MiB);
    const ls = await lifeboat(['ls', '-r', repo, 'latest', '/photos']);
    t.is(ls.stdout.trim(), 'one.bin', describe(ls));
    const restored = path.join(dir, 'restored.img');
    const restore = await lifeboat(['restore', '-r', repo, 'latest', restored, '--yes']);
    t.is(restore.exitCode, 0, describe(restore));
    t.true((await readFile(restored)).equals(await readFile(part2)), 'the restored partition equals the one written into the disk image');
    const asDisk = await lifeboat(['backup', 'disk', `${disk}:2`, '-r', repo]);
    t.is(errorCode(asDisk), 'LB_INPUT_USAGE', describe(asDisk));
    t.regex(asDisk.stderr, /backup partition/);
    const missing = await lifeboat(['backup', 'partition', `${disk}:7`, '-r', repo]);
    t.is(errorCode(missing), 'LB_INPUT_USAGE', describe(missing));
    t.regex(missing.stderr, /no partition 7 \(it has 1, 2\)/);
    t.is((await listSnapshots(repo)).length, 1, 'nothing else was saved');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('backup partition of a whole disk names its partitions instead of copying the disk as one volume', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-whole-disk-partition-'));
  try {
    const disk = await sparseFile(path.join(dir, 'disk.img'), 24 * MiB);
    await execa('sfdisk', ['-q', disk], { input: 'label: dos\n\nstart=2048, size=8MiB, type=83\nstart=18432, size=8MiB, type=5\nstart=20480, size=4MiB, type=7\n' });
    const repo = path.join(dir, 'repo');
    const image = await lifeboat(['backup', 'partition', disk, '-r', repo]);
    t.is(errorCode(image), 'LB_INPUT_USAGE', describe(image));
    t.is(image.exitCode, 2);
    t.true(image.stderr.includes(`${disk} is a whole disk (mbr); name one of its partitions: ${disk}:1, ${disk}:5; or back up all of it with \`backup disk ${disk}\``), image.stderr);
    const json = await lifeboat(['backup', 'partition', disk, '-r', repo, '--json']);
    t.deepEqual((JSON.parse(json.stderr) as { error: { details: { partitions: string[] } } }).error.details.partitions, [`${disk}:1`, `${disk}:5`]);
    if (process.getuid?.() === 0) {
      // A loop device whose partitions the kernel has not made devices for (no -P).
      const loop = (await execa('losetup', ['-f', '--show', '--read-only', disk])).stdout.trim();
      try {
        const device = await lifeboat(['backup', 'partition', loop, '-r', repo]);
        t.is(errorCode(device), 'LB_INPUT_USAGE', describe(device));
        t.regex(device.stderr, new RegExp(`${loop} is a whole disk \\(mbr\\); its partitions 1, 5 have no devices yet \\(blockdev --rereadpt ${loop} makes them\\)`));
      } finally {
        await execa('losetup', ['-d', loop]);
      }
    } else {
      t.log('the loop-device case needs root (losetup); only the image file was tried');
    }
    t.deepEqual(await readdir(dir), ['disk.img'], 'no repository was created');
    // A filesystem on a whole image (a FAT boot sector also ends in 55 AA) is still one partition.
    const fat = await sparseFile(path.join(dir, 'fat.img'), 8 * MiB);
    await execa('mkfs.fat', ['-n', 'WHOLE', fat]);
    const superfloppy = await lifeboat(['backup', 'partition', fat, '-r', repo]);
    t.is(superfloppy.exitCode, 0, describe(superfloppy));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
