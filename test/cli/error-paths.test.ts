// Error codes no other test reached, each through the real CLI on real files: a volume with no
// filesystem, a folder that is no Clonezilla image, an image the user may not read, a restore
// refused at the typed confirmation (in a pseudo-terminal through script(1)), and a check that
// finds a pack missing.

import test from 'ava';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

async function workDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-error-paths-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function lifeboat(dir: string, args: readonly string[]) {
  return execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
}

async function ext4Image(dir: string, name: string): Promise<string> {
  const content = path.join(dir, `${name}-content`);
  await mkdir(content);
  await writeFile(path.join(content, 'a.txt'), 'some content\n'.repeat(1000));
  const image = path.join(dir, name);
  await execa('truncate', ['-s', '8M', image]);
  await execa('mkfs.ext4', ['-q', '-F', '-d', content, image]);
  return image;
}

test('LB_FILESYSTEM_UNSUPPORTED: ls on a volume that holds no filesystem', async (t) => {
  const dir = await workDir(t);
  await execa('truncate', ['-s', '8M', path.join(dir, 'zeros.img')]);
  const result = await lifeboat(dir, ['ls', 'zeros.img']);
  t.is(result.exitCode, 4);
  t.regex(result.stderr, /LB_FILESYSTEM_UNSUPPORTED: Lifeboat cannot read files on this partition\./);
});

test('LB_INPUT_NOT_CLONEZILLA_IMAGE: import of a folder that holds no Clonezilla image', async (t) => {
  const dir = await workDir(t);
  await mkdir(path.join(dir, 'not-an-image'));
  await writeFile(path.join(dir, 'not-an-image', 'readme.txt'), 'holiday photos\n');
  const result = await lifeboat(dir, ['import', 'clonezilla', 'not-an-image', '-r', 'repo']);
  t.is(result.exitCode, 2);
  t.regex(result.stderr, /LB_INPUT_NOT_CLONEZILLA_IMAGE/);
  t.deepEqual((await readdir(dir)).filter((name) => name === 'repo'), [], 'no repository was made');
});

test('LB_DEVICE_UNREADABLE: an image the user may not read (run as nobody)', async (t) => {
  const dir = await workDir(t);
  await chmod(dir, 0o755);
  const image = await ext4Image(dir, 'locked.img');
  await chmod(image, 0o000);
  const result = await execa('runuser', ['-u', 'nobody', '--', process.execPath, LIFEBOAT, 'ls', image], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'nobody-logs') } });
  t.is(result.exitCode, 3, result.stderr);
  t.regex(result.stderr, /LB_DEVICE_UNREADABLE: .*locked\.img: EACCES/);
});

test('LB_INPUT_CANCELLED: a restore answered "no" at the typed confirmation writes nothing', async (t) => {
  const dir = await workDir(t);
  const image = await ext4Image(dir, 'source.img');
  t.is((await lifeboat(dir, ['backup', 'partition', image, '-r', 'repo'])).exitCode, 0);
  const target = path.join(dir, 'target.img');
  await execa('truncate', ['-s', '8M', target]);
  // script(1) gives the restore a terminal; the answer waits in its input until the prompt reads it.
  const command = [process.execPath, LIFEBOAT, 'restore', '-r', 'repo', 'latest', target].map((word) => `'${word}'`).join(' ');
  const run = execa('script', ['-qec', command, '/dev/null'], { cwd: dir, reject: false, stdin: 'pipe', env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
  run.stdin?.write('no\n');
  const result = await run;
  run.stdin?.end();
  const output = String(result.stdout).replace(/\r/g, '');
  t.regex(output, /Type yes to continue/);
  t.regex(output, /LB_INPUT_CANCELLED: The operation was cancelled; nothing was written\./);
  t.is(result.exitCode, 2);
  t.true((await readFile(target)).every((byte) => byte === 0), 'the target is still all zeros');
});

test('LB_REPO_CHECK_FAILED: check finds a pack missing and fails with the problem listed', async (t) => {
  const dir = await workDir(t);
  const image = await ext4Image(dir, 'source.img');
  t.is((await lifeboat(dir, ['backup', 'partition', image, '-r', 'repo'])).exitCode, 0);
  const packs = (await readdir(path.join(dir, 'repo', 'data'), { recursive: true })).filter((name) => name.endsWith('.pack'));
  t.true(packs.length > 0);
  await rm(path.join(dir, 'repo', 'data', packs[0] ?? ''));
  const result = await lifeboat(dir, ['check', '-r', 'repo']);
  t.is(result.exitCode, 5);
  t.regex(result.stdout, /LB_REPO_PACK_MISSING/);
  t.regex(result.stderr, /LB_REPO_CHECK_FAILED: The repository check found problems\..*LB_REPO_PACK_MISSING/);
});
