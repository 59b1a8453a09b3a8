// `lifeboat get [-r REPO] SOURCE PATH... DEST`: restores files and folders out of a partition, an
// image or a snapshot into a folder, read in place (only the chunks holding them are read).

import type { CommandModule } from 'yargs';
import { LifeboatError } from '../../core/errors.ts';
import { formatBytes } from '../../core/disk-facts.ts';
import { leftOutError, restoreFiles, type ExistingPolicy } from '../../ops/restore-files.ts';
import type { CliContext } from './context.ts';
import { withBrowseOptions, withFileTree, type BrowseArgs } from './browse-access.ts';
import { createCliReporter } from './progress-output.ts';
import { withExamples } from './command-examples.ts';

interface GetArgs extends BrowseArgs {
  /** The positional SOURCE (upper case: --source is the option that narrows latest). */
  SOURCE: string;
  items: string[];
  overwrite: boolean;
  'skip-existing': boolean;
}

/** The get command. */
export function getCommand(context: CliContext): CommandModule<object, GetArgs> {
  return {
    command: 'get <SOURCE> <items..>',
    describe: 'Restore files and folders (PATH... DEST) from a partition, a disk image partition (DISK:N) or a snapshot (-r REPO SNAPSHOT[:N]) into the folder DEST',
    builder: (yargs) => withBrowseOptions(withExamples(yargs, 'get'))
      .positional('SOURCE', { type: 'string', demandOption: true, describe: 'SNAPSHOT[:N] with -r; else a device, an image file, or DISK:N' })
      .positional('items', { type: 'string', array: true, demandOption: true, describe: 'One or more paths inside the filesystem, then the destination folder' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'Replace files that exist in DEST' })
      .option('skip-existing', { type: 'boolean', default: false, describe: 'Keep files that exist in DEST' }) as never,
    handler: async (args) => {
      if (args.items.length < 2) throw new LifeboatError('LB_INPUT_USAGE', { detail: 'Name at least one path and the destination folder: get SOURCE PATH... DEST.' });
      if (args.overwrite && args['skip-existing']) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--overwrite and --skip-existing exclude each other.' });
      const paths = args.items.slice(0, -1);
      const destination = await context.browse.prepareDestination(args.items.at(-1) ?? '');
      const existing: ExistingPolicy = args.overwrite ? 'overwrite' : args['skip-existing'] ? 'skip' : 'refuse';
      const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: context.repositories.stderrIsTerminal });
      const result = await context.stoppable((signal) => withFileTree(context, args, args.SOURCE, 'get', (tree) =>
        restoreFiles({ tree, paths, destination, existing, writer: context.browse.fileWriter, reporter, signal })));
      reporter.finish();
      if (args.json) {
        reporter.event('done', { destination, ...result });
      } else {
        const skipped = result.skipped > 0 ? `, ${result.skipped} existing kept` : '';
        const problems = result.remarks.length > 0 ? `; ${result.remarks.length} entr${result.remarks.length === 1 ? 'y' : 'ies'} not restored (see above)` : '';
        context.stdout.write(`Restored ${result.files} files (${formatBytes(result.bytes)}), ${result.folders} folders and ${result.links} links into ${destination}${skipped}${problems}.\n`);
      }
      // Entries left out make the run fail with the first one's code (the rest were restored).
      const leftOut = leftOutError(result.remarks);
      if (leftOut) throw leftOut;
    },
  };
}
