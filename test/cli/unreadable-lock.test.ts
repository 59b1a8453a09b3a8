// A lock file that cannot be read (here EACCES: the lock belongs to root, the command runs as
// nobody) is not stale: the command refuses with LB_REPO_LOCKED and the reason, and the lock
// stays. A lock whose content is damaged is still stale and removed.

import test from 'ava';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

async function repositoryOfNobody(t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ dir: string; repo: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [LIFEBOAT, 'init', '-r', repo], { env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
  await mkdir(path.join(dir, 'nobody-logs'));
  await execa('chown', ['-R', 'nobody', repo, path.join(dir, 'nobody-logs')]);
  return { dir, repo };
}

function asNobody(dir: string, args: readonly string[]) {
  return execa('runuser', ['-u', 'nobody', '--', process.execPath, LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'nobody-logs') } });
}

test('a lock file nobody may read refuses the command with LB_REPO_LOCKED and EACCES; the lock stays', async (t) => {
  const { dir, repo } = await repositoryOfNobody(t);
  const lock = path.join(repo, 'locks', '0123456789abcdef.json');
  await writeFile(lock, `${JSON.stringify({ host: os.hostname(), pid: 999999, time: new Date().toISOString(), exclusive: true, command: 'backup disk' })}\n`, { mode: 0o600 });
  for (const command of [['snapshots', '-r', repo], ['backup', 'files', path.join(PROJECT_ROOT, 'rescue/core/job.ts'), '-r', repo]]) {
    const result = await asNobody(dir, command);
    t.is(result.exitCode, 5, result.stderr);
    t.regex(result.stderr, /LB_REPO_LOCKED: Another Lifeboat process is using the repository\. 0123456789abcdef\.json: the lock file cannot be read \(EACCES\); it may belong to a running process/);
  }
  t.deepEqual(await readdir(path.join(repo, 'locks')), ['0123456789abcdef.json'], 'the unreadable lock was not removed as stale');
});

test('a lock file with damaged content is stale: removed, the command runs', async (t) => {
  const { dir, repo } = await repositoryOfNobody(t);
  await writeFile(path.join(repo, 'locks', 'fedcba9876543210.json'), '{"host": "half-writ');
  await execa('chown', ['nobody', path.join(repo, 'locks', 'fedcba9876543210.json')]);
  const result = await asNobody(dir, ['snapshots', '-r', repo]);
  t.is(result.exitCode, 0, result.stderr);
  t.deepEqual(await readdir(path.join(repo, 'locks')), []);
});
