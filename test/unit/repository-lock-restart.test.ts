// Locks left by a power cut (FORMAT.md, Locks): a machine started again from the medium gives its
// processes the same ids as before, so a lock that names a live pid of this host may be a leftover
// of the previous start. The lock records the boot id; a lock of this host from another boot, or
// one naming this very process while it does not hold it, is stale. test/boot/power-cut.test.ts
// meets the second case in a real guest (the backup after a cut ran with the cut one's pid).

import test from 'ava';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import type { LockInfo } from '../../rescue/core/repository/format.ts';
import { acquireLock, currentBootId, staleReason } from '../../rescue/io/repository/repository-lock.ts';

async function lockFolder(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-lock-restart-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function leftover(fields: Partial<LockInfo>): LockInfo {
  return { host: os.hostname(), pid: process.pid, time: new Date().toISOString(), exclusive: true, command: 'backup partition', ...fields };
}

test('the boot id is read from the kernel, and every lock carries it', async (t) => {
  const bootId = currentBootId();
  t.regex(bootId ?? '', /^[0-9a-f-]{36}$/, 'Linux gives /proc/sys/kernel/random/boot_id');
  const folder = await lockFolder(t);
  const { lock } = await acquireLock(folder, { exclusive: true, command: 'backup partition' });
  const written = JSON.parse(await readFile(lock.file, 'utf8')) as LockInfo;
  t.is(written.boot, bootId);
  t.is(written.pid, process.pid);
  await lock.release();
});

test('staleReason: a lock of this host from another boot is stale even when its pid runs', (t) => {
  const lock = leftover({ pid: 1, boot: 'b0b0b0b0-0000-4000-8000-000000000001' });
  t.is(staleReason(lock, Date.now(), { bootId: 'b0b0b0b0-0000-4000-8000-000000000002' }), `${os.hostname()} has been restarted since it was written`);
  t.is(staleReason(lock, Date.now(), { bootId: 'b0b0b0b0-0000-4000-8000-000000000001' }), undefined, 'same boot, pid 1 runs: live');
  t.is(staleReason(leftover({ pid: 1 }), Date.now(), { bootId: 'b0b0b0b0-0000-4000-8000-000000000002' }), undefined, 'an older lock without a boot id is judged by its pid');
  t.is(staleReason(leftover({ pid: 1, host: 'elsewhere', boot: 'other' }), Date.now()), undefined, "another host's lock is judged by its age only");
});

test('staleReason: a lock naming this process is live only while this process holds it', (t) => {
  const lock = leftover({});
  t.is(staleReason(lock, Date.now(), { held: true }), undefined);
  t.regex(staleReason(lock, Date.now(), { held: false }) ?? '', /names process \d+ on .*, this process, which does not hold it/);
  t.is(staleReason(lock, Date.now()), undefined, 'without knowing what is held, a running pid is live');
});

test('acquireLock goes past the lock a cut-off run of the same pid left, and past one from before a restart', async (t) => {
  const folder = await lockFolder(t);
  await writeFile(path.join(folder, '1111111111111111.json'), `${JSON.stringify(leftover({ boot: currentBootId() }))}\n`);
  await writeFile(path.join(folder, '2222222222222222.json'), `${JSON.stringify(leftover({ pid: 1, boot: 'b0b0b0b0-0000-4000-8000-00000000dead' }))}\n`);
  const { lock, removedStale } = await acquireLock(folder, { exclusive: true, command: 'backup partition' });
  t.is(removedStale.length, 2, removedStale.join('; '));
  t.true(removedStale.some((line) => line.startsWith('1111111111111111.json (it names process')), removedStale.join('; '));
  t.true(removedStale.some((line) => line.startsWith('2222222222222222.json (') && line.includes('restarted')), removedStale.join('; '));
  t.deepEqual(await readdir(folder), [path.basename(lock.file)]);
  // The lock this process holds still counts: a second lock in the same process is refused.
  const second = await acquireLock(folder, { exclusive: false, command: 'check' }).then(() => undefined, (error: unknown) => error);
  t.true(second instanceof LifeboatError && second.code === 'LB_REPO_LOCKED', String(second));
  await lock.release();
  t.deepEqual(await readdir(folder), []);
});
