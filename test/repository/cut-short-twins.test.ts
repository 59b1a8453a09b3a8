// A power cut on a FAT repository between a manifest's (or index file's) rename and its folder's
// sync leaves two directory entries sharing the file's clusters; fsck.fat -a then truncates the
// one it meets second (test/boot/power-cut.test.ts met it: check failed with
// LB_REPO_SNAPSHOT_CORRUPT "the manifest does not match its hash" beside 2 temporary files). When
// the truncated one is the named file, its twin NAME.tmp holds every byte and matches the name:
// it is read instead, check says so (an info line, not a problem), and forget --prune puts it in
// place. A twin that does not match is no help: the damage is still reported. Made here by hand
// from a real repository: the named file truncated, its twin a full copy.

import test from 'ava';
import { execa } from 'execa';
import { copyFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lifeboat, MiB } from '../helpers/repository-harness.ts';

async function repositoryWithSnapshot(t: { teardown: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-twins-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tree = path.join(dir, 'tree');
  await execa('mkdir', ['-p', tree]);
  await writeFile(path.join(tree, 'notes.txt'), 'kept across the cut\n'.repeat(5000));
  const image = path.join(dir, 'source.img');
  await execa('truncate', ['-s', `${16 * MiB}`, image]);
  await execa('mkfs.ext4', ['-q', '-F', '-d', tree, image]);
  const repo = path.join(dir, 'repo');
  const env = { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') };
  const run = (args: string[]) => lifeboat(args, { env });
  const init = await run(['init', '-r', repo]);
  if (init.exitCode !== 0) throw new Error(init.stderr);
  const backup = await run(['backup', 'partition', image, '-r', repo, '--no-verify']);
  if (backup.exitCode !== 0) throw new Error(backup.stderr);
  const manifest = (await readdir(path.join(repo, 'snapshots'))).find((name) => name.endsWith('.json')) ?? '';
  const index = (await readdir(path.join(repo, 'index'))).find((name) => name.endsWith('.json')) ?? '';
  return { dir, image, repo, run, manifest: path.join(repo, 'snapshots', manifest), index: path.join(repo, 'index', index) };
}

/** The named file cut to half its length, as fsck.fat -a truncates it; its twin a full copy. */
async function cutShortWithTwin(file: string): Promise<void> {
  await copyFile(file, `${file}.tmp`);
  await truncate(file, Math.floor((await readFile(file)).length / 2));
}

test('a manifest and an index file cut short are read from their complete .tmp twins; check says so; prune puts them in place', async (t) => {
  const { dir, image, repo, run, manifest, index } = await repositoryWithSnapshot(t);
  const whole = { manifest: await readFile(manifest), index: await readFile(index) };
  await cutShortWithTwin(manifest);
  await cutShortWithTwin(index);

  const check = await run(['check', '-r', repo, '--read-data']);
  t.is(check.exitCode, 0, check.stderr);
  t.regex(check.stdout + check.stderr, /snapshots\/[0-9a-f]{64}\.json was cut short \(a power cut on FAT\); its complete copy \S+\.tmp, which matches its name, was read instead/);
  t.regex(check.stdout + check.stderr, /index\/[0-9a-f]{64}\.json was cut short/);

  const restored = path.join(dir, 'restored.img');
  const restore = await run(['restore', '-r', repo, 'latest', restored, '--yes']);
  t.is(restore.exitCode, 0, restore.stderr);
  t.is((await execa('cmp', [image, restored], { reject: false })).exitCode, 0, 'the snapshot restores identical');

  const prune = await run(['forget', '-r', repo, '--keep-last', '1', '--prune']);
  t.is(prune.exitCode, 0, prune.stderr);
  t.deepEqual(await readFile(manifest), whole.manifest, 'the manifest is whole again under its name');
  t.deepEqual((await readdir(path.join(repo, 'snapshots'))).filter((name) => name.endsWith('.tmp')), [], 'no twin left');
  const after = await run(['check', '-r', repo, '--read-data']);
  t.is(after.exitCode, 0, after.stderr);
  t.notRegex(after.stdout + after.stderr, /cut short|temporary file/);
  t.truthy(whole.index.length);
});

test('a twin that does not match the name is no help: the damaged manifest is still reported', async (t) => {
  const { repo, run, manifest } = await repositoryWithSnapshot(t);
  await cutShortWithTwin(manifest);
  const twin = await readFile(`${manifest}.tmp`);
  twin.writeUInt8(twin.readUInt8(twin.length - 2) ^ 0xff, twin.length - 2);
  await writeFile(`${manifest}.tmp`, twin);
  const check = await run(['check', '-r', repo]);
  t.not(check.exitCode, 0);
  t.regex(check.stdout + check.stderr, /LB_REPO_SNAPSHOT_CORRUPT/);
  t.regex(check.stdout + check.stderr, /the manifest does not match its hash/);
  t.notRegex(check.stdout + check.stderr, /cut short/);
});

test('an empty manifest and an empty index file (a write a power cut interrupted on FAT) are skipped; check says so; prune removes them', async (t) => {
  // On FAT, writeFileAtomic syncs the folder after the rename and the file after that: a cut
  // between leaves the new name empty, its temp file gone (test/boot/fat-folder-order.test.ts).
  const { dir, image, repo, run } = await repositoryWithSnapshot(t);
  const emptyManifest = path.join(repo, 'snapshots', `${'e'.repeat(64)}.json`);
  const emptyIndex = path.join(repo, 'index', `${'f'.repeat(64)}.json`);
  await writeFile(emptyManifest, '');
  await writeFile(emptyIndex, '');

  const check = await run(['check', '-r', repo, '--read-data']);
  t.is(check.exitCode, 0, check.stderr);
  t.regex(check.stdout + check.stderr, /snapshots\/e{64}\.json is empty: its writing was interrupted \(a power cut on FAT\), so nothing was saved in it; it is skipped/);
  t.regex(check.stdout + check.stderr, /index\/f{64}\.json is empty: its writing was interrupted/);
  const list = await run(['snapshots', '-r', repo, '--json']);
  t.is(list.exitCode, 0, list.stderr);
  t.notRegex(list.stdout, /e{64}/, 'the empty manifest is no snapshot');

  const restored = path.join(dir, 'restored.img');
  const restore = await run(['restore', '-r', repo, 'latest', restored, '--yes']);
  t.is(restore.exitCode, 0, restore.stderr);
  t.is((await execa('cmp', [image, restored], { reject: false })).exitCode, 0, 'the saved snapshot restores identical');

  const prune = await run(['forget', '-r', repo, '--keep-last', '1', '--prune']);
  t.is(prune.exitCode, 0, prune.stderr);
  t.false((await readdir(path.join(repo, 'snapshots'))).includes(path.basename(emptyManifest)), 'prune removed the empty manifest');
  t.false((await readdir(path.join(repo, 'index'))).includes(path.basename(emptyIndex)), 'prune removed the empty index file');
  const after = await run(['check', '-r', repo, '--read-data']);
  t.is(after.exitCode, 0, after.stderr);
  t.notRegex(after.stdout + after.stderr, /is empty|temporary file/);
});
