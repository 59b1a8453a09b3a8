// `lifeboat run JOB.json`: an unattended job. The whole job is checked first (nothing runs when a
// step is wrong), then each step runs through the same command handlers as typed on the command
// line, into the same run log; the first failure stops it (unless "continue-on-error"); the job's
// "then" powers off or reboots after a job that succeeded.

import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { LifeboatError } from '../../core/errors.ts';
import { parseJob, type Job } from '../../core/job.ts';
import { formatCommandLine } from '../../core/run-log.ts';
import type { CliContext } from './context.ts';
import { OUTCOME_EXIT_CODES } from './exit-codes.ts';
import { currentRunLog } from './run-log-scope.ts';
import { withExamples } from './command-examples.ts';

/** How the run command reaches the rest of the CLI and the machine. */
export interface JobDependencies {
  /** Runs one lifeboat command line in-process and returns its exit code. */
  readonly runCommand: (argv: readonly string[]) => Promise<number>;
  readonly powerAction: (action: 'poweroff' | 'reboot') => Promise<void>;
  readonly readTextFile: (file: string) => Promise<string>;
}

interface RunArgs {
  job: string;
}

/** Reads and checks a job file (relative paths inside it are taken from its folder); steps without a repository use LIFEBOAT_REPOSITORY from `env`. */
export async function loadJob(file: string, readTextFile: (file: string) => Promise<string>, env: Readonly<Record<string, string | undefined>> = {}): Promise<Job> {
  const text = await readTextFile(file).catch((error: unknown) => {
    throw new LifeboatError('LB_INPUT_BAD_JOB', { detail: `The job file ${file} cannot be read: ${(error as Error).message}.`, path: file, field: '' }, { cause: error });
  });
  const fromEnvironment = env.LIFEBOAT_REPOSITORY;
  return parseJob(text, { baseDir: path.dirname(path.resolve(file)), ...(fromEnvironment ? { defaultRepository: path.resolve(fromEnvironment) } : {}) });
}

/**
 * Runs a checked job; returns the exit code of the first failed step (0 when all succeeded). A step
 * that ends incomplete (a files backup that saved its snapshot but left entries or attributes out:
 * exit 11) is not a failure: the job goes on and does its "then", and ends with 11.
 */
export async function runJob(job: Job, label: string, context: CliContext, deps: JobDependencies): Promise<number> {
  const log = currentRunLog();
  const say = (line: string) => {
    context.stdout.write(`${line}\n`);
  };
  say(`job ${label}: ${job.steps.length} step(s), then ${job.then}${job.continueOnError ? ', continuing after a failed step' : ''}.`);
  let firstFailure = 0;
  let incomplete = false;
  for (const [index, step] of job.steps.entries()) {
    const heading = `step ${index + 1}/${job.steps.length} (${step.do})`;
    say(`== ${heading}: ${formatCommandLine(step.argv)}`);
    const exitCode = await deps.runCommand(step.argv);
    log?.record('step', `${heading} ended with exit ${exitCode}`);
    if (exitCode === 0) {
      say(`== ${heading} done.`);
      continue;
    }
    if (exitCode === OUTCOME_EXIT_CODES.incomplete) {
      incomplete = true;
      say(`== ${heading} done, incomplete (exit ${exitCode}: its snapshot is saved, without what could not be read); the job goes on.`);
      continue;
    }
    if (firstFailure === 0) firstFailure = exitCode;
    if (!job.continueOnError) {
      const left = job.steps.length - index - 1;
      say(`== ${heading} failed (exit ${exitCode}); the job stops here${left > 0 ? `: ${left} step(s) not run` : ''}.`);
      break;
    }
    say(`== ${heading} failed (exit ${exitCode}); continuing ("continue-on-error").`);
  }
  if (firstFailure !== 0) {
    say(`job ${label} failed${job.then === 'stay' ? '' : `; no ${job.then}`}.`);
    return firstFailure;
  }
  say(`job ${label} done${incomplete ? `, incomplete (exit ${OUTCOME_EXIT_CODES.incomplete})` : ''}.`);
  if (job.then !== 'stay') {
    log?.record('step', `job done: ${job.then}`);
    say(`${job.then === 'poweroff' ? 'powering off' : 'rebooting'}.`);
    await deps.powerAction(job.then);
  }
  return incomplete ? OUTCOME_EXIT_CODES.incomplete : 0;
}

/** Builds the `run` command. */
export function runCommand(context: CliContext, deps: JobDependencies, outcome: { exitCode: number }): CommandModule<object, RunArgs> {
  return {
    command: 'run <job>',
    describe: 'Run an unattended job: backup, verify, restore and get steps from a JSON file, then power off, reboot or stay',
    builder: (yargs: Argv) => withExamples(yargs, 'run').positional('job', { type: 'string', demandOption: true, describe: 'The job file (JSON; see README "Unattended jobs")' }) as Argv<RunArgs>,
    handler: async (args) => {
      const job = await loadJob(args.job, deps.readTextFile, context.repositories.env);
      outcome.exitCode = await runJob(job, args.job, context, deps);
    },
  };
}
