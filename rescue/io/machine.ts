// The running machine: kernel command line, power actions, the marker that asks for a shell.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Where the medium's console script looks for the "give me a shell" marker. */
export const SHELL_MARKER_FILE = '/run/lifeboat/shell';

/** Reads /proc/cmdline. */
export async function readKernelCmdline(): Promise<string> {
  return readFile('/proc/cmdline', 'utf8');
}

/** Flushes filesystems and powers off or reboots at once (busybox poweroff -f / reboot -f). */
export async function powerAction(action: 'poweroff' | 'reboot'): Promise<void> {
  await execa('sync', { reject: false });
  await execa(action, ['-f']);
}

/** Leaves the marker the medium's console script reads to start a shell instead of the TUI. */
export async function requestShell(): Promise<void> {
  await mkdir('/run/lifeboat', { recursive: true });
  await writeFile(SHELL_MARKER_FILE, 'requested by lifeboat.then=shell\n');
}
