// Repositories written by earlier Lifeboats (test/fixtures/repository-v1 and -v2) must still restore
// byte for byte: the format's compatibility promise, checked on every run. A version-1 repository
// also stays version 1 when a newer Lifeboat backs up into it (no delta blobs, version-1 files).

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cp, lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const FIXTURES = path.join(PROJECT_ROOT, 'test/fixtures/repository-v1');
/**
 * The version-2 sets: index files and pack footers as plain JSON (written before version-2 writers
 * compressed them) and as zstd frames; the sha256 of each snapshot's restore (see their READMEs).
 */
const V2_SETS = [
  {
    folder: path.join(PROJECT_ROOT, 'test/fixtures/repository-v2'),
    metadata: 'json',
    sha256: { frozen: '5fee9da1ec9e336cfaaec8f2670cda91e54567f3f6105111b23b08dd2db9fb89', 'frozen-second': 'be40cc0a3cf2d01ea53657ac8001eca826d9229a905b6a09f4ac6d25a0a22ce1' },
  },
  {
    folder: path.join(PROJECT_ROOT, 'test/fixtures/repository-v2-zstd-metadata'),
    metadata: 'zstd',
    sha256: { frozen: '5fee9da1ec9e336cfaaec8f2670cda91e54567f3f6105111b23b08dd2db9fb89', 'frozen-second': '8f09f55b987b325dc6458df8778ba20e386f90e945484a06173bd45f71e6037a' },
  },
] as const;
/** The zstd frame magic 28 B5 2F FD (FORMAT.md, "Metadata encoding"). */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const SOURCE_SHA256 = 'f28751c962b73017bea9d5585c31eb94c10ec90c6e8bfa5d7d5fe66267aa09d5';

async function lifeboat(args: readonly string[], env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'LIFEBOAT_PASSWORD'));
  const result = await execa('node', [path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs'), ...args], { reject: false, env: { ...inherited, ...env }, extendEnv: false });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

async function copyFixture(name: string, from = FIXTURES): Promise<{ dir: string; repo: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-frozen-'));
  const repo = path.join(dir, name);
  await cp(path.join(from, name), repo, { recursive: true });
  return { dir, repo };
}

/** The raw bytes of an unencrypted repository's index files. */
async function indexBytes(repo: string): Promise<Buffer[]> {
  const folder = path.join(repo, 'index');
  return Promise.all((await readdir(folder)).map((name) => readFile(path.join(folder, name))));
}

/** An unencrypted repository's index files, read as JSON or as a zstd frame of JSON. */
async function indexFiles(repo: string): Promise<Array<{ version: number; packs: Array<{ blobs: Array<{ base?: string }> }> }>> {
  return (await indexBytes(repo)).map((bytes) => JSON.parse((isZstdFrame(bytes) ? zstdDecompressSync(bytes) : bytes).toString('utf8')));
}

function isZstdFrame(bytes: Buffer): boolean {
  return bytes.subarray(0, 4).equals(ZSTD_MAGIC);
}

for (const [name, env] of [['plain', {}], ['encrypted', { LIFEBOAT_PASSWORD: 'fixture-password' }]] as const) {
  test(`frozen ${name} repository (format 1) restores byte-identical and checks clean`, async (t) => {
    const { dir, repo } = await copyFixture(name);
    try {
      const baseEnv: Record<string, string> = { ...env };
      const listed = await lifeboat(['snapshots', '-r', repo, '--json'], baseEnv);
      t.is(listed.exitCode, 0, listed.stderr);
      const snapshots = JSON.parse(listed.stdout) as Array<{ kind: string; tags: string[]; source: { sizeBytes: number } }>;
      t.is(snapshots.length, 1);
      t.is(snapshots[0]?.kind, 'disk');
      t.deepEqual(snapshots[0]?.tags, ['frozen']);
      t.is(snapshots[0]?.source.sizeBytes, 4 * 1024 * 1024);
      const check = await lifeboat(['check', '-r', repo, '--read-data'], baseEnv);
      t.is(check.exitCode, 0, check.stdout + check.stderr);
      const out = path.join(dir, 'restored.img');
      const restored = await lifeboat(['restore', '-r', repo, 'latest', '--tag', 'frozen', out, '--yes'], baseEnv);
      t.is(restored.exitCode, 0, restored.stderr);
      t.is(createHash('sha256').update(await readFile(out)).digest('hex'), SOURCE_SHA256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('frozen encrypted repository refuses a wrong password and a missing one', async (t) => {
  const { dir, repo } = await copyFixture('encrypted');
  try {
    const wrong = await lifeboat(['snapshots', '-r', repo], { LIFEBOAT_PASSWORD: 'not-the-password' });
    t.is(wrong.exitCode, 5);
    t.regex(wrong.stderr, /LB_REPO_WRONG_PASSWORD/);
    const missing = await lifeboat(['snapshots', '-r', repo]);
    t.is(missing.exitCode, 5);
    t.regex(missing.stderr, /LB_REPO_PASSWORD_REQUIRED/);
    const file = path.join(dir, 'pw');
    await writeFile(file, 'fixture-password\n');
    const right = await lifeboat(['snapshots', '-r', repo, '--password-file', file]);
    t.is(right.exitCode, 0, right.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const { folder, metadata, sha256: restoredSha256 } of V2_SETS) {
  for (const [name, env] of [['plain', {}], ['encrypted', { LIFEBOAT_PASSWORD: 'fixture-password' }]] as const) {
    test(`frozen ${name} repository (format 2, ${metadata} metadata, with a delta blob) restores both snapshots byte-identical and checks clean`, async (t) => {
      const { dir, repo } = await copyFixture(name, folder);
      try {
        const listed = await lifeboat(['snapshots', '-r', repo, '--json'], env);
        t.is(listed.exitCode, 0, listed.stderr);
        t.deepEqual((JSON.parse(listed.stdout) as Array<{ tags: string[] }>).map((snapshot) => snapshot.tags), [['frozen'], ['frozen-second']]);
        if (name === 'plain') {
          t.true((await indexBytes(repo)).every((bytes) => isZstdFrame(bytes) === (metadata === 'zstd')), `every index file is ${metadata}`);
          const bases = (await indexFiles(repo)).flatMap((index) => index.packs.flatMap((pack) => pack.blobs.filter((blob) => blob.base !== undefined)));
          t.is(bases.length, 1, 'the changed chunk of the second snapshot is a delta blob');
        }
        const check = await lifeboat(['check', '-r', repo, '--read-data'], env);
        t.is(check.exitCode, 0, check.stdout + check.stderr);
        for (const [tag, sha256] of Object.entries(restoredSha256)) {
          const out = path.join(dir, `${tag}.img`);
          const restored = await lifeboat(['restore', '-r', repo, 'latest', '--tag', tag, out, '--yes'], env);
          t.is(restored.exitCode, 0, restored.stderr);
          t.is(createHash('sha256').update(await readFile(out)).digest('hex'), sha256, tag);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

test('a backup into a version-1 repository keeps it version 1: no delta blobs, version-1 index and manifest', async (t) => {
  const { dir, repo } = await copyFixture('plain');
  try {
    const source = path.join(dir, 'disk.img');
    const restored = await lifeboat(['restore', '-r', repo, 'latest', source, '--yes']);
    t.is(restored.exitCode, 0, restored.stderr);
    // Change a few bytes inside the FAT12 partition's data area, then back up the same path twice.
    const bytes = await readFile(source);
    bytes.fill(0x42, 2048 * 512 + 200_000, 2048 * 512 + 204_096);
    await writeFile(source, bytes);
    for (let i = 0; i < 2; i++) {
      const backup = await lifeboat(['backup', 'disk', source, '-r', repo, '--json']);
      t.is(backup.exitCode, 0, backup.stderr);
    }
    t.is((JSON.parse(await readFile(path.join(repo, 'config.json'), 'utf8')) as { version: number }).version, 1);
    const indexes = await indexFiles(repo);
    t.true(indexes.length >= 2);
    t.true(indexes.every((index) => index.version === 1), 'every index file is version 1');
    t.false(indexes.some((index) => index.packs.some((pack) => pack.blobs.some((blob) => blob.base !== undefined))), 'no delta blob');
    for (const file of await readdir(path.join(repo, 'snapshots'))) {
      t.is((JSON.parse(await readFile(path.join(repo, 'snapshots', file), 'utf8')) as { version: number }).version, 1, file);
    }
    const check = await lifeboat(['check', '-r', repo, '--read-data']);
    t.is(check.exitCode, 0, check.stdout + check.stderr);
    const again = path.join(dir, 'again.img');
    // The repository now holds backups of two sources (the fixture's and disk.img): latest names one with --source.
    t.is((await lifeboat(['restore', '-r', repo, 'latest', '--source', source, again, '--yes'])).exitCode, 0);
    t.deepEqual(await readFile(again), bytes);
    const frozen = path.join(dir, 'frozen.img');
    t.is((await lifeboat(['restore', '-r', repo, 'latest', '--tag', 'frozen', frozen, '--yes'])).exitCode, 0);
    t.is(createHash('sha256').update(await readFile(frozen)).digest('hex'), SOURCE_SHA256);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** test/fixtures/repository-v2-kinds/plain: a `system` and a `files` snapshot (see its README). */
const KINDS = path.join(PROJECT_ROOT, 'test/fixtures/repository-v2-kinds');
/** sha256 of the `frozen-system` snapshot restored onto a blank 8 MiB image. */
const SYSTEM_RESTORE_SHA256 = '94d251197030460b6d9128bbb15fd5f6793119528e98908ac03973adf4c19649';
/** The `frozen-files` tree: path (under tmp/fx/tree), kind and mode, size or target, links, content sha256. */
const FILES_TREE = [
  'bin d 750',
  'bin/link l ../docs/readme.txt',
  'bin/random.bin f 644 20000 1 a50e10eb61f3fdaead8bacd661017bfff2d275fd7b862deb0ce1882b51099c79',
  'bin/sparse.bin f 644 1048576 1 bb17cd9482566a845e689fe823dbe36f59988b390d702b46b4d4861b563180e9',
  'docs d 755',
  'docs/deep d 755',
  'docs/deep/er d 755',
  'docs/deep/er/hardlink.txt f 644 35 2 2c2a95e4ce6e8889af730d378ac504c007e0a1eb6b6659608bcef80c7e53f3c9',
  'docs/numbers.txt f 600 13893 1 2e57c67a8bbe706a08d6638ec67da02b67b3743ae7d35948cbcf8d1f45cae0a5',
  'docs/readme.txt f 644 35 2 2c2a95e4ce6e8889af730d378ac504c007e0a1eb6b6659608bcef80c7e53f3c9',
  'empty d 755',
];
/** mtime of every file of the tree (touch -d '2026-01-02 03:04:05' UTC). */
const FILES_MTIME_S = 1767323045;

/** The restored tree in FILES_TREE's form, plus every regular file's mtime. */
async function describeTree(root: string): Promise<{ lines: string[]; mtimes: number[] }> {
  const lines: string[] = [];
  const mtimes: number[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const name of (await readdir(path.join(root, relative))).sort()) {
      const child = relative === '' ? name : `${relative}/${name}`;
      const info = await lstat(path.join(root, child));
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isDirectory()) {
        lines.push(`${child} d ${mode}`);
        await walk(child);
      } else if (info.isSymbolicLink()) {
        lines.push(`${child} l ${await readlink(path.join(root, child))}`);
      } else {
        lines.push(`${child} f ${mode} ${info.size} ${info.nlink} ${createHash('sha256').update(await readFile(path.join(root, child))).digest('hex')}`);
        mtimes.push(Math.floor(info.mtimeMs / 1000));
      }
    }
  };
  await walk('');
  return { lines, mtimes };
}

test('frozen system and files snapshots (format 2) restore as written: the disk image byte for byte, the tree with modes, links and xattrs', async (t) => {
  const { dir, repo } = await copyFixture('plain', KINDS);
  try {
    const listed = await lifeboat(['snapshots', '-r', repo, '--json']);
    t.is(listed.exitCode, 0, listed.stderr);
    const snapshots = JSON.parse(listed.stdout) as Array<{ kind: string; tags: string[] }>;
    t.deepEqual(snapshots.map((snapshot) => `${snapshot.kind}:${snapshot.tags.join(',')}`).sort(), ['files:frozen-files', 'system:frozen-system']);
    // The system snapshot onto a blank disk: its table restricted to the chosen root partition.
    const blank = path.join(dir, 'blank.img');
    await writeFile(blank, '');
    await execa('truncate', ['-s', '8M', blank]);
    const system = await lifeboat(['restore', '-r', repo, 'latest', '--tag', 'frozen-system', blank, '--yes']);
    t.is(system.exitCode, 0, system.stderr);
    t.is(createHash('sha256').update(await readFile(blank)).digest('hex'), SYSTEM_RESTORE_SHA256);
    // The files snapshot into a folder, and single files from it with ls/get.
    const out = path.join(dir, 'out');
    const files = await lifeboat(['restore', '-r', repo, 'latest', '--tag', 'frozen-files', out, '--yes']);
    t.is(files.exitCode, 0, files.stderr);
    const tree = path.join(out, 'tmp/fx/tree');
    const described = await describeTree(tree);
    t.deepEqual(described.lines, FILES_TREE);
    t.true(described.mtimes.every((mtime) => mtime === FILES_MTIME_S), `mtimes ${described.mtimes.join(', ')}`);
    t.is((await readdir(path.join(tree, 'empty'))).length, 0);
    const xattr = await execa('getfattr', ['--only-values', '-n', 'user.note', path.join(tree, 'docs/readme.txt')]);
    t.is(xattr.stdout, 'frozen');
    const ls = await lifeboat(['ls', '-r', repo, 'latest', '--tag', 'frozen-files', '/tmp/fx/tree/docs']);
    t.is(ls.exitCode, 0, ls.stderr);
    t.deepEqual(ls.stdout.trim().split('\n'), ['deep/', 'numbers.txt', 'readme.txt']);
    const check = await lifeboat(['check', '-r', repo, '--read-data']);
    t.is(check.exitCode, 0, check.stdout + check.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
