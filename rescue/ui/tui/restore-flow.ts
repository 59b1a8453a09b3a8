// Restore: repository -> snapshot -> target -> before/after picture and plan -> the destructive
// confirmation (type the target's name) -> progress. The target is opened read-only (the same
// checks as `lifeboat restore --dry-run`) until the name is typed; only then is it opened for
// writing, planned again and written.

import os from 'node:os';
import path from 'node:path';
import { formatBytes } from '../../core/human-units.ts';
import type { StoredSnapshot } from '../../core/repository/repository-port.ts';
import { programsForRestorePlan } from '../../core/plan-programs.ts';
import { describePlan, planRestore, type RestorePlan } from '../../core/repository/restore-plan.ts';
import { planSystemRestore } from '../../core/repository/system-restore-plan.ts';
import type { ProgressReporter } from '../../core/progress.ts';
import type { OpenedRestoreTarget } from '../../ops/restore.ts';
import { readTargetLayout } from '../../ops/read-target-layout.ts';
import { restore } from '../../ops/restore.ts';
import { planFittedRestore, planRestoreShrinkRoom, restoreShrinker, type MeasureVolumeMinimum } from '../../ops/restore-shrink.ts';
import type { RepositoryHandle } from '../cli/context.ts';
import { withRepository } from '../cli/repository-access.ts';
import type { TuiApp } from './app.ts';
import { askText, chooseFromList, escapeTags, fitRow, showError, showMessage, type ChoiceRow } from './common-screens.ts';
import { mapFromContents, mapFromLayout, mapFromSnapshot, type MapDisk } from '../../core/disk-layout.ts';
import { FIT_MODES, type FitMode } from '../../core/layout/layout-types.ts';
import { loadDisks, targetRefusal } from './disk-loading.ts';
import { runLogged } from './logged-operation.ts';
import { runWithProgress } from './progress-screen.ts';
import { chooseRepository, repositoryArgs, type TuiSession } from './repository-flow.ts';
import { confirmTarget, showPlanScreen, type PlanKey } from './target-screens.ts';

export { confirmationName } from './target-screens.ts';
import type { LoadedDisk, TuiContext } from './tui-context.ts';

const TYPE = '\u0000type';

/** One snapshot as a list row: id, time, kind, source (its file name), size, tags in brackets and the note. */
export function snapshotRow(snapshot: StoredSnapshot): string {
  const { manifest } = snapshot;
  const time = manifest.time.replace('T', ' ').slice(0, 16);
  const source = path.basename(manifest.source.path || (manifest.files?.roots?.[0] ?? '')) || '-';
  const size = formatBytes(manifest.stats.logicalBytes);
  const tags = manifest.tags.length > 0 ? `[${manifest.tags.join(', ')}] ` : '';
  return `${snapshot.id.slice(0, 8)} ${time} ${manifest.kind.padEnd(9)} ${fitRow(source, 14).padEnd(14)} ${size.padStart(10)}  ${tags}${manifest.note}`;
}

/** The selected snapshot whole under the list: its source (path, model, serial), time, size, tags and note. */
export function snapshotDetails(snapshot: StoredSnapshot): string[] {
  const { manifest } = snapshot;
  const source = manifest.kind === 'files' ? (manifest.files?.roots ?? []).join(', ') : [manifest.source.path, manifest.source.model, manifest.source.serial ? `serial ${manifest.source.serial}` : ''].filter(Boolean).join(', ');
  return [
    `${snapshot.id.slice(0, 8)}: ${manifest.kind} backup of ${source || '-'}`,
    `${manifest.time.replace('T', ' ').slice(0, 19)} UTC on ${manifest.host}, ${formatBytes(manifest.stats.logicalBytes)}`,
    ...(manifest.tags.length > 0 ? [`Tags: ${manifest.tags.join(', ')}`] : []),
    ...(manifest.note ? [`Note: ${manifest.note}`] : []),
  ];
}

/** The snapshots of an open repository, newest first, as a choice; the selected one is shown whole under the list. */
export async function chooseSnapshot(app: TuiApp, repository: RepositoryHandle, title: string): Promise<StoredSnapshot | undefined> {
  const { snapshots, problems } = await repository.scanSnapshots();
  const sorted = [...snapshots].sort((a, b) => b.manifest.time.localeCompare(a.manifest.time));
  if (sorted.length === 0) {
    await showMessage(app, { title, lines: ['The repository holds no snapshot yet.', ...problems.map((problem) => escapeTags(problem.message))] });
    return undefined;
  }
  return chooseFromList(app, {
    title,
    intro: problems.length > 0 ? [`${problems.length} damaged snapshot(s) are not listed (lifeboat check shows them).`] : [],
    header: `${'Id'.padEnd(8)} ${'Time (UTC)'.padEnd(16)} ${'Kind'.padEnd(9)} ${'Source'.padEnd(14)} ${'Size'.padStart(10)}  [Tags] Note`,
    rows: sorted.map((snapshot) => ({ label: snapshotRow(snapshot), value: snapshot, details: snapshotDetails(snapshot) })),
  });
}

/** The plan screen's first line: the snapshot restored. */
function snapshotHeading(snapshot: StoredSnapshot): string[] {
  return [`Snapshot ${snapshotDetails(snapshot).slice(0, 2).join('; ')}`];
}

/** The layout after a restore that grows the last partition: the map with that partition enlarged. */
function grownMap(map: MapDisk, plan: RestorePlan): MapDisk {
  const grow = plan.steps.find((step) => step.kind === 'grow-filesystem');
  if (!grow || grow.kind !== 'grow-filesystem') return map;
  return { ...map, partitions: map.partitions.map((partition) => (partition.number === grow.partition ? { ...partition, sizeBytes: grow.sizeBytes } : partition)) };
}

async function chooseTarget(app: TuiApp, tui: TuiContext): Promise<{ path: string; disk: LoadedDisk | undefined } | undefined> {
  const disks = await loadDisks(tui.cli);
  const rows: ChoiceRow<string>[] = disks.map((disk) => {
    const refusal = targetRefusal(disk);
    return { label: `${disk.summary.path.padEnd(14)} ${formatBytes(disk.summary.sizeBytes).padEnd(10)} ${disk.summary.transport.padEnd(7)} ${disk.summary.model || '-'}${refusal ? `  (in use: ${refusal})` : ''}`, value: disk.summary.path };
  });
  rows.push({ label: 't  Type a device or image file...', value: TYPE, key: 't' });
  const chosen = await chooseFromList(app, { title: 'Restore: target', intro: ['The disk to overwrite. Disks in use are listed but refused.'], rows });
  if (chosen === undefined) return undefined;
  if (chosen !== TYPE) return { path: chosen, disk: disks.find((disk) => disk.summary.path === chosen) };
  const typed = (await askText(app, { title: 'Target', prompt: ['A block device or an image file:'] }))?.trim();
  return typed ? { path: typed, disk: disks.find((disk) => disk.summary.path === typed) } : undefined;
}

/** What of a snapshot to restore: all of it, or one partition (SNAPSHOT:N). */
async function chooseScope(app: TuiApp, snapshot: StoredSnapshot): Promise<{ partition?: number } | undefined> {
  const { manifest } = snapshot;
  const partitions = manifest.volumes.filter((volume) => volume.partition !== undefined);
  if (manifest.kind === 'partition' || partitions.length < 2) return {};
  return chooseFromList<{ partition?: number }>(app, {
    title: 'Restore: what',
    intro: [`Snapshot ${snapshot.id.slice(0, 8)} holds ${partitions.length} partitions.`],
    rows: [
      { label: `w  The whole ${manifest.kind === 'system' ? 'system' : 'disk'}: table, boot code and every partition`, value: {}, key: 'w' },
      ...partitions.map((volume) => ({ label: `${volume.partition}  Partition ${volume.partition} only: ${volume.filesystem?.type ?? 'unknown'}${volume.filesystem?.label ? ` "${volume.filesystem.label}"` : ''}, ${formatBytes(volume.content.usedBytes)} used of ${formatBytes(volume.content.sizeBytes)} (onto a partition or image)`, value: { partition: volume.partition as number } })),
    ],
  });
}

/** What the user chose to restore and how: one partition, --grow, or --fit (a whole-disk snapshot laid out again). */
interface RestoreScope {
  partition?: number;
  grow?: boolean;
  fit?: FitMode;
}

/** The plan screen's f key: no layout planner, then each fit in turn. */
const FIT_CYCLE: ReadonlyArray<FitMode | undefined> = [undefined, ...FIT_MODES];

/** What a fitted plan needs to shrink: the repository the snapshot's volumes are read from, and the minimum measure (a view of each volume). */
interface ShrinkContext {
  readonly repository: RepositoryHandle;
  readonly measure: MeasureVolumeMinimum;
}

function makePlan(snapshot: StoredSnapshot, target: OpenedRestoreTarget, scope: RestoreScope, shrink: ShrinkContext): Promise<RestorePlan> | RestorePlan {
  const { manifest } = snapshot;
  // A fit onto a smaller disk measures the volumes' minimums, so they may shrink (as restore --fit does).
  if (scope.fit !== undefined) return planFittedRestore({ repository: shrink.repository, manifest, target: target.facts, fit: scope.fit, sizes: [], measure: shrink.measure });
  if (scope.partition !== undefined) return planRestore(manifest, target.facts, { partition: scope.partition });
  if (manifest.kind === 'system') {
    return readTargetLayout(target, { sectorSize: target.facts.logicalSectorSize, fresh: target.facts.fresh }).then((layout) => planSystemRestore(manifest, target.facts, layout));
  }
  return planRestore(manifest, target.facts, { grow: scope.grow === true });
}

/** Where a shrink's overlay may spill (the TUI has no --scratch): LIFEBOAT_TMPDIR, else the temporary folder. */
function scratchFolder(tui: TuiContext): string {
  return tui.cli.repositories.env.LIFEBOAT_TMPDIR ?? os.tmpdir();
}

/** The whole restore flow. */
export async function runRestoreFlow(app: TuiApp, tui: TuiContext, session: TuiSession): Promise<void> {
  const folder = await chooseRepository(app, tui, session, 'read');
  if (!folder) return;
  const services = tui.cli.repositories;
  await withRepository(tui.cli, repositoryArgs(folder), { exclusive: false, command: 'restore', tolerant: true }, async (repository) => {
    const shrinkContext: ShrinkContext = { repository, measure: services.shrink.measureMinimum };
    for (;;) {
      const snapshot = await chooseSnapshot(app, repository, 'Restore: snapshot');
      if (!snapshot) return;
      const { manifest } = snapshot;
      if (manifest.kind === 'files') {
        await showMessage(app, { title: 'Files snapshot', lines: ['A files snapshot is restored into a folder: use Browse a backup (f).'] });
        continue;
      }
      const scope = await chooseScope(app, snapshot);
      if (!scope) continue;
      const chosenVolume = scope.partition === undefined ? undefined : manifest.volumes.find((volume) => volume.partition === scope.partition);
      for (;;) {
        const target = await chooseTarget(app, tui);
        if (!target) break;
        const createBytes = chosenVolume ? chosenVolume.content.sizeBytes : manifest.kind === 'partition' ? (manifest.volumes[0]?.content.sizeBytes ?? 0) : manifest.source.sizeBytes;
        const sectorSize = manifest.table?.sectorSize ?? 512;
        let go = false;
        let description = target.path;
        let sizeBytes = 0;
        let before: MapDisk | undefined;
        const restoreScope: RestoreScope = { ...scope, grow: false };
        try {
          // Read-only: the target checks (mounted, medium) run here; nothing is written.
          const probe = await services.openTarget(target.path, { createBytes, sectorSize, dryRun: true });
          try {
            description = probe.facts.description;
            sizeBytes = probe.facts.sizeBytes;
            before = probe.facts.fresh || !probe.backing ? undefined : await tui.cli.inspectTarget(target.path, target.disk?.summary.logicalSectorSize ?? 'detect').then((contents) => mapFromContents(probe.facts.sizeBytes, contents), () => undefined);
            const whole = chosenVolume === undefined && manifest.kind === 'disk';
            const canGrow = whole && probe.facts.sizeBytes > manifest.source.sizeBytes;
            const keys: Array<PlanKey<'grow' | 'fit'>> = [...(canGrow ? [{ key: 'g', label: 'grow the last partition on/off', answer: 'grow' as const }] : []), ...(whole ? [{ key: 'f', label: 'fit', answer: 'fit' as const }] : [])];
            let answer: 'go' | 'grow' | 'fit' | undefined = 'grow';
            let first = true;
            // A disk smaller than the snapshot's fits only laid out again: the plan starts with the largest fit (shrinking what must).
            if (whole && probe.facts.sizeBytes < manifest.source.sizeBytes) restoreScope.fit = 'largest';
            while (answer === 'grow' || answer === 'fit') {
              if (!first && answer === 'grow') restoreScope.grow = !restoreScope.grow;
              if (!first && answer === 'grow') delete restoreScope.fit;
              const previous = restoreScope.fit;
              if (answer === 'fit') {
                const next = FIT_CYCLE[(FIT_CYCLE.indexOf(restoreScope.fit) + 1) % FIT_CYCLE.length];
                restoreScope.grow = false;
                if (next === undefined) delete restoreScope.fit;
                else restoreScope.fit = next;
              }
              first = false;
              let plan: RestorePlan;
              try {
                plan = await makePlan(snapshot, probe, restoreScope, shrinkContext);
              } catch (error) {
                // The plan as it first came (no fit, or the largest fit a smaller disk starts with) is refused once, by the caller.
                if (restoreScope.fit === undefined || answer !== 'fit') throw error;
                // A fit this target cannot take: its refusal, then the plan as it was.
                await showError(app, error, 'Restore refused');
                if (previous === undefined) delete restoreScope.fit;
                else restoreScope.fit = previous;
                plan = await makePlan(snapshot, probe, restoreScope, shrinkContext);
              }
              const fitLine = whole ? [`Fit: ${restoreScope.fit ?? 'none (the partitions as in the snapshot)'}; f changes it (largest, proportional, keep lay the partitions out again).`] : [];
              const snapshotMap = mapFromSnapshot(manifest, probe.facts.sizeBytes);
              const after = chosenVolume ? { sizeBytes: probe.facts.sizeBytes, partitions: [{ number: undefined, startBytes: 0, sizeBytes: chosenVolume.content.sizeBytes, usedBytes: chosenVolume.content.usedBytes, ...(chosenVolume.filesystem ? { filesystem: chosenVolume.filesystem.type, label: chosenVolume.filesystem.label } : {}) }] } : plan.layout ? mapFromLayout(plan.layout, snapshotMap, probe.facts.sizeBytes) : grownMap(snapshotMap, plan);
              // A plan that shrinks shows (and checks, before the confirmation) the room each shrink needs.
              const room = await planRestoreShrinkRoom({ repository, manifest, plan, measureRoom: () => services.shrink.measureRoom({ scratchFolder: scratchFolder(tui) }) });
              answer = await showPlanScreen(app, { title: 'Restore plan', heading: snapshotHeading(snapshot), before, after, plan: [...fitLine, ...describePlan(plan), ...(room?.lines ?? [])], keys });
            }
            if (answer !== 'go') continue;
            // Every program the plan runs (--grow: losetup, e2fsck, resize2fs...) is there before the confirmation.
            await services.checkPrograms(programsForRestorePlan(await makePlan(snapshot, probe, restoreScope, shrinkContext)));
          } finally {
            await probe.close();
          }
          go = await confirmTarget(app, { target: target.path, disk: target.disk, before, sizeBytes, description });
        } catch (error) {
          await showError(app, error, 'Restore refused');
          continue;
        }
        if (!go) continue;
        const outcome = await runWithProgress(app, {
          title: `Restore onto ${target.path}`,
          whenDone: 'stay',
          run: (reporter, signal) => runLogged(tui, ['restore', '-r', folder, `${snapshot.id.slice(0, 8)}${restoreScope.partition === undefined ? '' : `:${restoreScope.partition}`}`, target.path, ...(restoreScope.grow ? ['--grow'] : []), ...(restoreScope.fit ? ['--fit', restoreScope.fit] : []), '--yes'], reporter,
            (logged) => performRestore(tui, { snapshot, scope: restoreScope, repository, targetPath: target.path, createBytes, sectorSize }, logged, signal)),
        });
        if (outcome?.ok && outcome.whenDone !== 'stay') await services.powerAction(outcome.whenDone);
        return;
      }
    }
  });
}

async function performRestore(tui: TuiContext, chosen: { snapshot: StoredSnapshot; scope: RestoreScope; repository: RepositoryHandle; targetPath: string; createBytes: number; sectorSize: number }, reporter: ProgressReporter, signal: AbortSignal): Promise<string[]> {
  const services = tui.cli.repositories;
  const target = await services.openTarget(chosen.targetPath, { createBytes: chosen.createBytes, sectorSize: chosen.sectorSize, dryRun: false });
  try {
    const plan = await makePlan(chosen.snapshot, target, chosen.scope, { repository: chosen.repository, measure: services.shrink.measureMinimum });
    for (const line of describePlan(plan)) reporter.notice(line);
    const { manifest } = chosen.snapshot;
    const room = await planRestoreShrinkRoom({ repository: chosen.repository, manifest, plan, measureRoom: () => services.shrink.measureRoom({ scratchFolder: scratchFolder(tui) }) });
    await restore({
      repository: chosen.repository, manifest, plan, target, reporter, signal,
      ...(room ? { shrinkVolume: restoreShrinker({ repository: chosen.repository, manifest, target, room: room.room, shrinkOnView: services.shrink.shrinkOnView, signal }) } : {}),
      makeSwap: (step) => services.shrink.makeSwap({ path: target.backing.path, offset: target.backing.offset + step.offset, sizeBytes: step.sizeBytes, uuid: step.uuid, label: step.swapLabel }),
      growFilesystem: async (step) => {
        const notice = await services.growFilesystem({ backingPath: target.backing.path, partition: step.partition, offset: target.backing.offset + step.offset, sizeBytes: step.sizeBytes, filesystem: step.filesystem });
        if (notice) reporter.notice(notice);
      },
    });
    return [`Restored snapshot ${chosen.snapshot.id.slice(0, 8)} onto ${target.facts.description}; every chunk was verified.`];
  } finally {
    for (const notice of await target.close()) reporter.notice(notice);
  }
}
