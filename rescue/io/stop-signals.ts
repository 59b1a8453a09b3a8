// Ctrl-C (SIGINT) and SIGTERM on the command line. While an operation that can stop cleanly runs
// (backup, restore, check, get), the first signal asks it to stop between chunks: it ends with
// LB_INPUT_STOPPED after removing what it had written to the repository and releasing its lock.
// A second signal, or one while nothing can stop cleanly, ends the process at once ('exit'
// handlers still remove the lock files).

/** The signals that ask a command to stop. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Stop requests for one process: operations run under `stoppable` receive the signal. */
export interface StopRequests {
  /** Runs `work` with an AbortSignal the first Ctrl-C or SIGTERM aborts (nested calls share it). */
  stoppable<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Removes the signal handlers. */
  close(): void;
}

/** How the process reacts (wired in main.ts): what it prints, and how it ends at once. */
export interface StopReactions {
  /** The first signal while an operation can stop cleanly. */
  stopping(signal: string): void;
  /** A second signal, or one while nothing can stop cleanly: ends the process (never returns). */
  quit(signal: string): void;
}

/** Installs the SIGINT and SIGTERM handlers for one command run. */
export function watchStopSignals(reactions: StopReactions): StopRequests {
  const controller = new AbortController();
  let running = 0;
  const onSignal = (signal: string) => {
    if (running === 0 || controller.signal.aborted) {
      reactions.quit(signal);
      return;
    }
    controller.abort();
    reactions.stopping(signal);
  };
  const handlers = STOP_SIGNALS.map((name) => [name, () => onSignal(name)] as const);
  for (const [name, handler] of handlers) process.on(name, handler);
  return {
    stoppable: async (work) => {
      running += 1;
      try {
        return await work(controller.signal);
      } finally {
        running -= 1;
      }
    },
    close: () => {
      for (const [name, handler] of handlers) process.removeListener(name, handler);
    },
  };
}
