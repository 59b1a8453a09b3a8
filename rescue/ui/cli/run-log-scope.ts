// The run log of the command being run, reachable from anywhere in the CLI without threading it
// through every command: runCli opens a scope, the progress reporter and the output streams
// record into it. Nested runs (the steps of `lifeboat run JOB`) record into their parent's log.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { ProgressEvent, ProgressReporter } from '../../core/progress.ts';
import { RUN_LOG_OUTPUT_MAX_BYTES, type RunLogKind, type RunLogSink } from '../../core/run-log.ts';

interface RunLogScope {
  readonly sink: RunLogSink;
  /** >0 while the progress renderer writes lines the log records in its own form. */
  quiet: number;
  echoedBytes: number;
  truncated: boolean;
}

const storage = new AsyncLocalStorage<RunLogScope>();

/** Runs `fn` with `sink` as the current run log. */
export function runInLogScope<T>(sink: RunLogSink, fn: () => Promise<T>): Promise<T> {
  return storage.run({ sink, quiet: 0, echoedBytes: 0, truncated: false }, fn);
}

/** The current run's log, when there is one. */
export function currentRunLog(): RunLogSink | undefined {
  return storage.getStore()?.sink;
}

/** Writes without echoing into the log (the caller records the same facts itself). */
export function writeUnlogged(stream: NodeJS.WritableStream, text: string): void {
  const scope = storage.getStore();
  if (scope) scope.quiet += 1;
  try {
    stream.write(text);
  } finally {
    if (scope) scope.quiet -= 1;
  }
}

function echo(kind: RunLogKind, chunk: unknown): void {
  const scope = storage.getStore();
  if (!scope || scope.quiet > 0 || scope.truncated) return;
  const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : '';
  if (text === '' || text.startsWith('\r')) return;
  scope.echoedBytes += Buffer.byteLength(text);
  if (scope.echoedBytes > RUN_LOG_OUTPUT_MAX_BYTES) {
    scope.truncated = true;
    scope.sink.record('notice', `output beyond ${RUN_LOG_OUTPUT_MAX_BYTES} bytes is not copied into this log`);
    return;
  }
  scope.sink.record(kind, text);
}

/** The stream as it is, whose writes are also copied into the current run's log as `kind` records. */
export function echoIntoRunLog(stream: NodeJS.WritableStream, kind: 'out' | 'err'): NodeJS.WritableStream {
  return new Proxy(stream, {
    get(target, property) {
      if (property === 'write') {
        return (chunk: unknown, ...rest: unknown[]) => {
          echo(kind, chunk);
          return (target.write as (...args: unknown[]) => boolean).call(target, chunk, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A run log that can be closed (io's RunLogFile). */
export interface ClosableRunLog extends RunLogSink {
  close(): void;
}

/**
 * Runs one operation started outside the CLI (a TUI action) with its own run log: the
 * equivalent command line, then the result or the coded error; reporters wrapped with
 * `recordProgress` inside `run` add notices and phase figures. Errors are rethrown as they came.
 */
export async function runWithLog<T>(log: ClosableRunLog | undefined, commandLine: string, run: () => Promise<T>): Promise<T> {
  if (!log) return run();
  log.record('start', commandLine);
  try {
    const value = await runInLogScope(log, run);
    log.record('result', 'success');
    return value;
  } catch (error) {
    const coded = error as { code?: unknown; message?: unknown; fix?: unknown; details?: unknown };
    log.record('error', typeof coded.code === 'string' ? `${coded.code}: ${String(coded.message)}\nfix: ${String(coded.fix)}\ndetails: ${JSON.stringify(coded.details ?? {})}` : String((error as Error).stack ?? error));
    throw error;
  } finally {
    log.close();
  }
}

/** A reporter whose figures go into the run log too; `finish` records the last phase's figures. */
export type RecordingReporter = ProgressReporter & { finish(): void };

/** Wraps a progress reporter (the TUI's) so notices and each phase's final figures also go into the current run log. */
export function recordProgress(reporter: ProgressReporter): RecordingReporter {
  const log = currentRunLog();
  let last: ProgressEvent | undefined;
  const endPhase = () => {
    if (last) log?.record('progress', `${last.phase} ended: ${last.bytesDone} of ${last.bytesTotal} bytes${last.item ? `, ${last.item}` : ''}`);
    last = undefined;
  };
  return {
    progress: (event) => {
      if (last && last.phase !== event.phase) endPhase();
      last = event;
      reporter.progress(event);
    },
    notice: (message) => {
      log?.record('notice', message);
      reporter.notice(message);
    },
    finish: endPhase,
  };
}
