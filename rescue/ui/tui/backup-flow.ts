// Backup: kind (disk, partition, system, files) -> source -> repository -> recap and options
// (note, tag, compression, verification, when done) -> progress. Calls the same ops as
// `lifeboat backup`, with the progress screen's reporter and stop signal.

import path from 'node:path';
import { formatBytes } from '../../core/human-units.ts';
import { LifeboatError } from '../../core/errors.ts';
import type { ProgressReporter } from '../../core/progress.ts';
import { describeSelection } from '../../core/repository/system-selection.ts';
import { backup } from '../../ops/backup.ts';
import { backupFiles, describeLeftOut } from '../../ops/backup-files.ts';
import { gatherSystemSelection } from '../../ops/gather-system-facts.ts';
import { withRepository } from '../cli/repository-access.ts';
import type { TuiApp } from './app.ts';
import { askText, chooseFromList, showError, type ChoiceRow } from './common-screens.ts';
import { chooseOptions, DEFAULT_BACKUP_OPTIONS, recapLines, type BackupKind, type BackupOptions } from './backup-options.ts';
import { describePartitions } from '../../core/disk-layout.ts';
import { loadDisks } from './disk-loading.ts';
import { runLogged } from './logged-operation.ts';
import { runWithProgress } from './progress-screen.ts';
import { chooseRepository, repositoryArgs, type TuiSession } from './repository-flow.ts';
import type { TuiContext } from './tui-context.ts';

const TYPE = '\u0000type';

async function chooseSource(app: TuiApp, tui: TuiContext, kind: BackupKind): Promise<string | undefined> {
  if (kind === 'files') {
    return (await askText(app, { title: 'Backup: files', prompt: ['The folder (or file) to back up:'] }))?.trim() || undefined;
  }
  const disks = await loadDisks(tui.cli);
  const rows: ChoiceRow<string>[] = kind === 'partition'
    ? disks.flatMap((disk) => disk.summary.partitions.map((partition) => {
      const index = disk.map.partitions.findIndex((entry) => entry.number === partition.number);
      const legend = index >= 0 ? (describePartitions(disk.map)[index] ?? '') : '';
      return { label: `${partition.path.padEnd(16)} ${formatBytes(partition.sizeBytes).padEnd(10)} ${legend}`, value: partition.path };
    }))
    : disks.map((disk) => ({ label: `${disk.summary.path.padEnd(14)} ${formatBytes(disk.summary.sizeBytes).padEnd(10)} ${disk.summary.transport.padEnd(7)} ${disk.summary.model || '-'}`, value: disk.summary.path }));
  rows.push({ label: kind === 'partition' ? 't  Type a partition device or image file...' : 't  Type a device or image file...', value: TYPE, key: 't' });
  const chosen = await chooseFromList(app, { title: `Backup ${kind}: source`, intro: [kind === 'system' ? 'The disk holding the system (boot loader, Windows or Linux).' : `The ${kind} to back up.`], rows });
  if (chosen !== TYPE) return chosen;
  return (await askText(app, { title: 'Source', prompt: ['A block device or an image file:'] }))?.trim() || undefined;
}

/** The whole backup flow; Escape on a step goes back to the step before. */
export async function runBackupFlow(app: TuiApp, tui: TuiContext, session: TuiSession): Promise<void> {
  let kind: BackupKind | undefined;
  let source: string | undefined;
  let repository: string | undefined;
  let options: BackupOptions | undefined;
  let step = 0;
  while (step < 4) {
    if (step < 0) return;
    if (step === 0) kind = await chooseFromList<BackupKind>(app, {
      title: 'Backup', intro: ['What to back up?'],
      rows: [
        { label: 'd  Disk: the partition table, boot code and every partition', value: 'disk', key: 'd' },
        { label: 'p  Partition: one partition', value: 'partition', key: 'p' },
        { label: 's  System: what the installed system needs to boot', value: 'system', key: 's' },
        { label: 'f  Files: a folder of a mounted disk', value: 'files', key: 'f' },
      ],
    });
    if (step === 0) {
      step = kind === undefined ? -1 : 1;
      continue;
    }
    if (!kind) return;
    if (step === 1) {
      source = await chooseSource(app, tui, kind);
      step = source === undefined ? 0 : 2;
    } else if (step === 2) {
      repository = await chooseRepository(app, tui, session, 'backup');
      step = repository === undefined ? 1 : 3;
    } else {
      let recap: string[];
      try {
        // The source is opened read-only for its size and model: a wrong one is shown now, not after the options.
        recap = await recapLines(tui, session, { kind, source: source ?? '', repository: repository ?? '' });
      } catch (error) {
        await showError(app, error, 'Source refused');
        step = 1;
        continue;
      }
      options = await chooseOptions(app, { initial: options ?? { ...DEFAULT_BACKUP_OPTIONS }, startLabel: 'Start the backup', recap });
      step = options === undefined ? 2 : 4;
    }
  }
  if (!kind || !source || !repository || !options) return;
  const chosen = { kind, source, repository, options };
  const outcome = await runWithProgress(app, {
    title: `Backup of ${chosen.source}`,
    whenDone: options.whenDone,
    run: (reporter, signal) => runLogged(tui, backupCommandLine(chosen), reporter, (logged) => performBackup(tui, chosen, logged, signal)),
  });
  if (outcome?.ok && outcome.whenDone !== 'stay') await tui.cli.repositories.powerAction(outcome.whenDone);
}

/** The command line that does the same backup (the run log's heading). */
function backupCommandLine(chosen: { kind: BackupKind; source: string; repository: string; options: BackupOptions }): string[] {
  const source = chosen.kind === 'files' ? path.resolve(chosen.source) : chosen.source;
  const { options } = chosen;
  return [
    'backup', chosen.kind, source, '-r', chosen.repository, ...(options.note ? ['--note', options.note] : []), ...(options.tag ? ['--tag', options.tag] : []),
    ...(options.compression === DEFAULT_BACKUP_OPTIONS.compression ? [] : ['--compression', String(options.compression)]), ...(options.verify ? [] : ['--no-verify']),
  ];
}

/** Runs the backup as `lifeboat backup KIND SOURCE -r REPO` does; returns the summary lines. */
async function performBackup(tui: TuiContext, chosen: { kind: BackupKind; source: string; repository: string; options: BackupOptions }, reporter: ProgressReporter, signal: AbortSignal): Promise<string[]> {
  const { cli } = tui;
  const services = cli.repositories;
  const tags = chosen.options.tag ? [chosen.options.tag] : [];
  const args = repositoryArgs(chosen.repository);
  if (chosen.kind === 'files') {
    const walker = await services.openFileWalker({ excludes: [], oneFileSystem: false, defaultExcludes: true });
    const result = await withRepository(cli, args, { exclusive: true, command: 'backup files' }, async (repository, notices) => {
      for (const notice of notices) reporter.notice(notice);
      return backupFiles({ roots: [path.resolve(chosen.source)], tags, note: chosen.options.note, compressionLevel: chosen.options.compression, verify: chosen.options.verify, host: services.hostName(), lifeboatVersion: cli.version, signal }, walker, repository, reporter);
    });
    const lacking = describeLeftOut(result.counts);
    return [
      `Snapshot ${result.id.slice(0, 8)} saved: ${result.manifest.files?.entries ?? 0} entries, ${formatBytes(result.manifest.stats.newBytes)} new in the repository${chosen.options.verify ? ', verified' : ''}.`,
      ...(lacking ? [`The snapshot is incomplete: ${lacking} (see the notes above).`] : []),
    ];
  }
  const kind = chosen.kind;
  const { source, facts } = await services.openSource(chosen.source, kind === 'partition' ? 'partition' : 'disk');
  try {
    const system = kind === 'system' ? await gatherSystemSelection(source, facts.logicalSectorSize) : undefined;
    if (system) {
      for (const line of describeSelection(system)) reporter.notice(line);
      if (!system.some((choice) => choice.chosen)) throw new LifeboatError('LB_INPUT_USAGE', { detail: `No partition of ${chosen.source} holds a boot loader, Windows or a Linux system; back up the disk instead.` });
    }
    const result = await withRepository(cli, args, { exclusive: true, command: `backup ${kind}` }, async (repository, notices) => {
      for (const notice of notices) reporter.notice(notice);
      return backup({
        kind, ...(system ? { system } : {}), source, facts, tags, note: chosen.options.note, sectorBySector: false, compressionLevel: chosen.options.compression,
        verify: chosen.options.verify, host: services.hostName(), lifeboatVersion: cli.version, signal,
      }, repository, reporter);
    });
    const { stats } = result.manifest;
    return [`Snapshot ${result.id.slice(0, 8)} saved: ${formatBytes(stats.logicalBytes)} backed up, ${formatBytes(stats.newBytes)} new in the repository${chosen.options.verify ? ', verified' : ''}.`];
  } finally {
    await source.close();
  }
}

