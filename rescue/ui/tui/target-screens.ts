// The screens every destructive flow (Restore, Clone) shows before it writes: the plan with the
// target's before/after pictures, and the confirmation where the target's name must be typed.

import path from 'node:path';
import blessed from 'blessed';
import { formatBytes } from '../../core/human-units.ts';
import { describePartitions, drawDiskBar, type MapDisk } from '../../core/disk-layout.ts';
import { hintLine, type TuiApp } from './app.ts';
import { askText, escapeTags, showMessage, wrapHanging, wrapLines } from './common-screens.ts';
import type { LoadedDisk } from './tui-context.ts';

/** The name the user types to confirm: the device name (sdb) or the image file's name. */
export function confirmationName(target: string): string {
  return path.basename(target.replace(/:\d+$/, ''));
}

function mapLines(title: string, map: MapDisk, width: number): string[] {
  return [`{bold}${title}{/bold}`, escapeTags(drawDiskBar(map, width)), ...describePartitions(map).flatMap((line) => wrapHanging(`  ${line}`, width + 2, 4)).map((line) => escapeTags(line))];
}

/** A key the plan screen offers besides Enter and Esc, and what pressing it answers. */
export interface PlanKey<K extends string> {
  readonly key: string;
  readonly label: string;
  readonly answer: K;
}

/** The plan screen: heading lines, the target before and after, then the plan's own lines; resolves 'go' (Enter), a key's answer, or undefined (Esc). */
export async function showPlanScreen<K extends string>(app: TuiApp, options: { title: string; heading: readonly string[]; before: MapDisk | undefined; after: MapDisk | undefined; plan: readonly string[]; keys?: readonly PlanKey<K>[] }): Promise<'go' | K | undefined> {
  const keys = options.keys ?? [];
  const hint: Array<[string, string]> = [['Enter', 'continue'], ['Up/Down', 'scroll'], ...keys.map((entry): [string, string] => [entry.key, entry.label]), ['Esc', 'back']];
  return app.show<'go' | K>({ title: options.title, hint: hintLine(hint) }, (page) => {
    const width = 72;
    const lines = [
      ...wrapLines(options.heading, 74).map((line) => escapeTags(line)),
      ...(options.heading.length > 0 ? [''] : []),
      ...(options.before ? mapLines('Before (now on the target):', options.before, width) : ['{bold}Before:{/bold} a new image file']),
      ...(options.after ? mapLines('After:', options.after, width) : []),
      '',
      ...options.plan.flatMap((line) => wrapHanging(line, 74, 4)).map((line) => escapeTags(line)),
    ];
    const box = blessed.box({ parent: page.box, top: 0, left: 1, width: '100%-4', height: '100%-2', tags: true, scrollable: true, keys: true, alwaysScroll: true, content: lines.join('\n') });
    box.focus();
    page.onKey(['enter'], () => page.resolve('go'));
    for (const entry of keys) page.onKey([entry.key], () => page.resolve(entry.answer));
  });
}

/** The destructive confirmation: names the target and what will be lost; resolves true only when its name was typed. */
export async function confirmTarget(app: TuiApp, options: { target: string; disk: LoadedDisk | undefined; before: MapDisk | undefined; sizeBytes: number; description: string }): Promise<boolean> {
  const name = confirmationName(options.target);
  const summary = options.disk?.summary;
  const lines = [
    '{bold}Everything on this target will be overwritten:{/bold}',
    '',
    escapeTags(`  Target:     ${options.description}`),
    escapeTags(`  Model:      ${summary?.model || (summary ? '-' : 'image file')}`),
    escapeTags(`  Serial:     ${summary?.serial || '-'}`),
    `  Size:       ${formatBytes(options.sizeBytes)}`,
    '  Partitions (will be lost):',
    ...(options.before ? describePartitions(options.before) : ['(none)']).map((line) => escapeTags(`    ${line}`)),
    '',
    `Type {bold}${escapeTags(name)}{/bold} and press Enter to start; Esc cancels (nothing is written).`,
  ];
  for (;;) {
    const typed = await askText(app, { title: 'Confirm: overwrite the target', prompt: lines });
    if (typed === undefined) return false;
    if (typed.trim() === name) return true;
    await showMessage(app, { title: 'Not confirmed', lines: [`You typed "${escapeTags(typed)}", not "${escapeTags(name)}".`, 'Nothing was written.'] });
  }
}
