// The run log file: one per command run in $LIFEBOAT_LOG_DIR (else /var/log/lifeboat), written
// synchronously line by line so a crash or a power-off keeps everything up to the last record.

import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_LOG_DIR, formatRunLogLines, isRunLogFileName, RUN_LOGS_KEPT, runLogFileName, runLogOutcome, runLogsToRemove, type RunLogKind, type RunLogSink } from '../core/run-log.ts';

/** An open run log. */
export interface RunLogFile extends RunLogSink {
  readonly path: string;
  /** Flushes to the disk and closes; later records are dropped. */
  close(): void;
}

/** The log folder: $LIFEBOAT_LOG_DIR, else /var/log/lifeboat. */
export function runLogDirectory(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const configured = env.LIFEBOAT_LOG_DIR;
  return configured !== undefined && configured !== '' ? configured : DEFAULT_LOG_DIR;
}

/**
 * Creates the run's log file and removes the oldest beyond `keep`. Returns undefined when the
 * folder cannot be written (a read-only system must not stop a rescue); `onFailure` hears why.
 */
export function openRunLog(options: { dir: string; argv: readonly string[]; now?: () => Date; keep?: number; onFailure?: (reason: string) => void }): RunLogFile | undefined {
  const now = options.now ?? (() => new Date());
  let fd: number | undefined;
  let file = '';
  try {
    mkdirSync(options.dir, { recursive: true, mode: 0o750 });
    const started = now();
    for (let attempt = 0; fd === undefined; attempt += 1) {
      file = path.join(options.dir, runLogFileName(started, options.argv, attempt));
      try {
        fd = openSync(file, 'wx', 0o640);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 100) throw error;
      }
    }
    for (const name of runLogsToRemove(readdirSync(options.dir), options.keep ?? RUN_LOGS_KEPT)) rmSync(path.join(options.dir, name), { force: true });
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    options.onFailure?.(`${options.dir}: ${(error as Error).message}`);
    return undefined;
  }
  let open = true;
  const handle = fd;
  return {
    path: file,
    record: (kind: RunLogKind, text: string) => {
      if (!open) return;
      try {
        writeSync(handle, formatRunLogLines(now(), kind, text));
      } catch {
        // A full or vanished log disk must not fail the operation being logged.
      }
    },
    close: () => {
      if (!open) return;
      open = false;
      try {
        fsyncSync(handle);
      } catch {
        // Nothing more to do for a log that cannot be flushed.
      }
      closeSync(handle);
    },
  };
}

/** One run log as `logs list` shows it. */
export interface RunLogEntry {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** success, exit N, an error code, or unfinished (core/run-log.ts runLogOutcome). */
  readonly outcome: string;
}

/** Bytes read from a log's end to find its outcome (the result is the last record). */
const OUTCOME_TAIL_BYTES = 16 * 1024;

async function readTail(file: string, size: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const length = Math.min(size, OUTCOME_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    // The first line may be cut: only whole lines after it count.
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    return length < size ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    await handle.close();
  }
}

/** The run logs in a folder, oldest first; none when the folder does not exist. */
export async function listRunLogs(dir: string): Promise<RunLogEntry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries: RunLogEntry[] = [];
  for (const name of names.filter(isRunLogFileName).sort()) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info?.isFile()) entries.push({ name, path: file, bytes: info.size, outcome: runLogOutcome(await readTail(file, info.size).catch(() => '')) });
  }
  return entries;
}
