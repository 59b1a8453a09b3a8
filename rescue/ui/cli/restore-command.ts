// `lifeboat restore -r REPO SNAPSHOT[:N] TARGET`: plans, shows the plan, asks, then writes.

import type { CommandModule } from 'yargs';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import { programsForRestorePlan } from '../../core/plan-programs.ts';
import { describePlan, planRestore, type RestoreTargetFacts } from '../../core/repository/restore-plan.ts';
import { parseSnapshotSpec } from '../../core/repository/select-snapshot.ts';
import { findSnapshot, snapshotFilter, withSnapshotChoiceOptions, type SnapshotChoiceArgs } from './snapshot-choice.ts';
import { planSystemRestore } from '../../core/repository/system-restore-plan.ts';
import { readTargetLayout } from '../../ops/read-target-layout.ts';
import { restore } from '../../ops/restore.ts';
import type { CliContext } from './context.ts';
import { createCliReporter } from './progress-output.ts';
import { restoreFilesSnapshot } from './restore-files-snapshot.ts';
import { describeTargetLoss } from './target-loss.ts';
import { repositoryFor, withRepository, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { findClonezillaSource, runClonezillaRestore } from './restore-clonezilla.ts';
import { withExamples } from './command-examples.ts';
import { FIT_MODES, parseSizeRequests, type FitMode } from '../../core/layout/layout-types.ts';
import type { RepositoryReader } from '../../core/repository/repository-port.ts';
import { planFittedRestore, planRestoreShrinkRoom, restoreShrinker } from '../../ops/restore-shrink.ts';
import type { RestorePlan } from '../../core/repository/restore-plan.ts';
import type { SnapshotManifest } from '../../core/repository/format.ts';

interface RestoreArgs extends Omit<RepositoryArgs, 'repo'>, Omit<SnapshotChoiceArgs, 'tag'> {
  /** Absent when the snapshot argument is a Clonezilla image directory. */
  repo: string | undefined;
  snapshot: string;
  target: string;
  tag: string | undefined;
  grow: boolean;
  fit: FitMode | undefined;
  size: string[] | undefined;
  scratch: string | undefined;
  'dry-run': boolean;
  yes: boolean;
  then: 'poweroff' | 'reboot' | undefined;
}

/** A stopped restore, saying what it leaves on the target (anything else passes unchanged). */
function stoppedRestore(error: unknown, target: RestoreTargetFacts, written: { bytesDone: number; bytesTotal: number }): unknown {
  if (!(error instanceof LifeboatError) || error.code !== 'LB_INPUT_STOPPED') return error;
  const left = target.fresh ? `the new image file ${target.path} stays, incomplete` : `${target.description} holds part of the snapshot (its table may already be the snapshot's, its filesystems are incomplete)`;
  return new LifeboatError('LB_INPUT_STOPPED', { ...error.details, detail: `Stopped after writing ${formatBytes(written.bytesDone)} of ${formatBytes(written.bytesTotal)}: ${left}. Restore again before using it.`, target: target.path, bytesWritten: written.bytesDone }, { cause: error });
}

/** A whole-disk restore laid out by the layout planner (--fit, --size; ops/restore-shrink.ts planFittedRestore), after the options are checked. */
async function planFitted(context: CliContext, request: { repository: RepositoryReader; manifest: SnapshotManifest; target: RestoreTargetFacts; args: RestoreArgs; partition: number | undefined; signal: AbortSignal }): Promise<RestorePlan> {
  const { manifest, args } = request;
  if (manifest.kind !== 'disk' || request.partition !== undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--fit and --size lay out a whole-disk restore; this restores a single partition or a system snapshot.' });
  if (args.grow) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--grow and --fit both decide the sizes: give one (--fit largest grows the largest data partition).' });
  return planFittedRestore({ repository: request.repository, manifest, target: request.target, fit: args.fit ?? 'largest', sizes: parseSizeRequests(args.size ?? []), measure: context.repositories.shrink.measureMinimum, signal: request.signal });
}

/** The restore command. */
export function restoreCommand(context: CliContext): CommandModule<object, RestoreArgs> {
  return {
    command: 'restore <snapshot> <target>',
    describe: 'Restore a snapshot (or partition N of it: SNAPSHOT:N), or a Clonezilla image directory (DIR or DIR:sda1, without -r), onto a disk, partition or image file',
    builder: (yargs) =>
      withSnapshotChoiceOptions(withRepositoryOptions(withExamples(yargs, 'restore'), { repoRequired: false }))
        .positional('snapshot', { type: 'string', demandOption: true, describe: 'Snapshot id prefix or latest, optionally :N for partition N; without -r: a Clonezilla image directory, optionally :sda1' })
        .positional('target', { type: 'string', demandOption: true, describe: 'Block device, image file, or FILE:N (partition N of a disk image)' })
        .option('tag', { type: 'string', describe: 'With latest: the latest snapshot carrying this tag' })
        .option('grow', { type: 'boolean', default: false, describe: 'Enlarge the last partition and its filesystem to fill a larger target' })
        .option('fit', { choices: FIT_MODES, describe: 'Lay the partitions out again for the target: largest (the largest data partition takes up the difference), proportional (data partitions share it), keep (as they are)' })
        .option('size', { type: 'string', array: true, describe: 'With --fit: partition N gets SIZE (N=SIZE, e.g. 3=40G; repeatable)' })
        .option('scratch', { type: 'string', describe: 'A folder on another disk for what shrinking a filesystem rewrites, when memory is short' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Print the plan and write nothing' })
        .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
        .option('then', { choices: ['poweroff', 'reboot'] as const, describe: 'Power off or reboot when the restore succeeded' }) as never,
    handler: async (args) => {
      const repo = repositoryFor(args, args.snapshot);
      const clonezilla = repo === undefined ? await findClonezillaSource(context, args.snapshot) : undefined;
      if (clonezilla) return runClonezillaRestore(context, args, clonezilla);
      if (repo === undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: `Missing required argument: repo (-r REPO); without -r, ${args.snapshot} must be a Clonezilla image directory.` });
      const services = context.repositories;
      const spec = parseSnapshotSpec(args.snapshot);
      const reporter = createCliReporter({ json: args.json, stdout: context.stdout, stderr: context.stderr, terminal: services.stderrIsTerminal });
      await context.stoppable((signal) => withRepository(context, { ...args, repo }, { exclusive: false, command: 'restore', tolerant: true }, async (repository, notices) => {
        for (const notice of notices) reporter.notice(notice);
        const { id, manifest } = await findSnapshot(repository, spec.snapshot, snapshotFilter(args), (line) => reporter.notice(line));
        if (manifest.kind === 'files') return restoreFilesSnapshot(context, args, repository, { id, manifest }, reporter, signal);
        const partitionVolume = spec.partition === undefined ? undefined : manifest.volumes.find((volume) => volume.partition === spec.partition);
        const createBytes = spec.partition !== undefined ? (partitionVolume?.content.sizeBytes ?? 0) : manifest.kind === 'partition' ? (manifest.volumes[0]?.content.sizeBytes ?? 0) : manifest.source.sizeBytes;
        const target = await services.openTarget(args.target, { createBytes, sectorSize: manifest.table?.sectorSize ?? 512, dryRun: args['dry-run'] });
        try {
          const wholeSystem = manifest.kind === 'system' && spec.partition === undefined;
          if (wholeSystem && args.grow) throw new LifeboatError('LB_INPUT_USAGE', { detail: '--grow applies to whole-disk restores, not to system snapshots.' });
          const plan = args.fit !== undefined || args.size !== undefined
            ? await planFitted(context, { repository, manifest, target: target.facts, args, partition: spec.partition, signal })
            : wholeSystem
              ? planSystemRestore(manifest, target.facts, await readTargetLayout(target, { sectorSize: target.facts.logicalSectorSize, fresh: target.facts.fresh }))
              : planRestore(manifest, target.facts, spec.partition === undefined ? { grow: args.grow } : { partition: spec.partition, grow: args.grow });
          const source = [manifest.source.model, manifest.source.serial].filter(Boolean).join(' ');
          const loss = await describeTargetLoss(target, { kind: plan.kind, ...(plan.kind === 'system' ? { overwritten: plan.steps.flatMap((step) => (step.kind === 'volume' ? [step] : [])) } : {}) });
          const lines = [`Snapshot ${id.slice(0, 8)}: ${manifest.kind} backup of ${manifest.source.path} (${source}), ${manifest.time}.`, ...describePlan(plan), ...loss.lines];
          if (args.json) reporter.event('plan', { snapshot: id, plan, lost: loss.lost });
          else context.stdout.write(`${lines.join('\n')}\n`);
          // Every program the plan's steps run is there, before anything is written (--dry-run too).
          await services.checkPrograms(programsForRestorePlan(plan));
          const shrinking = await planRestoreShrinkRoom({ repository, manifest, plan, measureRoom: () => services.shrink.measureRoom(args.scratch === undefined ? {} : { scratchFolder: args.scratch }) });
          if (shrinking && !args.json) context.stdout.write(`${shrinking.lines.join('\n')}\n`);
          if (args['dry-run']) {
            if (!args.json) context.stdout.write('Dry run: nothing was written.\n');
            return;
          }
          if (!args.yes && !target.facts.fresh) {
            const what = plan.kind === 'system' ? `The system partitions and boot code on ${target.facts.description} will be overwritten (see the plan)` : `Everything on ${target.facts.description} will be overwritten`;
            const answer = await services.ask(`${what}. Type yes to continue: `, { secret: false });
            if (answer === undefined) throw new LifeboatError('LB_INPUT_CONFIRMATION_REQUIRED', { detail: `Restoring onto ${target.facts.description}.` });
            if (answer.trim().toLowerCase() !== 'yes') throw new LifeboatError('LB_INPUT_CANCELLED');
          }
          const written = { bytesDone: 0, bytesTotal: 0 };
          await restore({
            repository, manifest, plan, target, signal,
            reporter: { progress: (event) => { Object.assign(written, { bytesDone: event.bytesDone, bytesTotal: event.bytesTotal }); reporter.progress(event); }, notice: (message) => reporter.notice(message) },
            ...(shrinking ? { shrinkVolume: restoreShrinker({ repository, manifest, target, room: shrinking.room, shrinkOnView: services.shrink.shrinkOnView, signal }) } : {}),
            makeSwap: (step) => services.shrink.makeSwap({ path: target.backing.path, offset: target.backing.offset + step.offset, sizeBytes: step.sizeBytes, uuid: step.uuid, label: step.swapLabel }),
            growFilesystem: async (step) => {
              const notice = await services.growFilesystem({ backingPath: target.backing.path, partition: step.partition, offset: target.backing.offset + step.offset, sizeBytes: step.sizeBytes, filesystem: step.filesystem });
              if (notice) reporter.notice(notice);
            },
          }).catch((error: unknown) => {
            throw stoppedRestore(error, target.facts, written);
          });
          reporter.finish();
          if (args.json) reporter.event('done', { snapshot: id, target: args.target });
          else context.stdout.write(`Restored snapshot ${id.slice(0, 8)} onto ${target.facts.description}; every chunk was verified.\n`);
        } finally {
          reporter.finish();
          for (const notice of await target.close()) reporter.notice(notice);
        }
      }));
      if (args.then && !args['dry-run']) await services.powerAction(args.then);
    },
  };
}
