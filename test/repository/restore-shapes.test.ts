// Restores come back byte for byte whatever the chunks hold (issue 15): the restore opens every
// chunk into a few slots of shared memory kept for the whole run, written from there while the next
// chunks are read into the others, and syncs the target as it goes. A slot handed out again before
// its write finished, a kept zstd context that carried state from one frame into the next, a chunk
// stored as is read at the wrong place, or a short last chunk would each show here as a restored
// image that differs from its source. One ext4 image holds the shapes: log text (compresses well),
// AES-CTR noise (stored as is), zero files (zero chunks, not stored), thousands of small files (many
// extents per chunk), a file ending one chunk and a bit in. It is backed up into a plain and an
// encrypted repository, backed up again after a few files changed (delta chunks), and each
// snapshot is restored onto a new image file and onto a loop device over a sparse file (a target that
// is not new: zero chunks are written), every restore compared with its source by cmp.

import test from 'ava';
import { execa } from 'execa';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const MiB = 1024 * 1024;
const IMAGE_MIB = 128;
const CLI_ENTRY = path.join(PROJECT_ROOT, 'rescue', 'bin', 'lifeboat.mjs');

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-restore-shapes-'));
});

test.after.always(async () => {
  if (workDir && !process.env.LIFEBOAT_KEEP_WORK) await rm(workDir, { recursive: true, force: true });
});

function noise(bytes: number, seed: string): Buffer {
  return createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

function logText(bytes: number, seed: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const line = `2026-12-06T20:${String(i % 60).padStart(2, '0')}:${String((i * seed) % 60).padStart(2, '0')}Z web-${(i * seed) % 7} app[${1000 + ((i * 13) % 977)}]: GET /api/v1/items/${(i * seed) % 100003} status=${i % 17 === 0 ? 500 : 200} ms=${(i * 7) % 250}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function run(file: string, args: readonly string[]): Promise<string> {
  const result = await execa(file, args, { reject: false, all: true, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.exitCode}:\n${String(result.all).slice(-3000)}`);
  return String(result.stdout);
}

const lifeboat = (args: readonly string[]) => run(process.execPath, [CLI_ENTRY, ...args]);

/** Attaches a loop device over `file` while `use` runs. */
async function withLoop<T>(file: string, use: (device: string) => Promise<T>): Promise<T> {
  const { stdout } = await execa('losetup', ['--find', '--show', file]);
  const device = stdout.trim();
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

async function withMounted(image: string, work: (root: string) => Promise<void>): Promise<void> {
  const mountPoint = path.join(workDir, 'mnt');
  await mkdir(mountPoint, { recursive: true });
  await withLoop(image, async (device) => {
    await run('mount', ['-t', 'ext4', device, mountPoint]);
    try {
      await work(mountPoint);
    } finally {
      await run('umount', [mountPoint]);
    }
  });
}

/** Fills the image with every shape. */
async function populate(root: string): Promise<void> {
  await mkdir(path.join(root, 'small'));
  await writeFile(path.join(root, 'text.log'), logText(24 * MiB, 3));
  await writeFile(path.join(root, 'noise.bin'), noise(20 * MiB, 'noise'));
  await writeFile(path.join(root, 'zeros.img'), Buffer.alloc(12 * MiB));
  await writeFile(path.join(root, 'tail.bin'), Buffer.concat([logText(MiB, 5), noise(4097, 'tail')]));
  for (let i = 0; i < 3000; i++) {
    const size = 100 + ((i * 7919) % 9000);
    await writeFile(path.join(root, 'small', `f${i}.${i % 3 === 0 ? 'bin' : 'txt'}`), i % 3 === 0 ? noise(size, `small-${i}`) : logText(size, i));
  }
}

/** Writes `bytes` at `offset` of a file, in place. */
async function patch(file: string, offset: number, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, offset);
  } finally {
    await handle.close();
  }
}

/**
 * A few bytes of some files rewritten in place: the second backup stores their chunks as deltas.
 * In place, so that no block is freed: a freed block keeps its old bytes in the image, which a
 * restore (of used blocks) does not bring back, and the images would not compare.
 */
async function change(root: string): Promise<void> {
  for (let at = 0; at < 24 * MiB; at += 3 * MiB) await patch(path.join(root, 'text.log'), at + 4096, Buffer.from('CHANGED'));
  for (let at = 0; at < 20 * MiB; at += 5 * MiB) await patch(path.join(root, 'noise.bin'), at + 777, noise(16, `patch-${at}`));
  for (let i = 1; i < 3000; i += 97) if (i % 3 !== 0) await patch(path.join(root, 'small', `f${i}.txt`), 50, Buffer.from('changed'));
}

async function identical(a: string, b: string): Promise<boolean> {
  return (await execa('cmp', ['-s', a, b], { reject: false })).exitCode === 0;
}

test('restores are byte-identical to their sources for text, noise, zero, small-file and delta chunks, plain and encrypted, onto a new image file and onto a loop device', async (t) => {
  t.timeout(20 * 60_000);
  if (process.getuid?.() !== 0) t.fail('this test needs root (loop devices and an ext4 mount)');
  const first = path.join(workDir, 'first.img');
  const second = path.join(workDir, 'second.img');
  await run('truncate', ['-s', `${IMAGE_MIB}M`, first]);
  await run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', first]);
  await withMounted(first, populate);
  await run('cp', ['--sparse=always', first, second]);
  await withMounted(second, change);
  const passwordFile = path.join(workDir, 'password');
  await writeFile(passwordFile, 'restore shapes\n');
  for (const encrypted of [false, true]) {
    const repository = path.join(workDir, encrypted ? 'encrypted' : 'plain');
    const key = encrypted ? ['--password-file', passwordFile] : [];
    await lifeboat(['init', '-r', repository, ...(encrypted ? ['--encrypt'] : []), ...key]);
    // The second snapshot is a backup of the same path, so that its changed chunks become deltas.
    const source = path.join(workDir, 'source.img');
    await run('cp', ['--sparse=always', first, source]);
    await lifeboat(['backup', 'partition', source, '-r', repository, '--tag', 'first', ...key]);
    await run('cp', ['--sparse=always', second, source]);
    const done = JSON.parse((await lifeboat(['backup', 'partition', source, '-r', repository, '--tag', 'second', '--json', ...key])).trim().split('\n').at(-1)!) as { stats: { deltaChunks: number } };
    t.true(done.stats.deltaChunks > 0, `the second backup stored no delta chunks: ${JSON.stringify(done.stats)}`);
    for (const [tag, original] of [['first', first], ['second', second]] as const) {
      const onFile = path.join(workDir, `restored-${tag}.img`);
      await rm(onFile, { force: true });
      await lifeboat(['restore', '-r', repository, 'latest', '--tag', tag, onFile, '--yes', ...key]);
      t.true(await identical(original, onFile), `${encrypted ? 'encrypted' : 'plain'} ${tag}: the restore onto a new image file differs from its source`);
      await rm(onFile, { force: true });
      const backing = path.join(workDir, `device-${tag}.img`);
      await run('truncate', ['-s', `${IMAGE_MIB}M`, backing]);
      await withLoop(backing, (device) => lifeboat(['restore', '-r', repository, 'latest', '--tag', tag, device, '--yes', ...key]));
      t.true(await identical(original, backing), `${encrypted ? 'encrypted' : 'plain'} ${tag}: the restore onto a loop device differs from its source`);
      await rm(backing, { force: true });
    }
  }
});

/** Bytes a file takes on its filesystem (its allocated blocks). */
async function allocatedBytes(file: string): Promise<number> {
  const { stdout } = await execa('stat', ['-c', '%b %B', file]);
  const [blocks, unit] = stdout.trim().split(' ').map(Number);
  return blocks! * unit!;
}

test('a disk restore onto an existing sparse image file leaves its zero gaps as holes, and onto a loop device over old data writes them', async (t) => {
  t.timeout(10 * 60_000);
  if (process.getuid?.() !== 0) t.fail('this test needs root (loop devices)');
  // 96 MiB: two small ext4 partitions with a 30 MiB gap between them and 30 MiB after them.
  const disk = path.join(workDir, 'gaps-disk.img');
  await run('truncate', ['-s', '96M', disk]);
  await execa('sfdisk', ['-q', disk], { input: 'label: gpt\nstart=2048, size=32768, type=linux\nstart=94208, size=32768, type=linux\n' });
  for (const start of [2048, 94208]) {
    await withLoopAt(disk, start * 512, 16 * MiB, (device) => run('mkfs.ext4', ['-q', '-F', device]));
  }
  const repository = path.join(workDir, 'gaps-repo');
  await lifeboat(['init', '-r', repository]);
  await lifeboat(['backup', 'disk', disk, '-r', repository]);
  const sourceAllocated = await allocatedBytes(disk);
  // An existing sparse file (not a new file, so the restore plans its zero step), and a loop device
  // whose backing file holds random bytes in the gaps (they must come back zeros).
  const sparse = path.join(workDir, 'gaps-target.img');
  await run('truncate', ['-s', '96M', sparse]);
  await lifeboat(['restore', '-r', repository, 'latest', sparse, '--yes']);
  t.true(await identical(disk, sparse), 'the restore onto an existing sparse image differs from its source');
  const restoredAllocated = await allocatedBytes(sparse);
  // Written zeros in the gaps would take ~60 MiB more than the source.
  t.true(restoredAllocated <= sourceAllocated + 4 * MiB, `the target takes ${restoredAllocated} bytes, the source ${sourceAllocated}: the gaps were written`);
  const backing = path.join(workDir, 'gaps-device.img');
  await writeFile(backing, noise(96 * MiB, 'old disk'));
  await withLoop(backing, (device) => lifeboat(['restore', '-r', repository, 'latest', device, '--yes']));
  // The partitions' free blocks keep the old bytes; the gaps between and after them must be zeros.
  for (const [from, to] of [[34816, 94208], [126976, 196608 - 34]] as const) {
    const same = (await execa('cmp', ['-s', '-i', `${from * 512}:${from * 512}`, '-n', String((to - from) * 512), disk, backing], { reject: false })).exitCode === 0;
    t.true(same, `sectors ${from}..${to} of the restore onto a loop device over old data differ from the source's zeros`);
  }
});

/** A loop device over a byte range of `file`. */
async function withLoopAt<T>(file: string, offset: number, size: number, use: (device: string) => Promise<T>): Promise<T> {
  const { stdout } = await execa('losetup', ['--find', '--show', '--offset', String(offset), '--sizelimit', String(size), file]);
  const device = stdout.trim();
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}
