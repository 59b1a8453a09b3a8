// The countdown before the medium runs a job on its own: printed once a second, cancelled by a
// key press. Pure: the clock and the keyboard are passed in, so tests drive both.

/** Seconds the medium waits before it runs a job (lifeboat.countdown=N changes it). */
export const JOB_COUNTDOWN_SECONDS = 10;

/** The clock and the keyboard of a countdown. */
export interface CountdownIo {
  /** Resolves after `ms` milliseconds. */
  wait(ms: number): Promise<void>;
  /** Resolves when a key is pressed (never, without a keyboard). */
  readonly keyPressed: Promise<void>;
  print(line: string): void;
}

/** Counts down `seconds`; 'cancelled' as soon as a key is pressed, else 'start'. */
export async function runCountdown(seconds: number, what: string, io: CountdownIo): Promise<'start' | 'cancelled'> {
  let cancelled = false;
  const key = io.keyPressed.then(() => {
    cancelled = true;
  });
  for (let left = seconds; left > 0; left -= 1) {
    io.print(`${what} starts in ${left} s; press any key to cancel.`);
    await Promise.race([io.wait(1000), key]);
    if (cancelled) {
      io.print(`${what} cancelled: nothing was run.`);
      return 'cancelled';
    }
  }
  io.print(`${what} starts now.`);
  return 'start';
}
