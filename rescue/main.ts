// The one place that wires io into the commands: builds the yargs CLI and runs it.

import yargs, { type Argv } from 'yargs';
import { LifeboatError, toLifeboatError } from './core/errors.ts';
import { probeFilesystem } from './core/filesystems/probe-filesystem.ts';
import { describeTarget, withByteSource } from './io/disk-targets.ts';
import { readFile } from 'node:fs/promises';
import { openBackupSource, openRestoreTarget } from './io/device-endpoints.ts';
import { growFilesystem } from './io/grow-filesystem.ts';
import { createFileWalker } from './io/walk-files.ts';
import { hostName, initRepository, isEmptyFolder, openRepository } from './io/repository/folder-repository.ts';
import { findRepositories } from './io/find-repositories.ts';
import { askOnTerminal } from './io/terminal-prompt.ts';
import type { RepositoryServices } from './ui/cli/context.ts';
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
import { EXIT_CODES } from './ui/cli/exit-codes.ts';
import { tuiCommand, type CommandOutcome } from './ui/cli/tui-command.ts';
import { LIFEBOAT_VERSION } from './version.ts';

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

function createContext(): CliContext {
  return {
    repositories,
    browse: { openVolume, openFileTree: (source) => openFileTree(source), fileWriter: localFileWriter(), prepareDestination },
    clonezilla: { isImage: isClonezillaDirectory, open: openClonezillaForRestore },
    listDisks,
    describeTarget,
    inspectTarget: (target, sectorSize) => withByteSource(target, (source) => inspectDisk(source, sectorSize, probeFilesystem)),
    readKernelCmdline,
    stdout: process.stdout,
    stderr: process.stderr,
    version: LIFEBOAT_VERSION,
  };
}

/** Where the medium mounts its LIFEBOAT data partition (images/linux/rootfs/etc/lifeboat/rc.sysinit). */
const MEDIUM_DATA_FOLDER = '/mnt/lifeboat-data';

async function openTui(context: CliContext) {
  const { runTui } = await import('./ui/tui/tui.ts');
  return runTui({ cli: context, findRepositories: () => findRepositories([process.env.LIFEBOAT_REPOSITORY, MEDIUM_DATA_FOLDER]) });
}

function buildParser(argv: readonly string[], context: CliContext, outcome: CommandOutcome): Argv {
  const runCommand = (args: readonly string[]) => runCli(args, context);
  return yargs([...argv])
    .scriptName('lifeboat')
    .usage('$0 [command]\n\nBootable rescue media and the recovery program that runs on them.\nWithout a command on a terminal, opens the text user interface.')
    .command(disksCommand(context))
    .command(initCommand(context))
    .command(backupCommand(context))
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
    .command(bootCommand(context, { runCommand, powerAction, requestShell, readFirmwareFacts }))
    .version(LIFEBOAT_VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .wrap(Math.min(100, process.stdout.columns ?? 80))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new LifeboatError('LB_INPUT_USAGE', { detail: message });
    });
}

/** Runs one lifeboat command line; returns the exit code instead of exiting. */
export async function runCli(argv: readonly string[], context: CliContext = createContext()): Promise<number> {
  const interactive = argv.length === 0 && process.stdin.isTTY === true && process.stdout.isTTY === true;
  const effective = interactive ? ['tui'] : argv;
  try {
    const outcome: CommandOutcome = { exitCode: EXIT_CODES.ok };
    await buildParser(effective.length === 0 ? ['--help'] : effective, context, outcome).parseAsync();
    return outcome.exitCode;
  } catch (thrown) {
    const error = toLifeboatError(thrown);
    const wantsJson = effective.includes('--json');
    if (wantsJson) {
      context.stderr.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
    } else {
      context.stderr.write(`lifeboat: ${error.code}: ${error.message}\n  fix: ${error.fix}\n`);
      if (error.code === 'LB_INTERNAL' && process.env.LIFEBOAT_DEBUG) context.stderr.write(`${String((thrown as Error).stack)}\n`);
    }
    return EXIT_CODES[error.group];
  }
}

/** Entry point of both `npx lifeboat` and the single executable. */
export async function main(): Promise<void> {
  process.exitCode = await runCli(process.argv.slice(2));
}
