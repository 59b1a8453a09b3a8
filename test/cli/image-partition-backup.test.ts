// `lifeboat backup partition DISK.img:N`: one partition of a disk image backed up on its own (the
// restore and browse commands already take FILE:N). The snapshot names the image and the partition,
// restores byte for byte, and lists; a disk backup of FILE:N and a missing partition are refused.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
