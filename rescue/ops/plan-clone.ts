// Plans a clone from its opened endpoints, for the CLI's `clone disk|partition` and the TUI's Clone
// action alike: reads the source's table and probes each partition (read-only), lays the partitions
// out for the target (core/layout/plan-layout.ts) and turns that into steps (core/clone/clone-plan.ts).

import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { planDiskClone, planPartitionClone, type ClonePlan } from '../core/clone/clone-plan.ts';
import { formatBytes } from '../core/disk-facts.ts';
import { LifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { sourceLayoutOf, type PartitionFacts } from '../core/layout/layout-tables.ts';
import type { FitMode, SizeRequest } from '../core/layout/layout-types.ts';
import { planLayout } from '../core/layout/plan-layout.ts';
import { readPartitionTable, type PartitionTableInfo } from '../core/partition-table/partition-table.ts';
import type { OpenedRestoreTarget } from './restore.ts';

/** Each partition's filesystem and use, probed on the source (read-only; clone system probes with it too). */
export async function probePartitions(source: ByteSource, table: PartitionTableInfo): Promise<Map<number, PartitionFacts>> {
  const facts = new Map<number, PartitionFacts>();
  for (const partition of table.partitions) {
    if (partition.kind === 'extended') continue;
    const probe = await probeFilesystem(sliceSource(source, partition.startLba * table.sectorSize, partition.sectors * table.sectorSize)).catch(() => undefined);
    facts.set(partition.number, { filesystem: probe?.type, usedBytes: probe?.usedBytes });
  }
  return facts;
}

/** A disk clone's source table (undefined for a partition clone); refuses a disk without one, before the target is opened. */
export async function readCloneSourceTable(source: ByteSource, options: { kind: 'disk' | 'partition'; path: string; sectorSize: number }): Promise<PartitionTableInfo | undefined> {
  if (options.kind !== 'disk') return undefined;
  const table = await readPartitionTable(source, options.sectorSize);
  if (table.kind === 'none') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${options.path} has no partition table; clone its filesystem with \`clone partition\`.`, path: options.path });
  return table;
}

/** What a clone is planned from: the source (its table when a disk), the opened target and the choices. */
export interface CloneRequest {
  readonly sourcePath: string;
  readonly source: ByteSource;
  readonly sectorSize: number;
  /** The source's table (readCloneSourceTable): a disk clone; undefined: a partition clone. */
  readonly table: PartitionTableInfo | undefined;
  readonly target: OpenedRestoreTarget;
  readonly fit: FitMode;
  readonly sizes: readonly SizeRequest[];
  readonly sectorBySector: boolean;
  /** Where a partition device starts on its disk (io/clone-targets.ts). */
  readonly partitionStartLba: (device: string, sectorSize: number) => Promise<number | undefined>;
}

/** The clone's plan (nothing is written). */
export async function planClone(request: CloneRequest): Promise<ClonePlan> {
  const { source, target, table, sectorSize } = request;
  const description = target.facts.description;
  if (table) {
    const partitions = await probePartitions(source, table);
    const layout = planLayout(sourceLayoutOf(table, partitions), { target: { sizeBytes: target.size, sectorSize: target.facts.logicalSectorSize, description }, fit: request.fit, sizes: request.sizes });
    return planDiskClone({ source: { path: request.sourcePath, sizeBytes: source.size, table }, filesystems: new Map([...partitions].map(([number, entry]) => [number, entry.filesystem])), target: { description, sizeBytes: target.size }, layout, sectorBySector: request.sectorBySector });
  }
  const probe = await probeFilesystem(source).catch(() => undefined);
  const startLba = target.backing.offset > 0 ? target.backing.offset / sectorSize : await request.partitionStartLba(target.backing.path, sectorSize);
  return planPartitionClone({ source: { path: request.sourcePath, sizeBytes: source.size, filesystem: probe?.type }, target: { description, sizeBytes: target.size, startLba: startLba ?? 0 }, sectorBySector: request.sectorBySector });
}

/** A stopped clone, saying what it leaves (anything else passes unchanged). */
export function stoppedClone(error: unknown, target: OpenedRestoreTarget, done: { bytes: number }): unknown {
  if (!(error instanceof LifeboatError) || error.code !== 'LB_INPUT_STOPPED') return error;
  return new LifeboatError('LB_INPUT_STOPPED', { ...error.details, detail: `Stopped after copying ${formatBytes(done.bytes)}: ${target.facts.description} holds part of the copy and no partition table. Clone again before using it.`, target: target.facts.path }, { cause: error });
}
