// Parses the kernel command line the way the kernel splits it, and the lifeboat.* parameters
// that drive unattended mode (lifeboat.run, lifeboat.then). Pure: string in, values out.

import { LifeboatError } from './errors.ts';

/** What to do once an unattended run has finished. */
export type ThenAction = 'poweroff' | 'reboot' | 'shell';

/** The unattended request read from the kernel command line. */
export interface BootRequest {
  /** argv for one `lifeboat` run, or undefined when the medium starts interactively. */
  readonly run: readonly string[] | undefined;
  /** What follows the run; defaults to `shell` so a person can look at what happened. */
  readonly then: ThenAction;
  /** lifeboat.job=PATH: a job file to run after a countdown (relative: on the data partition). */
  readonly job: string | undefined;
  /** lifeboat.countdown=S: seconds before the job starts. */
  readonly countdownSeconds: number | undefined;
  /** Every lifeboat.* parameter as given, for the log. */
  readonly params: Readonly<Record<string, string>>;
}

const THEN_ACTIONS: readonly ThenAction[] = ['poweroff', 'reboot', 'shell'];

/** Splits on white space; the quote character groups words and is removed. */
function splitQuoted(text: string, quote: string, unbalanced: string): string[] {
  const words: string[] = [];
  let current = '';
  let inQuote = false;
  let started = false;
  for (const ch of text) {
    if (ch === quote) {
      inQuote = !inQuote;
      started = true;
    } else if (!inQuote && /\s/.test(ch)) {
      if (started) words.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (inQuote) throw new LifeboatError('LB_INPUT_BAD_CMDLINE', { detail: unbalanced, text });
  if (started) words.push(current);
  return words;
}

/** Splits a kernel command line into parameters; double quotes group spaces and are removed. */
export function splitKernelCmdline(cmdline: string): string[] {
  return splitQuoted(cmdline, '"', 'Unbalanced double quote.');
}

/** Splits the value of lifeboat.run into argv; single quotes group words (double quotes belong to the kernel). */
export function splitRunArguments(value: string): string[] {
  return splitQuoted(value, "'", 'Unbalanced single quote in lifeboat.run.');
}

/** Reads lifeboat.run and lifeboat.then from a kernel command line. */
export function parseBootRequest(cmdline: string): BootRequest {
  const params: Record<string, string> = {};
  for (const param of splitKernelCmdline(cmdline)) {
    if (!param.startsWith('lifeboat.')) continue;
    const eq = param.indexOf('=');
    const key = eq < 0 ? param : param.slice(0, eq);
    params[key] = eq < 0 ? '' : param.slice(eq + 1);
  }
  const runValue = params['lifeboat.run'];
  const run = runValue === undefined ? undefined : splitRunArguments(runValue);
  if (run !== undefined && run.length === 0) {
    throw new LifeboatError('LB_INPUT_BAD_CMDLINE', { detail: 'lifeboat.run is empty.' });
  }
  const thenValue = params['lifeboat.then'] ?? 'shell';
  if (!THEN_ACTIONS.includes(thenValue as ThenAction)) {
    throw new LifeboatError('LB_INPUT_BAD_CMDLINE', {
      detail: `lifeboat.then must be one of ${THEN_ACTIONS.join(', ')}, not "${thenValue}".`,
    });
  }
  const job = params['lifeboat.job'];
  if (job !== undefined && job.trim() === '') throw new LifeboatError('LB_INPUT_BAD_CMDLINE', { detail: 'lifeboat.job is empty.' });
  const countdown = params['lifeboat.countdown'];
  if (countdown !== undefined && !/^\d{1,4}$/.test(countdown)) {
    throw new LifeboatError('LB_INPUT_BAD_CMDLINE', { detail: `lifeboat.countdown must be a number of seconds, not "${countdown}".` });
  }
  return { run, then: thenValue as ThenAction, job, countdownSeconds: countdown === undefined ? undefined : Number(countdown), params };
}

/** Markers that frame an unattended run's output on the console, so scripts can cut it out. */
export const RUN_MARKERS = {
  begin: '=====LIFEBOAT-RUN-BEGIN=====',
  end: (exitCode: number): string => `=====LIFEBOAT-RUN-END exit=${exitCode}=====`,
  endPattern: /=====LIFEBOAT-RUN-END exit=(\d+)=====/,
} as const;

/** Cuts the output and exit code of an unattended run out of a console transcript. */
export function extractRunOutput(transcript: string): { output: string; exitCode: number } | undefined {
  const text = transcript.replace(/\r/g, '');
  const begin = text.indexOf(RUN_MARKERS.begin);
  if (begin < 0) return undefined;
  const rest = text.slice(begin + RUN_MARKERS.begin.length);
  const end = RUN_MARKERS.endPattern.exec(rest);
  if (!end) return undefined;
  return { output: rest.slice(0, end.index).replace(/^\n/, ''), exitCode: Number(end[1]) };
}
