// processAlive (rescue/io/process-alive.ts), the one liveness test behind the repository's stale
// locks and the attached-repository scan lock.

import test from 'ava';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { LockInfo } from '../../rescue/core/repository/format.ts';
import { processAlive } from '../../rescue/io/process-alive.ts';
import { staleReason } from '../../rescue/io/repository/repository-lock.ts';

/** The pid of a process that has run and been reaped. */
function deadPid(): number {
  const child = spawnSync('true');
  if (child.pid === undefined || child.status !== 0) throw new Error('could not run true');
  return child.pid;
}

test('a running process is alive; one that has exited is not', (t) => {
  t.true(processAlive(process.pid));
  t.false(processAlive(deadPid()));
});

test('a process of another user is alive (kill answers EPERM)', (t) => {
  if (process.getuid?.() !== 0) return t.fail('needs root: it runs a check as user nobody with setpriv');
  const module = path.join(PROJECT_ROOT, 'rescue', 'io', 'process-alive.ts');
  const script = `import(${JSON.stringify(module)}).then((m) => console.log(m.processAlive(1)))`;
  const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
  t.is(run.error, undefined, 'setpriv (util-linux) must be installed');
  t.is(run.stdout.trim(), 'true', run.stderr);
});

test('a lock of this host is stale when its process is gone, live while it runs', (t) => {
  const time = new Date().toISOString();
  const lock = (pid: number): LockInfo => ({ host: os.hostname(), pid, time, exclusive: true, command: 'backup' });
  t.is(staleReason(lock(process.pid), Date.now()), undefined);
  const dead = deadPid();
  t.is(staleReason(lock(dead), Date.now()), `process ${dead} on ${os.hostname()} is gone`);
});
