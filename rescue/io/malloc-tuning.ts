// glibc keeps freed 1 MiB chunk buffers in per-thread arenas, so a backup's resident memory grew
// to ~400 MB while its live data stayed under 100 MB. Fixed mmap/trim thresholds hand such
// buffers back to the kernel (measured on a 2 GiB restore: 385 MB peak RSS -> 278 MB). glibc reads
// them only at start, so the program re-executes itself once with them set (same pid).

/** Variables set for the re-executed process. */
export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '262144',
  MALLOC_TRIM_THRESHOLD_: '1048576',
};
/** Set in the re-executed process: it runs with the tuning. */
export const MALLOC_TUNED_MARKER = 'LIFEBOAT_MALLOC_TUNED';
const MARKER = MALLOC_TUNED_MARKER;

/** Lifeboat's commands (main.ts): the first argument naming one is the command run. */
const COMMAND_NAMES = new Set(['disks', 'init', 'backup', 'snapshots', 'restore', 'import', 'ls', 'get', 'check', 'forget', 'errors', 'tui', 'build', 'logs', 'run', 'boot']);

/**
 * Whether a command runs with the tuning: those that move a snapshot's worth of chunks through
 * memory, and those that may (the TUI, jobs, the medium's boot). Peak RSS measured untuned / tuned
 * on a snapshot of a 4 GiB ext4 with 1.3 GiB used: restore 316 / 255 MB, check --read-data 369 /
 * 304 MB, get of a 500 MiB folder 354 / 255 MB, backup files of 300 MB 371 / 333 MB. The others
 * gained nothing and paid a second start (~0.06-0.1 s of CPU, most of `--version`): snapshots 83 /
 * 83 MB, ls 105-111 / 106-111 MB, check without --read-data 101-107 / 107 MB, --version 73 / 73 MB;
 * so do disk, partition and system backups, whose chunk memory is allocated once (shared slots,
 * kept buffers in the workers; NTFS bench volume: first backup 205 / 207 MiB, second 185 / 194 MiB,
 * and the second backup took 2.75-2.81 s tuned, 2.54-2.80 s not). A `get` of one file gains nothing
 * either (168 / 166 MB for 16 MiB), but what it restores is not known before the snapshot is read.
 */
export function wantsMallocTuning(commandArgs: readonly string[]): boolean {
  if (commandArgs.includes('--help') || commandArgs.includes('-h')) return false;
  const words = commandArgs.filter((arg) => !arg.startsWith('-'));
  if (words.length === 0) return commandArgs.length === 0; // no arguments: the TUI on a terminal
  const at = words.findIndex((word) => COMMAND_NAMES.has(word));
  const command = words[at];
  switch (command) {
    case 'restore': case 'import': case 'get': case 'run': case 'boot': case 'tui':
      return true;
    case 'backup':
      return words[at + 1] === 'files';
    case 'check':
      return commandArgs.includes('--read-data');
    case 'forget':
      return commandArgs.includes('--prune');
    default:
      return false;
  }
}

/**
 * Re-executes this process with the malloc tuning unless it already has it, does not want it, or
 * cannot. `launch` is what runs the program again (Node options, a script), `commandArgs` the
 * program's own arguments.
 */
export function reexecWithMallocTuning(launch: readonly string[], commandArgs: readonly string[]): void {
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (process.platform !== 'linux' || process.env[MARKER] !== undefined || typeof execve !== 'function' || !wantsMallocTuning(commandArgs)) return;
  try {
    execve(process.execPath, [process.execPath, ...launch, ...commandArgs], { ...process.env, ...MALLOC_TUNING, [MARKER]: '1' });
  } catch {
    // Not fatal: run untuned.
  }
}
