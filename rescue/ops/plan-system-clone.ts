// Plans `clone system` from its opened endpoints: decides (read-only, before the target is opened)
// which partitions the installed system needs, with the selection `backup system` makes
// (ops/gather-system-facts.ts), and refuses a disk with none; then lays only those out for the
// target and turns that into steps (core/clone/system-clone-plan.ts).

import type { ByteSource } from '../core/byte-source.ts';
import { packedDiskBytes, planSystemClone, refuseWithoutSystem, systemLayoutOf, type SystemClonePlan } from '../core/clone/system-clone-plan.ts';
import { sourceLayoutOf, type PartitionFacts } from '../core/layout/layout-tables.ts';
import type { FitMode, SizeRequest, SourceLayout } from '../core/layout/layout-types.ts';
import { planLayout } from '../core/layout/plan-layout.ts';
import { readPartitionTable, type PartitionTableInfo } from '../core/partition-table/partition-table.ts';
import { selectSystemPartitions, type SystemChoice, type SystemSelectionInput } from '../core/repository/system-selection.ts';
import { gatherSystemInput } from './gather-system-facts.ts';
import { probePartitions } from './plan-clone.ts';
import type { OpenedRestoreTarget } from './restore.ts';

/** The source of a system clone as read before the target is opened. */
export interface SystemCloneSource {
  readonly table: PartitionTableInfo;
  readonly selection: SystemSelectionInput;
  readonly choices: readonly SystemChoice[];
  readonly partitions: ReadonlyMap<number, PartitionFacts>;
  /** The whole disk's layout, and the chosen partitions' alone. */
  readonly whole: SourceLayout;
  readonly system: SourceLayout;
  /** The size a new image file is made: the chosen partitions packed at their sizes. */
  readonly packedBytes: number;
}

/** Reads the source's table, its system selection and probes; LB_INPUT_NO_SYSTEM when nothing boots from it. */
export async function readSystemCloneSource(source: ByteSource, options: { path: string; sectorSize: number }): Promise<SystemCloneSource> {
  const selection = await gatherSystemInput(source, options.sectorSize);
  const choices = selectSystemPartitions(selection);
  refuseWithoutSystem(choices, options.path);
  const table = await readPartitionTable(source, options.sectorSize);
  const partitions = await probePartitions(source, table);
  const whole = sourceLayoutOf(table, partitions);
  const system = systemLayoutOf(whole, choices);
  return { table, selection, choices, partitions, whole, system, packedBytes: packedDiskBytes(system) };
}

/** What a system clone is planned onto. */
export interface SystemCloneRequest {
  readonly sourcePath: string;
  readonly sourceBytes: number;
  readonly read: SystemCloneSource;
  readonly target: OpenedRestoreTarget;
  readonly fit: FitMode;
  readonly sizes: readonly SizeRequest[];
  readonly sectorBySector: boolean;
}

/** The system clone's plan (nothing is written). */
export function planSystemCloneOnto(request: SystemCloneRequest): SystemClonePlan {
  const { read, target } = request;
  const description = target.facts.description;
  const layout = planLayout(read.system, { target: { sizeBytes: target.size, sectorSize: target.facts.logicalSectorSize, description }, fit: request.fit, sizes: request.sizes });
  return planSystemClone({
    source: { path: request.sourcePath, sizeBytes: request.sourceBytes, table: read.table }, filesystems: new Map([...read.partitions].map(([number, entry]) => [number, entry.filesystem])),
    target: { description, sizeBytes: target.size }, layout, sectorBySector: request.sectorBySector, selection: read.selection, choices: read.choices, sourceLayout: read.whole,
  });
}
