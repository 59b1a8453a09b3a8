// Run logs: every command run leaves one text file (what support asks for first). Pure part:
// which runs are logged, file names, line format, and which old files to drop.

/** Where a run's records go (a file in io; nothing by default). */
export interface RunLogSink {
  /** One record: a kind (start, event, progress, notice, out, err, step, result, error) and its text. */
  record(kind: RunLogKind, text: string): void;
}

/** The kinds of records a run log holds. */
export type RunLogKind = 'start' | 'cwd' | 'event' | 'progress' | 'notice' | 'out' | 'err' | 'step' | 'result' | 'error';

/** How many run logs are kept: the oldest beyond this are removed when a new run starts. */
export const RUN_LOGS_KEPT = 50;

/** Default log folder; on the medium /var/log is in RAM. */
export const DEFAULT_LOG_DIR = '/var/log/lifeboat';

/** Output echoed into a log beyond this is cut (progress is logged separately, so this is results and listings). */
export const RUN_LOG_OUTPUT_MAX_BYTES = 256 * 1024;

const UNLOGGED_COMMANDS = new Set(['errors', 'logs', 'tui', 'boot', 'completion']);

/** True when a command line is worth a log: not help, version, the error catalogue or the logs themselves. */
export function isLoggedRun(argv: readonly string[]): boolean {
  if (argv.length === 0) return false;
  if (argv.some((arg) => arg === '--help' || arg === '-h' || arg === '--version')) return false;
  const command = argv.find((arg) => !arg.startsWith('-'));
  return command !== undefined && !UNLOGGED_COMMANDS.has(command);
}

/** The command words of a run for file names and headings: `backup disk`, `run`. */
export function commandLabel(argv: readonly string[]): string {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith('-') || words.length === 2) break;
    words.push(arg);
  }
  const command = words[0];
  // Only commands with subcommands keep their second word.
  if (command !== 'backup' && command !== 'clone' && command !== 'import' && command !== 'build' && command !== 'logs') return command ?? 'lifeboat';
  return words.join(' ');
}

/** A file name that sorts by time: 20261129T223001.123Z-backup-disk.log (with -N when taken). */
export function runLogFileName(time: Date, argv: readonly string[], attempt = 0): string {
  const stamp = time.toISOString().replace(/[-:]/g, '');
  const label = commandLabel(argv).replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'lifeboat';
  return `${stamp}-${label}${attempt > 0 ? `-${attempt}` : ''}.log`;
}

/** True for names runLogFileName makes. */
export function isRunLogFileName(name: string): boolean {
  return /^\d{8}T\d{6}\.\d{3}Z-[A-Za-z0-9-]+\.log$/.test(name);
}

/** The run logs to remove so that `keep` remain (oldest first by name, which is by time). */
export function runLogsToRemove(names: readonly string[], keep: number): string[] {
  const logs = names.filter(isRunLogFileName).sort();
  return logs.slice(0, Math.max(0, logs.length - keep));
}

/** Quotes a command line so it can be pasted back into a shell. */
export function formatCommandLine(argv: readonly string[]): string {
  return ['lifeboat', ...argv].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`)).join(' ');
}

/** One log line per text line: `TIME KIND text`; continuation lines keep the prefix so grep finds them. */
export function formatRunLogLines(time: Date, kind: RunLogKind, text: string): string {
  const prefix = `${time.toISOString()} ${kind.padEnd(8)} `;
  const lines = text.replace(/\r/g, '').replace(/\n$/, '').split('\n');
  return lines.map((line) => `${prefix}${line}\n`).join('');
}

/**
 * How a run ended, from its log's text (its last result or coded error record): `success`,
 * `exit N`, the error's code, or `unfinished` (still running, or killed before it could say).
 */
export function runLogOutcome(text: string): string {
  let outcome = 'unfinished';
  for (const line of text.split('\n')) {
    const match = /^\S+ (result|error)\s+(.*)$/.exec(line);
    if (!match) continue;
    const [, kind, rest = ''] = match;
    if (kind === 'result') {
      const exit = /^exit (\d+)/.exec(rest);
      outcome = /success/.test(rest) || exit?.[1] === '0' ? 'success' : exit ? `exit ${exit[1]}` : rest;
      continue;
    }
    const code = /^(LB_[A-Z_]+)\b/.exec(rest);
    if (code?.[1]) outcome = code[1];
  }
  return outcome;
}
