// `lifeboat forget -r REPO [ID...] [--keep-*] [--prune] [--dry-run]`.

import type { CommandModule } from 'yargs';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import { isEmptyPolicy, type RetentionPolicy } from '../../core/repository/retention.ts';
import { selectSnapshot } from '../../core/repository/select-snapshot.ts';
import { forgetSnapshots, pruneRepository } from '../../ops/forget-snapshots.ts';
import type { CliContext } from './context.ts';
import { createCliReporter } from './progress-output.ts';
import { withRepository, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { withExamples } from './command-examples.ts';

interface ForgetArgs extends RepositoryArgs {
  snapshots: string[];
  'keep-last': number | undefined;
  'keep-daily': number | undefined;
  'keep-weekly': number | undefined;
  'keep-monthly': number | undefined;
  prune: boolean;
  'dry-run': boolean;
}

/** The forget command. */
export function forgetCommand(context: CliContext): CommandModule<object, ForgetArgs> {
  return {
    command: 'forget [snapshots..]',
    describe: 'Remove snapshots (named, or by a retention policy); --prune frees their space',
    builder: (yargs) =>
      withRepositoryOptions(withExamples(yargs, 'forget'))
        .positional('snapshots', { type: 'string', array: true, default: [], describe: 'Snapshot id prefixes to forget' })
        .option('keep-last', { type: 'number', describe: 'Keep the N newest snapshots' })
        .option('keep-daily', { type: 'number', describe: 'Keep the newest snapshot of each of the last N days' })
        .option('keep-weekly', { type: 'number', describe: 'Keep the newest snapshot of each of the last N weeks' })
        .option('keep-monthly', { type: 'number', describe: 'Keep the newest snapshot of each of the last N months' })
        .option('prune', { type: 'boolean', default: false, describe: 'Delete the data no remaining snapshot uses' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Show what would be removed; remove nothing' }) as never,
    handler: async (args) => {
      const policy: RetentionPolicy = {
        ...(args['keep-last'] === undefined ? {} : { keepLast: args['keep-last'] }),
        ...(args['keep-daily'] === undefined ? {} : { keepDaily: args['keep-daily'] }),
        ...(args['keep-weekly'] === undefined ? {} : { keepWeekly: args['keep-weekly'] }),
        ...(args['keep-monthly'] === undefined ? {} : { keepMonthly: args['keep-monthly'] }),
      };
      for (const value of Object.values(policy)) if (!Number.isInteger(value) || value < 0) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--keep-* take whole numbers.' });
      if (args.snapshots.length === 0 && isEmptyPolicy(policy) && !args.prune) throw new LifeboatError('LB_INPUT_USAGE', { detail: 'Name snapshots to forget, or give a --keep-* policy, or --prune.' });
      const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: context.repositories.stderrIsTerminal });
      await withRepository(context, args, { exclusive: true, command: 'forget' }, async (repository, notices) => {
        for (const notice of notices) reporter.notice(notice);
        const all = await repository.listSnapshots();
        const ids = args.snapshots.map((spec) => selectSnapshot(all, spec.toLowerCase()).id);
        const nothingToForget = ids.length === 0 && isEmptyPolicy(policy);
        const report = nothingToForget
          ? { decisions: [], removed: [], prune: await pruneRepository(repository, { dryRun: args['dry-run'], forgotten: new Set() }, reporter) }
          : await forgetSnapshots(repository, { ids, policy, dryRun: args['dry-run'], prune: args.prune }, reporter);
        reporter.finish();
        if (args.json) {
          context.stdout.write(`${JSON.stringify({ event: 'forget', dryRun: args['dry-run'], ...report })}\n`);
          return;
        }
        let group: string | undefined;
        for (const decision of report.decisions) {
          if (decision.group !== group) context.stdout.write(`${decision.group}:\n`);
          group = decision.group;
          context.stdout.write(`  ${decision.keep ? 'keep  ' : 'forget'} ${decision.id.slice(0, 8)}  ${decision.time.replace('T', ' ').slice(0, 19)}${decision.reasons.length > 0 ? `  (${decision.reasons.join(', ')})` : ''}\n`);
        }
        const verb = args['dry-run'] ? 'would be' : 'were';
        context.stdout.write(`${report.removed.length} snapshot(s) ${verb} forgotten.\n`);
        if (report.prune) context.stdout.write(`Prune: ${report.prune.packsDeleted} pack(s) ${verb} deleted, ${report.prune.packsRewritten} rewritten, ${formatBytes(report.prune.bytesFreed)} freed.\n`);
      });
    },
  };
}
