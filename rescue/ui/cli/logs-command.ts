// `lifeboat logs list` and `lifeboat logs export [DEST]`: the run logs, and one archive of them
// with a system report for support.

import type { Argv, CommandModule } from 'yargs';
import { formatBytes } from '../../core/disk-facts.ts';
import type { CliContext } from './context.ts';
import { withExamples } from './command-examples.ts';

interface ListArgs {
  json: boolean;
}

interface ExportArgs {
  dest: string | undefined;
  force: boolean;
  json: boolean;
}

/** Builds the `logs` command and its subcommands. */
export function logsCommand(context: CliContext): CommandModule {
  const logs = context.logs;
  return {
    command: 'logs <action>',
    describe: 'List the run logs, or export them with a system report as one archive',
    builder: (yargs: Argv) =>
      withExamples(yargs, 'logs')
        .command({
          command: 'list',
          describe: `List the run logs (in ${logs.directory}; $LIFEBOAT_LOG_DIR changes it)`,
          builder: (inner: Argv) => withExamples(inner, 'logs list').option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as Argv<ListArgs>,
          handler: async (args: ListArgs) => {
            const entries = await logs.list();
            if (args.json) {
              context.stdout.write(`${JSON.stringify({ directory: logs.directory, logs: entries }, null, 2)}\n`);
              return;
            }
            if (entries.length === 0) context.stdout.write(`No run logs in ${logs.directory}.\n`);
            for (const entry of entries) context.stdout.write(`${entry.name}  ${formatBytes(entry.bytes).padStart(9)}  ${entry.outcome}\n`);
          },
        })
        .command({
          command: 'export [dest]',
          describe: 'Write the logs and a system report (disks, kernel log, versions, firmware) as one .tar.gz',
          builder: (inner: Argv) =>
            withExamples(inner, 'logs export')
              .positional('dest', { type: 'string', describe: 'A folder, or a file name ending in .tar.gz (default: the medium\'s data partition when mounted, else the current folder)' })
              .option('force', { type: 'boolean', default: false, describe: 'Replace an existing archive file' })
              .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as Argv<ExportArgs>,
          handler: async (args: ExportArgs) => {
            const result = await logs.export({ ...(args.dest === undefined ? {} : { destination: args.dest }), force: args.force });
            if (args.json) context.stdout.write(`${JSON.stringify({ export: result })}\n`);
            else context.stdout.write(`Wrote ${result.archive} (${formatBytes(result.bytes)}): ${result.logs.length} run log(s) and ${result.reportFiles.length} report file(s).\n`);
          },
        })
        .demandCommand(1, 'Name what to do: list or export.'),
    handler: () => undefined,
  };
}
