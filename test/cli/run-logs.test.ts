// Run logs and their export, through the real CLI (npx lifeboat): every command run leaves one
// log in $LIFEBOAT_LOG_DIR with its command line, the source facts, progress figures at phase
// ends, notices, output and the result or the coded error; `logs export` packs them with a system
// report into one .tar.gz that tar extracts.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { RUN_LOGS_KEPT } from '../../rescue/core/run-log.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

async function workDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-run-logs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function lifeboat(dir: string, args: readonly string[], env: Record<string, string> = {}) {
  return execa('node', [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs'), ...env } });
}

async function logFiles(dir: string): Promise<string[]> {
  return (await readdir(path.join(dir, 'logs')).catch(() => [] as string[])).sort();
}

/** An 8 MiB ext4 image holding one file (mkfs.ext4 -d, no mount). */
async function ext4Image(dir: string): Promise<string> {
  const content = path.join(dir, 'content');
  await mkdir(content);
  await writeFile(path.join(content, 'hello.txt'), 'hello from the source\n');
  const image = path.join(dir, 'source.img');
  await execa('truncate', ['-s', '8M', image]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'SRCLOG', '-d', content, image]);
  return image;
}

test('a backup leaves one log: command line, source facts, phase figures, notices, output and the result', async (t) => {
  const dir = await workDir(t);
  const image = await ext4Image(dir);
  const result = await lifeboat(dir, ['backup', 'partition', image, '-r', 'repo', '--note', 'logged run']);
  t.is(result.exitCode, 0, result.stderr);
  const files = await logFiles(dir);
  t.is(files.length, 1);
  t.regex(files[0] ?? '', /^\d{8}T\d{6}\.\d{3}Z-backup-partition\.log$/);
  const log = await readFile(path.join(dir, 'logs', files[0] ?? ''), 'utf8');
  const lines = log.trimEnd().split('\n');
  for (const line of lines) t.regex(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (start|event|progress|notice|out|err|result) +\S/, line);
  t.true(log.includes(`start    lifeboat backup partition ${image} -r repo --note 'logged run'`), log);
  t.regex(log, /start +lifeboat \d+\.\d+\.\d+, pid \d+/);
  t.regex(log, /notice +Created repository repo/);
  // The source's facts (path, size) from the backup's start event.
  t.regex(log, new RegExp(`event +start \\{"kind":"partition","source":\\{"path":"${image}".*"sizeBytes":8388608`));
  // Figures at the end of each phase: the backup read, then the verification.
  t.regex(log, /progress backup ended: .* \((\d+) of \1 bytes\) in [\d.]+ s/);
  t.regex(log, /progress verify ended: /);
  t.regex(log, /out +snapshot [0-9a-f]{8} saved: .*verified\./);
  t.regex(lines.at(-1) ?? '', /result +exit 0: success$/);
  // Progress lines rewritten on the screen are not copied line by line.
  t.notRegex(log, /ETA/);
});

test('a failed run logs its error with code, message, fix and details; trivial commands leave no log', async (t) => {
  const dir = await workDir(t);
  for (const args of [['--help'], ['errors'], ['errors', 'LB_INPUT_USAGE'], ['backup', '--help'], ['logs', 'list'], ['--version']]) {
    t.is((await lifeboat(dir, args)).exitCode, 0, args.join(' '));
  }
  t.deepEqual(await logFiles(dir), [], 'help, version, errors and logs are not logged');
  const failed = await lifeboat(dir, ['snapshots', '-r', path.join(dir, 'no-repo')]);
  t.is(failed.exitCode, 5);
  const [file] = await logFiles(dir);
  t.regex(file ?? '', /-snapshots\.log$/);
  const log = await readFile(path.join(dir, 'logs', file ?? ''), 'utf8');
  t.regex(log, /error +LB_REPO_NOT_FOUND \(exit 5\): No Lifeboat repository was found at this path\./);
  t.regex(log, /error +fix: Check the path given with -r/);
  t.regex(log, /error +details: \{.*no-repo\/config\.json/);
  // The message is printed once on stderr and recorded once (not echoed a second time).
  t.is(log.match(/LB_REPO_NOT_FOUND/g)?.length, 1);
  t.regex(failed.stderr, /LB_REPO_NOT_FOUND/);
});

test(`only the last ${RUN_LOGS_KEPT} logs are kept; an unwritable log folder does not stop the command`, async (t) => {
  const dir = await workDir(t);
  await mkdir(path.join(dir, 'logs'));
  for (let index = 0; index < RUN_LOGS_KEPT + 5; index += 1) {
    await writeFile(path.join(dir, 'logs', `20200101T0000${String(index).padStart(2, '0')}.000Z-old.log`), 'old\n');
  }
  await writeFile(path.join(dir, 'logs', 'notes.txt'), 'not a run log\n');
  t.is((await lifeboat(dir, ['snapshots', '-r', 'missing'])).exitCode, 5);
  const files = await logFiles(dir);
  t.is(files.filter((name) => name.endsWith('.log')).length, RUN_LOGS_KEPT);
  t.false(files.includes('20200101T000000.000Z-old.log'), 'the oldest went');
  t.true(files.includes('20200101T000054.000Z-old.log'));
  t.true(files.includes('notes.txt'), 'other files are left alone');
  t.true(files.some((name) => name.endsWith('-snapshots.log')));
  // A log folder that is a file: the command still runs and says why there is no log.
  await writeFile(path.join(dir, 'not-a-folder'), '');
  const result = await lifeboat(dir, ['snapshots', '-r', 'missing'], { LIFEBOAT_LOG_DIR: path.join(dir, 'not-a-folder') });
  t.is(result.exitCode, 5);
  t.regex(result.stderr, /note: no run log: .*not-a-folder/);
  t.regex(result.stderr, /LB_REPO_NOT_FOUND/);
});

test('logs list and logs export: one .tar.gz with the logs and the system report; an existing file is not replaced without --force', async (t) => {
  const dir = await workDir(t);
  const image = await ext4Image(dir);
  t.is((await lifeboat(dir, ['backup', 'partition', image, '-r', 'repo'])).exitCode, 0);
  t.is((await lifeboat(dir, ['snapshots', '-r', 'missing'])).exitCode, 5);
  const list = await lifeboat(dir, ['logs', 'list', '--json']);
  t.is(list.exitCode, 0, list.stderr);
  const listed = JSON.parse(list.stdout) as { directory: string; logs: Array<{ name: string; bytes: number; outcome: string }> };
  t.is(listed.directory, path.join(dir, 'logs'));
  t.deepEqual(listed.logs.map((log) => log.name), await logFiles(dir));
  t.deepEqual(listed.logs.map((log) => log.outcome), ['success', 'LB_REPO_NOT_FOUND'], 'each run with how it ended');
  t.regex((await lifeboat(dir, ['logs', 'list'])).stdout, /-snapshots\.log\s+[\d.]+ K?i?B\s+LB_REPO_NOT_FOUND$/m);

  const out = path.join(dir, 'out');
  await mkdir(out);
  const exported = await lifeboat(dir, ['logs', 'export', out, '--json']);
  t.is(exported.exitCode, 0, exported.stderr);
  const { export: result } = JSON.parse(exported.stdout) as { export: { archive: string; bytes: number; logs: string[]; reportFiles: string[] } };
  t.regex(result.archive, new RegExp(`^${out}/lifeboat-logs-[\\w.-]+-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
  t.deepEqual(await readdir(out), [path.basename(result.archive)], 'no temporary file is left beside it');
  const extracted = path.join(dir, 'extracted');
  await mkdir(extracted);
  await execa('tar', ['-xzf', result.archive, '-C', extracted]);
  const [top] = await readdir(extracted);
  t.is(`${top}.tar.gz`, path.basename(result.archive));
  const root = path.join(extracted, top ?? '');
  t.deepEqual((await readdir(path.join(root, 'logs'))).sort(), await logFiles(dir));
  const backupLog = (await logFiles(dir)).find((name) => name.endsWith('-backup-partition.log')) ?? '';
  t.is(await readFile(path.join(root, 'logs', backupLog), 'utf8'), await readFile(path.join(dir, 'logs', backupLog), 'utf8'));
  const system = await readdir(path.join(root, 'system'));
  for (const name of ['lifeboat.txt', 'firmware.txt', 'uname.txt', 'cmdline.txt', 'meminfo.txt', 'lsblk.json', 'blkid.txt', 'dmesg.txt', 'lifeboat-disks.json']) t.true(system.includes(name), name);
  const read = (name: string) => readFile(path.join(root, 'system', name), 'utf8');
  t.regex(await read('lifeboat.txt'), /^lifeboat \d+\.\d+\.\d+\n/);
  t.regex(await read('firmware.txt'), /^(BIOS|UEFI)/i);
  t.true((await read('uname.txt')).includes(os.release()));
  t.is(await read('cmdline.txt'), await readFile('/proc/cmdline', 'utf8'));
  t.regex(await read('meminfo.txt'), /^MemTotal:/);
  const lsblk = JSON.parse((await read('lsblk.json')).replace(/^\$ .*\n/, '')) as { blockdevices: unknown[] };
  t.true(Array.isArray(lsblk.blockdevices));
  const disks = (await execa('lsblk', ['-dn', '-o', 'NAME,TYPE'])).stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter(([, type]) => type === 'disk').map(([name]) => name);
  for (const disk of disks) t.true(system.includes(`sfdisk-${disk}.txt`), `sfdisk -d of ${disk}`);
  t.regex(await read('dmesg.txt'), /^\$ dmesg {2}# \/\S+\/dmesg\n/);
  t.regex(await read('blkid.txt'), /^\$ blkid {2}# \/\S*sbin\/blkid\n/, 'the report says which program answered');
  t.true(Array.isArray(JSON.parse(await read('lifeboat-disks.json'))));

  // A named file: written; asked again it is refused (LB_INPUT_ARCHIVE_EXISTS) and left as it was; --force replaces it.
  const named = path.join(out, 'support.tar.gz');
  t.is((await lifeboat(dir, ['logs', 'export', named])).exitCode, 0);
  const before = await readFile(named);
  const again = await lifeboat(dir, ['logs', 'export', named]);
  t.is(again.exitCode, 2);
  t.regex(again.stderr, /LB_INPUT_ARCHIVE_EXISTS/);
  t.deepEqual(await readFile(named), before);
  const forced = await lifeboat(dir, ['logs', 'export', named, '--force']);
  t.is(forced.exitCode, 0, forced.stderr);
  t.regex(forced.stdout, /Wrote .*support\.tar\.gz .*run log\(s\)/);
  // No destination: the current folder (the host has no mounted data partition).
  const cwdExport = await lifeboat(dir, ['logs', 'export']);
  t.is(cwdExport.exitCode, 0, cwdExport.stderr);
  t.true((await readdir(dir)).some((name) => /^lifeboat-logs-.*\.tar\.gz$/.test(name)));
  // A folder that cannot be written (sysfs, even for root): LB_DEVICE_EXPORT_FAILED, nothing left behind.
  const refused = await lifeboat(dir, ['logs', 'export', '/sys/kernel']);
  t.is(refused.exitCode, 3);
  t.regex(refused.stderr, /LB_DEVICE_EXPORT_FAILED/);
  const missing = await lifeboat(dir, ['logs', 'export', path.join(dir, 'no-such-folder')]);
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /LB_INPUT_USAGE.*does not exist/);
});
