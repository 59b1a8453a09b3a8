// The TUI's first screen: a map of every disk (a bar per disk, partitions to scale, a legend with
// filesystem, label, used space and role), the repositories found, and the actions. It holds no
// logic: it gets the disks and repositories and returns the action chosen.

import blessed from 'blessed';
import { formatBytes } from '../../core/disk-facts.ts';
import { hintLine, type TuiApp } from './app.ts';
import { describeRepositoryPlace, folderInside } from '../../core/attached-repositories.ts';
import { describePartitions, drawDiskBar } from '../../core/disk-layout.ts';
import { escapeTags, wrapHanging } from './common-screens.ts';
import type { TuiSession } from './repository-flow.ts';
import type { LoadedDisk } from './tui-context.ts';

/** What the user chose on the home screen. */
export type HomeAction = 'backup' | 'restore' | 'clone' | 'browse' | 'verify' | 'disks' | 'logs' | 'shell' | 'poweroff' | 'reboot' | 'quit' | 'add-repository' | 'refresh';

/** The actions in menu order, with their shortcut letters. */
export const HOME_ACTIONS: ReadonlyArray<{ readonly key: string; readonly label: string; readonly action: HomeAction }> = [
  { key: 'b', label: 'Backup', action: 'backup' },
  { key: 'r', label: 'Restore', action: 'restore' },
  { key: 'c', label: 'Clone', action: 'clone' },
  { key: 'f', label: 'Browse a backup', action: 'browse' },
  { key: 'v', label: 'Verify', action: 'verify' },
  { key: 'd', label: 'Disks', action: 'disks' },
  { key: 'l', label: 'Logs', action: 'logs' },
  { key: 's', label: 'Shell', action: 'shell' },
  { key: 'p', label: 'Power off', action: 'poweroff' },
  { key: 'o', label: 'Reboot', action: 'reboot' },
  { key: 'q', label: 'Quit', action: 'quit' },
];

/** What the home screen shows; disks and repositories arrive later (reading every table and searching the disks take a moment). */
export interface HomeScreenInput {
  readonly disks: Promise<LoadedDisk[]>;
  /** The repositories known, and the search that may still be finding more. */
  readonly session: Pick<TuiSession, 'repositories' | 'skipped' | 'searching'>;
  /** The menu row selected when the screen opens. */
  readonly selected?: HomeAction;
}

const ACTIONS_WIDTH = 22;

/** The disk lines of the map: a header, then per disk its facts, its bar and its legend; long facts and legends wrap, nothing is cut. */
export function diskMapLines(disks: readonly LoadedDisk[], width: number): string[] {
  const lines = [`{bold}${'Device'.padEnd(12)} ${'Size'.padEnd(9)} ${'Bus'.padEnd(7)} Model{/bold}`];
  if (disks.length === 0) lines.push('(no disks found)');
  for (const { summary, map } of disks) {
    const flags = [summary.holdsMedium ? 'medium' : '', [...summary.mountPoints, ...summary.partitions.flatMap((p) => p.mountPoints)].length > 0 ? 'mounted' : ''].filter(Boolean);
    const facts = `${summary.path.padEnd(12)} ${formatBytes(summary.sizeBytes).padEnd(9)} ${summary.transport.padEnd(7)} ${summary.model || '-'}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`;
    lines.push(...wrapHanging(facts, width, 2).map((line) => escapeTags(line)));
    lines.push(escapeTags(drawDiskBar(map, width)));
    lines.push(...wrapHanging(`  ${describePartitions(map).join('; ')}`, width, 4).map((line) => escapeTags(line)));
  }
  return lines;
}

/** The repository lines: found on an attached disk as `DEVICE, FS "LABEL"[, read-only]: /folder inside`, else the folder; then the partitions that could hold one but were not searched. */
export function repositoryLines(session: Pick<TuiSession, 'repositories' | 'skipped'>): string[] {
  const lines = session.repositories.map((entry) => {
    return entry.place ? `${describeRepositoryPlace(entry.place)}: ${folderInside(entry.path, entry.place)}` : entry.path;
  });
  if (lines.length === 0) lines.push('(none found: press a to type a folder)');
  for (const skipped of session.skipped.filter((entry) => entry.notable)) lines.push(`not searched: ${skipped.device.replace(/^\/dev\//, '')}: ${skipped.reason}`);
  return lines;
}

/** Most lines the repositories box shows; more are counted on its last line. */
const REPOSITORY_LINES_MAX = 6;

/** The repository lines wrapped to `width` (continuations indented), at most REPOSITORY_LINES_MAX of them. */
export function repositoryBoxLines(lines: readonly string[], width: number): string[] {
  const wrapped = lines.flatMap((line) => wrapHanging(line, width, 2));
  if (wrapped.length <= REPOSITORY_LINES_MAX) return wrapped;
  const shown = wrapped.slice(0, REPOSITORY_LINES_MAX - 1);
  return [...shown, `... ${wrapped.length - shown.length} more (Backup and Restore list them all)`];
}

/** Opens the home screen; resolves with the action chosen. */
export async function runHomeScreen(app: TuiApp, input: HomeScreenInput): Promise<HomeAction> {
  const choice = await app.show<HomeAction>({ title: 'Home', hint: hintLine([['letters', 'act'], ['Tab', 'disks'], ['a', 'add repository'], ['F5', 'refresh'], ['q', 'quit']]) }, (page) => {
    const menu = blessed.list({
      parent: page.box, top: 0, left: 0, width: ACTIONS_WIDTH, height: '100%-2', label: ' Actions ', border: { type: 'line' }, keys: true, tags: true,
      items: HOME_ACTIONS.map((entry) => ` {bold}${entry.key}{/bold}  ${entry.label}`),
      style: { selected: { ...app.theme.selected }, item: { fg: app.theme.text }, border: { fg: app.theme.accent } },
    });
    const disksBox = blessed.box({
      parent: page.box, top: 0, left: ACTIONS_WIDTH, width: `100%-${ACTIONS_WIDTH + 2}`, height: '100%-5', label: ' Disks ', border: { type: 'line' },
      tags: true, scrollable: true, keys: true, alwaysScroll: true, style: { border: { fg: app.theme.accent }, focus: { border: { fg: app.theme.text } } },
      content: `${diskMapLines([], 50)[0]}\nReading the disks...`,
    });
    const repositoriesBox = blessed.box({
      parent: page.box, bottom: 0, left: ACTIONS_WIDTH, width: `100%-${ACTIONS_WIDTH + 2}`, height: 3, label: ' Repositories ', border: { type: 'line' },
      tags: true, content: 'Looking on the attached disks...', style: { border: { fg: app.theme.accent } },
    });
    const showRepositories = () => {
      if (repositoriesBox.detached) return;
      const width = Math.max(20, (repositoriesBox.width as number) - 3);
      const lines = repositoryBoxLines(repositoryLines(input.session), width).map((line) => escapeTags(line));
      const height = lines.length + 2;
      repositoriesBox.height = height;
      disksBox.height = `100%-${height + 2}`;
      repositoriesBox.setContent(lines.join('\n'));
      app.render();
    };
    void input.session.searching.then(showRepositories, showRepositories);
    menu.on('select', (_item, index) => {
      const entry = HOME_ACTIONS[index];
      if (entry) page.resolve(entry.action);
    });
    for (const entry of HOME_ACTIONS) page.onKey([entry.key], () => page.resolve(entry.action));
    page.onKey(['a'], () => page.resolve('add-repository'));
    page.onKey(['f5', 'C-r'], () => page.resolve('refresh'));
    page.onKey(['tab'], () => {
      if (app.screen.focused === menu) disksBox.focus();
      else menu.focus();
      app.render();
    });
    page.onEscape(() => undefined);
    const selected = HOME_ACTIONS.findIndex((entry) => entry.action === input.selected);
    menu.select(Math.max(0, selected));
    menu.focus();
    void input.disks.then((disks) => {
      if (disksBox.detached) return; // the user left the screen before the disks were read
      const width = Math.max(20, (disksBox.width as number) - 4);
      disksBox.setContent(diskMapLines(disks, width).join('\n'));
      app.render();
    }, (error: unknown) => {
      if (disksBox.detached) return;
      disksBox.setContent(escapeTags(`The disks could not be read: ${String((error as Error).message)}`));
      app.render();
    });
  });
  return choice ?? 'quit';
}
