// Fixtures for the repository round-trip tests, and the comparators that judge a restore.
// Builders: ext4, FAT32, exFAT and NTFS images made by each format's own mkfs on sparse files and
// filled with one seeded tree (nested folders, many small files, MiB-sized random files, a
// fragmented file, a sparse file, hard and symbolic links, long and non-ASCII names, xattrs, varied
// modes, owners and mtimes, as far as each format holds them); whole MBR and GPT disk images made of
// such filesystems plus a GRUB-style boot gap, boot code and a BIOS boot partition.
// Comparators: each filesystem's own tools say whether a restored copy equals its source (fsck,
// read-only loop mounts, debugfs, mtools, exfat-fuse, ntfs-3g), and sfdisk -d plus raw bytes compare
// partition tables, boot code and gaps.

import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { lstat, link, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, symlink, truncate, unlink, utimes, lutimes, chmod, lchown, writeFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blkid, writeAt } from './filesystem-images.ts';
import { prng } from './mutation.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;

/** The filesystems the fixtures hold. */
export type FilesystemKind = 'ext4' | 'fat32' | 'exfat' | 'ntfs';

/** A filesystem inside a file: a whole filesystem image, or one partition of a disk image. */
export interface Volume {
  readonly kind: FilesystemKind;
  readonly file: string;
  readonly offset: number;
  readonly sizeBytes: number;
}

/** What to build: size, seed of everything random in it, and extra MiB of random bulk data. */
export interface FilesystemOptions {
  readonly sizeMiB: number;
  readonly seed: number;
  readonly label?: string;
  /** Extra random data in bulk/ (for incremental backup tests), in MiB. */
  readonly bulkMiB?: number;
  /** Partition start in sectors, written where the format records it (FAT, NTFS). */
  readonly hiddenSectors?: number;
  /** FAT32 sectors per cluster (1 unless given). */
  readonly fatClusterSectors?: number;
}

/** What each format can hold, so one seeded plan fits them all. */
interface Capabilities {
  readonly links: boolean;
  readonly sparse: boolean;
  readonly owners: boolean;
  readonly xattrs: boolean;
  readonly fifo: boolean;
  readonly fatAttributes: boolean;
  /** Names outside the Basic Multilingual Plane (mtools drops them). */
  readonly astralNames: boolean;
}

const CAPABILITIES: Record<FilesystemKind, Capabilities> = {
  ext4: { links: true, sparse: true, owners: true, xattrs: true, fifo: true, fatAttributes: false, astralNames: true },
  ntfs: { links: true, sparse: true, owners: false, xattrs: false, fifo: false, fatAttributes: false, astralNames: true },
  exfat: { links: false, sparse: false, owners: false, xattrs: false, fifo: false, fatAttributes: false, astralNames: true },
  fat32: { links: false, sparse: false, owners: false, xattrs: false, fifo: false, fatAttributes: true, astralNames: false },
};

// ---------------------------------------------------------------------------------------------
// Seeded content

/** `size` bytes from a seeded generator: the same seed always gives the same bytes. */
export function seededBytes(seed: number, size: number): Buffer {
  const random = prng(seed);
  const buffer = Buffer.alloc(size);
  let at = 0;
  for (; at + 4 <= size; at += 4) buffer.writeUInt32LE(Math.floor(random() * 2 ** 32), at);
  for (; at < size; at++) buffer[at] = Math.floor(random() * 256);
  return buffer;
}

const WORDS = ['lifeboat', 'disk', 'rescue', 'backup', 'sector', 'harbour', 'anchor', 'Grüße', 'naïve', 'öffentlich', 'данные', '数据', 'ωμέγα'];

/** Compressible text of about `size` bytes from a seeded generator. */
function seededText(seed: number, size: number): Buffer {
  const random = prng(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'x';
    parts.push(word);
    length += Buffer.byteLength(word) + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, size);
}

/** A GUID whose bytes come from the generator (version 4 bits set). */
function seededGuid(random: () => number): string {
  const hex = seededBytes(Math.floor(random() * 2 ** 31), 16).toString('hex').toUpperCase().split('');
  hex[12] = '4';
  hex[16] = '8';
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

// ---------------------------------------------------------------------------------------------
// The tree plan: one list of operations, run by a mounted-filesystem executor or by mtools

type TreeOp =
  | { readonly op: 'dir'; readonly path: string; readonly mtime: number; readonly mode?: number; readonly owner?: readonly [number, number] }
  | { readonly op: 'file'; readonly path: string; readonly size: number; readonly seed: number; readonly text: boolean; readonly mtime: number; readonly mode?: number; readonly owner?: readonly [number, number] }
  | { readonly op: 'delete'; readonly path: string }
  | { readonly op: 'interleave'; readonly paths: readonly [string, string]; readonly chunkBytes: number; readonly chunks: number; readonly seed: number; readonly mtime: number }
  | { readonly op: 'sparse'; readonly path: string; readonly size: number; readonly pieces: ReadonlyArray<readonly [number, number]>; readonly seed: number; readonly mtime: number }
  | { readonly op: 'hardlink'; readonly target: string; readonly path: string }
  | { readonly op: 'symlink'; readonly target: string; readonly path: string; readonly mtime: number }
  | { readonly op: 'fifo'; readonly path: string; readonly mtime: number }
  | { readonly op: 'xattr'; readonly path: string; readonly name: string; readonly value: string }
  | { readonly op: 'fatattr'; readonly path: string; readonly flags: readonly string[] };

/** The i-th of the many small files (text when i is odd). */
function smallFile(i: number): string {
  return `small/s${i % 4}/note-${String(i).padStart(3, '0')}.${i % 2 ? 'txt' : 'bin'}`;
}

/** Builds the plan: the same seed and kind always give the same tree. */
function planTree(kind: FilesystemKind, seed: number, bulkMiB: number): TreeOp[] {
  const caps = CAPABILITIES[kind];
  const random = prng(seed);
  const int = (limit: number) => Math.floor(random() * limit);
  // 1985..2035 with a sub-second part (FAT keeps 2 s, exFAT 10 ms, NTFS 100 ns, ext4 1 ns).
  const mtime = () => 473385600 + int(50 * 365 * 86400) + int(1000) / 1000;
  const modes = [0o644, 0o600, 0o640, 0o755, 0o444, 0o4755, 0o2750, 0o664];
  const ownerOf = () => (caps.owners ? ([[0, 0], [1000, 1000], [1234, 100], [65534, 65534]][int(4)] as [number, number]) : undefined);
  const ops: TreeOp[] = [];
  const dir = (p: string, mode = 0o755) => ops.push({ op: 'dir', path: p, mtime: mtime(), ...(caps.owners ? { mode, owner: ownerOf() } : {}) });
  const file = (p: string, size: number, text = false) => ops.push({ op: 'file', path: p, size, seed: int(2 ** 31), text, mtime: mtime(), ...(caps.owners ? { mode: modes[int(modes.length)], owner: ownerOf() } : {}) });

  const unicodeDir = 'Ünïcödé – 目录';
  for (const p of ['docs', 'docs/reports', 'docs/reports/2023', 'empty', 'small', 'big', 'frag', unicodeDir, `${unicodeDir}/Ελληνικά`]) dir(p);
  dir('shared', 0o1777);
  let deep = 'deep';
  dir(deep);
  for (let level = 1; level <= 8; level++) dir((deep += `/level-${level}`));
  for (let i = 0; i < 4; i++) dir(`small/s${i}`);

  file('docs/readme.txt', 2000 + int(3000), true);
  file('docs/reports/2023/summary.txt', 12000, true);
  file('docs/reports/2023/figures.bin', 70000);
  file(`${deep}/bottom.txt`, 300, true);
  file('shared/empty-file', 0);
  file(`${unicodeDir}/Grüße aus Köln.txt`, 900, true);
  file(`${unicodeDir}/Ελληνικά/файл данных.bin`, 5000);
  file(`${'L'.repeat(240)}.txt`, 100, true);
  file(`docs/${'名'.repeat(80)}.txt`, 150, true);
  if (caps.astralNames) file('docs/rocket 🚀 launch.txt', 64, true);
  if (kind === 'ext4') file(`deep/${'n'.repeat(251)}.bin`, 4096); // a 255-byte name

  for (let i = 0; i < 160; i++) file(smallFile(i), i % 17 === 0 ? 0 : 1 + int(6000), i % 2 === 1);
  for (let i = 0; i < 3; i++) file(`big/blob-${i}.bin`, MiB + i * 512 * 1024 + int(65536));

  // Fragmentation: many pieces, every other deleted, then one large file across the holes; and two
  // files written in alternating synced chunks.
  for (let i = 0; i < 40; i++) file(`frag/piece-${String(i).padStart(2, '0')}.bin`, 32 * 1024);
  for (let i = 0; i < 40; i += 2) ops.push({ op: 'delete', path: `frag/piece-${String(i).padStart(2, '0')}.bin` });
  file('frag/large.bin', 1536 * 1024);
  ops.push({ op: 'interleave', paths: ['frag/interleaved-a.bin', 'frag/interleaved-b.bin'], chunkBytes: 32 * 1024, chunks: 16, seed: int(2 ** 31), mtime: mtime() });

  if (bulkMiB > 0) {
    dir('bulk');
    for (let i = 0; i < Math.ceil(bulkMiB / 4); i++) file(`bulk/chunk-${String(i).padStart(2, '0')}.bin`, Math.min(4, bulkMiB - i * 4) * MiB);
  }
  if (caps.sparse) ops.push({ op: 'sparse', path: 'sparse.bin', size: 16 * MiB, pieces: [[0, 65536], [5 * MiB + 4096, 65536], [16 * MiB - 4096, 4096]], seed: int(2 ** 31), mtime: mtime() });
  if (caps.links) {
    dir('links');
    dir('links/sub');
    file('links/original.txt', 3000, true);
    ops.push({ op: 'hardlink', target: 'links/original.txt', path: 'links/hard-1' });
    ops.push({ op: 'hardlink', target: 'links/original.txt', path: 'links/sub/hard-2' });
    ops.push({ op: 'hardlink', target: 'big/blob-1.bin', path: 'links/blob-link' });
    ops.push({ op: 'symlink', target: 'original.txt', path: 'links/relative', mtime: mtime() });
    ops.push({ op: 'symlink', target: '/etc/hostname', path: 'links/absolute', mtime: mtime() });
    ops.push({ op: 'symlink', target: 'does-not-exist', path: 'links/dangling', mtime: mtime() });
    ops.push({ op: 'symlink', target: '../docs', path: 'links/to-directory', mtime: mtime() });
    ops.push({ op: 'symlink', target: `../${unicodeDir}/Grüße aus Köln.txt`, path: 'links/ünïcödé-link', mtime: mtime() });
  }
  if (caps.fifo) {
    dir('special');
    ops.push({ op: 'fifo', path: 'special/fifo', mtime: mtime() });
  }
  if (caps.xattrs) {
    ops.push({ op: 'xattr', path: 'docs/readme.txt', name: 'user.comment', value: 'written-by-the-lifeboat-fixture' });
    ops.push({ op: 'xattr', path: 'docs/readme.txt', name: 'user.large', value: seededBytes(int(2 ** 31), 450).toString('hex') });
    ops.push({ op: 'xattr', path: 'big/blob-0.bin', name: 'trusted.lifeboat', value: String(seed) });
    ops.push({ op: 'xattr', path: 'docs', name: 'user.folder', value: 'documents' });
    for (let n = 1; n < 160; n += 19) ops.push({ op: 'xattr', path: smallFile(n), name: `user.tag${n}`, value: `value${int(1e6)}` });
  }
  if (caps.fatAttributes) {
    file('docs/system.dat', 512);
    ops.push({ op: 'fatattr', path: 'docs/readme.txt', flags: ['+r'] });
    ops.push({ op: 'fatattr', path: 'small/s1/note-001.txt', flags: ['+h'] });
    ops.push({ op: 'fatattr', path: 'docs/system.dat', flags: ['+s', '+h'] });
    ops.push({ op: 'fatattr', path: 'docs/reports/2023/figures.bin', flags: ['-a'] });
  }
  return ops;
}

/** Runs a plan on a mounted filesystem; returns the paths of the xattrs to set afterwards with their inode numbers. */
async function runPlanMounted(root: string, ops: readonly TreeOp[], caps: Capabilities): Promise<Array<{ inode: bigint; name: string; value: string }>> {
  const at = (p: string) => path.join(root, p);
  for (const op of ops) await runMountedOp(at, op);
  await applyMetadata(at, ops, caps);
  const xattrs: Array<{ inode: bigint; name: string; value: string }> = [];
  for (const op of ops) if (op.op === 'xattr') xattrs.push({ inode: (await lstat(at(op.path), { bigint: true })).ino, name: op.name, value: op.value });
  return xattrs;
}

async function runMountedOp(at: (p: string) => string, op: TreeOp): Promise<void> {
  switch (op.op) {
    case 'dir':
      return void (await mkdir(at(op.path)));
    case 'file':
      return writeFile(at(op.path), op.text ? seededText(op.seed, op.size) : seededBytes(op.seed, op.size));
    case 'delete':
      return unlink(at(op.path));
    case 'interleave':
      return writeInterleaved(op.paths.map(at), op.chunkBytes, op.chunks, op.seed);
    case 'sparse':
      return writeSparse(at(op.path), op.size, op.pieces, op.seed);
    case 'hardlink':
      return link(at(op.target), at(op.path));
    case 'symlink':
      return symlink(op.target, at(op.path));
    case 'fifo':
      return void (await execa('mkfifo', [at(op.path)]));
    case 'xattr':
    case 'fatattr':
      return;
  }
}

/** Two files grown in alternating chunks, each chunk synced, so their extents interleave on disk. */
async function writeInterleaved(files: readonly string[], chunkBytes: number, chunks: number, seed: number): Promise<void> {
  const handles = await Promise.all(files.map((file) => open(file, 'w')));
  try {
    const content = seededBytes(seed, chunkBytes * chunks * handles.length);
    for (let i = 0; i < chunks; i++) {
      for (const [index, handle] of handles.entries()) {
        await handle.write(content, (i * handles.length + index) * chunkBytes, chunkBytes, i * chunkBytes);
        await handle.sync();
      }
    }
  } finally {
    await Promise.all(handles.map((handle) => handle.close()));
  }
}

/** A file of `size` bytes with data only in `pieces` (offset, length): the rest are holes. */
async function writeSparse(file: string, size: number, pieces: ReadonlyArray<readonly [number, number]>, seed: number): Promise<void> {
  const handle = await open(file, 'w');
  try {
    for (const [index, [offset, length]] of pieces.entries()) await handle.write(seededBytes(seed + index, length), 0, length, offset);
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** Modes, owners and mtimes, set last (folders deepest first) so later writes do not change them. */
async function applyMetadata(at: (p: string) => string, ops: readonly TreeOp[], caps: Capabilities): Promise<void> {
  const interleaved = ops.flatMap((op) => (op.op === 'interleave' ? op.paths.map((p) => ({ path: p, mtime: op.mtime })) : []));
  const deleted = new Set(ops.flatMap((op) => (op.op === 'delete' ? [op.path] : [])));
  for (const op of ops) {
    if (op.op === 'file' && !deleted.has(op.path)) {
      if (caps.owners && op.owner && op.mode !== undefined) {
        await lchown(at(op.path), op.owner[0], op.owner[1]);
        await chmod(at(op.path), op.mode);
      }
      await utimes(at(op.path), op.mtime, op.mtime);
    }
    if (op.op === 'sparse' || op.op === 'fifo') await utimes(at(op.path), op.mtime, op.mtime);
    if (op.op === 'symlink' && caps.owners) await lutimes(at(op.path), op.mtime, op.mtime);
  }
  for (const { path: p, mtime } of interleaved) await utimes(at(p), mtime, mtime);
  const dirs = ops.filter((op): op is Extract<TreeOp, { op: 'dir' }> => op.op === 'dir').sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const op of dirs) {
    if (caps.owners && op.owner && op.mode !== undefined) {
      await lchown(at(op.path), op.owner[0], op.owner[1]);
      await chmod(at(op.path), op.mode);
    }
    await utimes(at(op.path), op.mtime, op.mtime);
  }
}

const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8', TZ: 'UTC' };

/** Runs an mtools command on an image (`file` or `file@@offset`), throwing with its output on failure. */
async function mtools(command: string, args: readonly string[]): Promise<string> {
  const result = await execa(command, args, { env: MTOOLS_ENV, reject: false });
  if (result.exitCode !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${result.exitCode}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** Runs a plan on a FAT image with mtools: files staged on the host with their mtimes, then copied in. */
async function runPlanWithMtools(image: string, ops: readonly TreeOp[], stagingRoot: string): Promise<void> {
  const staging = await mkdtemp(path.join(stagingRoot, 'stage-'));
  try {
    let pending: Array<Extract<TreeOp, { op: 'file' }>> = [];
    const flush = async () => {
      for (const [parent, files] of groupByParent(pending)) await copyFilesIn(image, staging, parent, files);
      pending = [];
    };
    for (const op of ops) {
      if (op.op === 'file') {
        pending.push(op);
        continue;
      }
      await flush();
      await runMtoolsOp(image, staging, op);
    }
    await flush();
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function groupByParent<T extends { readonly path: string }>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const parent = path.posix.dirname(item.path);
    groups.set(parent, [...(groups.get(parent) ?? []), item]);
  }
  return groups;
}

/** Stages files (content and mtime) under their own names and copies them into one folder in one mcopy. */
async function copyFilesIn(image: string, staging: string, parent: string, files: ReadonlyArray<{ path: string; size: number; seed: number; text: boolean; mtime: number }>): Promise<void> {
  const dir = await mkdtemp(path.join(staging, 'batch-'));
  const names: string[] = [];
  for (const file of files) {
    const name = path.join(dir, path.posix.basename(file.path));
    await writeFile(name, file.text ? seededText(file.seed, file.size) : seededBytes(file.seed, file.size));
    await utimes(name, file.mtime, file.mtime);
    names.push(name);
  }
  await mtools('mcopy', ['-m', '-o', '-i', image, ...names, parent === '.' ? '::/' : `::/${parent}/`]);
  await rm(dir, { recursive: true, force: true });
}

async function runMtoolsOp(image: string, staging: string, op: TreeOp): Promise<void> {
  switch (op.op) {
    case 'dir':
      return void (await mtools('mmd', ['-i', image, `::/${op.path}`]));
    case 'delete':
      return void (await mtools('mdel', ['-i', image, `::/${op.path}`]));
    case 'interleave':
      return copyFilesIn(image, staging, path.posix.dirname(op.paths[0]), op.paths.map((p, index) => ({ path: p, size: op.chunkBytes * op.chunks, seed: op.seed + index, text: false, mtime: op.mtime })));
    case 'fatattr':
      return void (await mtools('mattrib', ['-i', image, ...op.flags, `::/${op.path}`]));
    default:
      throw new Error(`mtools cannot run ${op.op}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Loop devices and mounts

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Attaches a loop device over a volume's byte range (read-only unless asked), runs `use`, always detaches it. */
export async function withVolumeDevice<T>(volume: Volume, access: 'ro' | 'rw', use: (device: string) => Promise<T>): Promise<T> {
  const args = ['--find', '--show', '--offset', String(volume.offset), '--sizelimit', String(volume.sizeBytes), ...(access === 'ro' ? ['--read-only'] : []), volume.file];
  let device = '';
  for (let attempt = 1; !device; attempt++) {
    const result = await execa('losetup', args, { reject: false });
    if (result.exitCode === 0) device = result.stdout.trim();
    else if (attempt >= 6) throw new Error(`losetup ${args.join(' ')}: ${result.stderr}`);
    else await sleep(150 * attempt);
  }
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

/** Mounts a volume (ext4 with the kernel, exFAT and NTFS with FUSE) on a fresh folder, runs `use`, always unmounts. */
export async function withMountedVolume<T>(volume: Volume, access: 'ro' | 'rw', use: (root: string) => Promise<T>): Promise<T> {
  const kind = volume.kind;
  if (kind === 'fat32') throw new Error('FAT volumes are read and written with mtools here: the kernel cannot mount vfat on this machine');
  return withVolumeDevice(volume, access, async (device) => {
    const mountPoint = await mkdtemp(path.join(os.tmpdir(), `lifeboat-mnt-${kind}-`));
    try {
      return kind === 'ext4' ? await withKernelMount(device, mountPoint, access, use) : await withFuseMount(kind, device, mountPoint, access, use);
    } finally {
      await rm(mountPoint, { recursive: true, force: true });
    }
  });
}

async function withKernelMount<T>(device: string, mountPoint: string, access: 'ro' | 'rw', use: (root: string) => Promise<T>): Promise<T> {
  await execa('mount', ['-t', 'ext4', '-o', access === 'ro' ? 'ro,noload' : 'rw', device, mountPoint]);
  try {
    return await use(mountPoint);
  } finally {
    await unmount(mountPoint);
  }
}

/** A FUSE driver kept in the foreground, so that unmounting can wait for it to finish writing. */
async function withFuseMount<T>(kind: 'exfat' | 'ntfs', device: string, mountPoint: string, access: 'ro' | 'rw', use: (root: string) => Promise<T>): Promise<T> {
  const daemon =
    kind === 'exfat'
      ? execa('mount.exfat-fuse', ['-d', ...(access === 'ro' ? ['-o', 'ro'] : []), device, mountPoint], { reject: false, stdio: 'ignore' })
      : execa('ntfs-3g', ['-o', `${access === 'ro' ? 'ro,' : ''}no_detach`, device, mountPoint], { reject: false, stdin: 'ignore' });
  try {
    await waitForMount(mountPoint, () => daemon.exitCode);
    return await use(mountPoint);
  } finally {
    await unmount(mountPoint);
    const result = await daemon;
    if (kind === 'ntfs' && result.exitCode !== 0) throw new Error(`ntfs-3g exited with ${result.exitCode}: ${String(result.stderr)}`);
  }
}

async function waitForMount(mountPoint: string, exitCode: () => number | null | undefined): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    const { stdout } = await execa('findmnt', ['-n', '--mountpoint', mountPoint], { reject: false });
    if (stdout.trim() !== '') return;
    const code = exitCode();
    if (code !== undefined && code !== null) throw new Error(`FUSE driver exited with ${code} before mounting ${mountPoint}`);
    await sleep(50);
  }
  throw new Error(`${mountPoint} was not mounted within 10 s`);
}

async function unmount(mountPoint: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { stdout } = await execa('findmnt', ['-n', '--mountpoint', mountPoint], { reject: false });
    if (stdout.trim() === '') return;
    const result = await execa('umount', [mountPoint], { reject: false });
    if (result.exitCode === 0) return;
    if (attempt >= 10) throw new Error(`umount ${mountPoint}: ${result.stderr}`);
    await sleep(200 * attempt);
  }
}

// ---------------------------------------------------------------------------------------------
// Filesystem builders

/** A filesystem image built by a fixture builder. */
export interface FilesystemFixture extends Volume {
  readonly label: string;
}

/** Builds a filesystem of `kind` in `file` (a sparse file of sizeMiB) and fills it with the seeded tree. */
export async function makeFilesystemImage(kind: FilesystemKind, file: string, options: FilesystemOptions): Promise<FilesystemFixture> {
  const sizeBytes = options.sizeMiB * MiB;
  await writeFile(file, '');
  await truncate(file, sizeBytes);
  const label = options.label ?? `LB${kind.toUpperCase()}`.slice(0, 11);
  await formatVolume(kind, file, label, options);
  const volume: Volume = { kind, file, offset: 0, sizeBytes };
  await populateVolume(volume, planTree(kind, options.seed, options.bulkMiB ?? 0), path.dirname(file));
  return { ...volume, label };
}

async function formatVolume(kind: FilesystemKind, file: string, label: string, options: FilesystemOptions): Promise<void> {
  const random = prng(options.seed ^ 0x5eed);
  const hidden = String(options.hiddenSectors ?? 0);
  switch (kind) {
    case 'ext4': {
      const uuid = seededGuid(random).toLowerCase();
      await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-I', '256', '-L', label, '-U', uuid, '-E', `lazy_itable_init=0,lazy_journal_init=0,hash_seed=${uuid}`, file]);
      return;
    }
    case 'fat32':
      await execa('mkfs.fat', ['-F', '32', '-s', String(options.fatClusterSectors ?? 1), '-n', label.toUpperCase(), '-i', seededBytes(options.seed, 4).toString('hex'), '-h', hidden, file]);
      return;
    case 'exfat':
      await execa('mkfs.exfat', ['-L', label, file]);
      return;
    case 'ntfs':
      await execa('mkntfs', ['-Q', '-F', '-q', '-L', label, '-s', '512', '-p', hidden, '-H', '255', '-S', '63', file]);
  }
}

async function populateVolume(volume: Volume, ops: readonly TreeOp[], workDir: string): Promise<void> {
  if (volume.kind === 'fat32') return runPlanWithMtools(volume.file, ops, workDir);
  const xattrs = await withMountedVolume(volume, 'rw', (root) => runPlanMounted(root, ops, CAPABILITIES[volume.kind]));
  if (xattrs.length > 0) await setXattrsWithDebugfs(volume.file, xattrs);
}

/** Sets ext4 xattrs offline with debugfs (no setfattr here), addressing files by inode number. */
async function setXattrsWithDebugfs(file: string, xattrs: ReadonlyArray<{ inode: bigint; name: string; value: string }>): Promise<void> {
  const commands = xattrs.map(({ inode, name, value }) => `ea_set <${inode}> ${name} ${value}`).join('\n');
  const result = await execa('debugfs', ['-w', '-f', '-', file], { input: `${commands}\n`, reject: false });
  const failures = result.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('debugfs '));
  if (result.exitCode !== 0 || failures.length > 0) throw new Error(`debugfs ea_set failed: ${result.stderr}`);
}

// ---------------------------------------------------------------------------------------------
// Disk builders

/** One partition of a disk fixture, numbered as sfdisk numbers it (logical partitions from 5). */
export interface DiskPartition {
  readonly number: number;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly content: FilesystemKind | 'bios-boot' | 'extended';
}

/** A whole-disk image: its partition table script, its partitions and what each holds. */
export interface DiskFixture {
  readonly file: string;
  readonly sizeBytes: number;
  readonly label: 'dos' | 'gpt';
  /** The sfdisk script that made the table (to make a blank disk with the same layout). */
  readonly script: string;
  readonly partitions: readonly DiskPartition[];
}

interface PartitionSpec {
  readonly sizeMiB?: number;
  readonly line: string;
  readonly content: DiskPartition['content'];
  readonly fatClusterSectors?: number;
}

const GPT_TYPES = {
  biosBoot: '21686148-6449-6E6F-744E-656564454649',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  basicData: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
};

/** An MBR disk: GRUB-style boot code and gap (sectors 1..2047 random), ext4 and FAT32 primaries, an extended partition with a logical NTFS. */
export async function makeMbrDisk(dir: string, seed: number): Promise<DiskFixture> {
  const random = prng(seed);
  const specs: PartitionSpec[] = [
    { sizeMiB: 64, line: 'type=83', content: 'ext4' },
    { sizeMiB: 48, line: 'type=c, bootable', content: 'fat32' },
    { line: 'type=5', content: 'extended' },
    { sizeMiB: 64, line: 'type=7', content: 'ntfs' },
  ];
  const script = `label: dos\nlabel-id: 0x${seededBytes(Math.floor(random() * 2 ** 31), 4).toString('hex')}\nunit: sectors\n\n${specLines(specs)}`;
  const disk = await makeDisk(path.join(dir, 'mbr-disk.img'), 192 * MiB, 'dos', script, specs, seed);
  await writeAt(disk.file, 0, seededBytes(seed + 1, 440)); // boot code, as GRUB's boot.img
  await writeAt(disk.file, SECTOR, seededBytes(seed + 2, 2047 * SECTOR)); // core.img in the gap
  return disk;
}

/** A GPT disk: BIOS boot partition (random bytes), ESP (FAT32), NTFS, exFAT, and ext4 last; boot code in the protective MBR. */
export async function makeGptDisk(dir: string, seed: number): Promise<DiskFixture> {
  const random = prng(seed);
  const guid = () => seededGuid(random);
  const specs: PartitionSpec[] = [
    { sizeMiB: 1, line: `type=${GPT_TYPES.biosBoot}, uuid=${guid()}, name="BIOS boot"`, content: 'bios-boot' },
    { sizeMiB: 40, line: `type=${GPT_TYPES.esp}, uuid=${guid()}, name="EFI system partition"`, content: 'fat32' },
    { sizeMiB: 64, line: `type=${GPT_TYPES.basicData}, uuid=${guid()}, name="Windows"`, content: 'ntfs' },
    { sizeMiB: 32, line: `type=${GPT_TYPES.basicData}, uuid=${guid()}, name="Exchange"`, content: 'exfat' },
    { sizeMiB: 64, line: `type=${GPT_TYPES.linux}, uuid=${guid()}, name="Linux root"`, content: 'ext4' },
  ];
  const script = `label: gpt\nlabel-id: ${guid()}\nunit: sectors\n\n${specLines(specs)}`;
  const disk = await makeDisk(path.join(dir, 'gpt-disk.img'), 204 * MiB, 'gpt', script, specs, seed);
  await writeAt(disk.file, 0, seededBytes(seed + 1, 440));
  const biosBoot = disk.partitions.find((partition) => partition.content === 'bios-boot');
  if (biosBoot) await writeAt(disk.file, biosBoot.offset, seededBytes(seed + 3, biosBoot.sizeBytes));
  return disk;
}

/** A GPT disk of `diskMiB` with one partition from 1 MiB to the end, holding a `kind` filesystem with the seeded tree (the sources of the --grow tests). */
export async function makeSingleVolumeGptDisk(dir: string, kind: FilesystemKind, options: { seed: number; diskMiB: number; fatClusterSectors?: number }): Promise<DiskFixture> {
  const random = prng(options.seed);
  const guid = () => seededGuid(random);
  const type = kind === 'ext4' ? GPT_TYPES.linux : GPT_TYPES.basicData;
  // The partition ends on a whole MiB (1 MiB before the end: room for the backup GPT), so it can be built as one filesystem image.
  const specs: PartitionSpec[] = [{ sizeMiB: options.diskMiB - 2, line: `type=${type}, uuid=${guid()}, name="${kind}"`, content: kind, fatClusterSectors: options.fatClusterSectors }];
  const script = `label: gpt\nlabel-id: ${guid()}\nunit: sectors\n\n${specLines(specs)}`;
  return makeDisk(path.join(dir, `${kind}-disk.img`), options.diskMiB * MiB, 'gpt', script, specs, options.seed);
}

function specLines(specs: readonly PartitionSpec[]): string {
  return specs.map((spec) => `${spec.sizeMiB ? `size=${spec.sizeMiB}MiB, ` : ''}${spec.line}\n`).join('');
}

/** Writes the table, then builds each filesystem in its own file and copies it into place (holes skipped). */
async function makeDisk(file: string, sizeBytes: number, label: 'dos' | 'gpt', script: string, specs: readonly PartitionSpec[], seed: number): Promise<DiskFixture> {
  await writeFile(file, '');
  await truncate(file, sizeBytes);
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], { input: script });
  const table = await readPartitionTable(file);
  const partitions = table.partitions.map((partition, index): DiskPartition => ({ number: partition.number, offset: partition.start * SECTOR, sizeBytes: partition.size * SECTOR, content: specs[index]?.content ?? 'extended' }));
  const work = await mkdtemp(path.join(path.dirname(file), 'parts-'));
  try {
    for (const partition of partitions) {
      if (partition.content === 'bios-boot' || partition.content === 'extended') continue;
      const part = path.join(work, `p${partition.number}.img`);
      const fatClusterSectors = specs[partitions.indexOf(partition)]?.fatClusterSectors;
      await makeFilesystemImage(partition.content, part, { sizeMiB: partition.sizeBytes / MiB, seed: seed * 31 + partition.number, hiddenSectors: partition.offset / SECTOR, label: `P${partition.number}${partition.content.toUpperCase()}`, fatClusterSectors });
      await copyInto(part, file, partition.offset);
      await rm(part, { force: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { file, sizeBytes, label, script, partitions };
}

/** Makes a new disk image file with the same partition table as `disk` and nothing in the partitions. */
export async function makeBlankDiskLike(disk: DiskFixture, file: string, sizeBytes = disk.sizeBytes): Promise<string> {
  await writeFile(file, '');
  await truncate(file, sizeBytes);
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], { input: disk.script });
  return file;
}

/** Copies `source` into `target` at `offset`, skipping all-zero MiB blocks (the target stays sparse there). */
async function copyInto(source: string, target: string, offset: number): Promise<void> {
  const input = await open(source, 'r');
  const output = await open(target, 'r+');
  try {
    const buffer = Buffer.alloc(MiB);
    for (let at = 0; ; at += MiB) {
      const { bytesRead } = await input.read(buffer, 0, MiB, at);
      if (bytesRead === 0) break;
      const block = buffer.subarray(0, bytesRead);
      if (!block.every((byte) => byte === 0)) await output.write(block, 0, bytesRead, offset + at);
    }
  } finally {
    await input.close();
    await output.close();
  }
}

/** The volume of a disk fixture's partition inside `file` (the fixture's own file by default). */
export function partitionVolume(partition: DiskPartition, file: string): Volume {
  if (partition.content === 'bios-boot' || partition.content === 'extended') throw new Error(`partition ${partition.number} holds no filesystem`);
  return { kind: partition.content, file, offset: partition.offset, sizeBytes: partition.sizeBytes };
}

// ---------------------------------------------------------------------------------------------
// Comparators: filesystems

/** The result of the format's own checker run read-only. */
export interface FsckResult {
  readonly clean: boolean;
  readonly output: string;
}

/** e2fsck -fn, fsck.fat -n, fsck.exfat -n or ntfsfix -n on a read-only loop device of the volume. */
export async function fsckVolume(volume: Volume): Promise<FsckResult> {
  const commands: Record<FilesystemKind, [string, string[]]> = {
    ext4: ['e2fsck', ['-f', '-n']],
    fat32: ['fsck.fat', ['-n', '-V']],
    exfat: ['fsck.exfat', ['-n']],
    ntfs: ['ntfsfix', ['-n']],
  };
  const [command, args] = commands[volume.kind];
  return withVolumeDevice(volume, 'ro', async (device) => {
    const result = await execa(command, [...args, device], { reject: false, stdin: 'ignore' });
    const output = `${command} ${args.join(' ')}: exit ${result.exitCode}\n${result.stdout}\n${result.stderr}`;
    const noisy = volume.kind === 'fat32' && /differences between boot sector|dirty bit|free cluster summary wrong/i.test(output);
    return { clean: result.exitCode === 0 && !noisy, output };
  });
}

/** One line per path describing content and metadata as the format's own driver or tool reports them. */
export type TreeListing = ReadonlyMap<string, string>;

/** Lists a volume's tree: mounted read-only (ext4 by the kernel plus debugfs for xattrs, exFAT and NTFS by FUSE) or read with mtools (FAT). */
export async function readTree(volume: Volume): Promise<TreeListing> {
  if (volume.kind === 'fat32') return withVolumeDevice(volume, 'ro', (device) => readFatTree(device));
  return withMountedVolume(volume, 'ro', async (root) => {
    const listing = await walkMounted(root);
    if (volume.kind === 'ext4') await addExt4Xattrs(volume, listing);
    return new Map([...listing].map(([key, entry]) => [key, entry.line]));
  });
}

interface WalkEntry {
  line: string;
  readonly inode: bigint;
}

/** Every entry under `root`: type, mode, owner, size, allocated blocks, mtime (ns), nlink, content hash, link target, hard-link group. */
async function walkMounted(root: string): Promise<Map<string, WalkEntry>> {
  const entries = new Map<string, WalkEntry>();
  const byInode = new Map<bigint, string[]>();
  const visit = async (relative: string): Promise<void> => {
    const full = path.join(root, relative);
    const info = await lstat(full, { bigint: true });
    const type = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : info.isFile() ? 'file' : info.isFIFO() ? 'fifo' : 'other';
    const fields = [type, `mode=${(info.mode & 0o7777n).toString(8)}`, `uid=${info.uid}`, `gid=${info.gid}`, `size=${info.size}`, `blocks=${info.blocks}`, `mtime=${info.mtimeNs}`, `nlink=${info.nlink}`];
    if (type === 'file') fields.push(`sha256=${await sha256File(full)}`);
    if (type === 'symlink') fields.push(`target=${await readlink(full)}`);
    entries.set(relative || '/', { line: fields.join(' '), inode: info.ino });
    if (type !== 'dir' && info.nlink > 1n) byInode.set(info.ino, [...(byInode.get(info.ino) ?? []), relative]);
    if (type === 'dir') for (const name of (await readdir(full)).sort()) await visit(path.posix.join(relative, name));
  };
  await visit('');
  for (const group of byInode.values()) for (const member of group) entries.get(member)!.line += ` links=[${[...group].sort().join('|')}]`;
  return entries;
}

async function sha256File(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Adds each entry's xattrs as debugfs lists them (by inode number, on the same read-only device); long values, which ea_list elides, by the hash of ea_get -x. */
async function addExt4Xattrs(volume: Volume, entries: Map<string, WalkEntry>): Promise<void> {
  const inodes = [...new Set([...entries.values()].map((entry) => String(entry.inode)))];
  const listed = parseDebugfs(await debugfsBatch(volume, inodes.map((inode) => `ea_list <${inode}>`)), 'ea_list');
  const elided = [...listed].flatMap(([key, lines]) => lines.flatMap((line) => (/^\S+ \(\d+\)$/.test(line) ? [`${key.slice(1, key.indexOf('>'))} ${line.split(' ')[0]}`] : [])));
  const values = parseDebugfs(await debugfsBatch(volume, elided.map((request) => `ea_get -x <${request.split(' ')[0]}> ${request.split(' ')[1]}`)), 'ea_get -x');
  const byInode = new Map<string, string>();
  for (const [key, lines] of listed) {
    const inode = key.slice(1, key.indexOf('>'));
    const attributes = lines.filter((line) => line !== 'Extended attributes:').map((line) => {
      if (!/^\S+ \(\d+\)$/.test(line)) return line;
      const value = values.get(`<${inode}> ${line.split(' ')[0]}`)?.join('\n') ?? 'unreadable';
      return `${line} sha256=${createHash('sha256').update(value).digest('hex')}`;
    });
    if (attributes.length > 0) byInode.set(inode, attributes.sort().join('; '));
  }
  for (const entry of entries.values()) {
    const attributes = byInode.get(String(entry.inode));
    if (attributes) entry.line += ` xattrs={${attributes}}`;
  }
}

/** Runs debugfs requests read-only on a loop device of the volume, all in one process. */
async function debugfsBatch(volume: Volume, requests: readonly string[]): Promise<string> {
  if (requests.length === 0) return '';
  return withVolumeDevice(volume, 'ro', async (device) => (await execa('debugfs', ['-f', '-', device], { input: `${requests.join('\n')}\n`, stderr: 'ignore' })).stdout);
}

/** debugfs's echoed requests ("debugfs: COMMAND ARGS") and the trimmed lines each printed, keyed by ARGS. */
function parseDebugfs(output: string, command: string): Map<string, string[]> {
  const replies = new Map<string, string[]>();
  for (const block of output.split(new RegExp(`^debugfs: ${command} `, 'm')).slice(1)) {
    const [head = '', ...rest] = block.split('\n');
    replies.set(head.trim(), rest.map((line) => line.trim()).filter((line) => line !== ''));
  }
  return replies;
}

/** The listing key of a FAT volume's free space (mdir's last line). */
const FREE_SPACE_KEY = '<free space>';

/** FAT: mdir's recursive listing (short and long names, sizes, dates), mattrib's attributes, and the files copied out with mcopy -m (content, mtime). */
async function readFatTree(device: string): Promise<TreeListing> {
  const listing = new Map<string, string>();
  // The free space is a fact of the volume, not of its tree: kept apart, so a grown copy can leave it out.
  const mdir = (await mtools('mdir', ['-/', '-a', '-i', device, '::'])).trim().split('\n');
  listing.set('<mdir -/ -a>', mdir.filter((line) => !/bytes free$/.test(line)).join('\n'));
  listing.set(FREE_SPACE_KEY, mdir.filter((line) => /bytes free$/.test(line)).join('\n'));
  const attributes = new Map<string, string>();
  for (const line of (await mtools('mattrib', ['-/', '-i', device, '::'])).split('\n')) {
    const match = /^(.{11})\s*::(\/.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) attributes.set(match[2], match[1].replace(/\s+/g, ''));
  }
  const out = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fat-'));
  try {
    await mtools('mcopy', ['-s', '-m', '-n', '-i', device, '::*', out]);
    const walked = await walkMounted(out);
    for (const [relative, entry] of walked) {
      if (relative === '/') continue;
      const fields = entry.line.split(' ').filter((field) => /^(file|dir|size=|sha256=|mtime=)/.test(field));
      if (fields[0] === 'dir') fields.splice(1); // folder sizes and times are the extraction's, not the volume's
      listing.set(`/${relative}`, `${fields.join(' ')} attr=${attributes.get(`/${relative}`) ?? '?'}`);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  return listing;
}

/** The size the filesystem itself records (ext4 block count, NTFS clusters, FAT32 total sectors), read by the format's own tool. */
export async function filesystemSizeBytes(volume: Volume): Promise<number> {
  return withVolumeDevice(volume, 'ro', async (device) => {
    if (volume.kind === 'ext4') {
      const { stdout } = await execa('dumpe2fs', ['-h', device], { stderr: 'ignore' });
      return Number(/^Block count:\s+(\d+)/m.exec(stdout)?.[1]) * Number(/^Block size:\s+(\d+)/m.exec(stdout)?.[1]);
    }
    if (volume.kind === 'ntfs') {
      // -f: ntfsresize leaves the volume marked for a check at the next Windows start.
      const { stdout } = await execa('ntfsinfo', ['-f', '-m', device], { stderr: 'ignore' });
      return Number(/Volume Size in Clusters:\s+(\d+)/.exec(stdout)?.[1]) * Number(/Cluster Size:\s+(\d+)/.exec(stdout)?.[1]);
    }
    if (volume.kind === 'fat32') {
      const text = await mtools('minfo', ['-i', device, '::']);
      return Number(/^big size: (\d+) sectors/m.exec(text)?.[1]) * Number(/^sector size: (\d+) bytes/m.exec(text)?.[1]);
    }
    throw new Error(`no size reader for ${volume.kind}`);
  });
}

/** The differences between two listings, one line each (empty when equal). */
export function diffListings(source: TreeListing, restored: TreeListing): string[] {
  const differences: string[] = [];
  for (const [key, line] of source) {
    const other = restored.get(key);
    if (other === undefined) differences.push(`missing in the restored volume: ${key}`);
    else if (other !== line) differences.push(`differs: ${key}\n    source:   ${line}\n    restored: ${other}`);
  }
  for (const key of restored.keys()) if (!source.has(key)) differences.push(`only in the restored volume: ${key}`);
  return differences;
}

/** The volume's header as the format's own tool prints it (dumpe2fs -h, minfo, dump.exfat, ntfsinfo -m) plus blkid, with the device name removed. */
export async function volumeFacts(volume: Volume): Promise<string> {
  const commands: Record<FilesystemKind, (device: string) => [string, string[]]> = {
    ext4: (device) => ['dumpe2fs', ['-h', device]],
    fat32: (device) => ['minfo', ['-i', device, '::']],
    exfat: (device) => ['dump.exfat', [device]],
    ntfs: (device) => ['ntfsinfo', ['-m', device]],
  };
  return withVolumeDevice(volume, 'ro', async (device) => {
    const [command, args] = commands[volume.kind](device);
    const result = await execa(command, args, { env: MTOOLS_ENV, reject: false, stdin: 'ignore' });
    const ids = await blkid(device);
    const text = `${result.stdout}\nblkid: ${JSON.stringify(ids, Object.keys(ids).sort())}`;
    return text.split(device).join('DEVICE');
  });
}

/** Compares a restored volume with its source: the restored one checks clean, trees are equal, and (unless `facts` is false) so are the headers. */
export async function compareVolumes(source: Volume, restored: Volume, options: { facts?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const fsck = await fsckVolume(restored);
  if (!fsck.clean) problems.push(`${restored.kind} at ${restored.file}+${restored.offset} is not clean:\n${fsck.output}`);
  const [sourceTree, restoredTree] = [new Map(await readTree(source)), new Map(await readTree(restored))];
  if (options.facts === false) for (const listing of [sourceTree, restoredTree]) listing.delete(FREE_SPACE_KEY);
  problems.push(...diffListings(sourceTree, restoredTree));
  if (options.facts !== false) {
    const [before, after] = [await volumeFacts(source), await volumeFacts(restored)];
    if (before !== after) problems.push(`volume headers differ:\n${lineDiff(before, after)}`);
  }
  return problems;
}

function lineDiff(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const lines: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) lines.push(`  - ${a[i] ?? ''}\n  + ${b[i] ?? ''}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Comparators: disks

/** One partition as sfdisk -J lists it (start and size in sectors). */
export interface TablePartition {
  readonly number: number;
  readonly start: number;
  readonly size: number;
  readonly type: string;
}

/** The partition table as sfdisk reads it. */
export async function readPartitionTable(file: string): Promise<{ label: string; partitions: TablePartition[] }> {
  const { stdout } = await execa('sfdisk', ['-J', file]);
  const table = (JSON.parse(stdout) as { partitiontable: { label: string; partitions?: Array<{ node: string; start: number; size: number; type: string }> } }).partitiontable;
  const partitions = (table.partitions ?? []).map((entry) => ({ number: Number(/(\d+)$/.exec(entry.node)?.[1]), start: entry.start, size: entry.size, type: entry.type }));
  return { label: table.label, partitions };
}

/** `sfdisk -d` of a disk image with its path replaced by DISK. */
export async function dumpPartitionTable(file: string): Promise<string> {
  const { stdout } = await execa('sfdisk', ['-d', file]);
  return stdout.split(file).join('DISK');
}

/** SHA-256 of `length` bytes at `offset` of a file. */
export async function hashRange(file: string, offset: number, length: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(MiB);
    for (let done = 0; done < length; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(MiB, length - done), offset + done);
      if (bytesRead === 0) throw new Error(`${file}: short read at ${offset + done}`);
      hash.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

/** How a restored disk may differ from its source: restored onto a larger disk, and with the last partition grown. */
export interface DiskCompareOptions {
  readonly largerDisk?: boolean;
  readonly grownLast?: boolean;
}

/** Compares a restored disk image with a disk fixture: tables (sfdisk -d), boot code, gap, BIOS boot bytes, each filesystem clean and equal. */
export async function compareDisks(source: DiskFixture, restoredFile: string, options: DiskCompareOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  problems.push(...(await compareTables(source, restoredFile, options)));
  problems.push(...(await compareRawRegions(source, restoredFile, options)));
  const restoredTable = await readPartitionTable(restoredFile);
  const lastNumber = Math.max(...source.partitions.filter((partition) => partition.content !== 'extended').map((partition) => partition.number));
  for (const partition of source.partitions) {
    if (partition.content === 'bios-boot' || partition.content === 'extended') continue;
    const entry = restoredTable.partitions.find((candidate) => candidate.number === partition.number);
    if (!entry) {
      problems.push(`partition ${partition.number} is missing from the restored table`);
      continue;
    }
    const grown = options.grownLast === true && partition.number === lastNumber;
    const restored: Volume = { kind: partition.content, file: restoredFile, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR };
    const differences = await compareVolumes(partitionVolume(partition, source.file), restored, { facts: !grown });
    problems.push(...differences.map((difference) => `partition ${partition.number} (${partition.content}): ${difference}`));
  }
  return problems;
}

async function compareTables(source: DiskFixture, restoredFile: string, options: DiskCompareOptions): Promise<string[]> {
  const normalise = (dump: string) =>
    dump
      .split('\n')
      .filter((line) => !(options.largerDisk && /^last-lba:/.test(line)))
      .map((line) => (options.grownLast && line.startsWith(`DISK${lastPartitionNumber(source)} :`) ? line.replace(/size=\s*\d+,/, 'size=GROWN,') : line))
      .join('\n');
  const [before, after] = [normalise(await dumpPartitionTable(source.file)), normalise(await dumpPartitionTable(restoredFile))];
  return before === after ? [] : [`partition tables differ (sfdisk -d):\n${lineDiff(before, after)}`];
}

function lastPartitionNumber(disk: DiskFixture): number {
  return Math.max(...disk.partitions.filter((partition) => partition.content !== 'extended').map((partition) => partition.number));
}

/** Boot code (bytes 0..439), and for MBR the gap before the first partition, for GPT the BIOS boot partition and (same size only) the primary header and entries. */
async function compareRawRegions(source: DiskFixture, restoredFile: string, options: DiskCompareOptions): Promise<string[]> {
  const regions: Array<[string, number, number]> = [['boot code (MBR bytes 0..439)', 0, 440]];
  const first = Math.min(...source.partitions.map((partition) => partition.offset));
  if (source.label === 'dos') regions.push(['MBR sector 0 (bytes 0..511)', 0, SECTOR], ['boot gap (sectors 1..first partition)', SECTOR, first - SECTOR]);
  if (source.label === 'gpt' && !options.largerDisk) regions.push(['primary GPT header and entries (sectors 1..33)', SECTOR, 33 * SECTOR]);
  for (const partition of source.partitions) if (partition.content === 'bios-boot') regions.push([`BIOS boot partition ${partition.number}`, partition.offset, partition.sizeBytes]);
  const problems: string[] = [];
  for (const [name, offset, length] of regions) {
    if ((await hashRange(source.file, offset, length)) !== (await hashRange(restoredFile, offset, length))) problems.push(`${name} differs`);
  }
  return problems;
}

/** `sgdisk -v` of a GPT image: clean when it finds no problems (backup header at the end, CRCs good). */
export async function verifyGpt(file: string): Promise<FsckResult> {
  const result = await execa('sgdisk', ['-v', file], { reject: false });
  const output = `${result.stdout}\n${result.stderr}`;
  return { clean: result.exitCode === 0 && /No problems found/.test(output), output };
}

/** The size of a file in bytes. */
export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}
