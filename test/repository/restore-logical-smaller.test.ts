// An MBR disk whose extended partition runs to the end of the disk but whose two logical ext4
// partitions end well before it (as sfdisk makes it with "size=" left empty), backed up and restored
// onto a smaller loop device: the extended partition's MBR slot is shrunk to the target's end, the
// EBR chain and the logical partitions stay where they were. Checked with sfdisk -d, e2fsck -fn on
// each partition, and the files read back through a read-only mount. A target too small for the
// logical partitions is still refused.

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { errorCode, lifeboat } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const env = { env: { LIFEBOAT_PASSWORD: 'logical partitions' } };
let work = '';
const loops: string[] = [];

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-logical-'));
});

test.after.always(async () => {
  if (!work) return;
  await execa('umount', [path.join(work, 'mnt')], { reject: false });
  for (const loop of loops) await execa('losetup', ['-d', loop], { reject: false });
  await rm(work, { recursive: true, force: true });
});

interface Slot {
  readonly node: string;
  readonly start: number;
  readonly size: number;
  readonly type: string;
}

async function slots(disk: string): Promise<Slot[]> {
  const { stdout } = await execa('sfdisk', ['-d', disk]);
  const found: Slot[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^(\S+) : start=\s*(\d+), size=\s*(\d+), type=(\w+)/.exec(line);
    if (match) found.push({ node: match[1]!.slice(-1), start: Number(match[2]), size: Number(match[3]), type: match[4]! });
  }
  return found;
}

/** Attaches [start, start+size) sectors of `file` as a loop device (detached in teardown if the test fails first). */
async function attach(file: string, slot: Slot): Promise<string> {
  const { stdout } = await execa('losetup', ['-f', '--show', '--offset', String(slot.start * SECTOR), '--sizelimit', String(slot.size * SECTOR), file]);
  const loop = stdout.trim();
  loops.push(loop);
  return loop;
}

async function detach(loop: string): Promise<void> {
  await execa('losetup', ['-d', loop]);
  loops.splice(loops.indexOf(loop), 1);
}

function content(partition: string, index: number): Buffer {
  const out = Buffer.alloc(200_000 + index * 1000);
  for (let offset = 0, counter = 0; offset < out.length; counter++) offset += createHash('sha256').update(`${partition}:${index}:${counter}`).digest().copy(out, offset);
  return out;
}

test('logical partitions onto a smaller disk: the extended slot shrinks, EBRs and logicals keep their places, every filesystem checks clean and holds its files', async (t) => {
  const disk = await sparseFile(path.join(work, 'disk.img'), 200 * MiB);
  await execa('sfdisk', ['-q', disk], { input: 'label: dos\nstart=2048, size=40M, type=83\nstart=, size=, type=5\nsize=40M, type=83\nsize=40M, type=83\n' });
  const source = await slots(disk);
  t.deepEqual(source.map((slot) => `${slot.node}:${slot.type}`), ['1:83', '2:5', '5:83', '6:83']);
  const extended = source[1]!;
  t.is((extended.start + extended.size) * SECTOR, 200 * MiB, 'sfdisk ran the extended partition to the end of the disk');
  const mnt = path.join(work, 'mnt');
  await mkdir(mnt);
  const data = source.filter((slot) => slot.type === '83');
  for (const slot of data) {
    const loop = await attach(disk, slot);
    try {
      await execa('mkfs.ext4', ['-q', '-L', `part${slot.node}`, loop]);
      await execa('mount', [loop, mnt]);
      try {
        for (let i = 0; i < 3; i++) await writeFile(path.join(mnt, `file-${i}.bin`), content(slot.node, i));
      } finally {
        await execa('umount', [mnt]);
      }
    } finally {
      await detach(loop);
    }
  }
  const repo = path.join(work, 'repo');
  t.is((await lifeboat(['init', '-r', repo], env)).exitCode, 0);
  const backup = await lifeboat(['backup', 'disk', disk, '-r', repo], env);
  t.is(backup.exitCode, 0, backup.stderr);

  // 150 MiB: less than the disk, more than the last logical partition's end (about 123 MiB).
  const smallFile = await sparseFile(path.join(work, 'small.img'), 150 * MiB);
  const small = (await execa('losetup', ['-f', '--show', smallFile])).stdout.trim();
  loops.push(small);
  try {
    const restore = await lifeboat(['restore', '-r', repo, 'latest', small, '--yes'], env);
    t.is(restore.exitCode, 0, restore.stderr);
    t.regex(restore.stdout, /shrink the extended partition 2/);
    const restored = await slots(small);
    t.deepEqual(restored.map((slot) => `${slot.node}:${slot.start}:${slot.size}:${slot.type}`), [
      `1:${source[0]!.start}:${source[0]!.size}:83`,
      `2:${extended.start}:${(150 * MiB) / SECTOR - extended.start}:5`,
      `5:${source[2]!.start}:${source[2]!.size}:83`,
      `6:${source[3]!.start}:${source[3]!.size}:83`,
    ]);
  } finally {
    await detach(small);
  }
  for (const slot of data) {
    const loop = await attach(smallFile, slot);
    try {
      const fsck = await execa('e2fsck', ['-fn', loop], { reject: false });
      t.is(fsck.exitCode, 0, `partition ${slot.node}: ${fsck.stdout}`);
      await execa('mount', ['-o', 'ro', loop, mnt]);
      try {
        for (let i = 0; i < 3; i++) t.deepEqual(await readFile(path.join(mnt, `file-${i}.bin`)), content(slot.node, i), `partition ${slot.node} file-${i}.bin`);
      } finally {
        await execa('umount', [mnt]);
      }
    } finally {
      await detach(loop);
    }
  }

  // 100 MiB cannot hold the second logical partition: refused, nothing written.
  const tooSmall = await sparseFile(path.join(work, 'too-small.img'), 100 * MiB);
  const refused = await lifeboat(['restore', '-r', repo, 'latest', tooSmall, '--yes'], env);
  t.is(errorCode(refused), 'LB_DEVICE_TARGET_TOO_SMALL');
});
