// The backup's last screen before it starts: a recap of what goes where (source with its model
// and size, the space in use, the repository), then the options: note, tag, compression level,
// verification and what to do when done. The same choices as `lifeboat backup`'s --note, --tag,
// --compression and --no-verify.

import path from 'node:path';
import { mapFromContents } from '../../core/disk-layout.ts';
import { formatBytes } from '../../core/human-units.ts';
import { DEFAULT_COMPRESSION_LEVEL } from '../../core/repository/format.ts';
import type { TuiApp } from './app.ts';
import { askText, chooseFromList, escapeTags, showMessage } from './common-screens.ts';
import type { WhenDone } from './progress-screen.ts';
import { repositoryLabel, type TuiSession } from './repository-flow.ts';
import type { TuiContext } from './tui-context.ts';

/** What is backed up. */
export type BackupKind = 'disk' | 'partition' | 'system' | 'files';

/** Options chosen on the options screen. */
export interface BackupOptions {
  note: string;
  tag: string;
  /** zstd level 1-19, 0 stores uncompressed (`--compression`). */
  compression: number;
  /** Read the new data back and check it (`--no-verify` turns it off). */
  verify: boolean;
  whenDone: WhenDone;
}

/** The options a backup starts with: the CLI's defaults. */
export const DEFAULT_BACKUP_OPTIONS: Readonly<BackupOptions> = { note: '', tag: '', compression: DEFAULT_COMPRESSION_LEVEL, verify: true, whenDone: 'stay' };

/** The highest zstd level `--compression` takes. */
const MAX_COMPRESSION_LEVEL = 19;

/** A compression level as the options screen shows it. */
export function compressionText(level: number): string {
  const name = level === 0 ? 'none (stored as read)' : `zstd level ${level}`;
  return level === DEFAULT_COMPRESSION_LEVEL ? `${name} (default)` : name;
}

/** The recap lines: source (device, model, serial, size, space in use), repository; reads the source's table read-only. Throws the source's coded error when it cannot be opened. */
export async function recapLines(tui: TuiContext, session: TuiSession, chosen: { kind: BackupKind; source: string; repository: string }): Promise<string[]> {
  const known = session.repositories.find((entry) => entry.path === chosen.repository);
  const repository = `Repository:  ${known ? repositoryLabel(known) : chosen.repository}`;
  if (chosen.kind === 'files') {
    return [`Source:      ${path.resolve(chosen.source)} (${chosen.kind})`, 'Size:        counted as the backup reads the files', repository];
  }
  const { source, facts } = await tui.cli.repositories.openSource(chosen.source, chosen.kind === 'partition' ? 'partition' : 'disk');
  await source.close();
  const identity = [facts.model, facts.serial ? `serial ${facts.serial}` : ''].filter(Boolean).join(', ');
  let used = '';
  try {
    const map = mapFromContents(facts.sizeBytes, await tui.cli.inspectTarget(chosen.source, chosen.kind === 'partition' ? 512 : 'detect'));
    const filesystems = map.partitions.filter((partition) => partition.usedBytes !== undefined);
    const usedBytes = filesystems.reduce((sum, partition) => sum + (partition.usedBytes ?? 0), 0);
    if (filesystems.length > 0) used = `, ${formatBytes(usedBytes)} in use in ${filesystems.length} filesystem${filesystems.length === 1 ? '' : 's'}`;
  } catch {
    // a table or filesystem that cannot be read is reported by the backup itself
  }
  return [`Source:      ${facts.path}${identity ? ` (${identity})` : ''}`, `Size:        ${formatBytes(facts.sizeBytes)}${used}`, repository];
}

/** Asks for a compression level; undefined keeps the one chosen before. */
async function askCompression(app: TuiApp, current: number): Promise<number | undefined> {
  const typed = (await askText(app, { title: 'Compression', prompt: [`The zstd level, 1 to ${MAX_COMPRESSION_LEVEL} (higher: smaller and slower; ${DEFAULT_COMPRESSION_LEVEL} is the default), or 0 to store the data uncompressed:`], initial: String(current) }))?.trim();
  if (typed === undefined || typed === '') return undefined;
  const level = Number(typed);
  if (Number.isInteger(level) && level >= 0 && level <= MAX_COMPRESSION_LEVEL) return level;
  await showMessage(app, { title: 'Compression', lines: [`"${escapeTags(typed)}" is not a level from 0 to ${MAX_COMPRESSION_LEVEL}; the level stays ${current}.`] });
  return undefined;
}

/** The options form under the recap: Enter (or the row's letter) changes a row; "Start" starts. */
export async function chooseOptions(app: TuiApp, given: { initial: BackupOptions; startLabel: string; recap: readonly string[] }): Promise<BackupOptions | undefined> {
  const options = { ...given.initial };
  let selected = 0;
  for (;;) {
    const rows = [
      { label: `Note:         ${options.note || '(none)'}`, value: 'note', key: 'n', details: [`Note: ${options.note || '(none)'}`] },
      { label: `Tag:          ${options.tag || '(none)'}`, value: 'tag', key: 't' },
      { label: `Compression:  ${compressionText(options.compression)}`, value: 'compression', key: 'c' },
      { label: `Verification: ${options.verify ? 'on (the new data is read back and checked)' : 'off'}`, value: 'verify', key: 'v' },
      { label: `When done:    ${options.whenDone === 'stay' ? 'stay' : options.whenDone === 'poweroff' ? 'power off' : 'reboot'}`, value: 'when', key: 'w' },
      { label: given.startLabel, value: 'start', key: 's' },
    ];
    const intro = [...given.recap.map((line) => escapeTags(line)), '', 'Enter or the letter changes a line; the last line starts.'];
    const choice = await chooseFromList(app, { title: 'Backup: options', intro, rows, selected });
    if (choice === undefined) return undefined;
    selected = rows.findIndex((row) => row.value === choice);
    if (choice === 'start') return options;
    if (choice === 'note') options.note = (await askText(app, { title: 'Note', prompt: ['A note kept with the snapshot:'], initial: options.note })) ?? options.note;
    if (choice === 'tag') options.tag = ((await askText(app, { title: 'Tag', prompt: ['A tag for the snapshot (one word):'], initial: options.tag })) ?? options.tag).trim();
    if (choice === 'compression') options.compression = (await askCompression(app, options.compression)) ?? options.compression;
    if (choice === 'verify') options.verify = !options.verify;
    if (choice === 'when') options.whenDone = options.whenDone === 'stay' ? 'poweroff' : options.whenDone === 'poweroff' ? 'reboot' : 'stay';
  }
}
