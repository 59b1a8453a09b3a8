// Issue 15, Memory: a restore (and a backup) with an encrypted repository takes no more memory than
// the same with a plain one. 256 MiB of incompressible bytes (every chunk stored as is, so the
// sealing is all that differs) are backed up into a plain and an encrypted repository and restored
// from each, every command under /usr/bin/time, which gives the peak RSS and the minor page faults
// (fresh memory touched). Deciphering each chunk through memory of its own (Node's decipher.update
// and a Buffer.concat) cost the encrypted restore 63 MiB more peak RSS (230 against 167 MiB) and
// 68,000 more page faults than the plain one; deciphered in place, +8 MiB and +10,000 (its second
// kept slot per chunk in flight). Sealing each chunk into three buffers of its own before it waited
// for its turn to be written cost the encrypted backup 106 MiB more peak RSS (284 against 178 MiB)
// and 50,000 more page faults; sealed in its turn into memory kept for all chunks, +3 MiB and +9,000.

import test from 'ava';
import { execa } from 'execa';
import { createCipheriv } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI_ENTRY, cliEnvironment, describe, lifeboat, MiB, sha256File } from '../helpers/repository-harness.ts';

const DATA_BYTES = 256 * MiB;
const PASSWORD = { LIFEBOAT_PASSWORD: 'memory-password' };
/** Peak RSS an encrypted backup or restore may take beyond the plain one's (the restore took 63 MiB more). */
const MAX_EXTRA_RSS_BYTES = 32 * MiB;
/** Minor page faults it may take beyond the plain one's (the restore took 68,000 more: 266 MiB of fresh pages). */
const MAX_EXTRA_FAULTS = 20_000;

/** Incompressible bytes (AES-CTR of zeros), written a MiB at a time. */
async function writeRandomImage(file: string, bytes: number): Promise<void> {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16));
  const handle = await open(file, 'w');
  try {
    for (let at = 0; at < bytes; at += MiB) await handle.write(cipher.update(Buffer.alloc(MiB)));
  } finally {
    await handle.close();
  }
}

interface MemoryFigures {
  readonly peakRssBytes: number;
  readonly minorFaults: number;
}

/** `lifeboat ARGS` under /usr/bin/time: its peak RSS and minor page faults. */
async function measured(args: readonly string[], env: Record<string, string>, figures: string): Promise<MemoryFigures> {
  const result = await execa('/usr/bin/time', ['-o', figures, '-f', '%M %R', process.execPath, CLI_ENTRY, ...args], {
    reject: false,
    extendEnv: false,
    env: cliEnvironment(env),
    stdin: 'ignore',
    timeout: 300_000,
  });
  if (result.exitCode !== 0) throw new Error(`lifeboat ${args.join(' ')} failed: ${describe({ exitCode: result.exitCode ?? null, signal: result.signal ?? null, stdout: String(result.stdout), stderr: String(result.stderr) })}`);
  const [kib, faults] = (await readFile(figures, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number);
  return { peakRssBytes: kib! * 1024, minorFaults: faults! };
}

test('an encrypted backup and restore take no more memory than the plain ones of the same data (peak RSS, page faults)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-enc-memory-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = path.join(dir, 'source.img');
  await writeRandomImage(source, DATA_BYTES);
  const expected = await sha256File(source);
  const sides = [
    { name: 'plain', repo: path.join(dir, 'plain'), env: {}, init: ['init', '-r', path.join(dir, 'plain')] },
    { name: 'encrypted', repo: path.join(dir, 'encrypted'), env: PASSWORD, init: ['init', '-r', path.join(dir, 'encrypted'), '--encrypt'] },
  ];
  const backups: Record<string, MemoryFigures> = {};
  const restores: Record<string, MemoryFigures> = {};
  for (const side of sides) {
    const init = await lifeboat(side.init, { env: side.env });
    t.is(init.exitCode, 0, describe(init));
    backups[side.name] = await measured(['backup', 'partition', source, '-r', side.repo, '--no-verify'], side.env, path.join(dir, `${side.name}-backup.time`));
    const target = path.join(dir, `${side.name}-restored.img`);
    restores[side.name] = await measured(['restore', '-r', side.repo, 'latest', target, '--yes'], side.env, path.join(dir, `${side.name}-restore.time`));
    t.is(await sha256File(target), expected, `${side.name} restore gives the source's bytes`);
    await rm(target);
  }
  for (const [what, figures] of [['backup', backups], ['restore', restores]] as const) {
    const plain = figures.plain!;
    const encrypted = figures.encrypted!;
    t.log(`${what}: peak RSS plain ${(plain.peakRssBytes / MiB).toFixed(0)} MiB, encrypted ${(encrypted.peakRssBytes / MiB).toFixed(0)} MiB; minor page faults plain ${plain.minorFaults}, encrypted ${encrypted.minorFaults}`);
    t.true(encrypted.peakRssBytes <= plain.peakRssBytes + MAX_EXTRA_RSS_BYTES, `encrypted ${what}'s peak RSS ${(encrypted.peakRssBytes / MiB).toFixed(0)} MiB against plain ${(plain.peakRssBytes / MiB).toFixed(0)} MiB`);
    t.true(encrypted.minorFaults <= plain.minorFaults + MAX_EXTRA_FAULTS, `encrypted ${what}'s minor page faults ${encrypted.minorFaults} against plain ${plain.minorFaults}`);
  }
});
