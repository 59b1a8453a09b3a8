// Clone: what (a whole disk, one partition, or the system: the partitions it boots from) -> source -> target (the medium, mounted disks and
// the source itself are listed but refused) -> fit -> the plan with the target before and after
// (the lines `lifeboat clone ... --dry-run` prints) -> the typed confirmation -> progress. Until the
// name is typed both ends are only read; then the clone is planned again and run (ops/clone.ts).

import os from 'node:os';
import { describeClonePlan } from '../../core/clone/describe-clone-plan.ts';
import { describeSystemClonePlan, isSystemClonePlan } from '../../core/clone/system-clone-plan.ts';
import type { ClonePlan } from '../../core/clone/clone-plan.ts';
import { mapFromContents, mapFromLayout, type MapDisk } from '../../core/disk-layout.ts';
import { formatBytes } from '../../core/human-units.ts';
import type { FitMode } from '../../core/layout/layout-types.ts';
import { programsForClonePlan } from '../../core/plan-programs.ts';
import type { ProgressReporter } from '../../core/progress.ts';
import { runClone } from '../../ops/clone.ts';
import { planShrinkRoom, type ShrinkRoomLine } from '../../ops/clone-shrink.ts';
import { cloneRunPorts } from '../cli/clone-run-ports.ts';
import { stoppedClone } from '../../ops/plan-clone.ts';
import { planCloneFrom, readCloneSource } from '../../ops/prepare-clone.ts';
import type { OpenedRestoreTarget } from '../../ops/restore.ts';
import { describeTargetLoss } from '../cli/target-loss.ts';
import type { TuiApp } from './app.ts';
import { askText, chooseFromList, showError, type ChoiceRow } from './common-screens.ts';
import { loadDisks, targetRefusal } from './disk-loading.ts';
import { runLogged } from './logged-operation.ts';
import { runWithProgress } from './progress-screen.ts';
import { confirmTarget, showPlanScreen } from './target-screens.ts';
import type { LoadedDisk, TuiContext } from './tui-context.ts';

const TYPE = '\u0000type';

/** What is cloned (the `clone` subcommand). */
type CloneKind = 'disk' | 'partition' | 'system';

/** One end of the clone: its path and, when it is a listed disk or one of its partitions, that disk. */
interface CloneEnd {
  readonly path: string;
  readonly disk: LoadedDisk | undefined;
}

/** What the user chose. */
interface CloneChoice {
  readonly kind: CloneKind;
  readonly source: CloneEnd;
  readonly target: CloneEnd;
  readonly fit: FitMode;
  /** New disk, partition and filesystem ids (--new-ids; the plan screen's i). */
  readonly newIds: boolean;
}

const FIT_ROWS: ReadonlyArray<ChoiceRow<FitMode>> = [
  { label: 'l  Largest: the largest data partition takes up the difference', value: 'largest', key: 'l' },
  { label: 'p  Proportional: the data partitions share it by their sizes', value: 'proportional', key: 'p' },
  { label: 'k  Keep: every partition stays where it is, at its size', value: 'keep', key: 'k' },
];

function chooseKind(app: TuiApp): Promise<CloneKind | undefined> {
  return chooseFromList<CloneKind>(app, {
    title: 'What to clone?',
    intro: ['Straight from disk to disk, without a repository; the source is only read.'],
    rows: [
      { label: 'd  A whole disk: its table, boot code and every partition', value: 'disk', key: 'd' },
      { label: 'p  One partition onto an existing partition at least as large', value: 'partition', key: 'p' },
      { label: 's  The system: only the partitions the installed system boots from', value: 'system', key: 's' },
    ],
  });
}

/** The partitions or disks the kernel lists, each with its disk. */
function endRows(disks: readonly LoadedDisk[], kind: CloneKind, refusal: (disk: LoadedDisk, path: string) => string | undefined): ChoiceRow<string>[] {
  const row = (disk: LoadedDisk, path: string, sizeBytes: number, what: string): ChoiceRow<string> => {
    const refused = refusal(disk, path);
    return { label: `${path.padEnd(16)} ${formatBytes(sizeBytes).padEnd(10)} ${what}${refused ? `  (refused: ${refused})` : ''}`, value: path };
  };
  if (kind !== 'partition') return disks.map((disk) => row(disk, disk.summary.path, disk.summary.sizeBytes, `${disk.summary.transport.padEnd(7)} ${disk.summary.model || '-'}`));
  return disks.flatMap((disk) => disk.summary.partitions.map((partition) => {
    const mapped = disk.map.partitions.find((entry) => entry.number === partition.number);
    const what = [mapped?.filesystem ?? 'unknown', mapped?.label ? `"${mapped.label}"` : '', mapped?.usedBytes === undefined ? '' : `${formatBytes(mapped.usedBytes)} used`].filter(Boolean).join(' ');
    return row(disk, partition.path, partition.sizeBytes, what);
  }));
}

/** The disk (listed) that holds `path`: the disk itself or one of its partitions. */
function diskOf(disks: readonly LoadedDisk[], path: string): LoadedDisk | undefined {
  return disks.find((disk) => disk.summary.path === path || disk.summary.partitions.some((partition) => partition.path === path));
}

async function chooseEnd(app: TuiApp, options: { title: string; intro: string; disks: readonly LoadedDisk[]; kind: CloneKind; refusal: (disk: LoadedDisk, path: string) => string | undefined }): Promise<CloneEnd | undefined> {
  const rows = endRows(options.disks, options.kind, options.refusal);
  rows.push({ label: `t  Type a ${options.kind !== 'partition' ? 'device' : 'partition (or DISK:N)'} or image file...`, value: TYPE, key: 't' });
  const chosen = await chooseFromList(app, { title: options.title, intro: [options.intro], rows });
  if (chosen === undefined) return undefined;
  const path = chosen === TYPE ? (await askText(app, { title: options.title, prompt: ['A block device or an image file:'] }))?.trim() : chosen;
  return path ? { path, disk: diskOf(options.disks, path) } : undefined;
}

/** Why a listed disk or partition cannot be the target: the medium, mounted, read-only, or the source (the same rules the target checks apply). */
function cloneTargetRefusal(source: CloneEnd, kind: CloneKind): (disk: LoadedDisk, path: string) => string | undefined {
  return (disk, path) => {
    if (path === source.path || (kind !== 'partition' && disk.summary.path === source.path)) return 'the source';
    if (kind === 'partition') {
      const partition = disk.summary.partitions.find((entry) => entry.path === path);
      if (disk.summary.holdsMedium) return 'holds the Lifeboat medium';
      if (partition && partition.mountPoints.length > 0) return 'mounted';
      return disk.summary.readOnly ? 'read-only' : undefined;
    }
    return targetRefusal(disk);
  };
}

/** Why a listed disk or partition cannot be the source: it is mounted (a copy of a filesystem in use is not consistent). */
function sourceRefusal(disk: LoadedDisk, path: string): string | undefined {
  const partition = disk.summary.partitions.find((entry) => entry.path === path);
  const points = partition ? partition.mountPoints : [...disk.summary.mountPoints, ...disk.summary.partitions.flatMap((entry) => entry.mountPoints)];
  return points.length > 0 ? 'mounted' : undefined;
}

/** Opens both ends read-only, plans, and hands the plan to `use`; both are closed after. */
async function withPlan<T>(tui: TuiContext, choice: CloneChoice, options: { dryRun: boolean; notice?: (line: string) => void }, use: (plan: ClonePlan, target: OpenedRestoreTarget, source: Parameters<typeof runClone>[0]['source'], shrink: ShrinkRoomLine | undefined) => Promise<T>): Promise<T> {
  const services = tui.cli.repositories;
  await tui.cli.clone.refuseTargetIsSource(choice.source.path, choice.target.path);
  const { source, facts } = await services.openSource(choice.source.path, choice.kind === 'partition' ? 'partition' : 'disk');
  try {
    const sectorSize = facts.logicalSectorSize;
    // A system clone decides (read-only) what it copies before the target is opened, as the CLI does.
    const read = await readCloneSource(source, { kind: choice.kind, path: choice.source.path, sectorSize });
    const target = await services.openTarget(choice.target.path, { createBytes: read.createBytes, sectorSize, dryRun: options.dryRun });
    try {
      const plan = await planCloneFrom(read, {
        sourcePath: choice.source.path, source, sectorSize, target, fit: choice.fit, sizes: [], sectorBySector: false,
        newIds: choice.newIds, partitionStartLba: tui.cli.clone.partitionStartLba, random: tui.cli.clone.randomBytes, measureMinimum: tui.cli.clone.measureMinimum,
      });
      // A smaller target shrinks filesystems as the CLI does; their room is checked before the plan is shown (no --scratch here: the temporary folder).
      const shrink = await planShrinkRoom(plan, source, services.shrink, services.env.LIFEBOAT_TMPDIR ?? os.tmpdir());
      return await use(plan, target, source, shrink);
    } finally {
      for (const notice of await target.close()) options.notice?.(notice);
    }
  } finally {
    await source.close();
  }
}

/** The map of one end as the disk list read it, or read now (an image file typed). */
async function readMap(tui: TuiContext, end: CloneEnd, sizeBytes: number): Promise<MapDisk | undefined> {
  const listed = end.disk?.summary.path === end.path ? end.disk.map : undefined;
  return listed ?? tui.cli.inspectTarget(end.path, end.disk?.summary.logicalSectorSize ?? 'detect').then((contents) => mapFromContents(sizeBytes, contents), () => undefined);
}

/** The target after the clone: the new layout with the source's filesystems, or the one volume of a partition clone. */
function afterMap(plan: ClonePlan, sourceMap: MapDisk | undefined): MapDisk | undefined {
  if (plan.layout) return mapFromLayout(plan.layout, sourceMap ?? { sizeBytes: plan.source.sizeBytes, partitions: [] }, plan.target.sizeBytes);
  const volume = sourceMap?.partitions.length === 1 && sourceMap.partitions[0]?.number === undefined ? sourceMap.partitions[0] : undefined;
  return { sizeBytes: plan.target.sizeBytes, partitions: [{ ...volume, number: undefined, startBytes: 0, sizeBytes: plan.target.sizeBytes }] };
}

/** Plan screen (i turns new ids on or off) and confirmation; resolves with the choice once the target's name was typed. Refusals are shown with their code, detail and fix. */
async function planAndConfirm(app: TuiApp, tui: TuiContext, chosen: CloneChoice): Promise<CloneChoice | undefined> {
  let choice = chosen;
  try {
    for (;;) {
      const shown = await withPlan(tui, choice, { dryRun: true }, async (plan, target, _source, shrink) => {
        const before = target.facts.fresh ? undefined : await readMap(tui, choice.target, target.facts.sizeBytes);
        const sourceMap = await readMap(tui, choice.source, plan.source.sizeBytes);
        const loss = await describeTargetLoss(target, { kind: plan.kind });
        const answer = await showPlanScreen(app, { title: 'Clone plan', heading: [], before, after: afterMap(plan, sourceMap), plan: [...describeAnyClonePlan(plan), ...(shrink ? [shrink.line] : []), ...loss.lines], keys: [{ key: 'i', label: choice.newIds ? 'keep the ids' : 'new ids', answer: 'ids' as const }] });
        // Every program the plan runs (growing a filesystem: e2fsck, resize2fs, ntfsresize...) is there before the confirmation.
        if (answer === 'go') await tui.cli.repositories.checkPrograms(programsForClonePlan(plan));
        return { answer, before, sizeBytes: target.facts.sizeBytes, description: target.facts.description };
      });
      if (shown.answer === 'ids') {
        choice = { ...choice, newIds: !choice.newIds };
        continue;
      }
      if (shown.answer !== 'go') return undefined;
      return (await confirmTarget(app, { target: choice.target.path, disk: choice.target.disk, before: shown.before, sizeBytes: shown.sizeBytes, description: shown.description })) ? choice : undefined;
    }
  } catch (error) {
    await showError(app, error, 'Clone refused');
    return undefined;
  }
}

/** The whole clone flow. */
export async function runCloneFlow(app: TuiApp, tui: TuiContext): Promise<void> {
  for (;;) {
    const kind = await chooseKind(app);
    if (!kind) return;
    const disks = await loadDisks(tui.cli);
    const source = await chooseEnd(app, { title: `Clone ${kind}: source`, intro: kind === 'system' ? 'The disk the system boots from; it is only read.' : `The ${kind} to copy; it is only read.`, disks, kind, refusal: sourceRefusal });
    if (!source) continue;
    for (;;) {
      const target = await chooseEnd(app, { title: `Clone ${kind}: target`, intro: `The ${kind === 'system' ? 'disk' : kind} to overwrite. The medium, mounted disks and the source are listed but refused.`, disks, kind, refusal: cloneTargetRefusal(source, kind) });
      if (!target) break;
      try {
        // The source itself is refused at once, before the fit is asked.
        await tui.cli.clone.refuseTargetIsSource(source.path, target.path);
      } catch (error) {
        await showError(app, error, 'Clone refused');
        continue;
      }
      const fit = kind !== 'partition' ? await chooseFromList(app, { title: 'Clone: fit', intro: ['How the partitions share a target of another size:'], rows: FIT_ROWS }) : 'largest';
      if (!fit) continue;
      const choice = await planAndConfirm(app, tui, { kind, source, target, fit, newIds: false });
      if (!choice) continue;
      const argv = ['clone', kind, source.path, target.path, ...(kind !== 'partition' ? ['--fit', fit] : []), ...(choice.newIds ? ['--new-ids'] : []), '--yes'];
      const outcome = await runWithProgress(app, {
        title: `Clone onto ${target.path}`,
        whenDone: 'stay',
        stopNote: ['A stopped clone leaves the target with part of the copy and no partition table; the source is unchanged.'],
        run: (reporter, signal) => runLogged(tui, argv, reporter, (logged) => performClone(tui, choice, logged, signal)),
      });
      if (outcome?.ok && outcome.whenDone !== 'stay') await tui.cli.repositories.powerAction(outcome.whenDone);
      return;
    }
  }
}

/** A system clone's plan with its selection and fstab warnings (core/clone/system-clone-plan.ts), any other as it is. */
function describeAnyClonePlan(plan: ClonePlan): string[] {
  return isSystemClonePlan(plan) ? describeSystemClonePlan(plan) : describeClonePlan(plan);
}

async function performClone(tui: TuiContext, choice: CloneChoice, reporter: ProgressReporter, signal: AbortSignal): Promise<string[]> {
  return withPlan(tui, choice, { dryRun: false, notice: (line) => reporter.notice(line) }, async (plan, target, source, shrink) => {
    for (const line of describeAnyClonePlan(plan)) reporter.notice(line);
    const done = { bytes: 0 };
    const result = await runClone({
      plan, source, target, signal,
      ...cloneRunPorts(tui.cli, target, { reporter, done, shrinkRoom: shrink?.room }),
    }).catch((error: unknown) => {
      throw stoppedClone(error, target, done);
    });
    return [`Cloned ${choice.source.path} onto ${target.facts.description}: ${formatBytes(result.bytesCopied)} copied.`];
  });
}
