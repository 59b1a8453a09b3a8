// The running machine: kernel command line, power actions, the marker that asks for a shell.

import { access, appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { PROGRAMS } from '../core/external-programs.ts';
import { LifeboatError } from '../core/errors.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';
import { EFI_GLOBAL_VARIABLE_GUID, parseEfiBooleanVariable, type FirmwareFacts } from '../core/firmware.ts';

/** Where the medium's console script looks for the "give me a shell" marker. */
export const SHELL_MARKER_FILE = '/run/lifeboat/shell';

/** Reads /proc/cmdline. */
export async function readKernelCmdline(): Promise<string> {
  return readFile('/proc/cmdline', 'utf8');
}

/**
 * Set by tests (never on the medium): the power action is appended to this file instead of
 * switching the machine off, so CLI tests on a host can see that it was asked for.
 */
export const POWER_ACTION_RECORD_ENV = 'LIFEBOAT_TEST_POWER_ACTION_FILE';

/** Flushes filesystems and powers off or reboots at once (busybox poweroff -f / reboot -f). */
export async function powerAction(action: 'poweroff' | 'reboot'): Promise<void> {
  const record = process.env[POWER_ACTION_RECORD_ENV];
  if (record) {
    await appendFile(record, `${action}\n`);
    return;
  }
  await runProgram(PROGRAMS.sync, []).catch(() => undefined);
  const result = await runProgram(PROGRAMS[action], ['-f']);
  if (!succeeded(result)) throw new LifeboatError('LB_INTERNAL', { detail: describeExit(result), program: action });
}

/** Leaves the marker the medium's console script reads to start a shell instead of the TUI. */
export async function requestShell(): Promise<void> {
  await mkdir('/run/lifeboat', { recursive: true });
  await writeFile(SHELL_MARKER_FILE, 'requested by lifeboat.then=shell\n');
}

/** BIOS or UEFI (from /sys/firmware/efi), and the SecureBoot variable when on UEFI. */
export async function readFirmwareFacts(): Promise<FirmwareFacts> {
  try {
    await access('/sys/firmware/efi');
  } catch {
    return { mode: 'bios', secureBoot: undefined };
  }
  try {
    const bytes = await readFile(`/sys/firmware/efi/efivars/SecureBoot-${EFI_GLOBAL_VARIABLE_GUID}`);
    return { mode: 'uefi', secureBoot: parseEfiBooleanVariable(bytes) };
  } catch {
    return { mode: 'uefi', secureBoot: undefined };
  }
}
