// A QEMU guest driven step by step (for tests that cut power): its serial console is read and
// typed on as it runs, QMP (QEMU's JSON control socket) saves the running machine into a file,
// and a later VM resumes from that file in a few seconds instead of booting again.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { qemuArguments, type BootOptions } from './qemu.ts';

/** A VM to start: as bootVm's options (SeaBIOS only), optionally resumed from a saved state. */
export interface SessionOptions extends Omit<BootOptions, 'until' | 'input' | 'timeoutMs'> {
  readonly firmware: 'seabios';
  /** A file written by VmSession.saveState: the machine resumes where it was saved. */
  readonly resumeFrom?: string;
}

/** A running VM. */
export interface VmSession {
  /** Everything the serial console printed so far (carriage returns removed). */
  transcript(): string;
  /** Milliseconds since the VM was started. */
  elapsedMs(): number;
  /** Resolves with the transcript index just past the first match of `pattern` at or after `from`; rejects after `timeoutMs` or when QEMU ends. */
  waitFor(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<number>;
  /** Calls `onText` with each piece of console output as it arrives (and the time it came). */
  watch(onText: (text: string, atMs: number) => void): void;
  /** Types on the serial console. */
  type(text: string): void;
  /** Resolves once the machine runs (a resumed one has loaded its state, and is started). */
  running(): Promise<void>;
  /** Pauses the machine and writes its whole state (memory and devices) into `file`. */
  saveState(file: string): Promise<void>;
  /** CPU seconds QEMU has used so far (user and system; 0 once it has ended). */
  cpuSeconds(): number;
  /** Kills QEMU at once: for the guest, the power is cut. */
  cut(): void;
  /** Resolves when QEMU has ended. */
  readonly ended: Promise<void>;
}

const QMP_TIMEOUT_MS = 120_000;

/** One line-delimited QMP connection; commands are answered in order; `ended` (QEMU's exit) rejects what waits and closes it. */
export async function connectQmp(socket: string, ended: Promise<void>): Promise<(execute: string, args?: object) => Promise<Record<string, unknown>>> {
  let connection: net.Socket | undefined;
  for (let attempt = 0; !connection; attempt++) {
    try {
      connection = await new Promise<net.Socket>((resolve, reject) => {
        const candidate = net.createConnection(socket);
        candidate.once('connect', () => resolve(candidate));
        candidate.once('error', reject);
      });
    } catch (error) {
      if (attempt > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const open = connection;
  const waiting: Array<{ resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }> = [];
  let buffer = '';
  open.setEncoding('utf8');
  open.on('data', (text: string) => {
    buffer += text;
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      const message = JSON.parse(buffer.slice(0, end)) as Record<string, unknown>;
      buffer = buffer.slice(end + 1);
      if ('return' in message) waiting.shift()?.resolve(message.return as Record<string, unknown>);
      else if ('error' in message) waiting.shift()?.reject(new Error(`QMP: ${JSON.stringify(message.error)}`));
    }
  });
  open.on('error', () => undefined);
  void ended.then(() => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error('QEMU ended'));
    open.destroy();
  });
  const send = (execute: string, args?: object) => new Promise<Record<string, unknown>>((resolve, reject) => {
    waiting.push({ resolve, reject });
    open.write(`${JSON.stringify({ execute, ...(args ? { arguments: args } : {}) })}\n`);
  });
  await send('qmp_capabilities');
  return send;
}

/** Starts a VM (booting, or resuming a saved state) and returns a handle on it. */
export async function startVmSession(options: SessionOptions): Promise<VmSession> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-vm-'));
  const socket = path.join(dir, 'qmp.sock');
  // vmgenid: a resumed machine is told it is a new one, and Linux reseeds its random numbers
  // (else every resume of one saved state would draw the same "random" names).
  const args = [...qemuArguments(options, undefined), '-qmp', `unix:${socket},server=on,wait=off`, '-device', 'vmgenid,guid=auto'];
  if (options.resumeFrom !== undefined) args.push('-incoming', `exec:cat '${options.resumeFrom.replace(/'/g, "'\\''")}'`);
  const started = Date.now();
  const child: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let transcript = '';
  const watchers: Array<(text: string, atMs: number) => void> = [];
  const waiters = new Set<() => void>();
  // One decoder per stream: a character whose UTF-8 bytes arrive in two chunks stays whole.
  const onData = (decoder: StringDecoder) => (chunk: Buffer) => {
    const text = decoder.write(chunk).replace(/\r/g, '');
    transcript += text;
    const at = Date.now() - started;
    for (const watcher of watchers) watcher(text, at);
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout?.on('data', onData(new StringDecoder('utf8')));
  child.stderr?.on('data', onData(new StringDecoder('utf8')));
  child.stdin?.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => {
    child.on('close', () => {
      for (const waiter of [...waiters]) waiter();
      resolve();
    });
    child.on('error', () => resolve());
  });
  void ended.then(() => rm(dir, { recursive: true, force: true }));
  let qmp: ReturnType<typeof connectQmp> | undefined;
  const command = (execute: string, args?: object) => {
    qmp ??= connectQmp(socket, ended);
    return qmp.then((send) => send(execute, args));
  };
  const session: VmSession = {
    transcript: () => transcript,
    elapsedMs: () => Date.now() - started,
    waitFor: (pattern, { from = 0, timeoutMs = 300_000 } = {}) => new Promise<number>((resolve, reject) => {
      const flags = pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`;
      const check = () => {
        const search = new RegExp(pattern.source, flags);
        search.lastIndex = from;
        const match = search.exec(transcript);
        if (match) {
          finish();
          resolve(match.index + match[0].length);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          finish();
          reject(new Error(`QEMU ended before ${pattern} appeared; console tail:\n${transcript.slice(-3000)}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${pattern} did not appear within ${timeoutMs} ms; console tail:\n${transcript.slice(-3000)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    }),
    watch: (onText) => {
      watchers.push(onText);
    },
    type: (text) => {
      child.stdin?.write(text);
    },
    running: async () => {
      const deadline = Date.now() + QMP_TIMEOUT_MS;
      for (;;) {
        const status = (await command('query-status')).status;
        if (status === 'running') return;
        // A state saved from a paused machine resumes paused.
        if (status === 'paused') await command('cont');
        else if (Date.now() > deadline) throw new Error(`the VM did not start running (status ${String(status)}); console:\n${transcript.slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    saveState: async (file) => {
      await command('stop');
      await command('migrate', { uri: `exec:cat > '${file.replace(/'/g, "'\\''")}'` });
      const deadline = Date.now() + QMP_TIMEOUT_MS;
      for (;;) {
        const status = (await command('query-migrate')).status;
        if (status === 'completed') return;
        if (status === 'failed' || status === 'cancelled' || Date.now() > deadline) throw new Error(`saving the VM state: migration ${String(status)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    cpuSeconds: () => {
      try {
        // /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks (100 a second on Linux), after the ")" that ends the name.
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
        return (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        return 0;
      }
    },
    cut: () => {
      child.kill('SIGKILL');
    },
    ended,
  };
  return session;
}
