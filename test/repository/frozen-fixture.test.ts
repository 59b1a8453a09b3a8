// Repositories written by earlier Lifeboats (test/fixtures/repository-v1 and -v2) must still restore
// byte for byte: the format's compatibility promise, checked on every run. A version-1 repository
// also stays version 1 when a newer Lifeboat backs up into it (no delta blobs, version-1 files).

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
    t.is((await lifeboat(['restore', '-r', repo, 'latest', again, '--yes'])).exitCode, 0);
    t.deepEqual(await readFile(again), bytes);
    const frozen = path.join(dir, 'frozen.img');
    t.is((await lifeboat(['restore', '-r', repo, 'latest', '--tag', 'frozen', frozen, '--yes'])).exitCode, 0);
    t.is(createHash('sha256').update(await readFile(frozen)).digest('hex'), SOURCE_SHA256);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
