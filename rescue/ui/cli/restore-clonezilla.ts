// `lifeboat restore CLONEZILLA_DIR[:sda1] TARGET` (no -r): plans, shows the plan, asks, then writes
// through ops/restore-clonezilla.ts. restore-command.ts dispatches here when the snapshot argument
// is a Clonezilla image directory.

import { LifeboatError } from '../../core/errors.ts';
import { clonezillaSectorSize, clonezillaTargetBytes, describeClonezillaPlan, planClonezillaRestore, selectClonezillaPart } from '../../core/clonezilla/clonezilla-restore-plan.ts';
import { programsForClonezillaPlan } from '../../core/plan-programs.ts';
import { restoreClonezilla } from '../../ops/restore-clonezilla.ts';
import type { CliContext } from './context.ts';
import { createCliReporter } from './progress-output.ts';
import { describeTargetLoss } from './target-loss.ts';

/** A Clonezilla image directory and what in it to restore (a disk or partition name, or all). */
export interface ClonezillaSource {
  readonly directory: string;
  readonly which: string | undefined;
}

/** The options of `restore` this form uses. */
export interface ClonezillaRestoreArgs {
  readonly target: string;
  readonly grow: boolean;
  readonly fit?: string | undefined;
  readonly size?: readonly string[] | undefined;
  readonly tag: string | undefined;
  readonly 'dry-run': boolean;
  readonly yes: boolean;
  readonly json: boolean;
  readonly then: 'poweroff' | 'reboot' | undefined;
}

/** `DIR` or `DIR:NAME` when DIR holds a Clonezilla image; undefined otherwise. */
export async function findClonezillaSource(context: CliContext, spec: string): Promise<ClonezillaSource | undefined> {
  if (await context.clonezilla.isImage(spec)) return { directory: spec, which: undefined };
  const match = /^(.+):([A-Za-z0-9_.+-]{1,64})$/.exec(spec);
  if (match?.[1] && match[2] && (await context.clonezilla.isImage(match[1]))) return { directory: match[1], which: match[2] };
  return undefined;
}

/** Restores the image (or one partition of it) onto the target after the plan and the confirmation. */
export async function runClonezillaRestore(context: CliContext, args: ClonezillaRestoreArgs, source: ClonezillaSource): Promise<void> {
  if (args.grow || args.tag !== undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--grow and --tag apply to snapshots in a repository, not to a Clonezilla image directory.' });
  // A partclone stream cannot be read at random, which a shrink on a view needs: the image goes into a repository first, whose volumes can.
  if (args.fit !== undefined || args.size !== undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: `--fit and --size lay out a snapshot: import the image first (lifeboat import clonezilla ${source.directory} -r REPO), then lifeboat restore -r REPO latest ${args.target} --fit ${args.fit ?? 'largest'}, which shrinks its ext2/3/4 and NTFS volumes onto a smaller disk.` });
  const services = context.repositories;
  const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: services.stderrIsTerminal });
  const image = await context.clonezilla.open(source.directory);
  const selection = selectClonezillaPart(image.layout, source.which);
  const target = await services.openTarget(args.target, { createBytes: clonezillaTargetBytes(selection), sectorSize: clonezillaSectorSize(selection, image.layout), dryRun: args['dry-run'] });
  try {
    const plan = planClonezillaRestore(image.layout, selection, target.facts);
    const loss = await describeTargetLoss(target, { kind: plan.kind });
    if (args.json) reporter.event('plan', { clonezilla: source.directory, plan: { ...plan, steps: plan.steps.map(({ label, kind }) => ({ kind, label })) }, lost: loss.lost });
    else context.stdout.write(`${[...describeClonezillaPlan(plan), ...loss.lines].join('\n')}\n`);
    // util-linux mkswap (-U) for swap areas, the decompressors: there before anything is written (--dry-run too).
    await services.checkPrograms(programsForClonezillaPlan(plan, image.layout));
    if (args['dry-run']) {
      if (!args.json) context.stdout.write('Dry run: nothing was written.\n');
      return;
    }
    if (!args.yes && !target.facts.fresh) {
      const answer = await services.ask(`Everything on ${target.facts.description} will be overwritten. Type yes to continue: `, { secret: false });
      if (answer === undefined) throw new LifeboatError('LB_INPUT_CONFIRMATION_REQUIRED', { detail: `Restoring onto ${target.facts.description}.` });
      if (answer.trim().toLowerCase() !== 'yes') throw new LifeboatError('LB_INPUT_CANCELLED');
    }
    await restoreClonezilla({ plan, target, io: image.restoreIo(target.backing), reporter });
    reporter.finish();
    if (args.json) reporter.event('done', { clonezilla: source.directory, target: args.target });
    else context.stdout.write(`Restored the Clonezilla image ${source.directory} onto ${target.facts.description}; every partclone checksum was verified.\n`);
  } finally {
    reporter.finish();
    for (const notice of await target.close()) reporter.notice(notice);
  }
  if (args.then && !args['dry-run']) await services.powerAction(args.then);
}
