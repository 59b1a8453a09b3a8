// Disks: every disk with its facts (model, serial, bus, sector sizes, flags) and every partition on
// its own line (start, size, filesystem, label, used space, role, mount points).

import blessed from 'blessed';
import { formatBytes } from '../../core/disk-facts.ts';
import { hintLine, type TuiApp } from './app.ts';
import { escapeTags, wrapHanging } from './common-screens.ts';
import { describePartitions, drawDiskBar } from '../../core/disk-layout.ts';
import type { LoadedDisk } from './tui-context.ts';

/** The lines of the disks screen; long facts (a model, mount points) wrap with their continuations indented, nothing is cut. */
export function diskDetailLines(disks: readonly LoadedDisk[], width: number): string[] {
  const lines: string[] = [];
  for (const { summary, map } of disks) {
    const flags = [summary.removable ? 'removable' : '', summary.readOnly ? 'read-only' : '', summary.holdsMedium ? 'holds the Lifeboat medium' : ''].filter(Boolean).join(', ');
    const [first = '', ...rest] = wrapHanging(`${summary.path}  ${formatBytes(summary.sizeBytes)}  ${summary.transport}  ${summary.model || '-'}  serial ${summary.serial || '-'}`, width, 2);
    // The device's name in bold: it starts the first line.
    lines.push(`{bold}${escapeTags(summary.path)}{/bold}${escapeTags(first.slice(summary.path.length))}`, ...rest.map((line) => escapeTags(line)));
    lines.push(...wrapHanging(`  sectors ${summary.logicalSectorSize}/${summary.physicalSectorSize} B${flags ? `  ${flags}` : ''}`, width, 4).map((line) => escapeTags(line)));
    lines.push(escapeTags(drawDiskBar(map, width)));
    const mounts = new Map(summary.partitions.map((partition) => [partition.number, partition.mountPoints]));
    describePartitions(map).forEach((line, index) => {
      const number = map.partitions[index]?.number;
      const points = number === undefined ? summary.mountPoints : (mounts.get(number) ?? []);
      lines.push(...wrapHanging(`  ${line}${points.length > 0 ? `, mounted on ${points.join(', ')}` : ''}`, width, 4).map((entry) => escapeTags(entry)));
    });
    lines.push('');
  }
  return lines.length > 0 ? lines : ['(no disks found)'];
}

/** Shows the disks until Escape; r reads them again. */
export async function showDisks(app: TuiApp, load: () => Promise<LoadedDisk[]>): Promise<void> {
  await app.show<void>({ title: 'Disks', hint: hintLine([['Up/Down', 'scroll'], ['r', 'read again'], ['Esc', 'back']]) }, async (page) => {
    const box = blessed.box({ parent: page.box, top: 0, left: 1, width: '100%-4', height: '100%-2', tags: true, scrollable: true, keys: true, alwaysScroll: true, content: 'Reading the disks...' });
    const fill = async () => {
      box.setContent(diskDetailLines(await load(), Math.max(20, (box.width as number) - 2)).join('\n'));
      app.render();
    };
    page.onKey(['r'], () => void fill());
    box.focus();
    await fill();
  });
}
