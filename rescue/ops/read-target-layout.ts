// What a restore target holds now, for restoring a system snapshot: its partition table (or none)
// and, when it has none, whether a filesystem covers the whole disk. Reads only.

import type { ByteSource } from '../core/byte-source.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { readPartitionTable } from '../core/partition-table/partition-table.ts';
import { snapshotTableOf } from '../core/repository/format.ts';
import type { TargetLayout } from '../core/repository/system-restore-plan.ts';
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
