// Mistakes a new user makes, each answered by a code of its own group with a fix that helps (not
// LB_INPUT_USAGE, which stays for command lines that are not valid, nor LB_INTERNAL): a device
// that is not there, a repository path that is a file, a repository folder on a read-only mount
// (reported as ENOENT before), init on an existing repository or a folder with other files, a
// truncated disk image (not "GPT damaged, use testdisk"), and two passwords that differ.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');
const MiB = 1024 * 1024;

async function workDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-codes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function lifeboat(dir: string, args: readonly string[]) {
  return execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
}

/** An 8 MiB ext4 image holding one file. */
async function ext4Image(dir: string): Promise<string> {
  const image = path.join(dir, 'part.img');
  await mkdir(path.join(dir, 'content'));
  await writeFile(path.join(dir, 'content', 'a.txt'), 'hello\n');
  await execa('truncate', ['-s', '8M', image]);
  await execa('mkfs.ext4', ['-q', '-F', '-d', path.join(dir, 'content'), image]);
  return image;
}

test('LB_DEVICE_NOT_FOUND: backup, ls, disks and restore name a device that is not there; the fix sends to lifeboat disks', async (t) => {
  const dir = await workDir(t);
  const missing = '/dev/lifeboat-no-such-disk';
  const repo = path.join(dir, 'repo');
  t.is((await lifeboat(dir, ['backup', 'partition', await ext4Image(dir), '-r', repo])).exitCode, 0);
  for (const command of [['backup', 'disk', missing, '-r', repo], ['ls', `${missing}9`], ['disks', missing], ['restore', '-r', repo, 'latest', missing, '--yes'], ['backup', 'partition', path.join(dir, 'nope.img:1'), '-r', repo]]) {
    const result = await lifeboat(dir, command);
    t.is(result.exitCode, 3, `${command.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, /LB_DEVICE_NOT_FOUND: The disk, partition or image named does not exist\. \S+ does not exist\.\n {2}fix: Run `lifeboat disks` to see the disks/, command.join(' '));
  }
  t.false((await readdir('/dev')).includes('lifeboat-no-such-disk'), 'the restore made no image file in /dev');
});

test('LB_REPO_NOT_A_FOLDER: -r naming a file, for listing, backup and init', async (t) => {
  const dir = await workDir(t);
  const file = path.join(dir, 'backup.tar');
  await writeFile(file, 'not a repository\n');
  const image = await ext4Image(dir);
  for (const command of [['snapshots', '-r', file], ['backup', 'partition', image, '-r', file], ['init', '-r', file], ['init', '-r', path.join(file, 'inside')]]) {
    const result = await lifeboat(dir, command);
    t.is(result.exitCode, 5, `${command.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, /LB_REPO_NOT_A_FOLDER: The repository path is a file, not a folder\./, command.join(' '));
  }
});

test('LB_REPO_READ_ONLY: a repository folder on a read-only mount (new, empty or existing), not ENOENT', async (t) => {
  const dir = await workDir(t);
  const image = await ext4Image(dir);
  const mount = path.join(dir, 'stick');
  await mkdir(mount);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount]);
  t.teardown(async () => {
    await execa('umount', [mount], { reject: false });
  });
  await mkdir(path.join(mount, 'empty'));
  t.is((await lifeboat(dir, ['backup', 'partition', image, '-r', path.join(mount, 'existing')])).exitCode, 0);
  await execa('mount', ['-o', 'remount,ro', mount]);
  for (const command of [['init', '-r', path.join(mount, 'new')], ['backup', 'partition', image, '-r', path.join(mount, 'new', 'deeper')], ['backup', 'partition', image, '-r', path.join(mount, 'empty')], ['backup', 'partition', image, '-r', path.join(mount, 'existing')]]) {
    const result = await lifeboat(dir, command);
    t.is(result.exitCode, 5, `${command.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, /LB_REPO_READ_ONLY: The repository folder cannot be written\. \S+: the filesystem is mounted read-only \(EROFS\)\.\n {2}fix: .*mount -o remount,rw/, command.join(' '));
    t.notRegex(result.stderr, /ENOENT/);
  }
  const listing = await lifeboat(dir, ['snapshots', '-r', path.join(mount, 'existing')]);
  t.is(listing.exitCode, 0, 'reading a repository on a read-only mount still works');
});

test('LB_REPO_ALREADY_EXISTS and LB_REPO_FOLDER_NOT_EMPTY: init where a repository or other files are', async (t) => {
  const dir = await workDir(t);
  t.is((await lifeboat(dir, ['init', '-r', 'repo'])).exitCode, 0);
  const again = await lifeboat(dir, ['init', '-r', 'repo']);
  t.is(again.exitCode, 5);
  t.regex(again.stderr, /LB_REPO_ALREADY_EXISTS: The folder already holds a Lifeboat repository\. repo already holds a repository\.\n {2}fix: Use it as it is \(lifeboat snapshots -r PATH/);
  await mkdir(path.join(dir, 'photos'));
  await writeFile(path.join(dir, 'photos', 'cat.jpg'), 'meow');
  const busy = await lifeboat(dir, ['init', '-r', 'photos']);
  t.is(busy.exitCode, 5);
  t.regex(busy.stderr, /LB_REPO_FOLDER_NOT_EMPTY: /);
  t.deepEqual(await readdir(path.join(dir, 'photos')), ['cat.jpg']);
});

test('LB_DEVICE_TABLE_TRUNCATED: a GPT disk image cut short is a truncated image, not a damaged table', async (t) => {
  const dir = await workDir(t);
  const image = path.join(dir, 'disk.img');
  await execa('truncate', ['-s', `${64 * MiB}`, image]);
  await execa('sfdisk', ['--quiet', image], { input: 'label: gpt\nsize=20M, type=linux\nsize=20M, type=linux\n' });
  await execa('truncate', ['-s', `${30 * MiB}`, image]);
  const listed = await lifeboat(dir, ['disks', image, '--json']);
  t.is(listed.exitCode, 0, listed.stderr);
  const { disks } = JSON.parse(listed.stdout) as { disks: Array<{ problem?: { code: string; message: string; fix: string } }> };
  t.is(disks[0]?.problem?.code, 'LB_DEVICE_TABLE_TRUNCATED');
  t.regex(disks[0]?.problem?.message ?? '', /written for a disk of at least 131072 sectors \(64\.0 MiB\); this one has 61440 \(30\.0 MiB\)/);
  t.notRegex(disks[0]?.problem?.fix ?? '', /testdisk/);
  const backup = await lifeboat(dir, ['backup', 'disk', image, '-r', 'repo']);
  t.is(backup.exitCode, 3);
  t.regex(backup.stderr, /LB_DEVICE_TABLE_TRUNCATED: The disk is too small to hold the partition table it claims to have\./);
  t.notRegex(backup.stderr, /GPT_INVALID|testdisk/);
});

test('LB_INPUT_PASSWORDS_DIFFER: init --encrypt typed twice differently (in a terminal) makes nothing', async (t) => {
  const dir = await workDir(t);
  const command = [process.execPath, LIFEBOAT, 'init', '-r', 'repo', '--encrypt'].map((word) => `'${word}'`).join(' ');
  const run = execa('script', ['-qec', command, '/dev/null'], { cwd: dir, reject: false, stdin: 'pipe', env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
  let output = '';
  run.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  for (const [prompt, answer] of [['New repository password:', 'correct horse\n'], ['Repeat the password:', 'correct h0rse\n']] as const) {
    for (let tries = 0; tries < 400 && !output.includes(prompt); tries++) await new Promise((resolve) => setTimeout(resolve, 25));
    run.stdin?.write(answer);
  }
  const result = await run;
  const text = output.replace(/\r/g, '');
  t.is(result.exitCode, 2, text);
  t.regex(text, /LB_INPUT_PASSWORDS_DIFFER: The two passwords typed differ\. Nothing was created\.\n {2}fix: Run the command again and type the same password twice/);
  t.notRegex(text, /correct h/, 'the passwords were not echoed');
  t.false((await readdir(dir)).includes('repo'));
});
