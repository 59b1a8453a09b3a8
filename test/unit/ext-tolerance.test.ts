// The ext reader reads what e2fsck reads, and no more than a hostile image allows: a wrong
// free-blocks counter and an s_first_meta_bg past the descriptors are notices (images made by
// mke2fs, changed with debugfs ssv, compared with the unchanged copy: the same files and the same
// used-block map); an extent tree of depth 7 (e2fsprogs' f_extent_too_deep) reads as debugfs reads
// it; an index or indirect block named twice is refused (crafted); symlinks whose target is empty
// or longer than Linux allows (f_badsymlinks, f_badsymlinks2) cost only their entry, with a code.

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readExtUsedBlockMap } from '../../rescue/core/block-maps/ext.ts';
import type { UsedExtent } from '../../rescue/core/block-maps/used-block-map.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { openExtTree } from '../../rescue/core/file-trees/ext-tree.ts';
import type { FileTree } from '../../rescue/core/file-trees/file-tree.ts';
import { walkPath } from '../../rescue/core/file-trees/walk-path.ts';
import { probeExt } from '../../rescue/core/filesystems/ext.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { unpackE2fsImage } from '../helpers/e2fs-corpus.ts';
import { walkTree } from '../helpers/file-trees.ts';
import { sparseFile, writeAt } from '../helpers/filesystem-images.ts';

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

function isCorrupt(error: unknown, pattern: RegExp): boolean {
  return error instanceof LifeboatError && error.code === 'LB_FILESYSTEM_CORRUPT' && pattern.test(error.message);
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

test('an extent tree of depth 7 (f_extent_too_deep) reads as debugfs reads it', async (t) => {
  const image = await unpackE2fsImage('f_extent_too_deep', path.join(work, 'f_extent_too_deep.img'));
  const stat = await execa('debugfs', ['-R', 'stat /a', image]);
  t.regex(stat.stdout, /\(ETB6\)/, 'the file has seven levels of index blocks');
  const expected = (await execa('debugfs', ['-R', 'cat /a', image], { encoding: 'buffer' })).stdout;
  const content = await withTree(image, async (tree) => {
    const { entry } = await walkPath(tree, '/a');
    const opened = await tree.openFile(entry);
    return opened.read(0, opened.size);
  });
  t.deepEqual(Buffer.from(content), Buffer.from(expected));
  t.is(content.length, 1);
});

/** The absolute byte offset of inode `number`, from debugfs imap. */
async function inodeOffset(image: string, number: number, blockSize: number): Promise<number> {
  const { stdout } = await execa('debugfs', ['-R', `imap <${number}>`, image]);
  const match = /located at block (\d+), offset (0x[0-9a-f]+)/.exec(stdout);
  if (!match) throw new Error(`debugfs imap: ${stdout}`);
  return Number(match[1]) * blockSize + Number(match[2]);
}

async function inodeNumber(image: string, file: string): Promise<number> {
  const { stdout } = await execa('debugfs', ['-R', `stat ${file}`, image]);
  const match = /^Inode: (\d+)/m.exec(stdout);
  if (!match) throw new Error(`debugfs stat: ${stdout}`);
  return Number(match[1]);
}

test('an extent index block named twice is refused instead of walked again and again', async (t) => {
  const folder = path.join(work, 'extent-dag');
  await mkdir(path.join(folder, 'src'), { recursive: true });
  await writeFile(path.join(folder, 'src', 'file.bin'), randomBytes(8192));
  const image = await sparseFile(path.join(folder, 'fs.img'), 8 * MiB);
  await execa('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-O', '^metadata_csum', '-d', path.join(folder, 'src'), image]);
  const at = await inodeOffset(image, await inodeNumber(image, '/file.bin'), 1024);
  const leafBlock = 8000; // free: mke2fs -d packs the few used blocks at the start
  // i_block: a depth-1 root with two index entries (logical 0 and 1) naming the same empty leaf.
  const root = Buffer.alloc(60);
  root.writeUInt16LE(0xf30a, 0);
  root.writeUInt16LE(2, 2);
  root.writeUInt16LE(4, 4);
  root.writeUInt16LE(1, 6);
  for (const [index, logical] of [[0, 0], [1, 1]] as const) {
    root.writeUInt32LE(logical, 12 + index * 12);
    root.writeUInt32LE(leafBlock, 12 + index * 12 + 4);
  }
  await writeAt(image, at + 0x28, root);
  const leaf = Buffer.alloc(1024);
  leaf.writeUInt16LE(0xf30a, 0);
  leaf.writeUInt16LE(0, 2);
  leaf.writeUInt16LE(84, 4);
  await writeAt(image, leafBlock * 1024, leaf);
  const error = await withTree(image, async (tree) => {
    const { entry } = await walkPath(tree, '/file.bin');
    return (await tree.openFile(entry)).read(0, 1024).then(() => undefined, (thrown: unknown) => thrown);
  });
  t.true(isCorrupt(error, /block 8000 is named twice in the extent tree/), String(error));
});

test('an indirect block named twice is refused instead of walked again and again', async (t) => {
  const folder = path.join(work, 'indirect-dag');
  await mkdir(path.join(folder, 'src'), { recursive: true });
  await writeFile(path.join(folder, 'src', 'file.bin'), randomBytes(600 * 1024)); // 600 blocks: the double-indirect block's first two entries are used
  const image = await sparseFile(path.join(folder, 'fs.img'), 8 * MiB);
  await execa('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', '1024', '-d', path.join(folder, 'src'), image]);
  const at = await inodeOffset(image, await inodeNumber(image, '/file.bin'), 1024);
  const inode = (await readFile(image)).subarray(at, at + 128);
  const doubleIndirect = inode.readUInt32LE(0x28 + 13 * 4);
  t.true(doubleIndirect > 0);
  const firstEntry = (await readFile(image)).readUInt32LE(doubleIndirect * 1024);
  const second = Buffer.alloc(4);
  second.writeUInt32LE(firstEntry, 0);
  await writeAt(image, doubleIndirect * 1024 + 4, second);
  const error = await withTree(image, async (tree) => {
    const { entry } = await walkPath(tree, '/file.bin');
    return (await tree.openFile(entry)).read(0, 1024).then(() => undefined, (thrown: unknown) => thrown);
  });
  t.true(isCorrupt(error, new RegExp(`block ${firstEntry} is named twice in the block map`)), String(error));
});

test('symlinks with an empty target or one longer than Linux allows cost only their entry (f_badsymlinks, f_badsymlinks2)', async (t) => {
  const first = await unpackE2fsImage('f_badsymlinks', path.join(work, 'f_badsymlinks.img'));
  await withTree(first, async (tree) => {
    for (const name of ['/empty_link', '/empty_fastlink']) {
      const { entry } = await walkPath(tree, name);
      const error = await tree.readLink(entry).then(() => undefined, (thrown: unknown) => thrown);
      t.true(isCorrupt(error, /the symlink has an empty target/), `${name}: ${String(error)}`);
    }
    t.is(await tree.readLink((await walkPath(tree, '/long_fastlink')).entry), 'a'.repeat(59));
  });
  const second = await unpackE2fsImage('f_badsymlinks2', path.join(work, 'f_badsymlinks2.img'));
  await withTree(second, async (tree) => {
    for (const name of ['/default/one_too_long', '/default/too_long', '/extents/one_too_long']) {
      const { entry } = await walkPath(tree, name);
      const error = await tree.readLink(entry).then(() => undefined, (thrown: unknown) => thrown);
      t.true(isCorrupt(error, /symlink target is longer than Linux allows \(4095 bytes\)/), `${name}: ${String(error)}`);
    }
    t.is(await tree.readLink((await walkPath(tree, '/default/slow_max')).entry), 'A'.repeat(4095), 'the longest target Linux allows still reads');
    const listed = await tree.list((await walkPath(tree, '/default')).entry);
    t.is(listed.filter((entry) => entry.kind === 'symlink').length, 11, 'the folder lists every link');
  });
});

test('a journal inode that is not a journal is replaced by its superblock copy, as e2fsck does (f_journal)', async (t) => {
  const image = await unpackE2fsImage('f_journal', path.join(work, 'f_journal.img'));
  const replayed = path.join(work, 'f_journal.replayed.img');
  await copyFile(image, replayed);
  await execa('e2fsck', ['-E', 'journal_only', '-fy', replayed], { reject: false });
  const rdump = path.join(work, 'f_journal.rdump');
  await mkdir(rdump);
  await execa('debugfs', ['-R', `rdump / ${rdump}`, replayed]);
  const expected = (await execa('find', ['.', '-type', 'f', '-exec', 'sha256sum', '{}', '+'], { cwd: rdump })).stdout.split('\n').map((line) => {
    const [hash, file] = line.split(/\s+/);
    return `${(file ?? '').slice(2)} ${hash}`;
  }).sort();
  const { lines, notices } = await describeTree(image);
  t.regex(notices.join('\n'), /journal inode 12 is damaged .*its copy in the superblock \(s_jnl_blocks\) was used/);
  t.regex(notices.join('\n'), /6 committed journal transaction\(s\)/);
  // e2fsck also moves the visible journal file /journal to the hidden inode 8; the reader shows it as it stands.
  const files = lines.filter((line) => / file /.test(line) && !line.startsWith('journal ')).map((line) => { const [file, , , hash] = line.split(' '); return `${file} ${hash}`; }).sort();
  t.is(files.length, 21);
  t.deepEqual(files, expected);
});

test('used-block map: a BLOCK_UNINIT group that holds data has its bitmap read; a block bitmap on the superblock is refused (f_uninit_set_inode_not_set, f_miss_blk_bmap)', async (t) => {
  const uninit = await unpackE2fsImage('f_uninit_set_inode_not_set', path.join(work, 'f_uninit_set_inode_not_set.img'));
  const { stdout } = await execa('debugfs', ['-R', 'blocks /Documentation/00-INDEX', uninit]);
  const blocks = stdout.trim().split(/\s+/).map(Number);
  t.true(blocks.length > 0 && blocks.every((block) => block > 8192 && block <= 16384), 'the file lives in group 1, marked BLOCK_UNINIT');
  const extents = await usedExtents(uninit);
  const covered = (block: number) => extents.some((extent) => extent.offset <= block * 1024 && block * 1024 + 1024 <= extent.offset + extent.length);
  t.deepEqual(blocks.filter((block) => !covered(block)), [], 'every block of the file is in the map');
  const missing = await unpackE2fsImage('f_miss_blk_bmap', path.join(work, 'f_miss_blk_bmap.img'));
  const error = await usedExtents(missing).then(() => undefined, (thrown: unknown) => thrown);
  t.true(isCorrupt(error, /group 0's block bitmap at block 0 lies outside .* or on a superblock/), String(error));
});

test('attributes ext4 keeps for itself (fs-verity index 11 in f_verity, the encryption context index 9 in f_badsymlinks2) are not listed, as Linux never lists them', async (t) => {
  const verity = await unpackE2fsImage('f_verity', path.join(work, 'f_verity.img'));
  const { stdout } = await execa('debugfs', ['-R', 'ea_list /file', verity]);
  t.regex(stdout, /^\s+v \(16\)/m, 'debugfs sees the attribute, with no prefix it knows');
  await withTree(verity, async (tree) => t.deepEqual(await tree.extendedAttributes((await walkPath(tree, '/file')).entry), []));
  const encrypted = path.join(work, 'f_badsymlinks2.img');
  await unpackE2fsImage('f_badsymlinks2', encrypted);
  await withTree(encrypted, async (tree) => t.deepEqual(await tree.extendedAttributes((await walkPath(tree, '/encrypted/fast_isize_too_small')).entry), []));
});
