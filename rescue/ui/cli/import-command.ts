// `lifeboat import clonezilla DIR[:sda1] -r REPO [--tag T] [--note N]`: converts a Clonezilla image
// directory into a disk snapshot (a partition snapshot for one partition), through ops/import-clonezilla.ts.

import type { Argv, CommandModule } from 'yargs';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import { selectClonezillaPart } from '../../core/clonezilla/clonezilla-restore-plan.ts';
import { DEFAULT_COMPRESSION_LEVEL } from '../../core/repository/format.ts';
import { importClonezilla } from '../../ops/import-clonezilla.ts';
import type { CliContext } from './context.ts';
import { newPassword } from './init-command.ts';
import { createCliReporter } from './progress-output.ts';
import { withRepository, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { findClonezillaSource } from './restore-clonezilla.ts';
import { withExamples } from './command-examples.ts';

interface ImportArgs extends RepositoryArgs {
  directory: string;
  tag: string[];
  note: string;
  compression: number;
  verify: boolean;
  encrypt: boolean;
}

function importOptions(yargs: Argv): Argv<ImportArgs> {
  return withRepositoryOptions(yargs)
    .positional('directory', { type: 'string', demandOption: true, describe: 'The Clonezilla image directory (the folder holding disk, parts, sda-pt.sf...), optionally :sda1 for one partition' })
    .option('tag', { type: 'string', array: true, default: [], describe: 'Tag the snapshot (repeatable)' })
    .option('note', { type: 'string', default: '', describe: 'A note kept with the snapshot (it also says it was imported)' })
    .option('compression', { type: 'number', default: DEFAULT_COMPRESSION_LEVEL, describe: 'zstd level 1-19 (0: store uncompressed)' })
    .option('verify', { type: 'boolean', default: true, describe: 'Read the new data back and check it (--no-verify skips)' })
    .option('encrypt', { type: 'boolean', default: false, describe: 'When the folder is new: create an encrypted repository' }) as unknown as Argv<ImportArgs>;
}

async function runImport(context: CliContext, args: ImportArgs): Promise<void> {
  if (!Number.isInteger(args.compression) || args.compression < 0 || args.compression > 19) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--compression takes a level from 0 to 19.' });
  const services = context.repositories;
  const source = await findClonezillaSource(context, args.directory);
  if (!source) throw new LifeboatError('LB_INPUT_NOT_CLONEZILLA_IMAGE', { detail: `${args.directory} holds no Clonezilla image.`, path: args.directory });
  const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: services.stderrIsTerminal });
  const image = await context.clonezilla.open(source.directory);
  const selection = selectClonezillaPart(image.layout, source.which);
  let result: Awaited<ReturnType<typeof importClonezilla>>;
  try {
    result = await context.stoppable((signal) => importClonezilla({
      layout: image.layout,
      selection,
      createScratch: (sizeBytes, sectorSize) => image.createScratch(sizeBytes, sectorSize),
      checkPrograms: (programs) => services.checkPrograms(programs),
      withRepository: async (use) => {
        if (await services.isEmptyFolder(args.repo)) {
          const password = args.encrypt ? await newPassword(context, args) : undefined;
          const config = await services.init(args.repo, password === undefined ? {} : { password });
          reporter.notice(`Created repository ${args.repo} (encryption ${config.encryption}).`);
        }
        return withRepository(context, args, { exclusive: true, command: 'import clonezilla' }, async (repository, notices) => {
          for (const notice of notices) reporter.notice(notice);
          return use(repository);
        });
      },
      tags: args.tag, note: args.note, compressionLevel: args.compression, verify: args.verify, host: services.hostName(), lifeboatVersion: context.version, signal,
    }, reporter));
  } finally {
    reporter.finish();
  }
  const { stats } = result.manifest;
  if (args.json) {
    context.stdout.write(`${JSON.stringify({ event: 'done', snapshot: { id: result.id, shortId: result.id.slice(0, 8), time: result.manifest.time, kind: result.manifest.kind, tags: result.manifest.tags }, stats })}\n`);
  } else {
    context.stdout.write(`snapshot ${result.id.slice(0, 8)} saved from the Clonezilla image ${source.directory}: ${formatBytes(stats.logicalBytes)} imported, ${formatBytes(stats.newBytes)} new in the repository, ${(stats.durationMs / 1000).toFixed(1)} s.\n`);
  }
}

/** The import command and its clonezilla subcommand. */
export function importCommand(context: CliContext): CommandModule {
  return {
    command: 'import <format>',
    describe: 'Convert an image made by another tool into a snapshot',
    builder: (yargs) =>
      withExamples(yargs, 'import')
        .command({ command: 'clonezilla <directory>', describe: 'Import a Clonezilla image directory (partclone checksums are verified)', builder: (inner: Argv) => importOptions(withExamples(inner, 'import clonezilla')), handler: (args) => runImport(context, args as unknown as ImportArgs) })
        .demandCommand(1, 'Name the image format: clonezilla.'),
    handler: () => undefined,
  };
}
