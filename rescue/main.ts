// The one place that wires io into the commands: builds the yargs CLI and runs it.

import yargs, { type Argv } from 'yargs';
import { LifeboatError, toLifeboatError } from './core/errors.ts';
import { probeFilesystem } from './core/filesystems/probe-filesystem.ts';
import { describeTarget, withByteSource } from './io/disk-targets.ts';
import { readFile } from 'node:fs/promises';
import { openBackupSource, openRestoreTarget } from './io/device-endpoints.ts';
import { growFilesystem } from './io/grow-filesystem.ts';
import { checkPrograms } from './io/run-program.ts';
import { createFileWalker } from './io/walk-files.ts';
import { hostName, initRepository, isEmptyFolder, openRepository } from './io/repository/folder-repository.ts';
import { findRepositories } from './io/find-repositories.ts';
import { AttachedRepositories } from './io/attached-repositories.ts';
import { parseScanScope, SCAN_SCOPE_ENV } from './core/attached-repositories.ts';
import type { RepositorySearch } from './ui/tui/tui-context.ts';
import { askOnTerminal } from './io/terminal-prompt.ts';
import type { RepositoryServices } from './ui/cli/context.ts';
import { repositoryFromEnvironment } from './ui/cli/repository-access.ts';
import { backupCommand } from './ui/cli/backup-command.ts';
import { checkCommand } from './ui/cli/check-command.ts';
import { forgetCommand } from './ui/cli/forget-command.ts';
import { initCommand } from './ui/cli/init-command.ts';
import { restoreCommand } from './ui/cli/restore-command.ts';
import { importCommand } from './ui/cli/import-command.ts';
import { openClonezillaForRestore } from './io/clonezilla-restore-io.ts';
import { isClonezillaDirectory } from './io/clonezilla-volume.ts';
import { snapshotsCommand } from './ui/cli/snapshots-command.ts';
import { lsCommand } from './ui/cli/ls-command.ts';
import { getCommand } from './ui/cli/get-command.ts';
import { openFileTree } from './core/file-trees/open-file-tree.ts';
import { localFileWriter, prepareDestination } from './io/file-writer.ts';
import { openVolume } from './io/volume-source.ts';
import { listDisks } from './io/sysfs-disks.ts';
import { inspectDisk } from './ops/inspect-disk.ts';
import { powerAction, readFirmwareFacts, readKernelCmdline, requestShell } from './io/machine.ts';
import { bootCommand } from './ui/cli/boot-command.ts';
import { buildCommand, type BuildDependencies } from './ui/cli/build-command.ts';
import type { CliContext } from './ui/cli/context.ts';
import { disksCommand } from './ui/cli/disks-command.ts';
import { errorsCommand } from './ui/cli/errors-command.ts';
import { EXIT_CODES, exitCodeOf, OUTCOME_EXIT_CODES } from './ui/cli/exit-codes.ts';
import { watchStopSignals, type StopRequests } from './io/stop-signals.ts';
import { tuiCommand, type CommandOutcome } from './ui/cli/tui-command.ts';
import { LIFEBOAT_VERSION } from './version.ts';
import { runCountdown } from './core/job-countdown.ts';
import { formatCommandLine, isLoggedRun, type RunLogSink } from './core/run-log.ts';
import { watchConsoleKeys } from './io/console-keys.ts';
import { tolerateClosedOutput } from './io/closed-output.ts';
import { listRunLogs, openRunLog, runLogDirectory, type RunLogFile } from './io/run-log.ts';
import { DATA_PARTITION_MOUNT, defaultExportDestination, gatherSystemReport, pathKind, writeLogArchive } from './io/system-report.ts';
import { exportLogs } from './ops/export-logs.ts';
import { logsCommand } from './ui/cli/logs-command.ts';
import { runCommand as jobCommand } from './ui/cli/run-command.ts';
import { currentRunLog, echoIntoRunLog, runInLogScope, runWithLog } from './ui/cli/run-log-scope.ts';
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The builder lives outside rescue/ and needs a checkout; load it only when asked. */
const builder: BuildDependencies = {
  buildLinux: async (request, log) => (await import('../builder/build-linux.ts')).buildLinux(request, log),
  buildSea: async (request, log) => (await import('../builder/build-sea.ts')).buildSea(request, log),
};

const repositories: RepositoryServices = {
  init: initRepository,
  open: openRepository,
  isEmptyFolder,
  openSource: openBackupSource,
  openTarget: openRestoreTarget,
  growFilesystem,
  checkPrograms: (programs) => checkPrograms(programs),
  openFileWalker: createFileWalker,
  readPasswordFile: async (file) => {
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new LifeboatError('LB_INPUT_USAGE', { detail: `The password file ${file} cannot be read.`, path: file }, { cause: error });
    });
    return text.replace(/\r?\n$/, '');
  },
  ask: askOnTerminal,
  hostName,
  powerAction,
  env: process.env,
  stderrIsTerminal: process.stderr.isTTY === true,
};

/** The run logs and their export (the TUI reaches them through the same context). */
function logServices(): CliContext['logs'] {
  const directory = runLogDirectory(process.env);
  return {
    directory,
    list: () => listRunLogs(directory),
    export: (request) => exportLogs(request, {
      listLogs: () => listRunLogs(directory),
      gatherSystemReport: () => gatherSystemReport({
        version: LIFEBOAT_VERSION,
        readFirmwareFacts,
        extra: async () => [{ name: 'lifeboat-disks.json', text: `${JSON.stringify(await listDisks({ includeVirtual: true }), null, 2)}\n` }],
      }),
      pathKind,
      defaultDestination: defaultExportDestination,
      writeArchive: writeLogArchive,
      hostName: () => os.hostname(),
      now: () => new Date(),
    }),
    runLogged: (argv, run) => runWithLog(openRunLog({ dir: directory, argv }), `${formatCommandLine(argv)}\nlifeboat ${LIFEBOAT_VERSION}, pid ${process.pid}, user ${process.getuid?.() ?? '?'}, host ${os.hostname()}, kernel ${os.release()}`, run),
  };
}

/** The consoles the medium's init names (tty0 is read through tty1, the screen's console). */
function consoleDevices(): string[] {
  return (process.env.LIFEBOAT_CONSOLES ?? '').split(/\s+/).filter(Boolean).map((device) => (device === '/dev/tty0' ? '/dev/tty1' : device));
}

/** The countdown before a job on the medium, cancelled by a key on any console. */
async function countdownOnConsoles(seconds: number, what: string): Promise<'start' | 'cancelled'> {
  const keys = watchConsoleKeys(consoleDevices());
  try {
    return await runCountdown(seconds, what, {
      wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      keyPressed: keys.pressed,
      print: (line) => process.stdout.write(`${line}\n`),
    });
  } finally {
    keys.close();
  }
}

async function findDataPartitionJob(): Promise<string | undefined> {
  const file = path.join(DATA_PARTITION_MOUNT, 'lifeboat-job.json');
  return access(file).then(() => file, () => undefined);
}

/** The stop requests (Ctrl-C, SIGTERM) of the command line being run; none in the TUI. */
let stopRequests: StopRequests | undefined;

/** The CLI's context wired to this machine; `streams` replaces stdout and stderr (the e2fs corpus test runs commands in-process). */
export function createCliContext(streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = { stdout: process.stdout, stderr: process.stderr }): CliContext {
  return {
    stoppable: (work) => (stopRequests ? stopRequests.stoppable(work) : work(new AbortController().signal)),
    logs: logServices(),
    repositories,
    browse: { openVolume, openFileTree: (source) => openFileTree(source), fileWriter: localFileWriter(), prepareDestination },
    clonezilla: { isImage: isClonezillaDirectory, open: openClonezillaForRestore },
    listDisks,
    describeTarget,
    inspectTarget: (target, sectorSize) => withByteSource(target, (source) => inspectDisk(source, sectorSize, probeFilesystem)),
    readKernelCmdline,
    stdout: streams.stdout,
    stderr: streams.stderr,
    version: LIFEBOAT_VERSION,
  };
}

/** Where the medium mounts its LIFEBOAT data partition (images/linux/rootfs/etc/lifeboat/rc.sysinit). */
const MEDIUM_DATA_FOLDER = DATA_PARTITION_MOUNT;

/**
 * The TUI's repository search: LIFEBOAT_REPOSITORY and the medium's data partition, then every
 * attached disk (LIFEBOAT_SCAN_DEVICES limits which: tests name their loop devices).
 */
function repositorySearch(attached: AttachedRepositories): RepositorySearch {
  return {
    find: async () => {
      const given = (await findRepositories([process.env.LIFEBOAT_REPOSITORY, MEDIUM_DATA_FOLDER])).map((folder) => ({ path: folder }));
      const report = await attached.scan().catch((error: unknown) => ({ found: [], skipped: [{ device: '-', reason: `the disks could not be searched: ${toLifeboatError(error).message}`, notable: true }] }));
      const seen = new Set(given.map((entry) => entry.path));
      return { found: [...given, ...report.found.filter((entry) => !seen.has(entry.path))], skipped: report.skipped };
    },
    prepareForWriting: (folder) => attached.prepareForWriting(folder),
    placeOf: (folder) => attached.placeOf(folder),
    release: () => attached.release(),
  };
}

async function openTui(context: CliContext) {
  const { runTui } = await import('./ui/tui/tui.ts');
  const attached = new AttachedRepositories({ scope: parseScanScope(process.env[SCAN_SCOPE_ENV]) });
  // A closed terminal (SIGHUP) ends the process through 'exit', where the search's mounts are released.
  const hangUp = () => process.exit(129);
  process.once('SIGHUP', hangUp);
  try {
    return await runTui({
      cli: context,
      repositorySearch: repositorySearch(attached),
      logs: {
        describe: async () => {
          const entries = await context.logs.list();
          return [`${entries.length} run log(s) in ${context.logs.directory}${entries.length > 10 ? '; the last 10:' : ''}`, ...entries.slice(-10).map((entry) => `  ${entry.name}  ${entry.outcome}`)];
        },
        exportTo: async (folder) => (await context.logs.export({ destination: folder, force: false })).archive,
      },
    });
  } finally {
    process.removeListener('SIGHUP', hangUp);
  }
}

function buildParser(argv: readonly string[], context: CliContext, outcome: CommandOutcome): Argv {
  const runCommand = (args: readonly string[]) => runCli(args, context);
  return yargs([...argv])
    .scriptName('lifeboat')
    .usage('$0 [command]\n\nBootable rescue media and the recovery program that runs on them.\nWithout a command on a terminal, opens the text user interface.')
    .command(disksCommand(context))
    .command(initCommand(context))
    .command(backupCommand(context, outcome))
    .command(snapshotsCommand(context))
    .command(restoreCommand(context))
    .command(importCommand(context))
    .command(lsCommand(context))
    .command(getCommand(context))
    .command(checkCommand(context))
    .command(forgetCommand(context))
    .command(errorsCommand(context))
    .command(tuiCommand(() => openTui(context), outcome))
    .command(buildCommand(context, builder))
    .command(logsCommand(context))
    .command(jobCommand(context, { runCommand, powerAction, readTextFile: (file) => readFile(file, 'utf8') }, outcome))
    .command(bootCommand(context, { runCommand, powerAction, requestShell, readFirmwareFacts, dataPartition: DATA_PARTITION_MOUNT, findDataPartitionJob, countdown: countdownOnConsoles, readTextFile: (file) => readFile(file, 'utf8') }))
    .version(LIFEBOAT_VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .middleware(repositoryFromEnvironment(context.repositories.env), true)
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new LifeboatError('LB_INPUT_USAGE', { detail: message });
    });
}

/** Parses and runs a command line; errors are printed and logged, and become the exit code. */
async function runParsed(effective: readonly string[], context: CliContext, log: RunLogSink | undefined): Promise<number> {
  try {
    const outcome: CommandOutcome = { exitCode: EXIT_CODES.ok };
    await buildParser(effective.length === 0 ? ['--help'] : effective, context, outcome).parseAsync();
    log?.record('result', `exit ${outcome.exitCode}${outcome.exitCode === 0 ? ': success' : ''}`);
    return outcome.exitCode;
  } catch (thrown) {
    const error = toLifeboatError(thrown);
    await runInLogScope(silentLog, async () => reportError(error, thrown, { effective, context, log }));
    return exitCodeOf(error);
  }
}

/** Logs a failure with its code, fix and details, and prints it on stderr (JSON with --json). */
function reportError(error: LifeboatError, thrown: unknown, run: { effective: readonly string[]; context: CliContext; log: RunLogSink | undefined }): void {
  const { context, log } = run;
  log?.record('error', `${error.code} (exit ${exitCodeOf(error)}): ${error.message}\nfix: ${error.fix}\ndetails: ${JSON.stringify(error.details)}`);
  if (error.code === 'LB_INTERNAL' && thrown instanceof Error) log?.record('error', String(thrown.stack));
  if (run.effective.includes('--json')) {
    context.stderr.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
  } else {
    context.stderr.write(`lifeboat: ${error.code}: ${error.message}\n  fix: ${error.fix}\n`);
    if (error.code === 'LB_INTERNAL' && process.env.LIFEBOAT_DEBUG) context.stderr.write(`${String((thrown as Error).stack)}\n`);
  }
}

/**
 * Ctrl-C and SIGTERM during a command line (not in the TUI, which reads Ctrl-C as a key): the
 * first asks a stoppable operation to stop; otherwise the run ends at once with LB_INPUT_STOPPED
 * (exit 130), logged and printed.
 */
function watchStops(effective: readonly string[], context: CliContext, log: RunLogFile | undefined): StopRequests | undefined {
  if (effective[0] === 'tui') return undefined;
  return watchStopSignals({
    stopping: (signal) => {
      const note = `${signal}: stopping after the chunk under way (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again ends at once).`;
      log?.record('notice', note);
      context.stderr.write(`\nnote: ${note}\n`);
    },
    quit: (signal) => {
      const error = new LifeboatError('LB_INPUT_STOPPED', { detail: `${signal} ended the run at once.`, signal });
      void runInLogScope(silentLog, async () => reportError(error, error, { effective, context, log }));
      log?.close();
      process.exit(OUTCOME_EXIT_CODES.stopped);
    },
  });
}

/** A scope that records nothing: the error message printed on stderr is already in the log. */
const silentLog: RunLogSink = { record: () => undefined };

/** The devices named on the command line, as the log's first lines (model, serial, size). */
async function logDevices(argv: readonly string[], context: CliContext, log: RunLogSink): Promise<void> {
  for (const arg of new Set(argv.filter((word) => word.startsWith('/dev/')))) {
    const device = arg.replace(/:\d+$/, '');
    try {
      log.record('event', `device ${device} ${JSON.stringify(await context.describeTarget(device))}`);
    } catch (error) {
      log.record('event', `device ${device}: ${(error as Error).message}`);
    }
  }
}

/** Runs one lifeboat command line; returns the exit code instead of exiting. Logs the run (see core/run-log.ts). */
export async function runCli(argv: readonly string[], context: CliContext = createCliContext()): Promise<number> {
  const interactive = argv.length === 0 && process.stdin.isTTY === true && process.stdout.isTTY === true;
  const effective = interactive ? ['tui'] : argv;
  const parent = currentRunLog();
  if (parent) {
    // A step of a job (or lifeboat.run): recorded in the log of the run that started it.
    parent.record('step', formatCommandLine(effective));
    await logDevices(effective, context, parent);
    return runInLogScope(parent, () => runParsed(effective, context, parent));
  }
  const explicitDir = process.env.LIFEBOAT_LOG_DIR;
  const log = isLoggedRun(effective) ? openRunLog({
    dir: runLogDirectory(process.env),
    argv: effective,
    onFailure: (reason) => {
      if (explicitDir) context.stderr.write(`note: no run log: ${reason}\n`);
    },
  }) : undefined;
  const logged: CliContext = log ? { ...context, stdout: echoIntoRunLog(context.stdout, 'out'), stderr: echoIntoRunLog(context.stderr, 'err') } : context;
  const stops = watchStops(effective, context, log);
  stopRequests = stops;
  try {
    if (!log) return await runParsed(effective, context, undefined);
    log.record('start', `${formatCommandLine(effective)}\nlifeboat ${context.version}, pid ${process.pid}, user ${process.getuid?.() ?? '?'}, host ${os.hostname()}, kernel ${os.release()}, cwd ${process.cwd()}`);
    await logDevices(effective, context, log);
    return await runInLogScope(log, () => runParsed(effective, logged, log));
  } finally {
    stops?.close();
    if (stopRequests === stops) stopRequests = undefined;
    log?.close();
  }
}

/** Entry point of both `npx lifeboat` and the single executable. */
export async function main(): Promise<void> {
  tolerateClosedOutput(process.stdout);
  tolerateClosedOutput(process.stderr);
  process.exitCode = await runCli(process.argv.slice(2));
}
