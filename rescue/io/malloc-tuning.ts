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
 * Whether a command runs with the tuning: those that still allocate chunk memory per chunk, and
 * those that may run them (the TUI, jobs, the medium's boot). Peak RSS untuned / tuned, measured
 * again after restore and get moved to kept memory: check --read-data of a 4 GiB ext4 snapshot
 * (1.5 GiB used) 394-400 / 334-341 MB (11-12 s / 15 s), backup files of /usr/share/doc and /usr/lib
 * (261 MB stored) 368-443 / 295-311 MB (11-13 s / 19-20 s); forget --prune and import were not
 * measured again. Restore and get read every chunk into kept shared memory (restore's slots, the
 * snapshot volume's cache slots): their RSS is the same either way (restore of that snapshot 145 /
 * 144 MB, get of its 721 MB /blobs folder 181 / 180 MB), and the second start only cost time (get
 * /blobs: 3.1 s untuned, 3.9 s tuned; get of one 16 MiB file 0.37-0.40 s / 0.45-0.48 s), so they
 * run untuned. The short commands gained nothing either and paid a second start (~0.06-0.1 s of
 * CPU, most of `--version`): snapshots 83 / 83 MB, ls 105-111 / 106-111 MB, check without
 * --read-data 101-107 / 107 MB, --version 73 / 73 MB; so do disk, partition and system backups,
 * whose chunk memory is allocated once.
 */
export function wantsMallocTuning(commandArgs: readonly string[]): boolean {
  if (commandArgs.includes('--help') || commandArgs.includes('-h')) return false;
  const words = commandArgs.filter((arg) => !arg.startsWith('-'));
  if (words.length === 0) return commandArgs.length === 0; // no arguments: the TUI on a terminal
  const at = words.findIndex((word) => COMMAND_NAMES.has(word));
  const command = words[at];
  switch (command) {
    case 'import': case 'run': case 'boot': case 'tui':
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
