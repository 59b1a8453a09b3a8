// Whether a process on this machine still runs: the one test behind the repository's stale locks
// and the attached-repository scan lock.

/** True while process `pid` exists (EPERM means it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
