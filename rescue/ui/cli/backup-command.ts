// `lifeboat backup disk|partition|system SOURCE -r REPO`: a snapshot of a disk, a partition, or
// of the partitions a system needs (printed with the reason for each before the backup starts).

import type { Argv, CommandModule } from 'yargs';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import { DEFAULT_COMPRESSION_LEVEL } from '../../core/repository/format.ts';
import { describeSelection } from '../../core/repository/system-selection.ts';
import { backup } from '../../ops/backup.ts';
import { gatherSystemSelection } from '../../ops/gather-system-facts.ts';
import { backupFilesSubcommand } from './backup-files-command.ts';
import type { CommandOutcome } from './tui-command.ts';
import type { CliContext } from './context.ts';
import { newPassword } from './init-command.ts';
import { createCliReporter } from './progress-output.ts';
import { withRepository, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { withExamples } from './command-examples.ts';

interface BackupArgs extends RepositoryArgs {
  source: string;
  tag: string[];
  note: string;
  'sector-by-sector': boolean;
  compression: number;
  verify: boolean;
  then: 'poweroff' | 'reboot' | undefined;
  encrypt: boolean;
  'allow-mounted': boolean;
}

function backupOptions(yargs: Argv): Argv<BackupArgs> {
  return withRepositoryOptions(yargs)
    .positional('source', { type: 'string', demandOption: true, describe: 'Block device or image file' })
    .option('tag', { type: 'string', array: true, default: [], describe: 'Tag the snapshot (repeatable)' })
    .option('note', { type: 'string', default: '', describe: 'A note kept with the snapshot' })
    .option('sector-by-sector', { type: 'boolean', default: false, describe: 'Copy every sector, used or not' })
    .option('compression', { type: 'number', default: DEFAULT_COMPRESSION_LEVEL, describe: 'zstd level 1-19 (0: store uncompressed)' })
    .option('verify', { type: 'boolean', default: true, describe: 'Read the new data back and check it (--no-verify skips)' })
    .option('then', { choices: ['poweroff', 'reboot'] as const, describe: 'Power off or reboot when the backup succeeded' })
    .option('encrypt', { type: 'boolean', default: false, describe: 'When the folder is new: create an encrypted repository' })
    .option('allow-mounted', { type: 'boolean', default: false, describe: 'Back up a source mounted read-write anyway (the copy may be inconsistent)' }) as unknown as Argv<BackupArgs>;
}

async function runBackup(context: CliContext, kind: 'disk' | 'partition' | 'system', args: BackupArgs): Promise<void> {
  if (!Number.isInteger(args.compression) || args.compression < 0 || args.compression > 19) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--compression takes a level from 0 to 19.' });
  const services = context.repositories;
  const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: services.stderrIsTerminal });
  const { source, facts, warnings } = await services.openSource(args.source, kind === 'partition' ? 'partition' : 'disk', { allowMounted: args['allow-mounted'] });
  for (const message of warnings) {
    if (args.json) reporter.event('warning', { message });
    else context.stderr.write(`warning: ${message}\n`);
  }
  let result: Awaited<ReturnType<typeof backup>>;
  try {
    const system = kind === 'system' ? await gatherSystemSelection(source, facts.logicalSectorSize) : undefined;
    if (system) {
      if (args.json) reporter.event('selection', { partitions: system });
      else context.stdout.write(`System partitions of ${args.source}:\n${describeSelection(system).join('\n')}\n`);
      if (!system.some((choice) => choice.chosen)) throw new LifeboatError('LB_INPUT_USAGE', { detail: `No partition of ${args.source} holds a boot loader, Windows or a Linux system; use \`backup disk\` to back up all of it.` });
    }
    if (await services.isEmptyFolder(args.repo)) {
      const password = args.encrypt ? await newPassword(context, args) : undefined;
      const config = await services.init(args.repo, password === undefined ? {} : { password });
      reporter.notice(`Created repository ${args.repo} (encryption ${config.encryption}).`);
    }
    result = await context.stoppable((signal) => withRepository(context, args, { exclusive: true, command: `backup ${kind}` }, async (repository, notices) => {
      for (const notice of notices) reporter.notice(notice);
      reporter.event('start', { kind, source: facts, repository: args.repo });
      return backup({
        kind, ...(system ? { system } : {}), source, facts, tags: args.tag, note: args.note, sectorBySector: args['sector-by-sector'], compressionLevel: args.compression,
        verify: args.verify, host: services.hostName(), lifeboatVersion: context.version, signal,
      }, repository, reporter);
    }));
  } finally {
    await source.close();
    reporter.finish();
  }
  const { stats } = result.manifest;
  if (args.json) {
    context.stdout.write(`${JSON.stringify({ event: 'done', snapshot: { id: result.id, shortId: result.id.slice(0, 8), time: result.manifest.time, kind, tags: result.manifest.tags }, stats })}\n`);
  } else {
    context.stdout.write(`snapshot ${result.id.slice(0, 8)} saved: ${formatBytes(stats.logicalBytes)} backed up, ${formatBytes(stats.newBytes)} new in the repository, ${(stats.durationMs / 1000).toFixed(1)} s${args.verify ? ', verified' : ''}.\n`);
  }
  if (args.then) await services.powerAction(args.then);
}

/** What `backup --help` says of the four kinds. */
const BACKUP_KINDS = [
  'The four kinds:',
  '  disk       the partition table, boot code, boot gap and every partition',
  '             (used blocks only on ext2/3/4, FAT, exFAT and NTFS); restores a',
  '             whole disk, or one partition of it (SNAPSHOT:N)',
  '  partition  one partition, a filesystem image, or FILE:N of a disk image;',
  '             restores onto a partition or an image file',
  '  system     what a system needs to boot and run: tables, boot code, ESP,',
  '             MSR, BIOS boot, Windows and Linux system partitions; data',
  '             partitions are left out (the choice is printed first)',
  '  files      folders and files of this system or a mounted partition, cut by',
  '             content so edited files deduplicate; get or restore bring them',
  '             back into a folder',
].join('\n');

/** The backup command and its disk, partition, system and files subcommands. */
export function backupCommand(context: CliContext, outcome: CommandOutcome): CommandModule {
  return {
    command: 'backup <kind>',
    describe: 'Back up a disk, a partition, the partitions a system needs, or folders of files into a repository',
    builder: (yargs) =>
      withExamples(yargs, 'backup')
        .epilogue(BACKUP_KINDS)
        .command({ command: 'disk <source>', describe: 'Back up a whole disk: tables, boot code and every partition', builder: (inner: Argv) => backupOptions(withExamples(inner, 'backup disk')), handler: (args) => runBackup(context, 'disk', args as unknown as BackupArgs) })
        .command({ command: 'partition <source>', describe: 'Back up one partition (or a filesystem image)', builder: (inner: Argv) => backupOptions(withExamples(inner, 'backup partition')), handler: (args) => runBackup(context, 'partition', args as unknown as BackupArgs) })
        .command({ command: 'system <source>', describe: 'Back up what a system needs to boot and run: tables, boot code, ESP, MSR, Windows and Linux system partitions (data partitions left out)', builder: (inner: Argv) => backupOptions(withExamples(inner, 'backup system')), handler: (args) => runBackup(context, 'system', args as unknown as BackupArgs) })
        .command(backupFilesSubcommand(context, outcome))
        .demandCommand(1, 'Name what to back up: disk, partition, system or files.'),
    handler: () => undefined,
  };
}
