// The shapes of the one layout planner (plan-layout.ts) that clone, restore of a snapshot and
// Clonezilla restore use to land a disk's partitions on a target of another size: what it is given
// (the source's table, each partition's role, filesystem, use and minimum size) and what it returns
// (each partition's new place, what grows and what shrinks). Pure data.

import { LifeboatError } from '../errors.ts';
import type { PartitionRole } from '../partition-table/partition-types.ts';

/** How the space of a target of another size is shared out. */
export type FitMode = 'largest' | 'proportional' | 'keep';

/** Every fit mode, for option parsing. */
export const FIT_MODES: readonly FitMode[] = ['largest', 'proportional', 'keep'];

/** One partition of the source as the planner needs it (SnapshotPartition and PartitionInfo fit, plus facts). */
export interface SourcePartition {
  readonly number: number;
  readonly kind: 'gpt' | 'primary' | 'extended' | 'logical';
  readonly startLba: number;
  readonly sectors: number;
  /** GPT type GUID or MBR type byte in hex, as PartitionInfo spells it. */
  readonly type: string;
  readonly role: PartitionRole;
  readonly bootable: boolean;
  readonly uuid?: string;
  readonly name?: string;
  readonly attributes?: string;
  /** A logical partition's EBR on the source, when known (--fit keep keeps it there). */
  readonly ebrLba?: number | undefined;
  /** The filesystem's type as blkid prints it (ext4, ntfs, vfat, exfat, xfs, swap...); undefined: none known. */
  readonly filesystem?: string | undefined;
  /** Bytes its filesystem uses, for the plan's text. */
  readonly usedBytes?: number | undefined;
  /** The smallest its filesystem can be made (resize2fs -P, ntfsresize --info, FAT's used clusters...); undefined: unknown. */
  readonly minimumBytes?: number | undefined;
}

/** The source disk's partitioning. */
export interface SourceLayout {
  readonly table: 'gpt' | 'mbr';
  readonly sectorSize: number;
  readonly diskSectors: number;
  /** GPT entry count (128 unless the table says otherwise). */
  readonly gptEntryCount?: number | undefined;
  readonly partitions: readonly SourcePartition[];
}

/** The disk the layout lands on. */
export interface LayoutTarget {
  readonly sizeBytes: number;
  readonly sectorSize: number;
  /** How refusals name it (/dev/sdb, disk.img). */
  readonly description: string;
}

/** A size asked for one partition (`--size N=SIZE`). */
export interface SizeRequest {
  readonly partition: number;
  readonly bytes: number;
}

/** What the planner is asked. */
export interface LayoutRequest {
  readonly target: LayoutTarget;
  readonly fit: FitMode;
  readonly sizes?: readonly SizeRequest[];
  /** Set when the caller cannot shrink a filesystem (yet): why. Every partition's minimum is then its size. */
  readonly cannotShrink?: string;
}

/** What happens to a partition's size. */
export type SizeChange = 'same' | 'grow' | 'shrink';

/** A partition in its new place (its source fields kept: type, GUIDs, name, bootable). */
export interface PlannedPartition extends SourcePartition {
  // ebrLba: a logical partition's EBR, 1 MiB before it (where --fit keep leaves it: as on the source).
  /** Where it was on the source. */
  readonly from: { readonly startLba: number; readonly sectors: number };
  readonly change: SizeChange;
  /** Its start differs from the source's. */
  readonly moved: boolean;
  /** The fewest sectors it may have, and why. */
  readonly minimumSectors: number;
  readonly rule: string;
}

/** The new layout, ready for the table encoders and for the plan screen. */
export interface LayoutPlan {
  readonly table: 'gpt' | 'mbr';
  readonly sectorSize: number;
  readonly diskSectors: number;
  readonly fit: FitMode;
  /** Sectors partitions are aligned to (1 MiB). */
  readonly alignSectors: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  /** Every partition in disk order, the extended one included (logicals after it). */
  readonly partitions: readonly PlannedPartition[];
  /** A GPT's backup entry array and header at the new end. */
  readonly gptBackup?: { readonly entriesLba: number; readonly headerLba: number };
  /** The smallest disk this source fits on with this fit and these sizes. */
  readonly minimumBytes: number;
  readonly notes: readonly string[];
}

/** `--size N=SIZE` as typed: partition N, SIZE in bytes or with a binary unit (500M, 2G, 1.5T). */
export function parseSizeRequest(text: string): SizeRequest | undefined {
  const match = /^\s*(\d+)\s*=\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!match) return undefined;
  const power = ' kmgt'.indexOf((match[3] || ' ').toLowerCase());
  return { partition: Number(match[1]), bytes: Math.floor(Number(match[2]) * 1024 ** power) };
}

/** Every --size N=SIZE value, parsed; LB_INPUT_USAGE names the first one that is not N=SIZE. */
export function parseSizeRequests(values: readonly string[]): SizeRequest[] {
  return values.map((text) => {
    const request = parseSizeRequest(text);
    if (!request) throw new LifeboatError('LB_INPUT_USAGE', { detail: `--size ${text}: expected N=SIZE (e.g. 3=40G).` });
    return request;
  });
}
