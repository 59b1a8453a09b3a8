// openNtfsTree against ntfs-3g: one image made by mkntfs and filled through an ntfs-3g mount (deep
// folders, a folder of 1500 files, long and non-ASCII names, a fragmented 10 MB file, a sparse file,
// hard links, Interix symlinks as ntfs-3g writes them, reparse-point symlinks, junctions and another
// tag written through system.ntfs_reparse_data, alternate data streams, an LZNT1-compressed folder, set
// times). Every entry is compared with a fresh read-only ntfs-3g mount of the same image: readdir order,
// lstat (inode = MFT record, size, mtime, links, blocks), content, readlink; stream names and runlists
// come from ntfsinfo. Then damage: a torn index block, a runlist past the volume, a torn file record.

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, mkdtemp, opendir, readdir, readFile, readlink, rm, truncate, utimes, writeFile, link, symlink, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import type { ByteSource } from '../../rescue/core/byte-source.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import type { FileEntry, FileTree } from '../../rescue/core/file-trees/file-tree.ts';
import { openNtfsTree } from '../../rescue/core/file-trees/ntfs-tree.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { flipByte, sparseFile, writeAt } from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;
const BIG_FOLDER_FILES = 1500;
let workDir = '';
let image = '';

/** Mounts `file` with ntfs-3g in the foreground with `options`, runs `use`, unmounts and waits for ntfs-3g to exit. */
async function withNtfs3g<T>(file: string, mountPoint: string, options: string, use: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(mountPoint, { recursive: true });
  const daemon = execa('ntfs-3g', ['-o', `no_detach,${options}`, file, mountPoint], { reject: false });
  try {
    for (let tries = 0; ; tries++) {
      if ((await execa('findmnt', ['-n', mountPoint], { reject: false })).stdout.trim() !== '') break;
      if (tries > 100 || (daemon.exitCode !== null && daemon.exitCode !== undefined)) throw new Error(`ntfs-3g did not mount ${file}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return await use(mountPoint);
  } finally {
    await execa('umount', [mountPoint], { reject: false });
    await daemon;
  }
}

/** A reparse buffer for a symlink (relative) or junction: tag, substitute and print names. */
function linkReparseData(tag: number, substitute: string, print: string): Buffer {
  const sub = Buffer.from(substitute, 'utf16le');
  const prn = Buffer.from(print, 'utf16le');
  const symlink = tag === 0xa000000c;
  const head = Buffer.alloc(symlink ? 12 : 8);
  head.writeUInt16LE(0, 0);
  head.writeUInt16LE(sub.length, 2);
  head.writeUInt16LE(sub.length, 4);
  head.writeUInt16LE(prn.length, 6);
  if (symlink) head.writeUInt32LE(1, 8);
  const data = Buffer.concat([head, sub, prn]);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(tag >>> 0, 0);
  header.writeUInt16LE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** setxattr with setfattr (Debian package attr); a failure fails the test with its reason. */
async function setXattr(file: string, name: string, value: Buffer): Promise<void> {
  const result = await execa('setfattr', ['-n', name, '-v', `0x${value.toString('hex')}`, file], { reject: false });
  if (result.failed) throw new Error(`setfattr (Debian package attr) could not set ${name} on ${file}: ${(result as unknown as Error).message}`);
}

function pattern(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let state = seed;
  for (let i = 0; i < bytes; i += 4) {
    state = (state * 1103515245 + 12345) >>> 0;
    out.writeUInt32LE(state, i);
  }
  return out;
}

async function fill(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'deep/a/b/c/d/e/f/g/h'), { recursive: true });
  await writeFile(path.join(dir, 'deep/a/b/c/d/e/f/g/h/bottom.txt'), 'at the bottom\n');
  await mkdir(path.join(dir, 'many'));
  for (let i = 0; i < BIG_FOLDER_FILES; i++) await writeFile(path.join(dir, 'many', `file-${String(i).padStart(4, '0')}-with-a-longer-name.txt`), `file ${i}\n`);
  await writeFile(path.join(dir, 'Größe – 日本語 ✓ ünïcödé.txt'), 'non-ASCII\n');
  await writeFile(path.join(dir, `${'long-name-'.repeat(24)}end.txt`), 'long name\n');
  const other = await open(path.join(dir, 'interleaved.bin'), 'w');
  for (let i = 0; i < 40; i++) await other.write(pattern(16 * 1024, 1000 + i));
  await other.close();
  const sparse = path.join(dir, 'sparse.bin');
  await writeFile(sparse, pattern(10000, 7));
  await truncate(sparse, 24 * MiB);
  await writeAt(sparse, 8 * MiB + 123, pattern(70000, 8));
  await writeAt(sparse, 23 * MiB, pattern(4096, 9));
  await writeFile(path.join(dir, 'original.txt'), 'one file, two names\n');
  await link(path.join(dir, 'original.txt'), path.join(dir, 'hardlink.txt'));
  await link(path.join(dir, 'original.txt'), path.join(dir, 'deep/a/another-name.txt'));
  await symlink('original.txt', path.join(dir, 'interix-link'));
  await symlink('deep/a/b', path.join(dir, 'interix-dir-link'));
  await writeFile(path.join(dir, 'reparse-link'), '');
  await setXattr(path.join(dir, 'reparse-link'), 'system.ntfs_reparse_data', linkReparseData(0xa000000c, 'original.txt', 'original.txt'));
  await mkdir(path.join(dir, 'junction'));
  await setXattr(path.join(dir, 'junction'), 'system.ntfs_reparse_data', linkReparseData(0xa0000003, '\\??\\C:\\Target', 'C:\\Target'));
  await writeFile(path.join(dir, 'other-reparse'), '');
  const other1 = Buffer.alloc(12);
  other1.writeUInt32LE(0x8000001b, 0);
  other1.writeUInt16LE(4, 4);
  await setXattr(path.join(dir, 'other-reparse'), 'system.ntfs_reparse_data', other1);
  await writeFile(path.join(dir, 'streams.txt'), 'main stream\n');
  await writeFile(path.join(dir, 'streams.txt:small'), 'a small stream\n');
  await writeFile(path.join(dir, 'streams.txt:large'), pattern(300000, 5));
  await mkdir(path.join(dir, 'compressed'));
  await setXattr(path.join(dir, 'compressed'), 'system.ntfs_attrib_be', Buffer.from('00000800', 'hex'));
  await writeFile(path.join(dir, 'compressed/mixed.bin'), Buffer.concat([Buffer.alloc(200000, 'hello '), pattern(100000, 3), Buffer.alloc(70000), Buffer.alloc(100000, 'abc\n')]));
  await writeFile(path.join(dir, 'compressed/small.txt'), 'x'.repeat(5000));
  await writeFile(path.join(dir, 'timed.txt'), 'times\n');
  await utimes(path.join(dir, 'timed.txt'), new Date('2001-02-03T04:05:06.789Z'), new Date('1999-12-31T23:59:58.123Z'));
  // A fragmented 10 MB file: fill the volume with 256 KiB files, free every other one, write into the holes.
  await mkdir(path.join(dir, 'filler'));
  const fillers: string[] = [];
  for (let i = 0; ; i++) {
    const filler = path.join(dir, 'filler', `${i}`);
    try {
      await writeFile(filler, pattern(256 * 1024, i));
    } catch {
      break;
    }
    fillers.push(filler);
  }
  for (let i = 0; i < fillers.length; i += 2) await rm(fillers[i] ?? '');
  await writeFile(path.join(dir, 'fragmented.bin'), pattern(10 * MiB, 77));
  await rm(path.join(dir, 'filler'), { recursive: true });
}

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-ntfs-tree-'));
  image = await sparseFile(path.join(workDir, 'ntfs.img'), 64 * MiB);
  await execa('mkntfs', ['-F', '-f', '-Q', '-L', 'Tree Test', image]);
  await withNtfs3g(image, path.join(workDir, 'mnt-fill'), 'streams_interface=windows,compression', fill);
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Expected {
  readonly path: string;
  readonly name: string;
  readonly kind: string;
  readonly id: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly links: number;
  readonly blocksBytes: number;
  readonly sha256?: string;
  readonly target?: string;
}

function kindOf(mode: number): string {
  switch (mode & 0o170000) {
    case 0o040000: return 'directory';
    case 0o120000: return 'symlink';
    case 0o100000: return 'file';
    default: return `mode ${mode.toString(8)}`;
  }
}

/** Every entry as a fresh read-only ntfs-3g mount shows it, folders in readdir order. */
async function expectedTree(): Promise<Expected[]> {
  return withNtfs3g(image, path.join(workDir, 'mnt-check'), 'ro,streams_interface=windows', async (dir) => {
    const out: Expected[] = [];
    const walk = async (relative: string) => {
      // opendir, not readdir: libuv's scandir sorts the names, opendir keeps ntfs-3g's order.
      const names: string[] = [];
      for await (const dirent of await opendir(path.join(dir, relative))) names.push(dirent.name);
      for (const name of names) {
        const full = path.join(dir, relative, name);
        const stats = await lstat(full, { bigint: true }).catch(() => undefined);
        const childPath = path.posix.join(relative, name);
        if (!stats) {
          out.push({ path: childPath, name, kind: 'unreadable', id: -1, size: -1, mtimeMs: -1, links: -1, blocksBytes: -1 });
          continue;
        }
        const kind = kindOf(Number(stats.mode));
        const entry: Expected = {
          path: childPath, name, kind, id: Number(stats.ino), size: Number(stats.size), mtimeMs: Number(stats.mtimeNs / 1000000n),
          links: Number(stats.nlink), blocksBytes: Number(stats.blocks) * 512,
          ...(kind === 'file' ? { sha256: createHash('sha256').update(await readFile(full)).digest('hex') } : {}),
          ...(kind === 'symlink' ? { target: await readlink(full) } : {}),
        };
        out.push(entry);
        if (kind === 'directory') await walk(childPath);
      }
    };
    await walk('');
    return out;
  });
}

async function withTree<T>(file: string, use: (tree: FileTree) => Promise<T>): Promise<T> {
  const source = await openByteSource(file);
  try {
    const tree = await openNtfsTree(source);
    if (!tree) throw new Error('not NTFS');
    return await use(tree);
  } finally {
    await source.close();
  }
}

async function readAll(tree: FileTree, entry: FileEntry, stream?: string): Promise<Buffer> {
  const content = await tree.openFile(entry, stream);
  return Buffer.from(await content.read(0, content.size));
}

/** Walks the tree like expectedTree, collecting entries by path. */
async function walkTree(tree: FileTree): Promise<Map<string, FileEntry>> {
  const entries = new Map<string, FileEntry>();
  const walk = async (directory: FileEntry, relative: string) => {
    for (const entry of await tree.list(directory)) {
      const childPath = path.posix.join(relative, entry.name);
      entries.set(childPath, entry);
      if (entry.kind === 'directory') await walk(entry, childPath);
    }
  };
  await walk(await tree.root(), '');
  return entries;
}

async function ntfsinfo(file: string, ntfsPath: string): Promise<string> {
  return (await execa('ntfsinfo', ['-v', '-F', ntfsPath, file])).stdout;
}

test.serial('every entry, in order, with its id, kind, size, mtime, links, blocks and content as a read-only ntfs-3g mount shows it', async (t) => {
  const expected = await expectedTree();
  t.true(expected.length > BIG_FOLDER_FILES + 20, `${expected.length} entries`);
  await withTree(image, async (tree) => {
    t.is(tree.filesystem, 'ntfs');
    t.is(tree.label, 'Tree Test');
    const entries = await walkTree(tree);
    t.deepEqual([...entries.keys()].filter((key) => !key.endsWith('other-reparse')), expected.map((entry) => entry.path).filter((key) => !key.endsWith('other-reparse')), 'same names in the same order');
    for (const want of expected) {
      const entry = entries.get(want.path);
      if (!entry) continue;
      // ntfs-3g shows reparse tags it has no plugin for as symlinks to a message; checked in the next test.
      if (want.kind === 'unreadable' || want.name === 'other-reparse') continue;
      const got: Expected = {
        path: want.path, name: entry.name, kind: entry.kind, id: entry.id, size: entry.size, mtimeMs: entry.mtimeMs ?? -1,
        links: want.kind === 'directory' ? want.links : (entry.links ?? -1),
        // ntfs-3g's st_blocks is the allocated size in 512-byte units, rounded up.
        blocksBytes: want.kind === 'file' ? Math.ceil((entry.allocatedBytes ?? -1) / 512) * 512 : want.blocksBytes,
        ...(entry.kind === 'file' ? { sha256: createHash('sha256').update(await readAll(tree, entry)).digest('hex') } : {}),
        ...(entry.kind === 'symlink' ? { target: (await tree.readLink(entry)).replaceAll('\\', '/') } : {}),
      };
      const wanted = want.kind === 'symlink' && want.target?.includes('Target') ? { ...want, target: got.target, size: got.size } : want;
      t.deepEqual(got, wanted, want.path);
    }
  });
});

test.serial('streams, hard links, reparse points, sparse and compressed data as ntfsinfo and ntfscat show them', async (t) => {
  await withTree(image, async (tree) => {
    const entries = await walkTree(tree);
    const get = (name: string) => {
      const entry = entries.get(name);
      if (!entry) throw new Error(`${name} not listed`);
      return entry;
    };
    // Alternate data streams: names from ntfsinfo, content from ntfscat -n.
    const info = await ntfsinfo(image, '/streams.txt');
    const names = [...info.matchAll(/Attribute name:\s+'([^']*)'/g)].map((match) => match[1]).filter((name) => name !== '$I30');
    const streams = get('streams.txt');
    t.deepEqual((streams.streams ?? []).map((stream) => stream.name).sort(), names.sort());
    for (const stream of streams.streams ?? []) {
      const { stdout } = await execa('ntfscat', ['-a', '0x80', '-n', stream.name, image, '/streams.txt'], { encoding: 'buffer', stripFinalNewline: false });
      t.is(stream.size, stdout.length, stream.name);
      t.true(Buffer.compare(await readAll(tree, streams, stream.name), Buffer.from(stdout)) === 0, `stream ${stream.name}`);
    }
    await t.throwsAsync(tree.openFile(streams, 'missing'), { instanceOf: LifeboatError });
    // Hard links share the record, links counted in the header.
    t.is(get('hardlink.txt').id, get('original.txt').id);
    t.is(get('deep/a/another-name.txt').id, get('original.txt').id);
    t.is(get('original.txt').links, 3);
    // Reparse points: the tag as ntfsinfo prints it.
    t.is(get('reparse-link').kind, 'symlink');
    t.is(await tree.readLink(get('reparse-link')), 'original.txt');
    t.is(get('junction').kind, 'symlink');
    t.is(get('junction').reparseTag, 0xa0000003);
    t.is(await tree.readLink(get('junction')), 'C:\\Target');
    const otherInfo = await ntfsinfo(image, '/other-reparse');
    t.regex(otherInfo, /REPARSE_POINT/);
    t.is(get('other-reparse').kind, 'reparse-point');
    t.is(get('other-reparse').reparseTag, 0x8000001b);
    // Sparse file: data ranges are the runlist's allocated runs, the rest reads as zeros.
    const sparse = get('sparse.bin');
    const runs = parseRunlist(await ntfsinfo(image, '/sparse.bin'));
    const ranges = await (await tree.openFile(sparse)).dataRanges?.();
    t.deepEqual(ranges, mergeRanges(runs.filter((run) => run.lcn !== undefined).map((run) => ({ offset: run.vcn * 4096, length: Math.min(run.clusters * 4096, sparse.size - run.vcn * 4096) }))));
    t.true((sparse.allocatedBytes ?? Infinity) < sparse.size / 4, 'sparse file occupies less than its size');
    // The fragmented file really is fragmented.
    t.true(parseRunlist(await ntfsinfo(image, '/fragmented.bin')).length > 2, 'fragmented.bin has several runs');
    const compressed = get('compressed/mixed.bin');
    t.regex(await ntfsinfo(image, '/compressed/mixed.bin'), /COMPRESSED/);
    t.true((compressed.allocatedBytes ?? Infinity) < compressed.size, 'compressed file occupies less than its size');
    const { stdout } = await execa('ntfscat', [image, '/compressed/mixed.bin'], { encoding: 'buffer', stripFinalNewline: false });
    t.true(Buffer.compare(await readAll(tree, compressed), Buffer.from(stdout)) === 0, 'compressed content as ntfscat');
    const content = await tree.openFile(compressed);
    const piece = Buffer.from(await content.read(65530, 140000));
    t.true(Buffer.compare(piece, Buffer.from(stdout).subarray(65530, 65530 + 140000)) === 0, 'a read across compression units');
    const timed = get('timed.txt');
    t.is(timed.mtimeMs, Date.parse('1999-12-31T23:59:58.123Z'));
    t.is(timed.atimeMs, Date.parse('2001-02-03T04:05:06.789Z'));
  });
});

test.serial('a file fragmented past one MFT record (runs continued through $ATTRIBUTE_LIST in extension records) reads as ntfs-3g shows it', async (t) => {
  // Three files grown in turns, one cluster at a time: ntfs-3g allocates each write where the last
  // one ended, so every file gets about a thousand one-cluster runs, more than one 1 KiB file record
  // holds; ntfs-3g then moves $DATA into extension records listed by an $ATTRIBUTE_LIST.
  const file = await sparseFile(path.join(workDir, 'attribute-list.img'), 40 * MiB);
  await execa('mkntfs', ['-F', '-f', '-Q', '-c', '4096', '-L', 'Lists', file]);
  const content = pattern(2000 * 4096, 91);
  await withNtfs3g(file, path.join(workDir, 'mnt-list'), 'rw', async (dir) => {
    const handles = await Promise.all(['listed.bin', 'other-1.bin', 'other-2.bin'].map((name) => open(path.join(dir, name), 'w')));
    try {
      for (let at = 0; at < content.length; at += 4096) {
        for (const [index, handle] of handles.entries()) await handle.write(index === 0 ? content.subarray(at, at + 4096) : pattern(4096, at + index), 0, 4096, at);
      }
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
    }
  });
  const info = await ntfsinfo(file, '/listed.bin');
  t.regex(info, /\$ATTRIBUTE_LIST/, 'ntfs-3g gave listed.bin an attribute list');
  const runs = parseRunlist(info);
  t.true(runs.length > 500, `${runs.length} runs`);
  const { stdout } = await execa('ntfscat', [file, '/listed.bin'], { encoding: 'buffer', stripFinalNewline: false });
  t.true(Buffer.compare(Buffer.from(stdout), content) === 0, 'ntfscat reads the content written');
  await withTree(file, async (tree) => {
    const entry = (await tree.list(await tree.root())).find((candidate) => candidate.name === 'listed.bin');
    if (!entry) throw new Error('listed.bin not listed');
    t.is(entry.size, content.length);
    t.true(Buffer.compare(await readAll(tree, entry), content) === 0, 'the whole content');
    const opened = await tree.openFile(entry);
    const piece = Buffer.from(await opened.read(7 * MiB - 5, 70000));
    t.true(Buffer.compare(piece, content.subarray(7 * MiB - 5, 7 * MiB - 5 + 70000)) === 0, 'a read across runs near the end');
    const ranges = await opened.dataRanges?.();
    t.deepEqual(ranges, [{ offset: 0, length: content.length }], 'no holes: one data range');
  });
});

test.serial('a fragmented $MFT (grown in many pieces between data clusters) maps every record: listings and content as ntfs-3g shows them', async (t) => {
  // A small volume where a file grows between batches of new files: each time the MFT grows, the
  // clusters after it are taken, so $MFT ends up in over a hundred runs. Filled until full.
  const file = await sparseFile(path.join(workDir, 'mft-fragments.img'), 16 * MiB);
  await execa('mkntfs', ['-F', '-f', '-Q', '-c', '4096', '-L', 'Pieces', file]);
  await withNtfs3g(file, path.join(workDir, 'mnt-mft'), 'rw', async (dir) => {
    await mkdir(path.join(dir, 'd'));
    const grown = await open(path.join(dir, 'grown.bin'), 'w');
    try {
      for (let round = 0; ; round++) {
        await grown.write(pattern(8192, round), 0, 8192, round * 8192);
        for (let i = 0; i < 4; i++) await writeFile(path.join(dir, 'd', `f${round}_${i}`), '');
      }
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOSPC') throw error;
    } finally {
      await grown.close();
    }
  });
  const mftRuns = parseRunlist((await execa('ntfsinfo', ['-v', '-i', '0', file])).stdout);
  t.true(mftRuns.length > 50, `$MFT in ${mftRuns.length} runs`);
  const listed = await withNtfs3g(file, path.join(workDir, 'mnt-mft-ro'), 'ro', async (dir) => ({
    names: (await readdir(path.join(dir, 'd'))).sort(),
    grown: await readFile(path.join(dir, 'grown.bin')),
  }));
  t.true(listed.names.length > 1000, `${listed.names.length} files`);
  await withTree(file, async (tree) => {
    const top = await tree.list(await tree.root());
    const folder = top.find((entry) => entry.name === 'd');
    const grown = top.find((entry) => entry.name === 'grown.bin');
    if (!folder || !grown) throw new Error('d or grown.bin not listed');
    t.deepEqual((await tree.list(folder)).map((entry) => entry.name).sort(), listed.names);
    t.true(Buffer.compare(await readAll(tree, grown), listed.grown) === 0, 'grown.bin as ntfs-3g reads it');
  });
});

interface ListedRun {
  readonly vcn: number;
  readonly lcn: number | undefined;
  readonly clusters: number;
}

function parseRunlist(info: string): ListedRun[] {
  const runs: ListedRun[] = [];
  for (const match of info.matchAll(/^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+|<HOLE>)\s+(0x[0-9a-f]+)\s*$/gm)) {
    runs.push({ vcn: Number(match[1]), lcn: match[2] === '<HOLE>' ? undefined : Number(match[2]), clusters: Number(match[3]) });
  }
  return runs;
}

function mergeRanges(ranges: Array<{ offset: number; length: number }>): Array<{ offset: number; length: number }> {
  const out: Array<{ offset: number; length: number }> = [];
  for (const range of ranges) {
    const last = out[out.length - 1];
    if (last && last.offset + last.length === range.offset) last.length += range.length;
    else out.push({ ...range });
  }
  return out;
}

/** A source whose every read costs inflating each 1 MiB chunk it touches, like a snapshot in a repository. */
function slowSource(source: ByteSource): { source: ByteSource; reads: () => number } {
  const chunk = deflateSync(pattern(MiB, 42));
  let reads = 0;
  return {
    reads: () => reads,
    source: {
      size: source.size,
      read: async (offset, length) => {
        reads++;
        for (let at = Math.floor(offset / MiB); at * MiB < offset + length; at++) inflateSync(chunk);
        return source.read(offset, length);
      },
    },
  };
}

test.serial('listing the 1500-file folder and reading the 10 MB fragmented file take few source reads over a slow source', async (t) => {
  const file = await openByteSource(image);
  try {
    const slow = slowSource(file);
    const started = performance.now();
    const tree = await openNtfsTree(slow.source);
    if (!tree) throw new Error('not NTFS');
    const root = await tree.list(await tree.root());
    const many = root.find((entry) => entry.name === 'many');
    const big = root.find((entry) => entry.name === 'fragmented.bin');
    if (!many || !big) throw new Error('missing entries');
    t.is((await tree.list(many)).length, BIG_FOLDER_FILES);
    const content = await tree.openFile(big);
    t.is((await content.read(0, content.size)).length, 10 * MiB);
    const elapsed = performance.now() - started;
    t.log(`${elapsed.toFixed(0)} ms, ${slow.reads()} reads`);
    // Time is logged, not asserted (shared machines are noisy): scripts/bench-browse.ts measures it.
    t.true(slow.reads() < 100, `${slow.reads()} reads`);
  } finally {
    await file.close();
  }
});

/** Absolute byte offset of MFT record `index` (through $MFT's runlist from ntfsinfo). */
async function recordOffset(file: string, index: number): Promise<number> {
  const runs = parseRunlist((await execa('ntfsinfo', ['-v', '-i', '0', file])).stdout);
  let byte = index * 1024;
  for (const run of runs) {
    if (byte < run.clusters * 4096 && run.lcn !== undefined) return run.lcn * 4096 + byte;
    byte -= run.clusters * 4096;
  }
  throw new Error(`record ${index} not mapped`);
}

test.serial('damage: a torn index block, a runlist past the volume and a torn record fail for their entry only', async (t) => {
  const damaged = path.join(workDir, 'damaged.img');
  await copyFile(image, damaged);
  const before = await withTree(image, walkTree);
  const id = (name: string) => before.get(name)?.id ?? -1;
  // An INDX block of "many" (found by its magic and a name in it; ntfsinfo 2022.10.3 fails to dump
  // this $INDEX_ALLOCATION): tear its first sector, so its update sequence no longer matches.
  const bytes = await readFile(damaged);
  const needle = Buffer.from('file-0100-with', 'utf16le');
  let indexBlock = -1;
  for (let at = 0; at < bytes.length && indexBlock < 0; at += 4096) {
    if (bytes.toString('latin1', at, at + 4) === 'INDX' && bytes.subarray(at, at + 4096).includes(needle)) indexBlock = at;
  }
  t.true(indexBlock > 0, 'an index block of many');
  await flipByte(damaged, indexBlock + 510);
  // fragmented.bin: point the first run of its $DATA past the end of the volume.
  const recordAt = await recordOffset(damaged, id('fragmented.bin'));
  const record = bytes.subarray(recordAt, recordAt + 1024);
  let attribute = record.readUInt16LE(0x14);
  while (record.readUInt32LE(attribute) !== 0x80) attribute += record.readUInt32LE(attribute + 4);
  const runAt = attribute + record.readUInt16LE(attribute + 0x20);
  const header = record[runAt] ?? 0;
  const lastOffsetByte = runAt + (header & 0x0f) + (header >> 4);
  t.true(lastOffsetByte % 512 < 510, 'the run offset is not in a sector tail');
  await writeAt(damaged, recordAt + lastOffsetByte, Buffer.from([0x70]));
  // original.txt: tear its record.
  await flipByte(damaged, (await recordOffset(damaged, id('original.txt'))) + 510);

  await withTree(damaged, async (tree) => {
    const root = await tree.list(await tree.root());
    t.is(root.length, [...before.keys()].filter((key) => !key.includes('/')).length, 'the root still lists every entry');
    const many = root.find((entry) => entry.name === 'many');
    if (!many) throw new Error('many missing');
    await t.throwsAsync(tree.list(many), { instanceOf: LifeboatError, message: /INDX|damaged/ });
    const error = await t.throwsAsync(tree.list(many));
    t.is((error as LifeboatError).code, 'LB_FILESYSTEM_CORRUPT');
    for (const name of ['fragmented.bin', 'original.txt', 'hardlink.txt']) {
      const entry = root.find((candidate) => candidate.name === name);
      if (!entry) throw new Error(`${name} missing`);
      const failure = await t.throwsAsync(tree.openFile(entry));
      t.is((failure as LifeboatError).code, 'LB_FILESYSTEM_CORRUPT', name);
    }
    const deep = root.find((entry) => entry.name === 'deep');
    if (!deep) throw new Error('deep missing');
    t.deepEqual((await tree.list(deep)).map((entry) => entry.name).sort(), ['a']);
    const interleaved = root.find((entry) => entry.name === 'interleaved.bin');
    if (!interleaved) throw new Error('interleaved.bin missing');
    t.is((await readAll(tree, interleaved)).length, 40 * 16 * 1024);
  });
});
