// `lifeboat clone disk|partition|system SOURCE TARGET`: plans the copy (the new layout, each step),
// shows it with what the target will lose, asks, then copies straight from device to device.
// `system` copies only the partitions `backup system` would choose (ops/plan-system-clone.ts). A
// target smaller than the source gets ext and NTFS shrunk on a copy-on-write view of the source (its
// overlay in memory, then in --scratch DIR) and swap made again; the programs and the overlay's
// room are checked before anything is written.

import os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import type { ClonePlan } from '../../core/clone/clone-plan.ts';
import { describeClonePlan } from '../../core/clone/describe-clone-plan.ts';
import { describeSystemClonePlan, isSystemClonePlan } from '../../core/clone/system-clone-plan.ts';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import { FIT_MODES, parseSizeRequests, type FitMode } from '../../core/layout/layout-types.ts';
import { programsForClonePlan } from '../../core/plan-programs.ts';
import { runClone } from '../../ops/clone.ts';
import { FREE_AREA_SUFFIX, runFreeAreaClone } from './clone-free-area.ts';
import { stoppedClone } from '../../ops/plan-clone.ts';
import { planCloneFrom, readCloneSource } from '../../ops/prepare-clone.ts';
import { planShrinkRoom } from '../../ops/clone-shrink.ts';
import { cloneRunPorts } from './clone-run-ports.ts';
import type { OpenedRestoreTarget } from '../../ops/restore.ts';
import { withExamples } from './command-examples.ts';
import type { CliContext } from './context.ts';
import { createCliReporter, type CliReporter } from './progress-output.ts';
import { describeTargetLoss } from './target-loss.ts';

interface CloneArgs {
  source: string;
  target: string;
  fit: FitMode;
  size: string[];
  'sector-by-sector': boolean;
  'new-ids': boolean;
  'dry-run': boolean;
  yes: boolean;
  json: boolean;
  then: 'poweroff' | 'reboot' | undefined;
  scratch: string | undefined;
}

type CloneKind = 'disk' | 'partition' | 'system';

function cloneOptions(yargs: Argv, kind: CloneKind): Argv<CloneArgs> {
  const common = yargs
    .positional('source', { type: 'string', demandOption: true, describe: kind !== 'partition' ? 'Disk or disk image (only read)' : 'Partition, DISK:N or filesystem image (only read)' })
    .positional('target', { type: 'string', demandOption: true, describe: kind !== 'partition' ? 'Disk or image file (a missing file is created)' : 'Partition, DISK:N, image file, or DISK:free (a new partition in the disk\'s largest free area)' })
    .option('sector-by-sector', { type: 'boolean', default: false, describe: 'Copy every sector, used or not' })
    .option('new-ids', { type: 'boolean', default: false, describe: 'New disk, partition and filesystem ids, and the copy\'s fstab, crypttab and grub.cfg follow (for a copy that stays beside its source)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print the plan and write nothing' })
    .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output (the plan, then JSON lines)' })
    .option('then', { choices: ['poweroff', 'reboot'] as const, describe: 'Power off or reboot when the clone succeeded' })
    .option('scratch', { type: 'string', describe: 'Folder for the overlay a shrink spills past its memory share (default: the temporary folder)' });
  if (kind === 'partition') return common as unknown as Argv<CloneArgs>;
  return common
    .option('fit', { choices: FIT_MODES, default: 'largest' as FitMode, describe: 'How partitions share a target of another size: largest (the largest data partition takes the difference), proportional, keep' })
    .option('size', { type: 'string', array: true, default: [], describe: 'N=SIZE: partition N gets SIZE (e.g. 2=40G; repeatable)' }) as unknown as Argv<CloneArgs>;
}

/** Prints the plan and what the target loses; asks unless --yes (or a new image file). Returns false for a dry run. */
async function showAndConfirm(context: CliContext, args: CloneArgs, plan: ClonePlan, target: OpenedRestoreTarget, reporter: CliReporter, shrinkLine: string | undefined): Promise<boolean> {
  const loss = await describeTargetLoss(target, { kind: plan.kind });
  if (args.json) reporter.event('plan', { plan, lost: loss.lost });
  else context.stdout.write(`${[...(isSystemClonePlan(plan) ? describeSystemClonePlan(plan) : describeClonePlan(plan)), ...(shrinkLine ? [shrinkLine] : []), ...loss.lines].join('\n')}\n`);
  await context.repositories.checkPrograms(programsForClonePlan(plan));
  if (args['dry-run']) {
    if (!args.json) context.stdout.write('Dry run: nothing was written.\n');
    return false;
  }
  if (args.yes || target.facts.fresh) return true;
  const answer = await context.repositories.ask(`Everything on ${target.facts.description} will be overwritten. Type yes to continue: `, { secret: false });
  if (answer === undefined) throw new LifeboatError('LB_INPUT_CONFIRMATION_REQUIRED', { detail: `Cloning onto ${target.facts.description}.` });
  if (answer.trim().toLowerCase() !== 'yes') throw new LifeboatError('LB_INPUT_CANCELLED');
  return true;
}

async function runCloneCommand(context: CliContext, kind: CloneKind, args: CloneArgs): Promise<void> {
  if (kind === 'partition' && args.target.endsWith(FREE_AREA_SUFFIX)) return runFreeAreaClone(context, args);
  const services = context.repositories;
  const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: services.stderrIsTerminal });
  await context.clone.refuseTargetIsSource(args.source, args.target);
  const { source, facts } = await services.openSource(args.source, kind === 'partition' ? 'partition' : 'disk');
  try {
    const sectorSize = facts.logicalSectorSize;
    // A system clone decides (read-only) what it copies before the target is opened: a disk without a system is refused first.
    const read = await readCloneSource(source, { kind, path: args.source, sectorSize });
    const target = await services.openTarget(args.target, { createBytes: read.createBytes, sectorSize, dryRun: args['dry-run'] });
    const done = { bytes: 0 };
    try {
      const description = target.facts.description;
      const plan = await planCloneFrom(read, {
        sourcePath: args.source, source, sectorSize, target, fit: args.fit ?? 'largest', sizes: parseSizeRequests(args.size ?? []), sectorBySector: args['sector-by-sector'],
        newIds: args['new-ids'], partitionStartLba: context.clone.partitionStartLba, random: context.clone.randomBytes, measureMinimum: context.clone.measureMinimum,
      });
      // Without --scratch the overlay may spill into the temporary folder (on the medium a tmpfs: it adds nothing).
      const shrink = await planShrinkRoom(plan, source, context.repositories.shrink, args.scratch ?? context.repositories.env.LIFEBOAT_TMPDIR ?? os.tmpdir());
      if (!(await showAndConfirm(context, args, plan, target, reporter, shrink?.line))) return;
      await context.stoppable((signal) => runClone({
        plan, source, target, signal,
        ...cloneRunPorts(context, target, { reporter, done, shrinkRoom: shrink?.room }),
      })).catch((error: unknown) => {
        throw stoppedClone(error, target, done);
      });
      reporter.finish();
      if (args.json) reporter.event('done', { source: args.source, target: args.target, bytesCopied: done.bytes });
      else context.stdout.write(`Cloned ${args.source} onto ${description}: ${formatBytes(done.bytes)} copied.\n`);
    } finally {
      reporter.finish();
      for (const notice of await target.close()) reporter.notice(notice);
    }
  } finally {
    await source.close();
  }
  if (args.then && !args['dry-run']) await services.powerAction(args.then);
}

/** The clone command and its disk and partition subcommands. */
export function cloneCommand(context: CliContext): CommandModule {
  return {
    command: 'clone <kind>',
    describe: 'Copy a disk, its system partitions or a partition straight onto another (larger, or smaller: filesystems shrink), without a repository',
    builder: (yargs) =>
      withExamples(yargs, 'clone')
        .command({ command: 'disk <source> <target>', describe: 'Clone a whole disk: boot code, boot gap, every partition (used blocks), the table last', builder: (inner: Argv) => cloneOptions(withExamples(inner, 'clone disk'), 'disk'), handler: (args) => runCloneCommand(context, 'disk', args as unknown as CloneArgs) })
        .command({ command: 'system <source> <target>', describe: 'Clone only what the installed system needs to boot (ESP, MSR, BIOS boot, Windows and recovery, Linux root, /boot), packed to fit; data partitions are left out', builder: (inner: Argv) => cloneOptions(withExamples(inner, 'clone system'), 'system'), handler: (args) => runCloneCommand(context, 'system', args as unknown as CloneArgs) })
        .command({ command: 'partition <source> <target>', describe: 'Clone one partition onto an existing partition (its filesystem grows to fill it, or ext and NTFS shrink to fit)', builder: (inner: Argv) => cloneOptions(withExamples(inner, 'clone partition'), 'partition'), handler: (args) => runCloneCommand(context, 'partition', args as unknown as CloneArgs) })
        .demandCommand(1, 'Name what to clone: disk, system or partition.'),
    handler: () => undefined,
  };
}
