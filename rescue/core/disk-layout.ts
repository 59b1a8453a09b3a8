// The layout of a disk as people read it: one bar of characters with its partitions to scale, and
// a legend line per partition with its filesystem, label, used space and role. Pure text (plain
// ASCII, so it reads the same on the Linux console and over a vt220 serial line). The TUI draws its
// home screen, plans and confirmation with it; the CLI's restore lists with it what a target
// holds before it is overwritten.

import { formatBytes } from './human-units.ts';
import type { DiskSummary } from './disk-facts.ts';
import type { FilesystemProbe } from './filesystems/probe-types.ts';
import type { PartitionRole } from './partition-table/partition-types.ts';
import type { SnapshotManifest } from './repository/format.ts';
import type { LayoutPlan } from './layout/layout-types.ts';

/** What a disk holds as ops/inspect-disk.ts reads it (its DiskContents fits). */
export interface LayoutContents {
  readonly table: {
    readonly kind: 'gpt' | 'mbr' | 'none';
    readonly partitions: ReadonlyArray<{
      readonly kind: string;
      readonly number: number;
      readonly startBytes: number;
      readonly sizeBytes: number;
      readonly role: PartitionRole;
      readonly filesystem: FilesystemProbe | undefined;
      readonly problem: { readonly code: string } | undefined;
    }>;
  };
  /** The filesystem on the whole disk, when there is no table. */
  readonly filesystem: FilesystemProbe | undefined;
}

/** A partition as the map draws it. */
export interface MapPartition {
  readonly number: number | undefined;
  readonly startBytes: number;
  readonly sizeBytes: number;
  readonly filesystem?: string;
  readonly label?: string;
  readonly usedBytes?: number;
  readonly role?: PartitionRole;
}

/** A disk as the map draws it. */
export interface MapDisk {
  readonly sizeBytes: number;
  readonly partitions: readonly MapPartition[];
  /** A coded problem reading the disk (its table or filesystems). */
  readonly problem?: string;
  /** Its partition table, when read from the disk. */
  readonly table?: 'gpt' | 'mbr' | 'none';
}

const ROLE_NAMES: Readonly<Record<PartitionRole, string>> = {
  esp: 'ESP', 'microsoft-reserved': 'MSR', 'windows-recovery': 'WinRE', 'bios-boot': 'BIOS boot', 'linux-swap': 'swap',
  'linux-root-candidate': 'Linux', 'windows-system-candidate': 'Windows', extended: 'extended', data: 'data',
};

/** The short name of a role. */
export function roleName(role: PartitionRole | undefined): string {
  return role ? ROLE_NAMES[role] : '';
}

/** The map of a disk read by inspectDisk. */
export function mapFromContents(sizeBytes: number, contents: LayoutContents): MapDisk {
  if (contents.table.kind === 'none') {
    const fs = contents.filesystem;
    return { sizeBytes, table: 'none', partitions: fs ? [{ number: undefined, startBytes: 0, sizeBytes, filesystem: fs.type, ...(fs.label ? { label: fs.label } : {}), ...(fs.usedBytes === undefined ? {} : { usedBytes: fs.usedBytes }) }] : [] };
  }
  const problems = contents.table.partitions.filter((partition) => partition.problem).map((partition) => `${partition.number}: ${partition.problem?.code}`);
  return {
    sizeBytes,
    table: contents.table.kind,
    partitions: contents.table.partitions.filter((partition) => partition.kind !== 'extended').map((partition) => ({
      number: partition.number, startBytes: partition.startBytes, sizeBytes: partition.sizeBytes,
      // A "system candidate" role needs its filesystem: a basic-data entry holding an unknown one (ISO 9660) is just data.
      role: !partition.filesystem && (partition.role === 'windows-system-candidate' || partition.role === 'linux-root-candidate') ? 'data' : partition.role,
      ...(partition.filesystem ? { filesystem: partition.filesystem.type } : {}),
      ...(partition.filesystem?.label ? { label: partition.filesystem.label } : {}),
      ...(partition.filesystem?.usedBytes === undefined ? {} : { usedBytes: partition.filesystem.usedBytes }),
    })),
    ...(problems.length > 0 ? { problem: problems.join(', ') } : {}),
  };
}

/** The map of a disk from the kernel's partition list only (when the table cannot be read). */
export function mapFromSummary(disk: DiskSummary, problem?: string): MapDisk {
  return { sizeBytes: disk.sizeBytes, partitions: disk.partitions.map((partition) => ({ number: partition.number, startBytes: partition.startBytes, sizeBytes: partition.sizeBytes })), ...(problem ? { problem } : {}) };
}

/** The layout a snapshot restores: its table's partitions with the filesystems it kept. */
export function mapFromSnapshot(manifest: SnapshotManifest, targetBytes: number): MapDisk {
  const table = manifest.table;
  if (!table || table.kind === 'none' || manifest.kind === 'partition') {
    const volume = manifest.volumes[0];
    return { sizeBytes: targetBytes, partitions: volume ? [{ number: undefined, startBytes: 0, sizeBytes: volume.content.sizeBytes, ...(volume.filesystem ? { filesystem: volume.filesystem.type, label: volume.filesystem.label } : {}), usedBytes: volume.content.usedBytes }] : [] };
  }
  return {
    sizeBytes: targetBytes,
    partitions: table.partitions.filter((partition) => partition.kind !== 'extended').map((partition) => {
      const volume = manifest.volumes.find((entry) => entry.partition === partition.number);
      return {
        number: partition.number, startBytes: partition.startLba * table.sectorSize, sizeBytes: partition.sectors * table.sectorSize,
        ...(volume?.filesystem ? { filesystem: volume.filesystem.type, label: volume.filesystem.label } : {}),
        ...(volume ? { usedBytes: volume.content.usedBytes } : {}),
      };
    }),
  };
}

/** The layout the planner made (clone, restore --fit), with each partition's filesystem, label and use taken from `from` (the source's map, by number). */
export function mapFromLayout(layout: LayoutPlan, from: MapDisk, targetBytes: number): MapDisk {
  return {
    sizeBytes: targetBytes,
    table: layout.table,
    partitions: layout.partitions.filter((partition) => partition.kind !== 'extended').map((partition) => {
      const known = from.partitions.find((entry) => entry.number === partition.number);
      return { ...known, number: partition.number, startBytes: partition.startLba * layout.sectorSize, sizeBytes: partition.sectors * layout.sectorSize, role: partition.role };
    }),
  };
}

function segmentText(partition: MapPartition): string {
  return [partition.number === undefined ? '' : String(partition.number), partition.filesystem ?? '', partition.label ?? ''].filter(Boolean).join(' ');
}

/** One bar `width` characters wide: `[` partitions to scale, `.` unpartitioned space `]`. */
export function drawDiskBar(disk: MapDisk, width: number): string {
  const inner = Math.max(4, width - 2);
  const cells = Array.from({ length: inner }, () => '.');
  if (disk.sizeBytes > 0) {
    const sorted = [...disk.partitions].sort((a, b) => a.startBytes - b.startBytes);
    let nextFree = 0;
    for (const partition of sorted) {
      let from = Math.max(nextFree, Math.floor((partition.startBytes / disk.sizeBytes) * inner));
      const to = Math.min(inner, Math.max(from + 1, Math.round(((partition.startBytes + partition.sizeBytes) / disk.sizeBytes) * inner)));
      if (from >= inner) from = inner - 1;
      if (to <= from) continue;
      const text = segmentText(partition);
      for (let cell = from; cell < to; cell++) cells[cell] = ' ';
      cells[from] = '|';
      const room = to - from - 1;
      for (let i = 0; i < Math.min(room, text.length); i++) cells[from + 1 + i] = text[i] ?? ' ';
      nextFree = to;
    }
  }
  return `[${cells.join('')}]`;
}

/** The legend: one entry per partition (number, filesystem, label, used of size, role). */
export function describePartitions(disk: MapDisk): string[] {
  if (disk.partitions.length === 0) return [disk.problem ? `unreadable (${disk.problem})` : 'no partitions'];
  const lines = disk.partitions.map((partition) => {
    const used = partition.usedBytes === undefined ? formatBytes(partition.sizeBytes) : `${formatBytes(partition.usedBytes)} used of ${formatBytes(partition.sizeBytes)}`;
    const label = partition.label ? ` "${partition.label}"` : '';
    const role = partition.role ? `, ${roleName(partition.role)}` : '';
    return `${partition.number ?? '-'}: ${partition.filesystem ?? 'unknown'}${label}, ${used}${role}`;
  });
  if (disk.problem) lines.push(`problem: ${disk.problem}`);
  return lines;
}

/** A byte range a restore writes. */
export interface WrittenRange {
  readonly offset: number;
  readonly sizeBytes: number;
}

/** The partitions of `before` that the ranges touch (all of them when `overwritten` is undefined). */
export function overwrittenPartitions(before: MapDisk, overwritten?: readonly WrittenRange[]): MapPartition[] {
  return before.partitions.filter((partition) => overwritten === undefined || overwritten.some((range) => range.offset < partition.startBytes + partition.sizeBytes && partition.startBytes < range.offset + range.sizeBytes));
}

/**
 * What a restore overwrites on a target whose layout is `before`, for the confirmation and
 * --dry-run: its table and each partition lost (filesystem, label, used of size, role). All of
 * them, unless `overwritten` names the ranges written (a system restore onto its original layout
 * writes only the chosen partitions): then those partitions, and the others are named as kept.
 */
export function describeLoss(before: MapDisk, description: string, overwritten?: readonly WrittenRange[]): string[] {
  const lost = overwrittenPartitions(before, overwritten);
  const kept = before.partitions.filter((partition) => !lost.includes(partition));
  const table = before.table === undefined ? '' : before.table === 'none' ? ' (no partition table)' : ` (its ${before.table.toUpperCase()} partition table)`;
  const heading = overwritten === undefined ? `Will be lost on ${description}${table}:` : `Will be overwritten on ${description}:`;
  const none = before.problem ? `unreadable (${before.problem})` : overwritten === undefined ? 'no filesystem was found' : 'none of its partitions';
  const lines = [heading, ...(lost.length > 0 ? describePartitions({ ...before, partitions: lost }) : [none]).map((line) => `  ${line}`)];
  if (kept.length > 0) lines.push(`Kept as they are: ${kept.map((partition) => `partition ${partition.number ?? '-'}`).join(', ')}.`);
  return lines;
}
