// Shared by the repository crash-safety, damage and full-destination tests: the CLI run as its own
// node process (so a test can SIGKILL or SIGSTOP it), error codes read from its output, generated
// trees of mixed content and ext4 images made from them with mkfs.ext4 -d (no mount needed).

import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { sparseFile } from './filesystem-images.ts';

export const MiB = 1024 * 1024;

/** The checkout's launcher (package.json "bin"), run with this process's Node 24. */
export const CLI_ENTRY = path.join(PROJECT_ROOT, 'rescue', 'bin', 'lifeboat.mjs');

/** How a finished CLI process ended and what it printed. */
export interface CliResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of one CLI run: extra environment (LIFEBOAT_PASSWORD is never inherited), stdin text, time limit. */
export interface CliOptions {
  readonly env?: Record<string, string>;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** The environment of a CLI run: this process's, minus any inherited password, plus `extra`. */
export function cliEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'LIFEBOAT_PASSWORD') env[key] = value;
  return { ...env, ...extra };
}

/** Runs `lifeboat ARGS` to its end without a terminal (stdin is /dev/null unless `input` is given). */
export async function lifeboat(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await execa(process.execPath, [CLI_ENTRY, ...args], {
    cwd: PROJECT_ROOT,
    reject: false,
    extendEnv: false,
    env: cliEnvironment(options.env),
    timeout: options.timeoutMs ?? 300_000,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
  });
  return { exitCode: result.exitCode ?? null, signal: result.signal ?? null, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** A CLI process started in its own process group; every stdout line is passed to `onLine` as it comes. */
export interface RunningCli {
  readonly child: ChildProcess;
  readonly startedAt: number;
  readonly done: Promise<CliResult>;
  /** SIGKILLs the whole process group (the CLI and anything it started), like a power cut. */
  kill(): void;
  /** Sends SIGSTOP / SIGCONT to the process group. */
  pause(): void;
  resume(): void;
}

/** Starts `lifeboat ARGS` without waiting for it; see RunningCli. */
export function startLifeboat(args: readonly string[], onLine: (line: string) => void = () => {}, options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
    cwd: PROJECT_ROOT,
    env: cliEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const startedAt = Date.now();
  const pid = child.pid;
  const signalGroup = (signal: NodeJS.Signals) => {
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is already gone
    }
  };
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    stdout += `${line}\n`;
    onLine(line);
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ exitCode: code, signal, stdout, stderr }));
  });
  return { child, startedAt, done, kill: () => signalGroup('SIGKILL'), pause: () => signalGroup('SIGSTOP'), resume: () => signalGroup('SIGCONT') };
}

/** The error code a failed command reported on stderr (`lifeboat: CODE:` or `{"error":{"code":...}}`). */
export function errorCode(result: CliResult): string | undefined {
  const plain = /lifeboat: (LB_[A-Z0-9_]+):/.exec(result.stderr);
  if (plain) return plain[1];
  for (const line of result.stderr.split('\n')) {
    try {
      const parsed = JSON.parse(line) as { error?: { code?: unknown } };
      if (typeof parsed.error?.code === 'string') return parsed.error.code;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

/** Every LB_ code mentioned anywhere in a command's output. */
export function codesIn(result: CliResult): string[] {
  return [...`${result.stdout}\n${result.stderr}`.matchAll(/\bLB_[A-Z0-9_]+\b/g)].map((match) => match[0]);
}

/** A readable account of a CLI result for assertion messages. */
export function describe(result: CliResult): string {
  return `exit ${result.exitCode} signal ${result.signal}\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`;
}

/** The JSON-lines events of a --json run (lines that are not JSON are skipped). */
export function jsonEvents(stdout: string): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = [];
  for (const line of stdout.split('\n')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) events.push(parsed as Record<string, unknown>);
    } catch {
      // not a JSON line
    }
  }
  return events;
}

/** The snapshot id in the "done" event of a `backup --json` run. */
export function doneSnapshotId(stdout: string): string | undefined {
  const done = jsonEvents(stdout).find((event) => event.event === 'done');
  const snapshot = done?.snapshot as { id?: unknown } | undefined;
  return typeof snapshot?.id === 'string' ? snapshot.id : undefined;
}

/** One entry of `snapshots --json` (the fields these tests use). */
export interface SnapshotEntry {
  readonly id: string;
  readonly shortId: string;
  readonly note?: string;
  readonly tags?: string[];
}

/** `snapshots -r REPO --json`; throws with the CLI's output when it fails. */
export async function listSnapshots(repo: string, options: CliOptions = {}): Promise<SnapshotEntry[]> {
  const result = await lifeboat(['snapshots', '-r', repo, '--json'], options);
  if (result.exitCode !== 0) throw new Error(`snapshots failed: ${describe(result)}`);
  return JSON.parse(result.stdout) as SnapshotEntry[];
}

/** SHA-256 (hex) of a file's bytes. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Restores a snapshot into a fresh image file and returns that file's SHA-256 (the file is deleted afterwards). */
export async function restoredSha256(repo: string, snapshot: string, scratchDir: string, options: CliOptions = {}): Promise<string> {
  const target = path.join(scratchDir, `restore-${snapshot.slice(0, 12)}-${process.hrtime.bigint()}.img`);
  try {
    const result = await lifeboat(['restore', '-r', repo, snapshot, target, '--yes'], options);
    if (result.exitCode !== 0) throw new Error(`restore ${snapshot} failed: ${describe(result)}`);
    return await sha256File(target);
  } finally {
    await rm(target, { force: true });
  }
}

/** Deterministic incompressible bytes: AES-128-CTR keystream keyed by `seed`. */
export function pseudoRandomBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

const WORDS = ['disk', 'sector', 'backup', 'restore', 'kernel', 'mount', 'journal', 'inode', 'block', 'lifeboat', 'error', 'ok', 'retry', 'write', 'read'];

/** Log-like text (compresses well): `bytes` long, lines chosen by `random`. */
export function logText(random: () => number, bytes: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  while (length < bytes) {
    const words = Array.from({ length: 3 + Math.floor(random() * 9) }, () => WORDS[Math.floor(random() * WORDS.length)]);
    const line = `2026-11-${10 + Math.floor(random() * 19)}T${Math.floor(random() * 24)}:00:00Z host${Math.floor(random() * 4)} svc[${Math.floor(random() * 9999)}]: ${words.join(' ')}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** Mostly zeros with a few random 4 KiB islands (long zero runs). */
function sparseContent(seed: string, random: () => number, bytes: number): Buffer {
  const content = Buffer.alloc(bytes);
  for (let island = 0; island < 4; island++) {
    const at = Math.floor(random() * Math.max(1, bytes - 4096));
    pseudoRandomBytes(`${seed}/${island}`, Math.min(4096, bytes)).copy(content, at);
  }
  return content;
}

/** Writes a tree of about `totalBytes` under `dir`: random, log text, mostly-zero, duplicate and many small files. */
export async function writeMixedTree(dir: string, random: () => number, totalBytes: number, tag = 'tree'): Promise<void> {
  for (const sub of ['random', 'text', 'zeros', 'dup', 'small']) await mkdir(path.join(dir, sub), { recursive: true });
  const budget = { random: totalBytes * 0.55, text: totalBytes * 0.2, zeros: totalBytes * 0.1, dup: totalBytes * 0.1, small: totalBytes * 0.05 };
  const randomFiles: string[] = [];
  for (let used = 0, i = 0; used < budget.random; i++) {
    const size = Math.max(1, Math.floor(random() * Math.min(3 * MiB, budget.random / 8)));
    const file = path.join(dir, 'random', `r-${i}.bin`);
    await writeFile(file, pseudoRandomBytes(`${tag}/random/${i}`, size));
    randomFiles.push(file);
    used += size;
  }
  for (let used = 0, i = 0; used < budget.text; i++) {
    const size = 1 + Math.floor(random() * Math.min(2 * MiB, budget.text / 4));
    await writeFile(path.join(dir, 'text', `t-${i}.log`), logText(random, size));
    used += size;
  }
  for (let used = 0, i = 0; used < budget.zeros; i++) {
    const size = 4096 + Math.floor(random() * Math.min(2 * MiB, budget.zeros / 2));
    await writeFile(path.join(dir, 'zeros', `z-${i}.bin`), sparseContent(`${tag}/zeros/${i}`, random, size));
    used += size;
  }
  for (let used = 0, i = 0; used < budget.dup && randomFiles.length > 0; i++) {
    const original = randomFiles[Math.floor(random() * randomFiles.length)] ?? '';
    await copyFile(original, path.join(dir, 'dup', `d-${i}.bin`));
    used += (await stat(original)).size;
  }
  for (let used = 0, i = 0; used < budget.small; i++) {
    const size = Math.floor(random() * 4096);
    await writeFile(path.join(dir, 'small', `s-${i}.txt`), random() < 0.5 ? logText(random, size) : pseudoRandomBytes(`${tag}/small/${i}`, size));
    used += size;
  }
}

/** Changes a tree the way use does: rewrites, patches and deletes some files, adds as many bytes as it deleted. Returns a summary. */
export async function mutateTree(dir: string, random: () => number, round: number): Promise<string> {
  const files = (await listFiles(dir)).sort();
  let rewritten = 0;
  let patched = 0;
  const deletedSizes: number[] = [];
  for (const file of files) {
    const dice = random();
    if (dice < 0.08) {
      const size = (await stat(file)).size;
      await writeFile(file, file.includes('/text/') ? logText(random, size) : pseudoRandomBytes(`${file}/round-${round}`, size));
      rewritten++;
    } else if (dice < 0.16) {
      await patchFile(file, random, `${file}/patch-${round}`);
      patched++;
    } else if (dice < 0.19) {
      deletedSizes.push((await stat(file)).size);
      await rm(file);
    }
  }
  for (const [i, size] of deletedSizes.entries()) {
    await writeFile(path.join(dir, 'random', `new-${round}-${i}.bin`), pseudoRandomBytes(`new/${round}/${i}`, size));
  }
  return `rewrote ${rewritten}, patched ${patched}, replaced ${deletedSizes.length} files`;
}

async function patchFile(file: string, random: () => number, seed: string): Promise<void> {
  const size = (await stat(file)).size;
  if (size === 0) return;
  const length = Math.min(size, 1 + Math.floor(random() * 64 * 1024));
  const handle = await open(file, 'r+');
  try {
    await handle.write(pseudoRandomBytes(seed, length), 0, length, Math.floor(random() * (size - length + 1)));
  } finally {
    await handle.close();
  }
}

/** Every regular file under `dir`. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

/** A fresh ext4 image of `sizeBytes` on a sparse file, populated from `treeDir` by mkfs.ext4 -d (unused blocks stay zero). */
export async function makeExt4Image(file: string, sizeBytes: number, treeDir: string, label = 'lbtest'): Promise<string> {
  await rm(file, { force: true });
  await sparseFile(file, sizeBytes);
  await execa('mkfs.ext4', ['-q', '-F', '-L', label, '-b', '4096', '-E', 'root_owner=0:0', '-d', treeDir, file]);
  return file;
}

/** Files under REPO/<sub> whose names end in `suffix` (empty when the folder is missing). */
export async function repoFiles(repo: string, sub: string, suffix = ''): Promise<string[]> {
  const dir = path.join(repo, sub);
  try {
    return (await listFiles(dir)).filter((file) => file.endsWith(suffix)).sort();
  } catch {
    return [];
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
