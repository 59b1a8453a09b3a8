// The TUI's first screen: what Lifeboat is, the disks it sees, and the keys that lead on.
// Screens hold no business logic: they get data and return what the user chose.

import blessed from 'blessed';
import contrib from 'blessed-contrib';
import { formatBytes, type DiskSummary } from '../../core/disk-facts.ts';
import { themeForColors } from './theme.ts';

/** What the user chose on the home screen. */
export type HomeChoice = 'quit' | 'shell';

/** What the home screen shows. */
export interface HomeScreenInput {
  readonly version: string;
  readonly loadDisks: () => Promise<DiskSummary[]>;
}

/** Opens the home screen on the terminal and resolves with the user's choice. */
export async function runHomeScreen(input: HomeScreenInput): Promise<HomeChoice> {
  const screen = blessed.screen({ smartCSR: true, title: 'Lifeboat', fullUnicode: false, dockBorders: true });
  const theme = themeForColors((screen.tput as unknown as { colors: number }).colors);
  blessed.box({
    parent: screen,
    top: 0,
    left: 0,
    width: '100%',
    height: 3,
    border: { type: 'line' },
    tags: true,
    content: `{bold}Lifeboat ${input.version}{/bold}  rescue toolkit: backup, restore, clone`,
    style: { border: { fg: theme.accent } },
  });
  const table = contrib.table({
    parent: screen,
    top: 3,
    left: 0,
    width: '100%',
    height: '100%-5',
    label: ' Disks ',
    keys: true,
    interactive: true,
    columnSpacing: 2,
    columnWidth: [12, 10, 9, 30],
    border: { type: 'line', fg: theme.accent },
    fg: theme.text,
  });
  table.rows.style.selected = { ...theme.selected };
  blessed.box({
    parent: screen,
    bottom: 0,
    left: 0,
    width: '100%',
    height: 2,
    tags: true,
    content: ' {bold}r{/bold} refresh   {bold}s{/bold} shell   {bold}q{/bold} quit',
  });

  const refresh = async (): Promise<void> => {
    const disks = await input.loadDisks();
    table.setData({
      headers: ['Device', 'Size', 'Bus', 'Model'],
      data: disks.length > 0 ? disks.map((d) => [d.path, formatBytes(d.sizeBytes), d.transport, d.model || '-']) : [['(no disks found)', '', '', '']],
    });
    table.focus();
    screen.render();
  };
  await refresh();

  return new Promise<HomeChoice>((resolve) => {
    const finish = (choice: HomeChoice) => {
      screen.destroy();
      // blessed leaves stdin flowing after destroy; paused, it no longer keeps the process alive
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      process.stdin.pause();
      resolve(choice);
    };
    screen.key(['q', 'C-c'], () => finish('quit'));
    screen.key(['s'], () => finish('shell'));
    screen.key(['r'], () => void refresh());
  });
}
