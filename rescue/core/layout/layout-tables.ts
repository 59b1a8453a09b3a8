// A layout plan turned into what the table encoders take (partition-table/mbr.ts layoutMbr with
// its EBR chain, partition-table/gpt.ts encodeGpt with its backup at the new end), and a source
// layout read from a partition table (a disk's or a snapshot's) with the facts of its partitions.

import type { GptLayout } from '../partition-table/gpt.ts';
import type { MbrLayout } from '../partition-table/mbr.ts';
import { describePartitionType } from '../partition-table/partition-types.ts';
import type { LayoutPlan, SourceLayout, SourcePartition } from './layout-types.ts';

/** What the planner needs of a table: PartitionTableInfo and SnapshotTable both fit. */
export interface TableLike {
  readonly kind: 'gpt' | 'mbr' | 'none';
  readonly sectorSize: number;
  readonly diskSectors: number;
  readonly gptEntryCount?: number;
  readonly gpt?: { readonly entryCount: number };
  /** A table read from a disk: its EBRs, in the order of the logical partitions. */
  readonly mbr?: { readonly logicals: ReadonlyArray<{ readonly ebrLba: number }> };
  readonly partitions: ReadonlyArray<Omit<SourcePartition, 'role' | 'filesystem' | 'usedBytes' | 'minimumBytes'>>;
}

/** A partition's facts read elsewhere (probe, block map, minimum-size probe). */
export interface PartitionFacts {
  readonly filesystem?: string | undefined;
  readonly usedBytes?: number | undefined;
  readonly minimumBytes?: number | undefined;
}

/** The planner's source from a table and each partition's facts (by number); roles come from the types. */
export function sourceLayoutOf(table: TableLike, facts: ReadonlyMap<number, PartitionFacts>): SourceLayout {
  if (table.kind === 'none') throw new Error('a disk without a partition table has no layout to plan');
  return {
    table: table.kind,
    sectorSize: table.sectorSize,
    diskSectors: table.diskSectors,
    gptEntryCount: table.gptEntryCount ?? table.gpt?.entryCount,
    partitions: table.partitions.map((partition) => {
      const ebrLba = partition.kind === 'logical' ? table.mbr?.logicals[partition.number - 5]?.ebrLba : undefined;
      return { ...partition, role: describePartitionType(partition.type).role, ...(ebrLba === undefined ? {} : { ebrLba }), ...facts.get(partition.number) };
    }),
  };
}

/** The MBR of a planned layout: primaries in their slots, the logical partitions with their EBRs. */
export function mbrLayoutOf(plan: LayoutPlan, keep: { diskSignature: number; bootCode?: Uint8Array }): MbrLayout {
  if (plan.table !== 'mbr') throw new Error('not an MBR plan');
  const primaries: Array<MbrLayout['primaries'][number]> = [undefined, undefined, undefined, undefined];
  for (const partition of plan.partitions) {
    if (partition.kind === 'logical') continue;
    primaries[partition.number - 1] = { type: Number.parseInt(partition.type, 16), start: partition.startLba, sectors: partition.sectors, bootable: partition.bootable };
  }
  // An EBR place the plan does not know: the first at the extended partition's start (where the chain begins), the others in the sector before their partition.
  const extendedStart = plan.partitions.find((partition) => partition.kind === 'extended')?.startLba;
  const logicals = plan.partitions.filter((partition) => partition.kind === 'logical').map((partition, index) => ({ type: Number.parseInt(partition.type, 16), start: partition.startLba, sectors: partition.sectors, bootable: partition.bootable, ebrLba: partition.ebrLba ?? (index === 0 && extendedStart !== undefined ? extendedStart : partition.startLba - 1) }));
  return { diskSignature: keep.diskSignature, ...(keep.bootCode ? { bootCode: keep.bootCode } : {}), primaries, logicals };
}

/** The GPT of a planned layout (entries keep their numbers, types, GUIDs, names and attributes). */
export function gptLayoutOf(plan: LayoutPlan, keep: { diskGuid: string; entryCount?: number }): GptLayout {
  if (plan.table !== 'gpt') throw new Error('not a GPT plan');
  return {
    sectorSize: plan.sectorSize,
    diskSectors: plan.diskSectors,
    diskGuid: keep.diskGuid,
    firstUsableLba: plan.firstUsableLba,
    lastUsableLba: plan.lastUsableLba,
    ...(keep.entryCount === undefined ? {} : { entryCount: keep.entryCount }),
    entries: plan.partitions.map((partition) => ({
      index: partition.number, typeGuid: partition.type, uniqueGuid: partition.uuid ?? '00000000-0000-0000-0000-000000000000',
      firstLba: partition.startLba, lastLba: partition.startLba + partition.sectors - 1, name: partition.name ?? '',
      ...(partition.attributes === undefined ? {} : { attributes: partition.attributes }),
    })),
  };
}
