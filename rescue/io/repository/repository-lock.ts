// Repository locks (FORMAT.md, "Locks"): one file per holder in locks/. Writers (backup, forget,
// prune) need no other lock present; readers need no writer present. A lock of this host written
// before it restarted, or whose process is gone (or is this process, which does not hold it), or
// that was not refreshed for STALE_LOCK_MS, is stale and removed.

import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../core/errors.ts';
import { parseLock, type LockInfo } from '../../core/repository/format.ts';
import { processAlive } from '../process-alive.ts';
import { toWriteError, writeFileAtomic } from './repository-files.ts';

/** A lock not refreshed for this long (another host's crashed process) counts as stale. */
export const STALE_LOCK_MS = 30 * 60 * 1000;
/** Live locks are refreshed this often. */
const REFRESH_MS = 5 * 60 * 1000;

/** A held lock. */
export interface RepositoryLock {
  readonly file: string;
  release(): Promise<void>;
}

/** Names of the lock files this process holds (random names: unique across repositories). */
const heldLocks = new Set<string>();

/** This boot's id (Linux makes a random one at each start), or undefined where there is none. */
export function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** What a lock is judged against; what is left out is this machine and this process. */
export interface LockJudge {
  readonly host?: string;
  readonly bootId?: string | undefined;
  readonly pid?: number;
  /** Whether this process holds the lock (when given, a lock naming this process's pid that it does not hold is stale). */
  readonly held?: boolean;
}

/**
 * Why a lock is stale, or undefined when it is live. A machine started again from the medium runs
 * the same programs in the same order, so its processes get the same ids as before the power went:
 * the lock of a backup cut off by a power cut named a pid that, after the restart, was the next
 * backup itself (or the TUI), and looked live for 30 minutes (test/boot/power-cut.test.ts).
 */
export function staleReason(lock: LockInfo, now: number, judge: LockJudge = {}): string | undefined {
  const host = judge.host ?? os.hostname();
  if (lock.host === host) {
    const bootId = 'bootId' in judge ? judge.bootId : currentBootId();
    if (lock.boot !== undefined && bootId !== undefined && lock.boot !== bootId) return `${host} has been restarted since it was written`;
    if (judge.held === false && lock.pid === (judge.pid ?? process.pid)) return `it names process ${lock.pid} on ${host}, this process, which does not hold it (an earlier process had the same id)`;
    if (!processAlive(lock.pid)) return `process ${lock.pid} on ${host} is gone`;
  }
  const age = now - Date.parse(lock.time);
  if (!Number.isFinite(age) || age > STALE_LOCK_MS) return `not refreshed for ${Math.round(age / 60000)} min`;
  return undefined;
}

/** A lock file as read: its content, or undefined when damaged; `unreadable` the errno when it could not be read at all. */
interface ReadLock {
  readonly name: string;
  readonly lock: LockInfo | undefined;
  readonly unreadable?: string;
}

/**
 * The lock files in `folder`. One that cannot be read (EACCES, EIO) may belong to a live process,
 * so it is not stale; one whose content is damaged is (locks are written whole, by rename).
 */
async function readLocks(folder: string): Promise<ReadLock[]> {
  const names = (await readdir(folder).catch((error: unknown) => {
    const errno = (error as { code?: string }).code ?? 'unknown';
    if (errno === 'ENOENT') return [];
    throw new LifeboatError('LB_REPO_LOCKED', { detail: `The lock folder ${folder} cannot be read (${errno}), so another process may hold a lock.`, folder, errno }, { cause: error });
  })).filter((name) => name.endsWith('.json'));
  const locks: ReadLock[] = [];
  for (const name of names) {
    let text: string;
    try {
      text = await readFile(path.join(folder, name), 'utf8');
    } catch (error) {
      const errno = (error as { code?: string }).code ?? 'unknown';
      if (errno !== 'ENOENT') locks.push({ name, lock: undefined, unreadable: errno });
      continue;
    }
    try {
      locks.push({ name, lock: parseLock(JSON.parse(text), name) });
    } catch {
      locks.push({ name, lock: undefined });
    }
  }
  return locks;
}

/** True for EROFS, raw or wrapped in a coded write error. */
function isReadOnlyFilesystem(error: unknown): boolean {
  const coded = error as { code?: unknown; details?: { errno?: unknown } };
  return coded.code === 'EROFS' || coded.details?.errno === 'EROFS';
}

/** Takes a lock; throws LB_REPO_LOCKED when a live conflicting lock exists. Returns the stale locks removed. */
export async function acquireLock(folder: string, options: { exclusive: boolean; command: string }): Promise<{ lock: RepositoryLock; removedStale: string[] }> {
  const removedStale: string[] = [];
  await mkdir(folder, { recursive: true }).catch((error: unknown) => {
    if (options.exclusive || !isReadOnlyFilesystem(error)) throw toWriteError(error, folder);
  });
  const conflicts = async (own: string | undefined) => {
    const found: string[] = [];
    for (const { name, lock, unreadable } of await readLocks(folder)) {
      if (name === own) continue;
      if (unreadable) {
        found.push(`${name}: the lock file cannot be read (${unreadable}); it may belong to a running process`);
        continue;
      }
      const stale = lock ? staleReason(lock, Date.now(), { held: heldLocks.has(name) }) : 'unreadable lock file';
      if (stale) {
        // On a read-only filesystem a stale lock stays; it blocks nobody, being stale.
        const removed = await rm(path.join(folder, name), { force: true }).then(() => true, (error: unknown) => {
          if (!isReadOnlyFilesystem(error)) throw error;
          return false;
        });
        if (removed) removedStale.push(`${name} (${stale})`);
        continue;
      }
      if (lock && (options.exclusive || lock.exclusive)) found.push(`${name}: ${lock.command} by pid ${lock.pid} on ${lock.host} since ${lock.time}`);
    }
    return found;
  };
  const lockedError = (found: string[]) => new LifeboatError('LB_REPO_LOCKED', { detail: found.join('; '), locks: found });
  const before = await conflicts(undefined);
  if (before.length > 0) throw lockedError(before);
  const name = `${randomBytes(8).toString('hex')}.json`;
  const file = path.join(folder, name);
  const boot = currentBootId();
  const info = (): LockInfo => ({ host: os.hostname(), pid: process.pid, time: new Date().toISOString(), exclusive: options.exclusive, command: options.command, ...(boot === undefined ? {} : { boot }) });
  try {
    await writeFileAtomic(folder, name, Buffer.from(`${JSON.stringify(info())}\n`), { durable: false });
  } catch (error) {
    // A reader on a read-only mount (a repository found on an attached disk) cannot leave a lock,
    // and needs none: no writer can use that mount either until Lifeboat makes it writable.
    if (!options.exclusive && isReadOnlyFilesystem(error)) return { lock: { file: '', release: async () => undefined }, removedStale };
    throw error;
  }
  heldLocks.add(name);
  const after = await conflicts(name);
  if (after.length > 0) {
    heldLocks.delete(name);
    await rm(file, { force: true });
    throw lockedError(after);
  }
  const timer = setInterval(() => {
    void writeFileAtomic(folder, name, Buffer.from(`${JSON.stringify(info())}\n`), { durable: false }).catch(() => undefined);
  }, REFRESH_MS);
  timer.unref();
  const onExit = () => rmSync(file, { force: true });
  process.once('exit', onExit);
  const lock: RepositoryLock = {
    file,
    release: async () => {
      clearInterval(timer);
      process.removeListener('exit', onExit);
      await rm(file, { force: true });
      heldLocks.delete(name);
    },
  };
  return { lock, removedStale };
}
