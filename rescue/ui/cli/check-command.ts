// `lifeboat check -r REPO [--read-data] [--rebuild-index]`: is every snapshot restorable?

import type { CommandModule } from 'yargs';
import { LifeboatError } from '../../core/errors.ts';
import { checkRepository, rebuildIndex } from '../../ops/check-repository.ts';
import type { CliContext } from './context.ts';
import { createCliReporter } from './progress-output.ts';
import { withRepository, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { withExamples } from './command-examples.ts';

interface CheckArgs extends RepositoryArgs {
  'read-data': boolean;
  'rebuild-index': boolean;
  then: 'poweroff' | 'reboot' | undefined;
}

/** The check command. */
export function checkCommand(context: CliContext): CommandModule<object, CheckArgs> {
  return {
    command: 'check',
    describe: 'Check a repository (with --read-data: read and verify every chunk)',
    builder: (yargs) =>
      withRepositoryOptions(withExamples(yargs, 'check'))
        .option('read-data', { type: 'boolean', default: false, describe: 'Read every pack and verify every chunk' })
        .option('rebuild-index', { type: 'boolean', default: false, describe: 'Rebuild the index from the packs (after index files were lost)' })
        .option('then', { choices: ['poweroff', 'reboot'] as const, describe: 'Power off or reboot when the check found no problem' }) as never,
    handler: async (args) => {
      const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: context.repositories.stderrIsTerminal });
      if (args['rebuild-index']) {
        await withRepository(context, args, { exclusive: true, command: 'check --rebuild-index', tolerant: true }, async (repository) => {
          const result = await rebuildIndex(repository);
          for (const problem of result.skipped) context.stderr.write(`skipped: ${problem.code}: ${problem.detail}\n`);
          context.stdout.write(args.json ? `${JSON.stringify({ rebuilt: result })}\n` : `Index rebuilt from ${result.packs} pack(s).\n`);
        });
        return;
      }
      const report = await context.stoppable((signal) => withRepository(context, args, { exclusive: false, command: 'check', tolerant: true }, async (repository, notices) => {
        for (const notice of notices) reporter.notice(notice);
        try {
          return await checkRepository(repository, { readData: args['read-data'], signal }, reporter);
        } finally {
          reporter.finish();
        }
      }));
      if (args.json) {
        context.stdout.write(`${JSON.stringify({ event: 'check', ...report })}\n`);
      } else {
        for (const problem of report.problems) context.stdout.write(`${problem.code}: ${problem.detail}\n`);
        for (const line of report.info) context.stdout.write(`info: ${line}\n`);
        context.stdout.write(`${report.snapshots} snapshot(s), ${report.packs} pack(s)${args['read-data'] ? `, ${report.blobsRead} chunk(s) read and verified` : ''}: ${report.problems.length === 0 ? 'no problems found' : `${report.problems.length} problem(s)`}.\n`);
      }
      if (report.problems.length > 0) {
        const codes = [...new Set(report.problems.map((problem) => problem.code))];
        throw new LifeboatError('LB_REPO_CHECK_FAILED', { detail: `${report.problems.length} problem(s): ${codes.join(', ')}.`, codes });
      }
      if (args.then) await context.repositories.powerAction(args.then);
    },
  };
}
