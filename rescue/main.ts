// The one place that wires io into the commands: builds the yargs CLI and runs it.

import yargs, { type Argv, type CommandModule } from 'yargs';
import { LifeboatError, toLifeboatError } from './core/errors.ts';
import { readFile } from 'node:fs/promises';
import type { RepositorySearch } from './ui/tui/tui-context.ts';
import type { RepositoryServices } from './ui/cli/context.ts';
import { repositoryFromEnvironment } from './ui/cli/repository-access.ts';
import type { BuildDependencies } from './ui/cli/build-command.ts';
import type { CliContext } from './ui/cli/context.ts';
import { EXIT_CODES, exitCodeOf, OUTCOME_EXIT_CODES } from './ui/cli/exit-codes.ts';
import { watchStopSignals, type StopRequests } from './io/stop-signals.ts';
import type { CommandOutcome } from './ui/cli/tui-command.ts';
import type { AttachedRepositories } from './io/attached-repositories.ts';
import { DATA_PARTITION_MOUNT, parseScanScope, SCAN_SCOPE_ENV } from './core/attached-repositories.ts';
import type { FileWriter } from './core/file-trees/file-writer-port.ts';
import { LIFEBOAT_VERSION } from './version.ts';
import { formatCommandLine, isLoggedRun, type RunLogSink } from './core/run-log.ts';
import { tolerateClosedOutput } from './io/closed-output.ts';
import { listRunLogs, openRunLog, runLogDirectory, type RunLogFile } from './io/run-log.ts';
import { currentRunLog, echoIntoRunLog, runInLogScope, runWithLog } from './ui/cli/run-log-scope.ts';
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

// Modules are loaded when a command first needs them (import() below): the single executable then
// evaluates only what the command it runs uses, so `--version`, `snapshots` or `ls` start without
// the TUI, the builder, execa, the backup and restore code (issue 15, test/cli/lazy-loading.test.ts).

/** An async function of a module, loaded on its first call. */
function later<A extends unknown[], R>(load: () => Promise<(...args: A) => Promise<R>>): (...args: A) => Promise<R> {
  return async (...args) => (await load())(...args);
}

const folderRepository = () => import('./io/repository/folder-repository.ts');
const machine = () => import('./io/machine.ts');
const systemReport = () => import('./io/system-report.ts');
const sysfsDisks = () => import('./io/sysfs-disks.ts');
const fileWriter = () => import('./io/file-writer.ts');
const powerAction = later(async () => (await machine()).powerAction);
const readFirmwareFacts = later(async () => (await machine()).readFirmwareFacts);
const listDisks = later(async () => (await sysfsDisks()).listDisks);
const readTextFile = (file: string) => readFile(file, 'utf8');

/** The builder lives outside rescue/ and needs a checkout; load it only when asked. */
const builder: BuildDependencies = {
  buildLinux: async (request, log) => (await import('../builder/build-linux.ts')).buildLinux(request, log),
  buildSea: async (request, log) => (await import('../builder/build-sea.ts')).buildSea(request, log),
};

const repositories: RepositoryServices = {
  init: later(async () => (await folderRepository()).initRepository),
  open: later(async () => (await folderRepository()).openRepository),
  isEmptyFolder: later(async () => (await folderRepository()).isEmptyFolder),
  openSource: later(async () => (await import('./io/device-endpoints.ts')).openBackupSource),
  openTarget: later(async () => (await import('./io/device-endpoints.ts')).openRestoreTarget),
  growFilesystem: later(async () => (await import('./io/grow-filesystem.ts')).growFilesystem),
  checkPrograms: later(async () => (await import('./io/run-program.ts')).checkPrograms),
  shrink: {
    measureMinimum: later(async () => (await import('./io/measure-on-view.ts')).measureMinimumOnView),
    shrinkOnView: later(async () => (await import('./io/shrink-view.ts')).shrinkOnView),
    // LIFEBOAT_TEST_SHRINK_MEMORY_BYTES caps the overlay's memory, so tests reach the room refusal and the scratch folder.
    measureRoom: async (options) => {
      const room = await (await import('./io/shrink-room.ts')).measureShrinkRoom(options);
      const cap = Number(process.env.LIFEBOAT_TEST_SHRINK_MEMORY_BYTES ?? Number.NaN);
      return Number.isSafeInteger(cap) && cap >= 0 ? { ...room, memoryBytes: Math.min(room.memoryBytes, cap) } : room;
    },
    makeSwap: later(async () => (await import('./io/clonezilla-restore-io.ts')).makeSwapArea),
  },
  openFileWalker: later(async () => (await import('./io/walk-files.ts')).createFileWalker),
  readPasswordFile: async (file) => {
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new LifeboatError('LB_INPUT_USAGE', { detail: `The password file ${file} cannot be read.`, path: file }, { cause: error });
    });
    return text.replace(/\r?\n$/, '');
  },
  ask: later(async () => (await import('./io/terminal-prompt.ts')).askOnTerminal),
  hostName: () => os.hostname(),
  powerAction,
  env: process.env,
  stderrIsTerminal: process.stderr.isTTY === true,
};

/** The run logs and their export (the TUI reaches them through the same context). */
function logServices(): CliContext['logs'] {
  const directory = runLogDirectory(process.env);
  const listLogs = () => listRunLogs(directory);
  return {
    directory,
    list: listLogs,
    export: async (request) => {
      const [{ exportLogs }, report] = await Promise.all([import('./ops/export-logs.ts'), systemReport()]);
      return exportLogs(request, {
        listLogs,
        gatherSystemReport: () => report.gatherSystemReport({
          version: LIFEBOAT_VERSION,
          readFirmwareFacts,
          extra: async () => [{ name: 'lifeboat-disks.json', text: `${JSON.stringify(await listDisks({ includeVirtual: true }), null, 2)}\n` }],
        }),
        pathKind: report.pathKind,
        defaultDestination: report.defaultExportDestination,
        writeArchive: report.writeLogArchive,
        hostName: () => os.hostname(),
        now: () => new Date(),
      });
    },
    runLogged: (argv, run) => runWithLog(openRunLog({ dir: directory, argv }), `${formatCommandLine(argv)}\nlifeboat ${LIFEBOAT_VERSION}, pid ${process.pid}, user ${process.getuid?.() ?? '?'}, host ${os.hostname()}, kernel ${os.release()}`, run),
  };
}

/** The consoles the medium's init names (tty0 is read through tty1, the screen's console). */
function consoleDevices(): string[] {
  return (process.env.LIFEBOAT_CONSOLES ?? '').split(/\s+/).filter(Boolean).map((device) => (device === '/dev/tty0' ? '/dev/tty1' : device));
}

/** The countdown before a job on the medium, cancelled by a key on any console. */
async function countdownOnConsoles(seconds: number, what: string): Promise<'start' | 'cancelled'> {
  const [{ watchConsoleKeys }, { runCountdown }] = await Promise.all([import('./io/console-keys.ts'), import('./core/job-countdown.ts')]);
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

/** The volumes and file trees `ls` and `get` read, and the writer `get` restores with, loaded when used. */
function browseServices(): CliContext['browse'] {
  let loaded: Promise<FileWriter> | undefined;
  const local = () => (loaded ??= fileWriter().then((module) => module.localFileWriter()));
  return {
    openVolume: later(async () => (await import('./io/volume-source.ts')).openVolume),
    openFileTree: later(async () => (await import('./core/file-trees/open-file-tree.ts')).openFileTree),
    fileWriter: {
      join: (folder, name) => path.join(folder, name),
      makeFolder: async (target) => (await local()).makeFolder(target),
      exists: async (target) => (await local()).exists(target),
      remove: async (target) => (await local()).remove(target),
      createFile: async (target, size) => (await local()).createFile(target, size),
      symlink: async (target, link) => (await local()).symlink(target, link),
      hardLink: async (existing, link) => (await local()).hardLink(existing, link),
      special: async (target, entry) => (await local()).special(target, entry),
      applyMetadata: async (target, entry, xattrs) => (await local()).applyMetadata(target, entry, xattrs),
    },
    prepareDestination: later(async () => (await fileWriter()).prepareDestination),
  };
}

/** The CLI's context wired to this machine; `streams` replaces stdout and stderr (the e2fs corpus test runs commands in-process). */
export function createCliContext(streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = { stdout: process.stdout, stderr: process.stderr }): CliContext {
  return {
    stoppable: (work) => (stopRequests ? stopRequests.stoppable(work) : work(new AbortController().signal)),
    logs: logServices(),
    repositories,
    browse: browseServices(),
    clonezilla: {
      isImage: later(async () => (await import('./io/clonezilla-volume.ts')).isClonezillaDirectory),
      open: later(async () => (await import('./io/clonezilla-restore-io.ts')).openClonezillaForRestore),
    },
    clone: {
      refuseTargetIsSource: later(async () => (await import('./io/clone-targets.ts')).refuseTargetIsSource),
      partitionStartLba: later(async () => (await import('./io/clone-targets.ts')).partitionStartLba),
      setExtUuid: later(async () => (await import('./io/set-ext-uuid.ts')).setExtUuid),
      randomBytes: (count) => globalThis.crypto.getRandomValues(new Uint8Array(count)),
      addPartition: later(async () => (await import('./io/add-partition.ts')).addPartition),
      addNofailInCopy: later(async () => (await import('./io/fstab-in-copy.ts')).addNofailInCopy),
      measureMinimum: later(async () => (await import('./io/filesystem-minimum.ts')).measureMinimumSize),
    },
    convert: {
      openDisk: later(async () => (await import('./io/convert-disk.ts')).openConvertDisk),
      ports: (notice) => {
        const loaded = import('./io/convert-disk.ts').then((module) => module.convertPorts(notice));
        return {
          // node:crypto is loaded when a conversion hashes, not for every command (issue 15's start time).
          sha256: (bytes) => process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex'),
          saveUndoFile: async (file, bytes) => (await loaded).saveUndoFile(file, bytes),
          formatEsp: async (request) => (await loaded).formatEsp(request),
          notice,
        };
      },
      newGuid: () => globalThis.crypto.randomUUID().toUpperCase(),
      defaultUndoFile: later(async () => (await import('./io/convert-disk.ts')).defaultUndoFile),
      refuseUndoOnTarget: later(async () => (await import('./io/convert-disk.ts')).refuseUndoOnTarget),
      readUndoFile: later(async () => (await import('./io/convert-disk.ts')).readUndoFile),
    },
    listDisks,
    describeTarget: later(async () => (await import('./io/disk-targets.ts')).describeTarget),
    inspectTarget: async (target, sectorSize) => {
      const [{ withByteSource }, { inspectDisk }, { probeFilesystem }] = await Promise.all([import('./io/disk-targets.ts'), import('./ops/inspect-disk.ts'), import('./core/filesystems/probe-filesystem.ts')]);
      return withByteSource(target, (source) => inspectDisk(source, sectorSize, probeFilesystem));
    },
    readKernelCmdline: later(async () => (await machine()).readKernelCmdline),
    stdout: streams.stdout,
    stderr: streams.stderr,
    version: LIFEBOAT_VERSION,
  };
}

/**
 * The TUI's repository search: LIFEBOAT_REPOSITORY and the medium's data partition, then every
 * attached disk (LIFEBOAT_SCAN_DEVICES limits which: tests name their loop devices).
 */
function repositorySearch(attached: AttachedRepositories): RepositorySearch {
  return {
    find: async () => {
      const { findRepositories } = await import('./io/find-repositories.ts');
      const given = (await findRepositories([process.env.LIFEBOAT_REPOSITORY, DATA_PARTITION_MOUNT])).map((folder) => ({ path: folder }));
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
  const [{ runTui }, { AttachedRepositories }] = await Promise.all([import('./ui/tui/tui.ts'), import('./io/attached-repositories.ts')]);
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

/** A command's module, made for this run's context. */
type CommandLoader = (context: CliContext, outcome: CommandOutcome) => Promise<CommandModule<any, any>>;

/**
 * Every command in the order `--help` lists them, each loaded only when a command line names it
 * (or for the full help): the single executable then evaluates only the code that command uses.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: CommandLoader]> = [
  ['disks', async (context) => (await import('./ui/cli/disks-command.ts')).disksCommand(context)],
  ['init', async (context) => (await import('./ui/cli/init-command.ts')).initCommand(context)],
  ['backup', async (context, outcome) => (await import('./ui/cli/backup-command.ts')).backupCommand(context, outcome)],
  ['snapshots', async (context) => (await import('./ui/cli/snapshots-command.ts')).snapshotsCommand(context)],
  ['restore', async (context) => (await import('./ui/cli/restore-command.ts')).restoreCommand(context)],
  ['clone', async (context) => (await import('./ui/cli/clone-command.ts')).cloneCommand(context)],
  ['convert', async (context) => (await import('./ui/cli/convert-command.ts')).convertCommand(context)],
  ['import', async (context) => (await import('./ui/cli/import-command.ts')).importCommand(context)],
  ['ls', async (context) => (await import('./ui/cli/ls-command.ts')).lsCommand(context)],
  ['get', async (context) => (await import('./ui/cli/get-command.ts')).getCommand(context)],
  ['check', async (context) => (await import('./ui/cli/check-command.ts')).checkCommand(context)],
  ['forget', async (context) => (await import('./ui/cli/forget-command.ts')).forgetCommand(context)],
  ['errors', async (context) => (await import('./ui/cli/errors-command.ts')).errorsCommand(context)],
  ['tui', async (context, outcome) => (await import('./ui/cli/tui-command.ts')).tuiCommand(() => openTui(context), outcome)],
  ['build', async (context) => (await import('./ui/cli/build-command.ts')).buildCommand(context, builder)],
  ['logs', async (context) => (await import('./ui/cli/logs-command.ts')).logsCommand(context)],
  ['run', async (context, outcome) => (await import('./ui/cli/run-command.ts')).runCommand(context, { runCommand: (args) => runCli(args, context), powerAction, readTextFile }, outcome)],
  ['boot', async (context) => (await import('./ui/cli/boot-command.ts')).bootCommand(context, {
    runCommand: (args) => runCli(args, context), powerAction, requestShell: later(async () => (await machine()).requestShell), readFirmwareFacts,
    dataPartition: DATA_PARTITION_MOUNT, findDataPartitionJob, countdown: countdownOnConsoles, readTextFile,
  })],
];

/**
 * The commands a command line may run: those it names (before any `--`); none when it only asks for
 * the version; else all of them (the full help, a mistyped command).
 */
export function commandsToLoad(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  const words = new Set(end === -1 ? argv : argv.slice(0, end));
  const named = COMMANDS.filter(([name]) => words.has(name)).map(([name]) => name);
  if (named.length > 0) return named;
  return words.has('--version') && !words.has('--help') && !words.has('-h') ? [] : COMMANDS.map(([name]) => name);
}

async function buildParser(argv: readonly string[], context: CliContext, outcome: CommandOutcome): Promise<Argv> {
  const wanted = new Set(commandsToLoad(argv));
  const modules = await Promise.all(COMMANDS.filter(([name]) => wanted.has(name)).map(([, load]) => load(context, outcome)));
  const parser = yargs([...argv])
    .scriptName('lifeboat')
    .usage('$0 [command]\n\nBootable rescue media and the recovery program that runs on them.\nWithout a command on a terminal, opens the text user interface.');
  for (const module of modules) parser.command(module);
  return parser
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
    await (await buildParser(effective.length === 0 ? ['--help'] : effective, context, outcome)).parseAsync();
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
