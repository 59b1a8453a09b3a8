// Typed progress: long operations report what they have done through this reporter; the CLI and
// the TUI render it (text, JSON lines, gauges). The default reporter ignores everything.
// A stop request reaches them as an AbortSignal, checked between chunks.

import { LifeboatError } from './errors.ts';

/** A step of a long operation. */
export type ProgressPhase = 'backup' | 'verify' | 'restore' | 'check' | 'prune' | 'clone';

/** Bytes done of the total in the current phase, with what is being worked on. */
export interface ProgressEvent {
  readonly phase: ProgressPhase;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** What is being processed now (a partition, a pack). */
  readonly item?: string;
}

/** Where operations report progress and notices (things the user should know but that are not errors). */
export interface ProgressReporter {
  progress(event: ProgressEvent): void;
  notice(message: string): void;
}

/** Throws LB_INPUT_STOPPED once `signal` is aborted; long operations call it between chunks. */
export function throwIfStopped(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new LifeboatError('LB_INPUT_STOPPED', { detail: `Stopped during ${what}.` });
}

/** Seconds as m:ss or h:mm:ss (an ETA; --:-- when unknown), for the CLI's progress lines and the TUI. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${String(secs).padStart(2, '0')}` : `${minutes}:${String(secs).padStart(2, '0')}`;
}
