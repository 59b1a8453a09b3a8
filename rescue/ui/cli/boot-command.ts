// `lifeboat boot`: called once by the medium's init. Runs the unattended request from the kernel
// command line (lifeboat.run, lifeboat.then), framing its output with markers on the console.

import os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { describeFirmware, type FirmwareFacts } from '../../core/firmware.ts';
import { parseBootRequest, RUN_MARKERS } from '../../core/kernel-cmdline.ts';
import type { CliContext } from './context.ts';

/** Exit status that tells init to give the consoles a shell instead of the TUI. */
export const EXIT_WANTS_SHELL = 10;

/** How the boot command reaches the rest of the CLI and the machine. */
export interface BootDependencies {
  /** Runs one lifeboat command line in-process and returns its exit code. */
  readonly runCommand: (argv: readonly string[]) => Promise<number>;
  /** Powers off or reboots the machine now (never returns on success). */
  readonly powerAction: (action: 'poweroff' | 'reboot') => Promise<void>;
  /** Marks for the consoles that a shell is wanted (read by the medium's console script). */
  readonly requestShell: () => Promise<void>;
  /** How the machine booted, for the first line of the boot log. */
  readonly readFirmwareFacts: () => Promise<FirmwareFacts>;
}

/** Builds the hidden `boot` command. */
export function bootCommand(context: CliContext, deps: BootDependencies): CommandModule<object, object> {
  return {
    command: 'boot',
    describe: false,
    builder: (yargs: Argv) => yargs,
    handler: async () => {
      const request = parseBootRequest(await context.readKernelCmdline());
      if (request.run === undefined) {
        if (request.then === 'shell' && 'lifeboat.then' in request.params) await deps.requestShell();
        return;
      }
      const firmware = describeFirmware(await deps.readFirmwareFacts());
      const memoryMiB = Math.round(os.totalmem() / 1048576);
      context.stdout.write(`\nlifeboat ${context.version}: firmware ${firmware}; kernel ${os.release()}; memory ${memoryMiB} MiB\n`);
      context.stdout.write(`${RUN_MARKERS.begin}\n`);
      const exitCode = await deps.runCommand(request.run);
      context.stdout.write(`\n${RUN_MARKERS.end(exitCode)}\n`);
      if (request.then === 'shell') {
        await deps.requestShell();
        return;
      }
      await deps.powerAction(request.then);
    },
  };
}
