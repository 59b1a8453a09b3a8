// `lifeboat backup files PATH... -r REPO`: folders of a running system or a mounted partition,
// with .gitignore-style exclusions and the built-in ones (listed in --help, off with
// --no-default-excludes).

import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import { DEFAULT_EXCLUDES, SYSTEM_ROOT_EXCLUDES } from '../../core/repository/files-backup-port.ts';
import { DEFAULT_COMPRESSION_LEVEL } from '../../core/repository/format.ts';
import { backupFiles, describeLeftOut, type ParentChoice } from '../../ops/backup-files.ts';
import type { CliContext } from './context.ts';
import { OUTCOME_EXIT_CODES } from './exit-codes.ts';
import type { CommandOutcome } from './tui-command.ts';
import { newPassword } from './init-command.ts';
import { createCliReporter } from './progress-output.ts';
import { withRepository, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { withExamples } from './command-examples.ts';

interface FilesBackupArgs extends RepositoryArgs {
  paths: string[];
  exclude: string[];
  'exclude-file': string | undefined;
  'exclude-larger-than': string | undefined;
  'one-file-system': boolean;
  'default-excludes': boolean;
  tag: string[];
  note: string;
  compression: number;
  verify: boolean;
  encrypt: boolean;
  parent: string | boolean | undefined;
  force: boolean;
}

function filesOptions(yargs: Argv): Argv<FilesBackupArgs> {
  return withRepositoryOptions(yargs)
    .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'Folders (or files) to back up' })
    .option('exclude', { type: 'string', array: true, default: [], describe: 'Leave out what this .gitignore-style pattern matches, relative to each folder (repeatable)' })
    .option('exclude-file', { type: 'string', describe: 'Read exclusion patterns from this file (.gitignore syntax)' })
    .option('exclude-larger-than', { type: 'string', describe: 'Leave out files larger than SIZE (e.g. 500M, 2G)' })
    .option('one-file-system', { type: 'boolean', default: false, describe: 'Do not enter folders on other file systems (mount points are kept, empty)' })
    .option('default-excludes', {
      type: 'boolean', default: true,
      describe: `Built-in exclusions (--no-default-excludes turns them off): ${DEFAULT_EXCLUDES.join(', ')}; and when a folder is a system root (/, or it holds etc/ and usr/) the contents of ${SYSTEM_ROOT_EXCLUDES.map((pattern) => pattern.replace('/*', '')).join(', ')}`,
    })
    .option('parent', { type: 'string', describe: 'Files unchanged since this snapshot (id prefix) are not read again; default: the latest files snapshot of this host and these folders (--no-parent: none)' })
    .option('force', { type: 'boolean', default: false, describe: 'Read every file again, even those unchanged since the parent snapshot' })
    .option('tag', { type: 'string', array: true, default: [], describe: 'Tag the snapshot (repeatable)' })
    .option('note', { type: 'string', default: '', describe: 'A note kept with the snapshot' })
    .option('compression', { type: 'number', default: DEFAULT_COMPRESSION_LEVEL, describe: 'zstd level 1-19 (0: store uncompressed)' })
    .option('verify', { type: 'boolean', default: true, describe: 'Read the new data back and check it (--no-verify skips)' })
    .option('encrypt', { type: 'boolean', default: false, describe: 'When the folder is new: create an encrypted repository' }) as unknown as Argv<FilesBackupArgs>;
}

/** Turns 500M, 2G, 4096 into bytes (binary units). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(text);
  if (!match) throw new LifeboatError('LB_INPUT_USAGE', { detail: `--exclude-larger-than: "${text}" is not a size (e.g. 500M, 2G, 4096).` });
  const power = ' kmgtp'.indexOf((match[2] || ' ').toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

async function runFilesBackup(context: CliContext, args: FilesBackupArgs, outcome: CommandOutcome): Promise<void> {
  if (!Number.isInteger(args.compression) || args.compression < 0 || args.compression > 19) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--compression takes a level from 0 to 19.' });
  const services = context.repositories;
  const walker = await services.openFileWalker({
    excludes: args.exclude, oneFileSystem: args['one-file-system'], defaultExcludes: args['default-excludes'],
    ...(args['exclude-file'] === undefined ? {} : { excludeFile: args['exclude-file'] }),
    ...(args['exclude-larger-than'] === undefined ? {} : { excludeLargerThan: parseSize(args['exclude-larger-than']) }),
  });
  const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: services.stderrIsTerminal });
  const roots = args.paths.map((item) => path.resolve(String(item)));
  const parent: ParentChoice = args.force || args.parent === false ? { mode: 'none' }
    : typeof args.parent === 'string' && args.parent !== '' ? { mode: 'snapshot', spec: args.parent.trim().toLowerCase() }
    : { mode: 'latest' };
  let result: Awaited<ReturnType<typeof backupFiles>>;
  try {
    if (await services.isEmptyFolder(args.repo)) {
      const password = args.encrypt ? await newPassword(context, args) : undefined;
      const config = await services.init(args.repo, password === undefined ? {} : { password });
      reporter.notice(`Created repository ${args.repo} (encryption ${config.encryption}).`);
    }
    result = await context.stoppable((signal) => withRepository(context, args, { exclusive: true, command: 'backup files' }, async (repository, notices) => {
      for (const notice of notices) reporter.notice(notice);
      reporter.event('start', { kind: 'files', roots, repository: args.repo });
      return backupFiles({ roots, tags: args.tag, note: args.note, compressionLevel: args.compression, verify: args.verify, host: services.hostName(), lifeboatVersion: context.version, parent, signal }, walker, repository, reporter);
    }));
  } finally {
    reporter.finish();
  }
  const { stats } = result.manifest;
  const { counts } = result;
  const entries = result.manifest.files?.entries ?? 0;
  if (args.json) {
    const allStats = { ...stats, filesRead: counts.filesRead, filesReused: counts.filesReused, bytesReused: counts.bytesReused, leftOut: counts.leftOut, xattrsDropped: counts.xattrsDropped };
    context.stdout.write(`${JSON.stringify({ event: 'done', snapshot: { id: result.id, shortId: result.id.slice(0, 8), time: result.manifest.time, kind: 'files', tags: result.manifest.tags, roots: result.manifest.files?.roots }, parent: counts.parent ?? null, entries, stats: allStats, incomplete: counts.leftOut + counts.xattrsDropped > 0 })}\n`);
  } else {
    const reused = counts.filesReused > 0 ? `, ${counts.filesReused} unchanged files (${formatBytes(counts.bytesReused)}) not read again` : '';
    context.stdout.write(`snapshot ${result.id.slice(0, 8)} saved: ${entries} entries, ${formatBytes(stats.logicalBytes)} backed up, ${formatBytes(stats.readBytes)} read${reused}, ${formatBytes(stats.newBytes)} new in the repository, ${(stats.durationMs / 1000).toFixed(1)} s${args.verify ? ', verified' : ''}.\n`);
  }
  // Saved, but not everything: a distinct exit code (restic's "some files unreadable"), so scripts and jobs see it.
  const lacking = describeLeftOut(counts);
  if (lacking) {
    if (!args.json) context.stderr.write(`warning: the snapshot is incomplete: ${lacking} (see the notes above); exit ${OUTCOME_EXIT_CODES.incomplete}.\n`);
    outcome.exitCode = OUTCOME_EXIT_CODES.incomplete;
  }
}

/** The `backup files` subcommand. */
export function backupFilesSubcommand(context: CliContext, outcome: CommandOutcome): CommandModule {
  return {
    command: 'files <paths..>',
    describe: 'Back up folders (of this system or a mounted partition), cut by content so edited files deduplicate',
    builder: (yargs: Argv) => filesOptions(withExamples(yargs, 'backup files')),
    handler: (args) => runFilesBackup(context, args as unknown as FilesBackupArgs, outcome),
  };
}
