// Output cut short: a command whose reader has gone (`lifeboat errors | head -1`) ends as standard
// tools do, quietly: no stack trace, no LB_INTERNAL, its own exit status (0). A backup whose
// output nobody reads still finishes and saves its snapshot.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { CLI_ENTRY, cliEnvironment, describe, lifeboat, listSnapshots, makeExt4Image, MiB } from '../helpers/repository-harness.ts';

let root = '';

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-closed-output-'));
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Runs lifeboat with its stdout (and with `closeStderr` its stderr too) closed by the reader before anything is written. */
function runWithClosedOutput(args: readonly string[], closeStderr = false): Promise<{ exitCode: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd: PROJECT_ROOT, env: cliEnvironment({ LIFEBOAT_LOG_DIR: path.join(root, 'logs') }), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    if (closeStderr) child.stderr.destroy();
    else child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => resolve({ exitCode, signal, stderr }));
  });
}

let ready: Promise<{ image: string; repo: string }> | undefined;

/** An ext4 image with a few files, and a repository holding one snapshot of it. */
function fixture(): Promise<{ image: string; repo: string }> {
  ready ??= (async () => {
    const tree = path.join(root, 'tree');
    await mkdir(tree, { recursive: true });
    for (let i = 0; i < 300; i++) await writeFile(path.join(tree, `file-${String(i).padStart(3, '0')}.txt`), `file ${i}\n`);
    const image = await makeExt4Image(path.join(root, 'fs.img'), 16 * MiB, tree);
    const repo = path.join(root, 'repo');
    const saved = await lifeboat(['backup', 'partition', image, '-r', repo]);
    if (saved.exitCode !== 0) throw new Error(describe(saved));
    return { image, repo };
  })();
  return ready;
}

const listings: Array<[string, (f: { image: string; repo: string }) => string[]]> = [
  ['errors', () => ['errors']],
  ['errors --json', () => ['errors', '--json']],
  ['disks', () => ['disks']],
  ['disks --json', () => ['disks', '--json']],
  ['snapshots', (f) => ['snapshots', '-r', f.repo]],
  ['snapshots --json', (f) => ['snapshots', '-r', f.repo, '--json']],
  ['ls -l', (f) => ['ls', f.image, '/', '-l']],
  ['ls from a snapshot', (f) => ['ls', '-r', f.repo, 'latest', '/']],
  ['logs list', () => ['logs', 'list']],
  ['--help', () => ['--help']],
  ['backup --help', () => ['backup', '--help']],
];

for (const [name, argsOf] of listings) {
  test(`${name} into a closed pipe ends quietly with status 0`, async (t) => {
    const args = argsOf(await fixture());
    const result = await runWithClosedOutput(args);
    t.is(result.signal, null);
    t.is(result.exitCode, 0, `lifeboat ${args.join(' ')}\n${result.stderr}`);
    t.notRegex(result.stderr, /EPIPE|LB_INTERNAL|\n\s+at /, result.stderr);
  });
}

test('a backup whose stdout and stderr are closed still finishes and saves its snapshot', async (t) => {
  const { image } = await fixture();
  const repo = path.join(root, 'repo-closed');
  const result = await runWithClosedOutput(['backup', 'partition', image, '-r', repo], true);
  t.is(result.exitCode, 0);
  t.is((await listSnapshots(repo)).length, 1);
});
