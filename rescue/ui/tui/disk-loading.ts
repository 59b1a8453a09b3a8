// Reads every disk the TUI shows: the kernel's list (loop devices with something attached
// included, so image files attached with losetup can be backed up and restored) and, per disk, its
// table and filesystems; a disk that cannot be read keeps the kernel's partitions and its code.

import { toLifeboatError } from '../../core/errors.ts';
import type { CliContext } from '../cli/context.ts';
import { mapFromContents, mapFromSummary } from '../../core/disk-layout.ts';
import type { LoadedDisk } from './tui-context.ts';

/** Disks first, then attached loop devices; ram and zram devices and empty loop devices are left out. */
export async function loadDisks(cli: CliContext): Promise<LoadedDisk[]> {
  const disks = (await cli.listDisks({ includeVirtual: true }))
    .filter((disk) => disk.transport !== 'ram' && disk.sizeBytes > 0)
    .sort((a, b) => Number(a.transport === 'loop') - Number(b.transport === 'loop'));
  const loaded: LoadedDisk[] = [];
  for (const summary of disks) {
    try {
      // Optical discs report 2048-byte sectors; hybrid images (the Lifeboat ISO) carry their table in 512-byte sectors.
      const sectorSize = summary.transport === 'cdrom' ? 512 : summary.logicalSectorSize;
      loaded.push({ summary, map: mapFromContents(summary.sizeBytes, await cli.inspectTarget(summary.path, sectorSize)) });
    } catch (error) {
      loaded.push({ summary, map: mapFromSummary(summary, toLifeboatError(error).code) });
    }
  }
  return loaded;
}

/** Why a disk cannot be a restore target, if it cannot (the same rules the target checks apply). */
export function targetRefusal(disk: LoadedDisk): string | undefined {
  if (disk.summary.holdsMedium) return 'holds the Lifeboat medium';
  const points = [...disk.summary.mountPoints, ...disk.summary.partitions.flatMap((partition) => partition.mountPoints)];
  if (points.length > 0) return 'mounted';
  if (disk.summary.readOnly) return 'read-only';
  return undefined;
}
