// Ctrl-C (SIGINT) on the real CLI in the middle of real runs: a disk, a partition and a files
// backup of an ext4 filesystem made by mkfs.ext4, stopped once their first pack is on disk, end with
// LB_INPUT_STOPPED (exit 130) and leave the repository as it was: no lock, no temporary file, no
// pack and no index nobody refers to (`check` reports nothing). A stopped restore says what it
// leaves on the target. Ctrl-C typed at a prompt stops too; a second signal ends the run at once,
// its lock removed.

import test, { type ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');
const MiB = 1024 * 1024;

async function workDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-interrupt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function lifeboat(dir: string, args: readonly string[]) {
  return execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
}

/** A folder of random files (incompressible: 3 packs of 64 MiB) and a disk image with it as ext4 (sfdisk, mkfs.ext4 -d). */
async function makeSource(dir: string): Promise<{ tree: string; disk: string }> {
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'docs'), { recursive: true });
  for (let index = 0; index < 6; index++) await writeFile(path.join(tree, `part-${index}.bin`), randomBytes(32 * MiB));
  await writeFile(path.join(tree, 'docs', 'letter.txt'), 'Dear user, stop me.\n');
  const disk = path.join(dir, 'disk.img');
  await execa('truncate', ['-s', `${400 * MiB}`, disk]);
  await execa('sfdisk', ['--quiet', disk], { input: 'label: dos\nstart=2048, type=83\n' });
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'STOPME', '-d', tree, '-E', `offset=${MiB}`, disk, `${399 * 1024}k`]);
  return { tree, disk };
}

/** Every file under `folder`, relative to it. */
async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(folder, path.join(entry.parentPath, entry.name))).sort();
}

/** Polls until `ready` holds (the run must still be going), then sends SIGINT `times` times. */
async function interruptWhen(run: ResultPromise, ready: () => Promise<boolean>, times = 1): Promise<void> {
  for (let tries = 0; tries < 1200; tries++) {
    if (run.exitCode !== null && run.exitCode !== undefined) throw new Error(`the run ended (exit ${run.exitCode}) before it could be interrupted`);
    if (await ready()) {
      for (let count = 0; count < times; count++) run.kill('SIGINT');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the run never reached the point to interrupt');
}

const hasPack = (repo: string) => async () => (await filesUnder(path.join(repo, 'data'))).some((file) => file.endsWith('.pack'));

/** The repository as a stopped backup must leave it: config only, nothing locked, half-written or unreferenced. */
async function assertUntouched(t: ExecutionContext, dir: string, repo: string): Promise<void> {
  const files = await filesUnder(repo);
  t.deepEqual(files, ['config.json'], `only config.json stays: ${files.join(', ')}`);
  const check = await lifeboat(dir, ['check', '-r', repo]);
  t.is(check.exitCode, 0, check.stderr);
  t.notRegex(check.stdout, /info:/, 'check finds nothing unreferenced');
  t.regex(check.stdout, /0 snapshot\(s\), 0 pack\(s\): no problems found/);
}

/** The run log of the backup. */
async function backupLog(dir: string): Promise<string> {
  const name = (await readdir(path.join(dir, 'logs'))).find((file) => file.includes('-backup-'));
  return readFile(path.join(dir, 'logs', name ?? 'none'), 'utf8');
}

/** One source for every test (read only). */
let source: { tree: string; disk: string };

test.before(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-interrupt-source-'));
  source = await makeSource(dir);
});

test.after.always(async () => {
  if (source) await rm(path.dirname(source.disk), { recursive: true, force: true });
});

for (const kind of ['disk', 'partition', 'files'] as const) {
  test.serial(`Ctrl-C during a ${kind} backup: LB_INPUT_STOPPED, exit 130, the repository as it was`, async (t) => {
    const dir = await workDir(t);
    const repo = path.join(dir, 'repo');
    t.is((await lifeboat(dir, ['init', '-r', repo])).exitCode, 0);
    const named = kind === 'disk' ? source.disk : kind === 'partition' ? `${source.disk}:1` : source.tree;
    const run = lifeboat(dir, ['backup', kind, named, '-r', repo, '--compression', '1']);
    await interruptWhen(run, hasPack(repo));
    const result = await run;
    t.is(result.exitCode, 130, result.stderr);
    t.regex(result.stderr, /note: SIGINT: stopping after the chunk under way/);
    t.regex(result.stderr, /lifeboat: LB_INPUT_STOPPED: The operation was stopped before it finished\. Stopped during the (backup|verification)\./);
    await assertUntouched(t, dir, repo);
    t.regex(await backupLog(dir), /error +LB_INPUT_STOPPED \(exit 130\)/);
  });
}

test.serial('Ctrl-C during a restore: exit 130, the lock released, and the message says what the target holds', async (t) => {
  const dir = await workDir(t);
  const repo = path.join(dir, 'repo');
  const saved = await lifeboat(dir, ['backup', 'disk', source.disk, '-r', repo, '--compression', '1', '--no-verify']);
  t.is(saved.exitCode, 0, saved.stderr);
  const target = path.join(dir, 'target.img');
  await execa('truncate', ['-s', `${400 * MiB}`, target]);
  const run = lifeboat(dir, ['restore', '-r', repo, 'latest', target, '--yes', '--json']);
  let output = '';
  run.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await interruptWhen(run, async () => /"phase":"restore","bytesDone":[1-9]/.test(output));
  const result = await run;
  t.is(result.exitCode, 130, result.stderr);
  const error = JSON.parse(result.stderr.split('\n').find((line) => line.startsWith('{"error"')) ?? '{}') as { error?: { code: string; message: string; details: { bytesWritten: number } } };
  t.is(error.error?.code, 'LB_INPUT_STOPPED');
  t.regex(error.error?.message ?? '', /Stopped after writing \S+ \S+ of \S+ \S+: .*target\.img holds part of the snapshot .*Restore again before using it\./);
  t.true((error.error?.details.bytesWritten ?? 0) > 0);
  t.deepEqual(await filesUnder(path.join(repo, 'locks')), [], 'the restore\'s lock is gone');
  const check = await lifeboat(dir, ['check', '-r', repo]);
  t.is(check.exitCode, 0, check.stderr);
});

/** Runs `args` in a pseudo-terminal (script(1)); the shell that becomes the lifeboat process writes its pid into `pidFile` first. */
function inTerminal(dir: string, args: readonly string[], pidFile: string) {
  const command = `echo $$ > '${pidFile}'; exec ${[process.execPath, LIFEBOAT, ...args].map((word) => `'${word}'`).join(' ')}`;
  // script(1) runs the command with $SHELL -c (/bin/sh when SHELL is unset, as on CI): $$ is that
  // shell, which exec turns into lifeboat. A nested `sh -c "..."` would have the outer shell expand
  // $$ to itself, and dash forks for it instead of exec-ing it: the signals went to the wrong process.
  const run = execa('script', ['-qec', command, '/dev/null'], { cwd: dir, reject: false, stdin: 'pipe', env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs'), SHELL: '/bin/sh' } });
  let output = '';
  run.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { run, output: () => output.replace(/\r/g, '') };
}

/** Waits up to 3 minutes (a loaded CI machine) for `condition`; the error carries what the run printed. */
async function waitFor(condition: () => boolean, output: () => string = () => ''): Promise<void> {
  for (let tries = 0; tries < 7200 && !condition(); tries++) await new Promise((resolve) => setTimeout(resolve, 25));
  if (!condition()) throw new Error(`timed out; the run printed:\n${output().slice(-2000)}`);
}

test.serial('Ctrl-C typed at the restore confirmation: LB_INPUT_STOPPED, exit 130, nothing written', async (t) => {
  const dir = await workDir(t);
  const repo = path.join(dir, 'repo');
  t.is((await lifeboat(dir, ['backup', 'partition', `${source.disk}:1`, '-r', repo, '--compression', '1', '--no-verify'])).exitCode, 0);
  const target = path.join(dir, 'target.img');
  await execa('truncate', ['-s', `${400 * MiB}`, target]);
  const { run, output } = inTerminal(dir, ['restore', '-r', repo, 'latest', target], path.join(dir, 'pid'));
  await waitFor(() => output().includes('Type yes to continue'), output);
  run.stdin?.write('\x03');
  const result = await run;
  t.is(result.exitCode, 130, output());
  t.regex(output(), /LB_INPUT_STOPPED: The operation was stopped before it finished\. Ctrl-C at the prompt; nothing was written\./);
  t.true((await readFile(target)).every((byte) => byte === 0), 'the target is still all zeros');
  t.deepEqual(await filesUnder(path.join(repo, 'locks')), []);
});

test.serial('a second SIGTERM while the first waits (at the confirmation) ends the run at once: exit 130, lock removed', async (t) => {
  const dir = await workDir(t);
  const repo = path.join(dir, 'repo');
  t.is((await lifeboat(dir, ['backup', 'partition', `${source.disk}:1`, '-r', repo, '--compression', '1', '--no-verify'])).exitCode, 0);
  const target = path.join(dir, 'target.img');
  await execa('truncate', ['-s', `${400 * MiB}`, target]);
  const pidFile = path.join(dir, 'pid');
  const { run, output } = inTerminal(dir, ['restore', '-r', repo, 'latest', target], pidFile);
  await waitFor(() => output().includes('Type yes to continue'), output);
  t.is((await filesUnder(path.join(repo, 'locks'))).length, 1, 'the restore holds its lock while it asks');
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  process.kill(pid, 'SIGTERM');
  await waitFor(() => output().includes('note: SIGTERM: stopping'), output);
  process.kill(pid, 'SIGTERM');
  const result = await run;
  t.is(result.exitCode, 130, output());
  t.regex(output(), /LB_INPUT_STOPPED: The operation was stopped before it finished\. SIGTERM ended the run at once\./);
  t.deepEqual(await filesUnder(path.join(repo, 'locks')), [], 'the exit handler removed the lock');
  t.true((await readFile(target)).every((byte) => byte === 0), 'the target is still all zeros');
});
