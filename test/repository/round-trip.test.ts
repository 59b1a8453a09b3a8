// Issue 4 round trips through the CLI (the contract: `lifeboat backup`, `restore`, `init`, `check`,
// `snapshots`): each filesystem (ext4, FAT32, exFAT, NTFS) and whole MBR and GPT disks are backed
// up and restored into new image files, and the filesystems' own tools judge the result (fsck clean,
// same tree, same header; sfdisk -d, boot code, boot gap and BIOS boot bytes for disks). Also:
// restores onto a larger disk (backup GPT header at the new end; --grow enlarges the last partition
// and its ext4), one partition of a disk snapshot onto a partition of another disk (SNAPSHOT:N onto
// FILE:N), an encrypted repository, and a second backup that stores only what changed.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import {
  compareDisks,
  compareVolumes,
  type DiskFixture,
  dumpPartitionTable,
  fileSize,
  type FilesystemFixture,
  type FilesystemKind,
  fsckVolume,
  hashRange,
  makeBlankDiskLike,
  makeFilesystemImage,
  makeGptDisk,
  makeMbrDisk,
  partitionVolume,
  readPartitionTable,
  verifyGpt,
  type Volume,
  withMountedVolume,
  withVolumeDevice,
} from '../helpers/disk-fixtures.ts';
import { flipByte } from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const CLI_ENTRY = path.join(PROJECT_ROOT, 'rescue', 'bin', 'lifeboat.mjs');
const TEST_TIMEOUT_MS = 25 * 60_000;

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-round-trip-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Scheduling: at most a few heavy tests at once on a small machine, one CLI run at a time per repository

/** Lets at most `limit` callers run at once. */
function semaphore(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (work) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

const heavy = semaphore(3);

/** Runs `make` once, the first time the result is asked for. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= make());
}

const repositoryQueues = new Map<string, Promise<unknown>>();

/** Runs `work` after every earlier CLI run on the same repository has ended. */
function inRepository<T>(repository: string, work: () => Promise<T>): Promise<T> {
  const previous = repositoryQueues.get(repository) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(work);
  repositoryQueues.set(repository, next);
  return next;
}

// ---------------------------------------------------------------------------------------------
// The CLI

interface CliResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `lifeboat ARGS` from the checkout with Node 24, without a terminal and without an inherited LIFEBOAT_PASSWORD. */
async function lifeboat(args: readonly string[]): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'LIFEBOAT_PASSWORD') env[key] = value;
  const result = await execa(process.execPath, [CLI_ENTRY, ...args], { cwd: PROJECT_ROOT, reject: false, extendEnv: false, env, stdin: 'ignore', timeout: 15 * 60_000 });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

function describe(args: readonly string[], result: CliResult): string {
  return `lifeboat ${args.join(' ')}\nexit code: ${result.exitCode}\n--- stdout ---\n${result.stdout.slice(-4000)}\n--- stderr ---\n${result.stderr.slice(-4000)}`;
}

/** Runs the CLI and throws with its exact output unless it exits 0. */
async function succeed(args: readonly string[]): Promise<CliResult> {
  const result = await lifeboat(args);
  if (result.exitCode !== 0) throw new Error(describe(args, result));
  return result;
}

/** The `done` event of a --json backup. */
interface BackupDone {
  readonly event: 'done';
  readonly snapshot: { readonly id: string; readonly shortId: string };
  readonly stats: { readonly logicalBytes: number; readonly readBytes: number; readonly newBytes: number; readonly newChunks: number; readonly deltaChunks?: number; readonly chunks: number; readonly durationMs: number };
}

/** `lifeboat backup disk|partition SOURCE -r REPO --json ...`: the done event. */
async function backup(what: 'disk' | 'partition', source: string, repository: string, extra: readonly string[] = []): Promise<BackupDone> {
  const args = ['backup', what, source, '-r', repository, '--json', ...extra];
  const result = await inRepository(repository, () => succeed(args));
  const events = result.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { event?: string });
  const done = events.filter((event) => event.event === 'done').at(-1) as BackupDone | undefined;
  if (!done?.snapshot?.id || !done.stats) throw new Error(`no done event with a snapshot and stats\n${describe(args, result)}`);
  return done;
}

/** `lifeboat restore -r REPO SNAPSHOT TARGET ...extra`, which must succeed. */
async function restore(repository: string, snapshot: string, target: string, extra: readonly string[] = ['--yes']): Promise<CliResult> {
  return inRepository(repository, () => succeed(['restore', '-r', repository, snapshot, target, ...extra]));
}

/** Fails the test with `lifeboat CODE` unless the run exited with `exitCode` and named `code` on stderr. */
function assertFailure(t: ExecutionContext, args: readonly string[], result: CliResult, exitCode: number, code: string): void {
  t.is(result.exitCode, exitCode, describe(args, result));
  t.true(result.stderr.includes(code), describe(args, result));
}

async function timed<T>(t: ExecutionContext, what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  t.log(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Fixtures, built once per run and shared

const FILESYSTEM_SIZES_MIB: Record<FilesystemKind, number> = { ext4: 64, fat32: 64, exfat: 32, ntfs: 64 };
const KINDS: readonly FilesystemKind[] = ['ext4', 'fat32', 'exfat', 'ntfs'];

const filesystems = new Map<FilesystemKind, () => Promise<FilesystemFixture>>(
  KINDS.map((kind, index) => [kind, once(() => makeFilesystemImage(kind, path.join(workDir, `${kind}.img`), { sizeMiB: FILESYSTEM_SIZES_MIB[kind], seed: 401 + index }))]),
);

function filesystem(kind: FilesystemKind): Promise<FilesystemFixture> {
  return filesystems.get(kind)!();
}

const mbrDisk = once(() => makeMbrDisk(workDir, 21));
const gptDisk = once(() => makeGptDisk(workDir, 22));

/** One disk backup per disk fixture, shared by the tests that restore it. */
const diskBackup = (disk: () => Promise<DiskFixture>, name: string) =>
  once(async () => {
    const fixture = await disk();
    const repository = path.join(workDir, `repo-${name}`);
    const started = Date.now();
    const done = await backup('disk', fixture.file, repository);
    return { fixture, repository, done, seconds: (Date.now() - started) / 1000 };
  });

const mbrBackup = diskBackup(mbrDisk, 'mbr');
const gptBackup = diskBackup(gptDisk, 'gpt');

// ---------------------------------------------------------------------------------------------
// Filesystem round trips

for (const kind of KINDS) {
  test(`${kind}: backup partition, restore latest into a new file: same size, fsck clean, same tree and header`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    await heavy(async () => {
      const fixture = await timed(t, 'fixture', () => filesystem(kind));
      const repository = path.join(workDir, `repo-${kind}`);
      const done = await timed(t, 'backup partition', () => backup('partition', fixture.file, repository));
      t.regex(done.snapshot.id, /^[0-9a-f]{64}$/);
      t.is(done.snapshot.shortId, done.snapshot.id.slice(0, 8));
      t.log(`stats: ${JSON.stringify(done.stats)}`);
      const target = path.join(workDir, `${kind}-restored.img`);
      await timed(t, 'restore', () => restore(repository, 'latest', target));
      t.is(await fileSize(target), fixture.sizeBytes, 'a missing target file is created with the source size');
      const restored: Volume = { ...fixture, file: target };
      t.deepEqual(await compareVolumes(fixture, restored), []);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Whole disks

async function snapshotList(repository: string): Promise<Array<{ id: string; kind: string; source: { sizeBytes: number }; partitions: unknown[] }>> {
  const result = await inRepository(repository, () => succeed(['snapshots', '-r', repository, '--json']));
  return JSON.parse(result.stdout) as Array<{ id: string; kind: string; source: { sizeBytes: number }; partitions: unknown[] }>;
}

for (const [name, backupOf] of [['MBR', mbrBackup], ['GPT', gptBackup]] as const) {
  test(`${name} disk: backup disk, restore latest into a new file: table, boot code, ${name === 'MBR' ? 'boot gap' : 'BIOS boot bytes'} and every filesystem equal`, async (t) => {
    t.timeout(TEST_TIMEOUT_MS);
    await heavy(async () => {
      const { fixture, repository, done, seconds } = await backupOf();
      t.log(`backup disk: ${seconds.toFixed(1)} s, stats: ${JSON.stringify(done.stats)}`);
      const [listed] = await snapshotList(repository);
      t.is(listed?.id, done.snapshot.id);
      t.is(listed?.kind, 'disk');
      t.is(listed?.source.sizeBytes, fixture.sizeBytes);
      const target = path.join(workDir, `${name}-restored.img`);
      await timed(t, 'restore', () => restore(repository, 'latest', target));
      t.is(await fileSize(target), fixture.sizeBytes);
      t.deepEqual(await compareDisks(fixture, target), []);
    });
  });
}

test('GPT disk onto a larger file: the backup GPT header moves to the new end (sgdisk -v clean), partitions and filesystems unchanged', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  await heavy(async () => {
    const { fixture, repository } = await gptBackup();
    const target = path.join(workDir, 'gpt-larger.img');
    await writeFile(target, '');
    await truncate(target, fixture.sizeBytes + 64 * MiB);
    await timed(t, 'restore onto a larger file', () => restore(repository, 'latest', target));
    t.is(await fileSize(target), fixture.sizeBytes + 64 * MiB);
    const verified = await verifyGpt(target);
    t.true(verified.clean, verified.output);
    t.deepEqual(await compareDisks(fixture, target, { largerDisk: true }), []);
  });
});

test('GPT disk onto a larger file with --grow: the last partition reaches the new end, resize2fs grew its ext4, clean and same tree', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  await heavy(async () => {
    const { fixture, repository } = await gptBackup();
    const target = path.join(workDir, 'gpt-grown.img');
    const grownBytes = fixture.sizeBytes + 64 * MiB;
    await writeFile(target, '');
    await truncate(target, grownBytes);
    await timed(t, 'restore --grow', () => restore(repository, 'latest', target, ['--yes', '--grow']));
    const verified = await verifyGpt(target);
    t.true(verified.clean, verified.output);
    const last = fixture.partitions.at(-1)!;
    const table = await readPartitionTable(target);
    const grown = table.partitions.find((partition) => partition.number === last.number)!;
    t.is(grown.start * SECTOR, last.offset, 'the last partition keeps its start');
    const endGap = grownBytes - (grown.start + grown.size) * SECTOR;
    t.true(endGap >= 33 * SECTOR && endGap <= MiB + 33 * SECTOR, `the last partition ends ${endGap} bytes before the end (room for the backup GPT only)`);
    const volume: Volume = { kind: 'ext4', file: target, offset: grown.start * SECTOR, sizeBytes: grown.size * SECTOR };
    const [before, after] = [await ext4BlockCount(partitionVolume(last, fixture.file)), await ext4BlockCount(volume)];
    t.true(after > before, `ext4 block count ${before} -> ${after}`);
    t.true(after * 4096 > last.sizeBytes + 32 * MiB, 'the filesystem fills most of the grown partition');
    const fsck = await fsckVolume(volume);
    t.true(fsck.clean, fsck.output);
    t.deepEqual(await compareDisks(fixture, target, { largerDisk: true, grownLast: true }), []);
  });
});

/** The block count in an ext4 superblock, read by dumpe2fs through a read-only loop device. */
async function ext4BlockCount(volume: Volume): Promise<number> {
  const { stdout } = await withVolumeDevice(volume, 'ro', (device) => execa('dumpe2fs', ['-h', device], { stderr: 'ignore' }));
  return Number(/^Block count:\s+(\d+)/m.exec(stdout)?.[1]);
}

test('SNAPSHOT:N onto FILE:N: the logical NTFS (5) of the MBR snapshot onto partition 3 of a blank GPT disk; nothing else of that disk changes; no --yes and --dry-run write nothing', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  await heavy(async () => {
    const { fixture: mbr, repository, done } = await mbrBackup();
    const gpt = await gptDisk();
    const target = await makeBlankDiskLike(gpt, path.join(workDir, 'blank-gpt.img'));
    const slot = gpt.partitions.find((partition) => partition.number === 3)!;
    const source = mbr.partitions.find((partition) => partition.number === 5)!;
    t.is(slot.content, 'ntfs');
    t.true(slot.sizeBytes >= source.sizeBytes);
    const outside = async () => [await hashRange(target, 0, slot.offset), await hashRange(target, slot.offset + slot.sizeBytes, gpt.sizeBytes - slot.offset - slot.sizeBytes)];
    const [before, whole] = [await outside(), await hashRange(target, 0, gpt.sizeBytes)];
    const tableBefore = await dumpPartitionTable(target);
    const snapshotN = `${done.snapshot.shortId}:5`;

    const unconfirmed = ['restore', '-r', repository, snapshotN, `${target}:3`];
    assertFailure(t, unconfirmed, await inRepository(repository, () => lifeboat(unconfirmed)), 2, 'LB_INPUT_CONFIRMATION_REQUIRED');
    await restore(repository, snapshotN, `${target}:3`, ['--dry-run', '--yes']);
    t.is(await hashRange(target, 0, gpt.sizeBytes), whole, 'without --yes, and with --dry-run, nothing is written');

    await timed(t, 'restore SNAPSHOT:5 onto FILE:3', () => restore(repository, snapshotN, `${target}:3`));
    t.deepEqual(await outside(), before, 'bytes outside partition 3 are unchanged');
    t.is(await dumpPartitionTable(target), tableBefore);
    t.deepEqual(await compareVolumes(partitionVolume(source, mbr.file), partitionVolume(slot, target), { facts: false }), []);
  });
});

// ---------------------------------------------------------------------------------------------
// Encryption and incremental backups

async function repositoryFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

test('encrypted repository: init --encrypt --password-file, backup and restore with it; no password or a wrong one is refused; file content never appears in the repository', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  await heavy(async () => {
    const fixture = await filesystem('ext4');
    const repository = path.join(workDir, 'repo-encrypted');
    const passwordFile = path.join(workDir, 'password');
    const wrongFile = path.join(workDir, 'wrong-password');
    await writeFile(passwordFile, 'correct horse battery staple\n');
    await writeFile(wrongFile, 'not the password\n');
    await inRepository(repository, () => succeed(['init', '-r', repository, '--encrypt', '--password-file', passwordFile]));
    t.true((await readdir(path.join(repository, 'keys'))).some((name) => name.endsWith('.json')), 'keys/*.json');
    const done = await timed(t, 'encrypted backup', () => backup('partition', fixture.file, repository, ['--password-file', passwordFile]));
    t.log(`stats: ${JSON.stringify(done.stats)}`);

    const target = path.join(workDir, 'encrypted-restored.img');
    for (const [extra, exitCode, code] of [[[], 5, 'LB_REPO_PASSWORD_REQUIRED'], [['--password-file', wrongFile], 5, 'LB_REPO_WRONG_PASSWORD']] as const) {
      const args = ['restore', '-r', repository, 'latest', target, '--yes', ...extra];
      assertFailure(t, args, await inRepository(repository, () => lifeboat(args)), exitCode, code);
    }
    await timed(t, 'encrypted restore', () => restore(repository, 'latest', target, ['--yes', '--password-file', passwordFile]));
    t.deepEqual(await compareVolumes(fixture, { ...fixture, file: target }), []);

    // 64 random bytes from a file in the filesystem: stored in the clear they would be found verbatim (zstd keeps incompressible data as is).
    const marker = await withMountedVolume(fixture, 'ro', async (root) => (await readFile(path.join(root, 'big/blob-0.bin'))).subarray(300_000, 300_064));
    for (const file of await repositoryFiles(repository)) t.is((await readFile(file)).indexOf(marker), -1, `${file} holds file content in the clear`);
  });
});

test('a second backup after changing a few files stores few new bytes; each snapshot restores to its own state; check --read-data passes', async (t) => {
  t.timeout(TEST_TIMEOUT_MS);
  await heavy(async () => {
    const image = path.join(workDir, 'incremental.img');
    const fixture = await timed(t, 'fixture (128 MiB ext4, 48 MiB of bulk data)', () => makeFilesystemImage('ext4', image, { sizeMiB: 128, seed: 77, bulkMiB: 48 }));
    const original: Volume = { ...fixture, file: path.join(workDir, 'incremental-original.img') };
    await execa('cp', ['--sparse=always', image, original.file]);
    const repository = path.join(workDir, 'repo-incremental');
    const first = await timed(t, 'first backup', () => backup('partition', image, repository));

    await withMountedVolume(fixture, 'rw', async (root) => {
      for (const name of ['small/s1/note-005.txt', 'small/s2/note-010.bin', 'docs/reports/2023/summary.txt']) {
        const file = path.join(root, name);
        const size = (await readFile(file)).length;
        await writeFile(file, Buffer.alloc(size, 0x5a));
      }
      await writeFile(path.join(root, 'docs/readme.txt'), 'appended line\n', { flag: 'a' });
      await writeFile(path.join(root, 'docs/new-file.bin'), Buffer.alloc(100 * 1024, 0x33));
      await utimes(path.join(root, 'big/blob-2.bin'), 1.6e9, 1.6e9);
    });
    const second = await timed(t, 'second backup', () => backup('partition', image, repository));
    t.log(`first: ${JSON.stringify(first.stats)}\nsecond: ${JSON.stringify(second.stats)}`);
    t.not(second.snapshot.id, first.snapshot.id);
    t.true(first.stats.newBytes > 40 * MiB, `the first backup stored ${first.stats.newBytes} bytes`);
    t.true(second.stats.newBytes < first.stats.newBytes / 4, `the second backup stored ${second.stats.newBytes} bytes, the first ${first.stats.newBytes}`);

    const check = await inRepository(repository, () => lifeboat(['check', '-r', repository, '--read-data']));
    t.is(check.exitCode, 0, describe(['check', '-r', repository, '--read-data'], check));

    const firstTarget = path.join(workDir, 'incremental-first.img');
    const secondTarget = path.join(workDir, 'incremental-second.img');
    await restore(repository, first.snapshot.shortId, firstTarget);
    await restore(repository, 'latest', secondTarget);
    t.deepEqual(await compareVolumes(original, { ...fixture, file: firstTarget }), [], 'the first snapshot is the original');
    t.deepEqual(await compareVolumes(fixture, { ...fixture, file: secondTarget }), [], 'latest is the changed filesystem');

    // The changed chunks went in as deltas against the first snapshot's chunks at the same places.
    const deltas = await deltaBlobs(repository);
    t.true((second.stats.deltaChunks ?? 0) > 0 && deltas.length === second.stats.deltaChunks, `deltaChunks ${second.stats.deltaChunks}, delta blobs in the index ${deltas.length}`);
    t.true(second.stats.newBytes < 2 * MiB, `with deltas the second backup stored ${second.stats.newBytes} bytes`);
    // Version 2 stores pack footers (like index files, checked by indexBlobs) as zstd frames.
    for (const pack of new Set(deltas.map((blob) => blob.pack))) {
      const bytes = await readFile(path.join(repository, 'data', pack.slice(0, 2), `${pack}.pack`));
      const footerLength = bytes.readUInt32LE(bytes.length - 12);
      t.is(bytes.readUInt32LE(bytes.length - 12 - footerLength), 0xfd2fb528, `pack ${pack}: the footer is a zstd frame`);
    }

    // No chains of snapshots: forget the first and prune; the bases the deltas need stay, latest restores.
    const forget = await inRepository(repository, () => lifeboat(['forget', '-r', repository, first.snapshot.shortId, '--prune']));
    t.is(forget.exitCode, 0, describe(['forget'], forget));
    const afterPrune = await inRepository(repository, () => lifeboat(['check', '-r', repository, '--read-data']));
    t.is(afterPrune.exitCode, 0, describe(['check', '--read-data', 'after prune'], afterPrune));
    await rm(secondTarget, { force: true });
    await restore(repository, 'latest', secondTarget);
    t.deepEqual(await compareVolumes(fixture, { ...fixture, file: secondTarget }), [], 'latest restores after its parent was forgotten and pruned');

    // A damaged base: restore names the delta and its base, writes nothing wrong, and check finds it.
    const [delta] = await deltaBlobs(repository);
    if (!delta) return;
    const base = (await indexBlobs(repository)).find((blob) => blob.id === delta.base);
    t.truthy(base, 'the base is indexed');
    if (!base) return;
    await flipByte(path.join(repository, 'data', base.pack.slice(0, 2), `${base.pack}.pack`), base.offset + Math.floor(base.length / 2));
    const broken = path.join(workDir, 'incremental-broken.img');
    const failed = await inRepository(repository, () => lifeboat(['restore', '-r', repository, 'latest', broken, '--yes']));
    assertFailure(t, ['restore', 'latest', 'with a damaged base'], failed, 5, 'LB_REPO_DATA_CORRUPT');
    t.true(failed.stderr.includes(delta.base ?? '-') || failed.stdout.includes(delta.base ?? '-'), `the error names the base ${delta.base}: ${failed.stderr}`);
    const checked = await inRepository(repository, () => lifeboat(['check', '-r', repository, '--read-data']));
    t.is(checked.exitCode, 5, describe(['check', 'with a damaged base'], checked));
  });
});

interface IndexedBlob {
  readonly id: string;
  readonly pack: string;
  readonly offset: number;
  readonly length: number;
  readonly base?: string;
}

/** Every blob the repository's (plain, version-2) index files list, with its pack. */
async function indexBlobs(repository: string): Promise<IndexedBlob[]> {
  const blobs: IndexedBlob[] = [];
  for (const name of await readdir(path.join(repository, 'index'))) {
    const stored = await readFile(path.join(repository, 'index', name));
    // Version 2 writes index files as zstd frames of the JSON (FORMAT.md).
    if (stored.readUInt32LE(0) !== 0xfd2fb528) throw new Error(`index/${name} is not a zstd frame`);
    const index = JSON.parse(zstdDecompressSync(stored).toString('utf8')) as { packs: Array<{ id: string; blobs: Array<Omit<IndexedBlob, 'pack'>> }> };
    for (const pack of index.packs) for (const blob of pack.blobs) blobs.push({ ...blob, pack: pack.id });
  }
  return blobs;
}

async function deltaBlobs(repository: string): Promise<IndexedBlob[]> {
  return (await indexBlobs(repository)).filter((blob) => blob.base !== undefined);
}
