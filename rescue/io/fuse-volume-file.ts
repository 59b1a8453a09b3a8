// Shows a volume served by nbd-server.ts as a regular file: qemu-storage-daemon connects to the
// NBD socket and exports the volume as a FUSE file mounted over an empty file, on which
// resize2fs, e2fsck and ntfsresize work as on an image. The daemon runs in its own process group (a
// Ctrl-C at the terminal reaches Lifeboat, which stops it in order); it is stopped, and its mount
// removed, when the caller is done, fails, or the process exits; if Lifeboat is killed (SIGKILL), the
// kernel kills the daemon too (setpriv --pdeathsig), and the mount it leaves reads as disconnected.

import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import { runProgram, runProgramSync, spawnTiedProgram } from './run-program.ts';

/** How long qemu-storage-daemon may take to connect and mount, and to leave once asked. */
export const FUSE_MOUNT_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 50;

/** A mounted volume file. */
export interface VolumeFile {
  /** The file to run the filesystem tools on. */
  readonly path: string;
  /** The daemon's process id (tests watch that it is gone). */
  readonly pid: number;
  /** Stops the daemon and removes the mount (safe to call twice). */
  stop(): Promise<void>;
}

/** Where the NBD export is, and where to mount it. */
export interface VolumeFileOptions {
  readonly socketPath: string;
  readonly exportName: string;
  /** An absolute path in a folder Lifeboat made; a file is created there to mount over. */
  readonly mountPath: string;
  readonly timeoutMs?: number;
  /** Aborting stops the daemon. */
  readonly signal?: AbortSignal;
}

/** True when `file` is a mount point now (/proc/self/mountinfo's fifth field, with its octal escapes). */
export function isMountPoint(file: string): boolean {
  const escaped = file.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === escaped);
  } catch {
    return false;
  }
}

function qsdArguments(options: VolumeFileOptions): string[] {
  const comma = (value: string) => value.replace(/,/g, ',,');
  return [
    '--blockdev', `driver=nbd,node-name=lifeboat-view,server.type=unix,server.path=${comma(options.socketPath)},export=${comma(options.exportName)}`,
    '--export', `type=fuse,id=lifeboat-view-file,node-name=lifeboat-view,mountpoint=${comma(options.mountPath)},writable=on,growable=off`,
  ];
}

/** Starts qemu-storage-daemon and waits until the volume is mounted on `mountPath`. */
export async function mountVolumeFile(options: VolumeFileOptions): Promise<VolumeFile> {
  await writeFile(options.mountPath, '', { mode: 0o600, flag: 'wx' });
  const child: ChildProcess = spawnTiedProgram(PROGRAMS.qemuStorageDaemon, qsdArguments(options), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (data: Buffer) => { output = (output + data.toString()).slice(-4000); });
  child.stderr?.on('data', (data: Buffer) => { output = (output + data.toString()).slice(-4000); });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve();
  }));
  child.once('error', () => undefined);

  const onExit = () => {
    if (!exited) child.kill('SIGKILL');
    if (isMountPoint(options.mountPath)) runProgramSync(PROGRAMS.umount, ['-l', options.mountPath], { stdio: 'ignore' });
  };
  process.on('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    }
    if (isMountPoint(options.mountPath)) await runProgram(PROGRAMS.umount, ['-l', options.mountPath]);
    process.off('exit', onExit);
    options.signal?.removeEventListener('abort', onAbort);
  })());
  const onAbort = () => void stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const deadline = Date.now() + (options.timeoutMs ?? FUSE_MOUNT_TIMEOUT_MS);
  while (!isMountPoint(options.mountPath)) {
    const failure = exited
      ? `qemu-storage-daemon ended before the volume was mounted (${exited.code === null ? `signal ${exited.signal}` : `status ${exited.code}`})`
      : Date.now() > deadline ? `qemu-storage-daemon did not mount the volume within ${options.timeoutMs ?? FUSE_MOUNT_TIMEOUT_MS} ms` : options.signal?.aborted ? 'stopped' : undefined;
    if (failure) {
      await stop();
      if (options.signal?.aborted) throw new LifeboatError('LB_INPUT_STOPPED', { detail: 'Stopped while the shrink view was being mounted; the source was not written.' });
      throw new LifeboatError('LB_DEVICE_FUSE_UNAVAILABLE', { detail: `${failure}: ${output.trim() || 'no output'}`, mountPath: options.mountPath });
    }
    await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, POLL_MS))]);
  }
  return { path: options.mountPath, pid: child.pid!, stop };
}
