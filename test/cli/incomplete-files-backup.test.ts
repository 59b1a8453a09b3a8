// A files backup that saves its snapshot without everything ends with exit 11 (OUTCOME_EXIT_CODES
// .incomplete) and says what it left out: entries it could not read, and extended attributes it
// could not read, per entry (getfattr's reason) or once when getfattr is missing (before, every
// attribute was dropped silently and the backup ended with 0). Such an entry is stored without
// ino/dev, so the next backup reads it again and gets its attributes. A job goes on after such a
// step and ends with 11.

import test from 'ava';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

async function workDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-incomplete-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  return dir;
}

/** A PATH of a folder holding only sh and xargs (the getfattr loop's shell), so getfattr is missing. */
async function pathWithoutGetfattr(dir: string): Promise<string> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  for (const name of ['sh', 'xargs']) await symlink((await execa('sh', ['-c', `command -v ${name}`])).stdout.trim(), path.join(bin, name));
  return bin;
}

async function treeWithXattr(dir: string): Promise<string> {
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'tagged.txt'), 'has an attribute\n');
  await execa('setfattr', ['-n', 'user.colour', '-v', 'blue', path.join(tree, 'tagged.txt')]);
  return tree;
}

test('unreadable entries (run as nobody): exit 11, each left out with its reason, the snapshot saved with the rest', async (t) => {
  const dir = await workDir(t);
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'readable.txt'), 'for everyone\n');
  await writeFile(path.join(tree, 'secret.txt'), 'root only\n', { mode: 0o600 });
  await mkdir(path.join(tree, 'locked'), { mode: 0o711 });
  await chmod(path.join(tree, 'locked'), 0o711);
  await writeFile(path.join(tree, 'locked', 'inside.txt'), 'unseen\n');
  await execa('setfattr', ['-n', 'user.note', '-v', 'kept?', path.join(tree, 'locked')]);
  const repo = path.join(dir, 'repo');
  const logs = path.join(dir, 'logs');
  await mkdir(repo);
  await mkdir(logs);
  await execa('chown', ['nobody', repo, logs]);
  const result = await execa('runuser', ['-u', 'nobody', '--', process.execPath, LIFEBOAT, 'backup', 'files', tree, '-r', repo], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: logs } });
  t.is(result.exitCode, 11, result.stderr);
  t.regex(result.stdout, /snapshot [0-9a-f]{8} saved: /);
  t.regex(result.stderr, /note: \S+\/secret\.txt: cannot be read \(EACCES\); left out/);
  t.regex(result.stderr, /note: \S+\/locked: the folder cannot be read \(EACCES\); kept empty/);
  t.regex(result.stderr, /note: \S+\/locked: its extended attributes cannot be read \(user\.note: Permission denied\); kept without them/);
  t.regex(result.stderr, /warning: the snapshot is incomplete: 2 entries could not be read and are not in it; 1 entry is kept without its extended attributes \(see the notes above\); exit 11\./);
  const log = (await readdir(logs)).find((name) => name.includes('backup-files')) ?? 'none';
  t.regex(await execa('cat', [path.join(logs, log)]).then((out) => out.stdout), /result +exit 11/);
});

test('getfattr missing: told once with the reason, exit 11; the next backup (getfattr back) reads the attributes and get restores them', async (t) => {
  const dir = await workDir(t);
  const tree = await treeWithXattr(dir);
  await writeFile(path.join(tree, 'second.txt'), 'another\n');
  await execa('setfattr', ['-n', 'user.colour', '-v', 'red', path.join(tree, 'second.txt')]);
  const env = { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') };
  const without = await execa(process.execPath, [LIFEBOAT, 'backup', 'files', tree, '-r', 'repo', '--json'], { cwd: dir, reject: false, env: { ...env, PATH: await pathWithoutGetfattr(dir) } });
  t.is(without.exitCode, 11, without.stderr);
  const notices = without.stdout.split('\n').filter((line) => line.includes('Extended attributes cannot be read'));
  t.is(notices.length, 1, 'told once, not per file');
  t.regex(notices[0] ?? '', /getfattr \(Debian package attr; reads extended attributes for backup files\) was not found on PATH/);
  const done = JSON.parse(without.stdout.split('\n').find((line) => line.startsWith('{"event":"done"')) ?? '{}') as { incomplete: boolean; stats: { xattrsDropped: number; leftOut: number } };
  t.true(done.incomplete);
  t.true(done.stats.xattrsDropped >= 2, `every entry counted: ${done.stats.xattrsDropped}`);
  t.is(done.stats.leftOut, 0);

  const again = await execa(process.execPath, [LIFEBOAT, 'backup', 'files', tree, '-r', 'repo'], { cwd: dir, reject: false, env });
  t.is(again.exitCode, 0, again.stderr);
  t.notRegex(again.stdout, /unchanged files/, 'the files kept without attributes were read again');
  const out = path.join(dir, 'out');
  const got = await execa(process.execPath, [LIFEBOAT, 'get', '-r', 'repo', 'latest', tree, out], { cwd: dir, reject: false, env });
  t.is(got.exitCode, 0, got.stderr);
  const restored = path.join(out, path.basename(tree), 'tagged.txt');
  t.is((await execa('getfattr', ['--only-values', '-n', 'user.colour', restored])).stdout, 'blue');
});

test('a job goes on after a files backup step that ends incomplete, and ends with 11', async (t) => {
  const dir = await workDir(t);
  const tree = await treeWithXattr(dir);
  await writeFile(path.join(dir, 'job.json'), JSON.stringify({ repository: 'repo', steps: [{ do: 'backup', kind: 'files', source: tree }, { do: 'verify' }] }));
  const result = await execa(process.execPath, [LIFEBOAT, 'run', 'job.json'], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs'), PATH: await pathWithoutGetfattr(dir) } });
  t.is(result.exitCode, 11, result.stderr);
  t.regex(result.stdout, /== step 1\/2 \(backup\) done, incomplete \(exit 11: its snapshot is saved, without what could not be read\); the job goes on\./);
  t.regex(result.stdout, /== step 2\/2 \(verify\) done\./);
  t.regex(result.stdout, /job job\.json done, incomplete \(exit 11\)\./);
});
