// Drives a terminal program in a real pseudo-terminal (tmux), keys in, screen text out.

import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

/** A program running in its own tmux server. */
export interface TerminalSession {
  readonly screen: () => Promise<string>;
  /** The screen with its colours and attributes as escape sequences (tmux capture-pane -e). */
  readonly styledScreen: () => Promise<string>;
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  readonly sendKeys: (...keys: string[]) => Promise<void>;
  /** Resolves with the exit status once the program has ended. */
  readonly waitForExit: (timeoutMs?: number) => Promise<number>;
  readonly close: () => Promise<void>;
}

let counter = 0;

/**
 * Starts `command` in a detached tmux session of the given size and TERM. The TUI's search of
 * attached disks is off (LIFEBOAT_SCAN_DEVICES=none) unless `env` names the devices to search: a
 * test never mounts this machine's disks, nor the loop devices of tests running beside it.
 */
export async function startTerminal(command: string, options: { term: string; columns?: number; rows?: number; env?: Record<string, string> }): Promise<TerminalSession> {
  counter += 1;
  const socket = `lifeboat-test-${process.pid}-${counter}`;
  const tmux = (...args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args]);
  // tmux gives its panes TERM from default-terminal whatever -e says: set it in the command itself.
  const env = Object.entries({ TERM: options.term, LIFEBOAT_SCAN_DEVICES: 'none', ...options.env }).map(([key, value]) => `${key}='${value.replace(/'/g, `'\\''`)}'`);
  // The exit status goes to a file: tmux 3.3 sometimes reports a dead pane without its status.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tmux-'));
  const statusFile = path.join(dir, 'status');
  const wrapped = `export ${env.join(' ')}; ${command}; echo $? > ${statusFile}; sleep 3600`;
  await tmux('new-session', '-d', '-s', 'main', '-x', String(options.columns ?? 80), '-y', String(options.rows ?? 25), wrapped);
  const screen = async () => (await tmux('capture-pane', '-p', '-t', 'main')).stdout;
  const styledScreen = async () => (await tmux('capture-pane', '-p', '-e', '-t', 'main')).stdout;
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
    styledScreen,
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
        const text = await readFile(statusFile, 'utf8').catch(() => '');
        return /^\d+\n$/.test(text) ? Number(text) : undefined;
      }, timeoutMs, 'the program to exit'),
    close: async () => {
      await tmux('kill-server').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The checkout's launcher, run with this process's Node 24. */
const LIFEBOAT_ENTRY = path.join(PROJECT_ROOT, 'rescue', 'bin', 'lifeboat.mjs');

/** `lifeboat tui` from the checkout in tmux: 80x25 on the Linux console unless told otherwise. */
export function openLifeboatTui(options: { term?: string; columns?: number; rows?: number; env?: Record<string, string> } = {}): Promise<TerminalSession> {
  return startTerminal(`'${process.execPath}' '${LIFEBOAT_ENTRY}' tui`, { term: options.term ?? 'linux', columns: options.columns ?? 80, rows: options.rows ?? 25, ...(options.env ? { env: options.env } : {}) });
}

/** Types text into a line field and presses Enter. */
export async function typeLine(session: TerminalSession, text: string): Promise<void> {
  await session.sendKeys('-l', text);
  await session.sendKeys('Enter');
}

/** Leaves the TUI's screens one by one with Escape (each waited for first, then left), and waits for the home screen. */
export async function leaveToHome(session: TerminalSession, ...screens: readonly RegExp[]): Promise<string> {
  for (const screen of screens) {
    await session.waitFor(screen);
    await session.sendKeys('Escape');
  }
  return session.waitFor(/Actions/, 60_000);
}

/** Quits the TUI from the home screen with q; resolves with its exit status. */
export async function quitTui(session: TerminalSession): Promise<number> {
  await session.sendKeys('q');
  return session.waitForExit(60_000);
}

/**
 * Scrolls the focused box down (Down, one line at a time) until `text` is on screen row `row`, or
 * the box is at its end (a Down changes nothing): the home map and the Disks screen list the
 * machine's other disks (and other tests' loop devices) first.
 */
export async function scrollUntilRow(session: TerminalSession, text: string, row: number): Promise<void> {
  let screen = await session.screen();
  for (let tries = 0; !(screen.split('\n')[row] ?? '').includes(text) && tries < 80; tries++) {
    await session.sendKeys('Down');
    const before = screen;
    for (let wait = 0; wait < 10 && screen === before; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      screen = await session.screen();
    }
    if (screen === before) return;
  }
}
