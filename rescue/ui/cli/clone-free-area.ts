// `lifeboat clone partition SOURCE DISK:free`: the copy goes into the largest free area of DISK, in a
// new partition (core/clone/free-area.ts plans it: source's size in whole MiB from a 1 MiB boundary,
// the source's GPT type or one for its filesystem, an MBR primary slot). The plan is the partition
// clone's onto that area, shown with the partition to be added; after --yes or a typed yes the
// volume is copied and the partition is added to the table last (sfdisk --append), so a clone
// stopped midway adds nothing to the table. Nothing else on DISK is written.

import type { ByteSource } from '../../core/byte-source.ts';
import { planPartitionClone } from '../../core/clone/clone-plan.ts';
import { describeClonePlan } from '../../core/clone/describe-clone-plan.ts';
import { planFreeAreaPartition, type NewPartition } from '../../core/clone/free-area.ts';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import { PROGRAMS } from '../../core/external-programs.ts';
import { probeFilesystem } from '../../core/filesystems/probe-filesystem.ts';
import { readPartitionTable } from '../../core/partition-table/partition-table.ts';
import { programsForClonePlan } from '../../core/plan-programs.ts';
import { runClone } from '../../ops/clone.ts';
import { planCloneNewIds } from '../../ops/clone-new-ids.ts';
import { stoppedClone } from '../../ops/plan-clone.ts';
import type { OpenedRestoreTarget, RestoreTarget } from '../../ops/restore.ts';
import type { CliContext } from './context.ts';
import { createCliReporter } from './progress-output.ts';

/** The suffix that names a disk's largest free area as a clone target. */
export const FREE_AREA_SUFFIX = ':free';

/** What the free-area clone reads of the command line. */
export interface FreeAreaCloneArgs {
  readonly source: string;
  readonly target: string;
  readonly 'sector-by-sector': boolean;
  readonly 'new-ids': boolean;
  readonly 'dry-run': boolean;
  readonly yes: boolean;
  readonly json: boolean;
  readonly then: 'poweroff' | 'reboot' | undefined;
}

/** The bytes of `target` from `start` on, as a target of their own. */
function sliceTarget(target: RestoreTarget, start: number, size: number): RestoreTarget {
  return {
    size,
    read: (offset, length) => target.read(start + offset, length),
    write: (offset, bytes) => target.write(start + offset, bytes),
    sync: () => target.sync(),
    ...(target.allocateWriteBuffer ? { allocateWriteBuffer: (length: number) => (target.allocateWriteBuffer as (length: number) => Promise<Uint8Array>)(length) } : {}),
  };
}

/** The source partition's type in its own disk's table (SOURCE given as DISK:N), if it has one. */
async function sourceTypeOf(context: CliContext, sourcePath: string): Promise<string | undefined> {
  const match = /^(.+):(\d+)$/.exec(sourcePath);
  if (!match) return undefined;
  const opened = await context.repositories.openSource(match[1] as string, 'disk').catch(() => undefined);
  if (!opened) return undefined;
  try {
    const table = await readPartitionTable(opened.source, opened.facts.logicalSectorSize);
    return table.partitions.find((partition) => partition.number === Number(match[2]))?.type;
  } finally {
    await opened.source.close();
  }
}

function describeNewPartition(disk: string, partition: NewPartition, sectorSize: number): string {
  return `New partition: ${disk} partition ${partition.number} (${partition.table === 'gpt' ? 'type ' : 'MBR type 0x'}${partition.type}), ${formatBytes(partition.sectors * sectorSize)} at sector ${partition.startLba} in the largest free area; added to the table after the copy (last). Nothing else on ${disk} is written.`;
}

/** Runs `clone partition SOURCE DISK:free`. */
export async function runFreeAreaClone(context: CliContext, args: FreeAreaCloneArgs): Promise<void> {
  const services = context.repositories;
  const disk = args.target.slice(0, -FREE_AREA_SUFFIX.length);
  const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: services.stderrIsTerminal });
  await context.clone.refuseTargetIsSource(args.source, disk);
  const sourceType = await sourceTypeOf(context, args.source);
  const { source, facts } = await services.openSource(args.source, 'partition');
  try {
    const sectorSize = facts.logicalSectorSize;
    const target: OpenedRestoreTarget = await services.openTarget(disk, { createBytes: 0, sectorSize, dryRun: args['dry-run'] });
    const done = { bytes: 0 };
    try {
      const whole: ByteSource = { size: target.size, read: (offset, length) => target.read(offset, length) };
      const table = await readPartitionTable(whole, target.facts.logicalSectorSize);
      const probe = await probeFilesystem(source).catch(() => undefined);
      const partition = planFreeAreaPartition({ disk, table, sourceBytes: source.size, sourceType, filesystem: probe?.type });
      const start = partition.startLba * table.sectorSize;
      const bytes = partition.sectors * table.sectorSize;
      const description = `${disk} partition ${partition.number} (new, in the free area)`;
      const planned = planPartitionClone({ source: { path: args.source, sizeBytes: source.size, filesystem: probe?.type }, target: { description, sizeBytes: bytes, startLba: partition.startLba }, sectorBySector: args['sector-by-sector'] });
      const plan = args['new-ids'] ? await planCloneNewIds({ plan: planned, source, table: undefined, random: context.clone.randomBytes }) : planned;
      if (args.json) reporter.event('plan', { plan, newPartition: partition, lost: [] });
      else context.stdout.write(`${[...describeClonePlan(plan), describeNewPartition(disk, partition, table.sectorSize)].join('\n')}\n`);
      await services.checkPrograms([...programsForClonePlan(plan), PROGRAMS.sfdisk]);
      if (args['dry-run']) {
        if (!args.json) context.stdout.write('Dry run: nothing was written.\n');
        return;
      }
      if (!args.yes) {
        const answer = await services.ask(`A new partition ${partition.number} will be made in the free area of ${disk} and the copy written there. Type yes to continue: `, { secret: false });
        if (answer === undefined) throw new LifeboatError('LB_INPUT_CONFIRMATION_REQUIRED', { detail: `Cloning into the free area of ${disk}.` });
        if (answer.trim().toLowerCase() !== 'yes') throw new LifeboatError('LB_INPUT_CANCELLED');
      }
      await context.stoppable((signal) => runClone({
        plan, source, target: sliceTarget(target, start, bytes), signal,
        reporter: { progress: (event) => { done.bytes = event.bytesDone; reporter.progress(event); }, notice: (message) => reporter.notice(message) },
        setExtUuid: (request) => context.clone.setExtUuid({ ...request, backingPath: target.backing.path, offset: target.backing.offset + start + request.offset }),
        growFilesystem: async (step) => {
          const notice = await services.growFilesystem({ backingPath: target.backing.path, partition: partition.number, offset: target.backing.offset + start + step.offset, sizeBytes: step.sizeBytes, filesystem: step.filesystem });
          if (notice) reporter.notice(notice);
        },
      })).catch((error: unknown) => {
        throw stoppedClone(error, target, done);
      });
      await target.sync();
      await context.clone.addPartition({ disk: target.backing.path, isBlockDevice: target.backing.isBlockDevice, partition });
      reporter.finish();
      if (args.json) reporter.event('done', { source: args.source, target: args.target, partition: partition.number, bytesCopied: done.bytes });
      else context.stdout.write(`Cloned ${args.source} into new partition ${partition.number} of ${disk}: ${formatBytes(done.bytes)} copied.\n`);
    } finally {
      reporter.finish();
      for (const notice of await target.close()) reporter.notice(notice);
    }
  } finally {
    await source.close();
  }
  if (args.then && !args['dry-run']) await services.powerAction(args.then);
}
