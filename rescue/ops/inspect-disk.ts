// What is on a disk: its partition table, and for each partition (or the whole disk when there is
// no table) the filesystem, its label, size, use, state and role. Reads only; errors per partition
// are reported beside it, so one damaged filesystem does not hide the others.

import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { toLifeboatError } from '../core/errors.ts';
import type { FilesystemProbe } from '../core/filesystems/probe-types.ts';
import { detectSectorSize, readPartitionTable, type PartitionInfo, type PartitionTableInfo } from '../core/partition-table/partition-table.ts';
import { describePartitionType, type PartitionRole } from '../core/partition-table/partition-types.ts';

/** A coded problem found while inspecting (kept as data, not thrown). */
export interface InspectionProblem {
  readonly code: string;
  readonly message: string;
  readonly fix: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** One partition as the disks view shows it. */
export interface PartitionReport extends PartitionInfo {
  readonly startBytes: number;
  readonly sizeBytes: number;
  readonly typeName: string;
  readonly role: PartitionRole;
  readonly filesystem: FilesystemProbe | undefined;
  readonly problem: InspectionProblem | undefined;
}

/** A disk's table and contents. */
export interface DiskContents {
  readonly table: Omit<PartitionTableInfo, 'mbr' | 'gpt' | 'partitions'> & { readonly partitions: readonly PartitionReport[] };
  /** The filesystem on the whole disk, when there is no table. */
  readonly filesystem: FilesystemProbe | undefined;
}

/** How the op reads filesystems (core/filesystems, passed in by main.ts). */
export type ProbeFilesystem = (source: ByteSource) => Promise<FilesystemProbe | undefined>;

function problemOf(error: unknown): InspectionProblem {
  const coded = toLifeboatError(error);
  return { code: coded.code, message: coded.message, fix: coded.fix, details: coded.details };
}

/** Role refined by what the filesystem is (an NTFS "basic data" is a Windows candidate, FAT is not). */
function refineRole(role: PartitionRole, filesystem: FilesystemProbe | undefined): PartitionRole {
  if (role === 'windows-system-candidate' && filesystem && filesystem.type !== 'ntfs') return 'data';
  if (role === 'linux-root-candidate' && filesystem && !['ext2', 'ext3', 'ext4', 'xfs', 'btrfs'].includes(filesystem.type)) {
    return filesystem.type === 'swap' ? 'linux-swap' : 'data';
  }
  return role;
}

/** Reads the table and probes every partition; sectorSize 'detect' (image files) looks for a 4Kn GPT. */
export async function inspectDisk(source: ByteSource, requestedSectorSize: number | 'detect', probeFilesystem: ProbeFilesystem): Promise<DiskContents> {
  const sectorSize = requestedSectorSize === 'detect' ? await detectSectorSize(source) : requestedSectorSize;
  const table = await readPartitionTable(source, sectorSize);
  const partitions: PartitionReport[] = [];
  for (const partition of table.partitions) {
    const startBytes = partition.startLba * sectorSize;
    const sizeBytes = partition.sectors * sectorSize;
    const described = describePartitionType(partition.type);
    let filesystem: FilesystemProbe | undefined;
    let problem: InspectionProblem | undefined;
    if (partition.kind !== 'extended') {
      try {
        filesystem = await probeFilesystem(sliceSource(source, startBytes, sizeBytes));
      } catch (error) {
        problem = problemOf(error);
      }
    }
    partitions.push({ ...partition, startBytes, sizeBytes, typeName: described.name, role: refineRole(described.role, filesystem), filesystem, problem });
  }
  const filesystem = table.kind === 'none' ? await probeFilesystem(source) : undefined;
  const { kind, id, diskSectors, firstUsableLba, lastUsableLba, bootGap, warnings } = table;
  return { table: { kind, id, sectorSize, diskSectors, firstUsableLba, lastUsableLba, bootGap, warnings, partitions }, filesystem };
}
