// Renders typed progress for the CLI: a status line on a terminal (rewritten 4 times a second),
// a line every few seconds into logs, or JSON lines with --json. Rate and ETA are measured from
// bytes actually done since the phase began.

import { formatBytes, formatRate } from '../../core/human-units.ts';
import { formatDuration, type ProgressEvent, type ProgressReporter } from '../../core/progress.ts';
import { currentRunLog, writeUnlogged } from './run-log-scope.ts';

const PROGRESS_INTERVAL_MS = 250;
const LOG_INTERVAL_MS = 5000;
/** Progress figures go into the run log at each phase end and at most this often between. */
const RUN_LOG_INTERVAL_MS = 60_000;

/** A reporter that also emits other JSON events and ends the status line. */
export interface CliReporter extends ProgressReporter {
  event(name: string, fields: Record<string, unknown>): void;
  finish(): void;
}

/** Creates the reporter for one command run. */
export function createCliReporter(options: { json: boolean; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; terminal: boolean }): CliReporter {
  let phase: string | undefined;
  let phaseStart = 0;
  let lastEmit = 0;
  let lineOpen = false;
  let lastEvent: ProgressEvent | undefined;
  const runLog = currentRunLog();
  let lastLogged = 0;
  let phaseLogged = false;
  const measure = (event: ProgressEvent) => {
    const elapsed = (Date.now() - phaseStart) / 1000;
    const rate = elapsed > 0 ? event.bytesDone / elapsed : 0;
    const eta = rate > 0 ? (event.bytesTotal - event.bytesDone) / rate : Number.POSITIVE_INFINITY;
    return { rate, eta };
  };
  const emit = (event: ProgressEvent) => {
    const { rate, eta } = measure(event);
    if (options.json) {
      writeUnlogged(options.stdout, `${JSON.stringify({ event: 'progress', phase: event.phase, bytesDone: event.bytesDone, bytesTotal: event.bytesTotal, rateBytesPerSecond: Math.round(rate), etaSeconds: Number.isFinite(eta) ? Math.round(eta) : null, item: event.item ?? null })}\n`);
      return;
    }
    const percent = event.bytesTotal > 0 ? Math.floor((event.bytesDone / event.bytesTotal) * 100) : 100;
    const line = `${event.phase.padEnd(7)} ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)} ${String(percent).padStart(3)}%  ${formatRate(rate)}  ETA ${formatDuration(eta)}${event.item ? `  ${event.item}` : ''}`;
    if (options.terminal) {
      writeUnlogged(options.stderr, `\r\x1b[K${line}`);
      lineOpen = true;
    } else {
      writeUnlogged(options.stderr, `${line}\n`);
    }
  };
  /** Progress figures for the run log: bytes done of total, rate, how long the phase took so far. */
  const logFigures = (event: ProgressEvent, when: 'end' | 'at') => {
    if (!runLog) return;
    const { rate } = measure(event);
    const seconds = ((Date.now() - phaseStart) / 1000).toFixed(1);
    runLog.record('progress', `${event.phase} ${when === 'end' ? 'ended' : 'at'}: ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)} (${event.bytesDone} of ${event.bytesTotal} bytes) in ${seconds} s, ${formatRate(rate)}${event.item ? `, ${event.item}` : ''}`);
  };
  const endPhaseInLog = () => {
    if (lastEvent && phase && !phaseLogged) logFigures(lastEvent, 'end');
    phaseLogged = true;
  };
  const closeLine = () => {
    if (lineOpen) options.stderr.write('\n');
    lineOpen = false;
  };
  return {
    progress: (event) => {
      const now = Date.now();
      if (event.phase !== phase) {
        if (lastEvent && phase) emit(lastEvent);
        endPhaseInLog();
        closeLine();
        phase = event.phase;
        phaseStart = now;
        lastEmit = 0;
        lastLogged = now;
        phaseLogged = false;
      }
      lastEvent = event;
      if (runLog && now - lastLogged >= RUN_LOG_INTERVAL_MS && event.bytesDone < event.bytesTotal) {
        lastLogged = now;
        logFigures(event, 'at');
      }
      const interval = options.json || options.terminal ? PROGRESS_INTERVAL_MS : LOG_INTERVAL_MS;
      if (now - lastEmit >= interval || event.bytesDone >= event.bytesTotal) {
        lastEmit = now;
        emit(event);
      }
    },
    notice: (message) => {
      closeLine();
      runLog?.record('notice', message);
      if (options.json) writeUnlogged(options.stdout, `${JSON.stringify({ event: 'notice', message })}\n`);
      else writeUnlogged(options.stderr, `note: ${message}\n`);
    },
    event: (name, fields) => {
      runLog?.record('event', `${name} ${JSON.stringify(fields)}`);
      if (options.json) writeUnlogged(options.stdout, `${JSON.stringify({ event: name, ...fields })}\n`);
    },
    finish: () => {
      endPhaseInLog();
      closeLine();
    },
  };
}
