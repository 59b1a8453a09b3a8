// The parent-snapshot shortcut of `backup files` when the parent's chunks are gone: a pack is lost
// (deleted here, as a failing disk or a careless hand would) and `check --rebuild-index` rebuilds the
// index from the packs that are left, so the chunks of files the parent still names are no longer
// in the index. The next backup must read those files again (not reuse chunk ids that point at
// nothing), store their chunks anew, and restore identical; files whose chunks survived are reused.

import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lifeboat, type CliResult } from '../helpers/repository-harness.ts';

let work = '';

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-missing-chunk-'));
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function seededBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; counter++) offset += createHash('sha256').update(`${seed}:${counter}`).digest().copy(out, offset);
  return out;
}

interface Done {
  snapshot: { id: string; shortId: string };
  parent: string | null;
  stats: { newChunks: number; filesRead: number; filesReused: number; readBytes: number };
}

function done(result: CliResult): Done {
  const line = result.stdout.split('\n').find((text) => text.includes('"event":"done"'));
  if (!line) throw new Error(`no done event: ${result.stdout} ${result.stderr}`);
  return JSON.parse(line) as Done;
}

async function packsOf(repo: string): Promise<string[]> {
  const data = path.join(repo, 'data');
  const found: string[] = [];
  for (const folder of await readdir(data)) for (const name of await readdir(path.join(data, folder))) found.push(path.join(data, folder, name));
  return found.sort();
}

test('a parent whose chunks left the index (lost pack, index rebuilt): its unchanged files are read again, stored anew and restore identical', async (t) => {
  const source = path.join(work, 'source');
  await mkdir(source);
  const large = seededBytes('large', 3 * 1024 * 1024 + 17); // several content-defined chunks
  const small = Buffer.from('a small file, read whole into a batch\n');
  await writeFile(path.join(source, 'large.bin'), large);
  await writeFile(path.join(source, 'small.txt'), small);
  const repo = path.join(work, 'repo');
  const env = { env: { LIFEBOAT_PASSWORD: 'missing chunk test' } };
  t.is((await lifeboat(['init', '-r', repo], env)).exitCode, 0);

  const first = done(await lifeboat(['backup', 'files', source, '-r', repo, '--json'], env));
  t.is(first.stats.filesRead, 2);
  const firstPacks = await packsOf(repo);
  // A second backup after adding a file: the two unchanged files are taken from the first (not read).
  const later = Buffer.from('added after the first backup\n');
  await writeFile(path.join(source, 'later.txt'), later);
  const second = done(await lifeboat(['backup', 'files', source, '-r', repo, '--json'], env));
  t.is(second.parent, first.snapshot.id);
  t.is(second.stats.filesRead, 1);
  t.is(second.stats.filesReused, 2);

  // The first run's packs (the only copies of large.bin's and small.txt's chunks) are lost.
  for (const pack of firstPacks) await rm(pack);
  const rebuilt = await lifeboat(['check', '-r', repo, '--rebuild-index'], env);
  t.is(rebuilt.exitCode, 0, rebuilt.stderr);
  const broken = await lifeboat(['restore', '-r', repo, second.snapshot.shortId, path.join(work, 'restored-second')], env);
  t.not(broken.exitCode, 0, 'the second snapshot really lost the chunks of its reused files');

  const third = done(await lifeboat(['backup', 'files', source, '-r', repo, '--json'], env));
  t.is(third.parent, second.snapshot.id, 'the second snapshot is still the parent');
  t.is(third.stats.filesRead, 2, 'large.bin and small.txt are read again');
  t.is(third.stats.filesReused, 1, 'later.txt, whose chunk survived, is reused');
  t.is(third.stats.readBytes, large.length + small.length);
  t.true(third.stats.newChunks >= 3, `${third.stats.newChunks} new chunks`);

  const restored = path.join(work, 'restored-third');
  const restore = await lifeboat(['restore', '-r', repo, third.snapshot.shortId, restored], env);
  t.is(restore.exitCode, 0, restore.stderr);
  const root = path.join(restored, ...source.split(path.sep).filter(Boolean));
  t.deepEqual(await readFile(path.join(root, 'large.bin')), large);
  t.deepEqual(await readFile(path.join(root, 'small.txt')), small);
  t.deepEqual(await readFile(path.join(root, 'later.txt')), later);
});
