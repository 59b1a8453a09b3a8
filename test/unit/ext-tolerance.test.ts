// The ext reader reads what e2fsck reads, and no more than a hostile image allows: a wrong
// free-blocks counter and an s_first_meta_bg past the descriptors are notices (images made by
// mke2fs, changed with debugfs ssv, compared with the unchanged copy: the same files and the same
// used-block map).

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readExtUsedBlockMap } from '../../rescue/core/block-maps/ext.ts';
import type { UsedExtent } from '../../rescue/core/block-maps/used-block-map.ts';
import { openExtTree } from '../../rescue/core/file-trees/ext-tree.ts';
import type { FileTree } from '../../rescue/core/file-trees/file-tree.ts';
import { probeExt } from '../../rescue/core/filesystems/ext.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { walkTree } from '../helpers/file-trees.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;
let work = '';

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-ext-tolerance-'));
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function withTree<T>(file: string, use: (tree: FileTree) => Promise<T>): Promise<T> {
  const source = await openByteSource(file);
  try {
    const tree = await openExtTree(source);
    if (!tree) throw new Error(`${file} holds no ext filesystem`);
    return await use(tree);
  } finally {
    await source.close();
  }
}

/** Every entry as "path kind size sha256", sorted. */
async function describeTree(file: string): Promise<{ lines: string[]; notices: readonly string[] }> {
  return withTree(file, async (tree) => {
    const walked = await walkTree(tree);
    return { lines: [...walked.values()].map((item) => `${item.path} ${item.entry.kind} ${item.entry.size} ${item.sha256 ?? ''}`).sort(), notices: tree.notices ?? [] };
  });
}

async function usedExtents(file: string): Promise<UsedExtent[]> {
  const source = await openByteSource(file);
  try {
    const map = await readExtUsedBlockMap(source);
    if (!map) throw new Error(`${file} has no ext map`);
    const extents: UsedExtent[] = [];
    for await (const extent of map.extents()) extents.push(extent);
    return extents;
  } finally {
    await source.close();
  }
}

/** An ext4 image made by mke2fs -d from a folder of a few files, and a copy changed by `debugfs -w -R ssv`. */
async function madeAndChanged(name: string, mkfs: readonly string[], ssv: string): Promise<{ original: string; changed: string }> {
  const folder = path.join(work, name);
  await mkdir(path.join(folder, 'src', 'docs'), { recursive: true });
  await writeFile(path.join(folder, 'src', 'hello.txt'), 'hello\n');
  await writeFile(path.join(folder, 'src', 'docs', 'random.bin'), randomBytes(300 * 1024));
  const original = await sparseFile(path.join(folder, 'original.img'), 8 * MiB);
  await execa('mke2fs', ['-q', '-F', ...mkfs, '-d', path.join(folder, 'src'), original]);
  const { exitCode } = await execa('e2fsck', ['-fn', original], { reject: false });
  if (exitCode !== 0) throw new Error(`e2fsck -fn ${original} exited ${exitCode}`);
  const changed = path.join(folder, 'changed.img');
  await copyFile(original, changed);
  await execa('debugfs', ['-w', '-R', `ssv ${ssv}`, changed]);
  return { original, changed };
}

test('a free-blocks count larger than the filesystem is a notice: probe, files and map as before', async (t) => {
  const { original, changed } = await madeAndChanged('free-count', ['-t', 'ext4', '-O', '64bit'], 'free_blocks_count 4294968254');
  const source = await openByteSource(changed);
  const probe = await probeExt(source).finally(() => source.close());
  t.is(probe?.freeBlocks, undefined, 'no free count is reported');
  t.is(probe?.usedBytes, undefined);
  t.regex(probe?.warnings.join('\n') ?? '', /free-blocks count \(4294968254\) is larger than the filesystem's 8192 blocks/);
  const before = await describeTree(original);
  const after = await describeTree(changed);
  t.deepEqual(after.lines, before.lines);
  t.true(before.lines.some((line) => line.startsWith('docs/random.bin file 307200 ')));
  t.regex(after.notices.join('\n'), /free-blocks count \(4294968254\)/);
  t.deepEqual(await usedExtents(changed), await usedExtents(original));
});

test('s_first_meta_bg past the descriptor blocks is a notice: every descriptor in its classic place, files and map as before', async (t) => {
  const { original, changed } = await madeAndChanged('first-meta-bg', ['-t', 'ext4', '-b', '1024', '-O', 'meta_bg,^resize_inode'], 'first_meta_bg 2');
  const probed = await execa('dumpe2fs', ['-h', changed], { reject: false });
  t.regex(probed.stderr, /superblock is corrupt/, 'libext2fs refuses it unless told to ignore superblock errors');
  const before = await describeTree(original);
  const after = await describeTree(changed);
  t.deepEqual(after.lines, before.lines);
  t.regex(after.notices.join('\n'), /s_first_meta_bg \(2\) is past the 1 group descriptor block/);
  t.deepEqual(await usedExtents(changed), await usedExtents(original));
});
