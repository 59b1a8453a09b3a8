// A source named where one partition is expected (`ls`, `get`, `backup partition`) that is a whole
// disk: no filesystem starts at its first byte, and it holds a partition table with partitions.
// The commands then name its partitions instead of reading the disk as one volume.

import type { ByteSource } from '../byte-source.ts';
import { probeFilesystem } from '../filesystems/probe-filesystem.ts';
import { detectSectorSize, readPartitionTable } from './partition-table.ts';

/** A whole disk's table kind and the numbers of its partitions (extended containers left out). */
export interface WholeDiskTable {
  readonly kind: 'gpt' | 'mbr';
  readonly numbers: readonly number[];
}

/** The table of `source` when it is a partitioned disk; undefined when a filesystem starts at byte 0 (a FAT boot sector also ends in 55 AA) or no table with partitions is found. */
export async function findWholeDiskTable(source: ByteSource): Promise<WholeDiskTable | undefined> {
  if (await probeFilesystem(source).catch(() => undefined)) return undefined;
  const table = await readPartitionTable(source, await detectSectorSize(source)).catch(() => undefined);
  if (!table || table.kind === 'none') return undefined;
  const numbers = table.partitions.filter((entry) => entry.kind !== 'extended').map((entry) => entry.number);
  return numbers.length > 0 ? { kind: table.kind, numbers } : undefined;
}
