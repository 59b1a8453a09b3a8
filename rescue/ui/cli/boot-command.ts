// `lifeboat boot`: called once by the medium's init. Runs the unattended request from the kernel
// command line (lifeboat.run, lifeboat.then), framing its output with markers on the console; or
// a job (lifeboat.job=PATH, or lifeboat-job.json on the data partition) after a countdown that a
// key press cancels.

import os from 'node:os';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { describeFirmware, type FirmwareFacts } from '../../core/firmware.ts';
import { JOB_COUNTDOWN_SECONDS } from '../../core/job-countdown.ts';
import { parseBootRequest, RUN_MARKERS, type BootRequest } from '../../core/kernel-cmdline.ts';
import type { CliContext } from './context.ts';
import { loadJob } from './run-command.ts';
import { withExamples } from './command-examples.ts';

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
  /** Where the medium mounts its data partition (a relative lifeboat.job path starts there). */
  readonly dataPartition: string;
  /** The data partition's lifeboat-job.json, when the partition is mounted and holds one. */
  readonly findDataPartitionJob: () => Promise<string | undefined>;
  /** Prints a countdown of `seconds`; 'cancelled' when a key is pressed on a console. */
  readonly countdown: (seconds: number, what: string) => Promise<'start' | 'cancelled'>;
  readonly readTextFile: (file: string) => Promise<string>;
}

/** What the countdown names: the job and its steps; undefined when the job is not valid (it then runs at once, fails with its code, and is logged). */
async function describeJob(file: string, deps: BootDependencies, env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  try {
    const job = await loadJob(file, deps.readTextFile, env);
    return `Job ${file} (${job.steps.map((step) => step.do).join(', ')}; then ${job.then})`;
  } catch {
    return undefined;
  }
}

/** The job to run: lifeboat.job (relative to the data partition), else the data partition's file. */
async function findJob(request: BootRequest, deps: BootDependencies): Promise<string | undefined> {
  if (request.run !== undefined) return undefined;
  if (request.job !== undefined) return path.resolve(deps.dataPartition, request.job);
  return deps.findDataPartitionJob();
}

/** Builds the hidden `boot` command. */
export function bootCommand(context: CliContext, deps: BootDependencies): CommandModule<object, object> {
  return {
    command: 'boot',
    describe: false,
    builder: (yargs: Argv) => withExamples(yargs, 'boot'),
    handler: async () => {
      const request = parseBootRequest(await context.readKernelCmdline());
      const job = await findJob(request, deps);
      if (request.run === undefined && job === undefined) {
        if (request.then === 'shell' && 'lifeboat.then' in request.params) await deps.requestShell();
        return;
      }
      const firmware = describeFirmware(await deps.readFirmwareFacts());
      const memoryMiB = Math.round(os.totalmem() / 1048576);
      context.stdout.write(`\nlifeboat ${context.version}: firmware ${firmware}; kernel ${os.release()}; memory ${memoryMiB} MiB\n`);
      if (job !== undefined) {
        const what = await describeJob(job, deps, context.repositories.env);
        if (what !== undefined && (await deps.countdown(request.countdownSeconds ?? JOB_COUNTDOWN_SECONDS, what)) === 'cancelled') return;
      }
      context.stdout.write(`${RUN_MARKERS.begin}\n`);
      const exitCode = await deps.runCommand(job === undefined ? request.run ?? [] : ['run', job]);
      context.stdout.write(`\n${RUN_MARKERS.end(exitCode)}\n`);
      // A job powers off or reboots by its own "then"; lifeboat.then applies only when given.
      if (job !== undefined && !('lifeboat.then' in request.params)) return;
      if (request.then === 'shell') {
        await deps.requestShell();
        return;
      }
      await deps.powerAction(request.then);
    },
  };
}
