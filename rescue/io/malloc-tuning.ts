// glibc keeps freed 1 MiB chunk buffers in per-thread arenas, so a backup's resident memory grew
// to ~400 MB while its live data stayed under 100 MB. Fixed mmap/trim thresholds hand such
// buffers back to the kernel (measured on a 2 GiB restore: 385 MB peak RSS -> 278 MB). glibc reads
// them only at start, so the program re-executes itself once with them set (same pid).

/** Variables set for the re-executed process. */
export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '262144',
  MALLOC_TRIM_THRESHOLD_: '1048576',
};
const MARKER = 'LIFEBOAT_MALLOC_TUNED';

/**
 * Whether a command runs with the tuning. A disk, partition or system backup does not: its chunk
 * memory is allocated once (shared slots, kept buffers in the workers), so the tuning changed its
 * peak RSS by a few MiB (NTFS bench volume: first backup 205 / 207 MiB, second 185 / 194 MiB tuned /
 * not), while the re-execution cost every run a second start (~0.1 s; the second backup took
 * 2.75-2.81 s tuned, 2.54-2.80 s not). Anything else, or a command line read otherwise, is tuned.
 */
export function wantsMallocTuning(commandArgs: readonly string[]): boolean {
  const words = commandArgs.filter((arg) => !arg.startsWith('-'));
  return !(words[0] === 'backup' && ['disk', 'partition', 'system'].includes(words[1] ?? ''));
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
