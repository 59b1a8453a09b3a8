// Backup: kind (disk, partition, system, files) -> source -> repository -> options (note, tag,
// when done) -> progress. Calls the same ops as `lifeboat backup`, with the progress screen's
// reporter and stop signal.

import path from 'node:path';
import { formatBytes } from '../../core/disk-facts.ts';
import { LifeboatError } from '../../core/errors.ts';
import type { ProgressReporter } from '../../core/progress.ts';
import { DEFAULT_COMPRESSION_LEVEL } from '../../core/repository/format.ts';
import { describeSelection } from '../../core/repository/system-selection.ts';
import { backup } from '../../ops/backup.ts';
import { backupFiles } from '../../ops/backup-files.ts';
import { gatherSystemSelection } from '../../ops/gather-system-facts.ts';
import { withRepository } from '../cli/repository-access.ts';
import type { TuiApp } from './app.ts';
import { askText, chooseFromList, type ChoiceRow } from './common-screens.ts';
import { describePartitions } from '../../core/disk-layout.ts';
import { loadDisks } from './disk-loading.ts';
import { runLogged } from './logged-operation.ts';
import { runWithProgress, type WhenDone } from './progress-screen.ts';
import { chooseRepository, repositoryArgs, type TuiSession } from './repository-flow.ts';
import type { TuiContext } from './tui-context.ts';

type BackupKind = 'disk' | 'partition' | 'system' | 'files';

/** Options chosen on the options screen. */
export interface BackupOptions {
  note: string;
  tag: string;
  whenDone: WhenDone;
}

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

/** The options form: Enter edits a row; "Start" starts. */
export async function chooseOptions(app: TuiApp, initial: BackupOptions, startLabel: string): Promise<BackupOptions | undefined> {
  const options = { ...initial };
  let selected = 0;
  for (;;) {
    const rows = [
      { label: `Note:       ${options.note || '(none)'}`, value: 'note', key: 'n' },
      { label: `Tag:        ${options.tag || '(none)'}`, value: 'tag', key: 't' },
      { label: `When done:  ${options.whenDone === 'stay' ? 'stay' : options.whenDone === 'poweroff' ? 'power off' : 'reboot'}`, value: 'when', key: 'w' },
      { label: startLabel, value: 'start', key: 's' },
    ];
    const choice = await chooseFromList(app, { title: 'Options', intro: ['Enter changes a line; choose the last line to start.'], rows, selected });
    if (choice === undefined) return undefined;
    selected = rows.findIndex((row) => row.value === choice);
    if (choice === 'start') return options;
    if (choice === 'note') options.note = (await askText(app, { title: 'Note', prompt: ['A note kept with the snapshot:'], initial: options.note })) ?? options.note;
    if (choice === 'tag') options.tag = ((await askText(app, { title: 'Tag', prompt: ['A tag for the snapshot (one word):'], initial: options.tag })) ?? options.tag).trim();
    if (choice === 'when') options.whenDone = options.whenDone === 'stay' ? 'poweroff' : options.whenDone === 'poweroff' ? 'reboot' : 'stay';
  }
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
      options = await chooseOptions(app, options ?? { note: '', tag: '', whenDone: 'stay' }, 'Start the backup');
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
  return ['backup', chosen.kind, source, '-r', chosen.repository, ...(chosen.options.note ? ['--note', chosen.options.note] : []), ...(chosen.options.tag ? ['--tag', chosen.options.tag] : [])];
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
      return backupFiles({ roots: [path.resolve(chosen.source)], tags, note: chosen.options.note, compressionLevel: DEFAULT_COMPRESSION_LEVEL, verify: true, host: services.hostName(), lifeboatVersion: cli.version, signal }, walker, repository, reporter);
    });
    return [`Snapshot ${result.id.slice(0, 8)} saved: ${result.manifest.files?.entries ?? 0} entries, ${formatBytes(result.manifest.stats.newBytes)} new in the repository.`];
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
        kind, ...(system ? { system } : {}), source, facts, tags, note: chosen.options.note, sectorBySector: false, compressionLevel: DEFAULT_COMPRESSION_LEVEL,
        verify: true, host: services.hostName(), lifeboatVersion: cli.version, signal,
      }, repository, reporter);
    });
    const { stats } = result.manifest;
    return [`Snapshot ${result.id.slice(0, 8)} saved: ${formatBytes(stats.logicalBytes)} backed up, ${formatBytes(stats.newBytes)} new in the repository, verified.`];
  } finally {
    await source.close();
  }
}

