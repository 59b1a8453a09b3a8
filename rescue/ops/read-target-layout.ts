// What a restore target holds now: for restoring a system snapshot, its partition table (or none)
// and, when it has none, whether a filesystem covers the whole disk; for the confirmation, its
// layout as the disk map shows it (what will be lost). Reads only.

import type { ByteSource } from '../core/byte-source.ts';
import { mapFromContents, type MapDisk } from '../core/disk-layout.ts';
import { toLifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { readPartitionTable } from '../core/partition-table/partition-table.ts';
import { snapshotTableOf } from '../core/repository/format.ts';
import type { TargetLayout } from '../core/repository/system-restore-plan.ts';
import { inspectDisk } from './inspect-disk.ts';
import type { RestoreTarget } from './restore.ts';

/** The target's layout; a new image file (`fresh`) is blank without being read. */
export async function readTargetLayout(target: RestoreTarget, options: { sectorSize: number; fresh: boolean }): Promise<TargetLayout> {
  if (options.fresh || target.size === 0) return { kind: 'none', partitions: [], wholeDiskFilesystem: undefined };
  const source: ByteSource = { size: target.size, read: (offset, length) => target.read(offset, length) };
  const table = await readPartitionTable(source, options.sectorSize);
  const partitions = table.partitions.map(({ number, startLba, sectors }) => ({ number, startLba, sectors }));
  const wholeDisk = table.kind === 'none' ? await probeFilesystem(source).catch(() => undefined) : undefined;
  return { kind: table.kind, partitions, wholeDiskFilesystem: wholeDisk?.type, ...(table.kind === 'none' ? {} : { table: snapshotTableOf(table) }) };
}

/**
 * The target's layout as the disk map shows it (table, partitions, filesystems, labels, use);
 * undefined for a new image file. `volume`: the target is one partition (FILE:N, /dev/sdb1), whose
 * filesystem is all there is to lose. A table that cannot be read is reported in the map's problem.
 */
export async function readTargetMap(target: RestoreTarget, options: { sectorSize: number; fresh: boolean; volume: boolean }): Promise<MapDisk | undefined> {
  if (options.fresh || target.size === 0) return undefined;
  const source: ByteSource = { size: target.size, read: (offset, length) => target.read(offset, length) };
  try {
    if (options.volume) {
      const { table: _none, ...volume } = mapFromContents(target.size, { table: { kind: 'none', partitions: [] }, filesystem: await probeFilesystem(source) });
      return volume;
    }
    return mapFromContents(target.size, await inspectDisk(source, options.sectorSize, probeFilesystem));
  } catch (error) {
    return { sizeBytes: target.size, partitions: [], problem: toLifeboatError(error).code };
  }
}
