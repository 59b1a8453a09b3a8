// Drives a terminal program in a real pseudo-terminal (tmux), keys in, screen text out.

import { execa } from 'execa';

/** A program running in its own tmux server. */
export interface TerminalSession {
  readonly screen: () => Promise<string>;
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  readonly sendKeys: (...keys: string[]) => Promise<void>;
  /** Resolves with the exit status once the program has ended. */
  readonly waitForExit: (timeoutMs?: number) => Promise<number>;
  readonly close: () => Promise<void>;
}

let counter = 0;

/** Starts `command` in a detached tmux session of the given size and TERM. */
export async function startTerminal(command: string, options: { term: string; columns?: number; rows?: number; env?: Record<string, string> }): Promise<TerminalSession> {
  counter += 1;
  const socket = `lifeboat-test-${process.pid}-${counter}`;
  const tmux = (...args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args]);
  const env = Object.entries({ TERM: options.term, ...options.env }).flatMap(([key, value]) => ['-e', `${key}=${value}`]);
  await tmux('new-session', '-d', '-s', 'main', '-x', String(options.columns ?? 80), '-y', String(options.rows ?? 25), ...env, command);
  await tmux('set-option', '-t', 'main', 'remain-on-exit', 'on');
  const screen = async () => (await tmux('capture-pane', '-p', '-t', 'main')).stdout;
  const poll = async <T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${await screen().catch(() => '(gone)')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  return {
    screen,
    waitFor: (pattern, timeoutMs = 20_000) =>
      poll(async () => {
        const text = await screen();
        return pattern.test(text) ? text : undefined;
      }, timeoutMs, String(pattern)),
    sendKeys: async (...keys) => {
      await tmux('send-keys', '-t', 'main', ...keys);
    },
    waitForExit: (timeoutMs = 10_000) =>
      poll(async () => {
        const { stdout } = await tmux('display-message', '-p', '-t', 'main', '#{pane_dead} #{pane_dead_status}');
        const [dead, status] = stdout.trim().split(' ');
        return dead === '1' ? Number(status) : undefined;
      }, timeoutMs, 'the program to exit'),
    close: async () => {
      await tmux('kill-server').catch(() => undefined);
    },
  };
}
