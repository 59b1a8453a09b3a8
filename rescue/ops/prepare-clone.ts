// The steps every clone front end takes, for the CLI's `clone disk|system|partition` and the TUI's
// Clone action alike: read the source as its kind needs (before the target is opened, so a disk
// without a table or without a system is refused first), then plan onto the opened target
// (disk, partition or system), with new ids when asked.

import type { ByteSource } from '../core/byte-source.ts';
import type { ClonePlan } from '../core/clone/clone-plan.ts';
import type { RandomBytes } from '../core/clone/new-ids.ts';
import type { FitMode, SizeRequest } from '../core/layout/layout-types.ts';
import type { PartitionTableInfo } from '../core/partition-table/partition-table.ts';
import { planCloneNewIds } from './clone-new-ids.ts';
import { planClone, readCloneSourceTable, type MeasureMinimum } from './plan-clone.ts';
import { planSystemCloneOnto, readSystemCloneSource, type SystemCloneSource } from './plan-system-clone.ts';
import type { OpenedRestoreTarget } from './restore.ts';

/** What a clone reads of its source before the target is opened. */
export interface CloneSourceRead {
  readonly kind: 'disk' | 'partition' | 'system';
  /** A disk clone's table (a system clone's is in `system`). */
  readonly table: PartitionTableInfo | undefined;
  readonly system: SystemCloneSource | undefined;
  /** The size a new image file is made: the source's, or a system's packed partitions. */
  readonly createBytes: number;
}

/** Reads the source (read-only) as `kind` needs; refuses a disk without a table (LB_INPUT_USAGE) or without a system (LB_INPUT_NO_SYSTEM). */
export async function readCloneSource(source: ByteSource, options: { kind: 'disk' | 'partition' | 'system'; path: string; sectorSize: number }): Promise<CloneSourceRead> {
  const { kind } = options;
  const system = kind === 'system' ? await readSystemCloneSource(source, options) : undefined;
  const table = kind === 'system' ? undefined : await readCloneSourceTable(source, { ...options, kind });
  return { kind, table, system, createBytes: system?.packedBytes ?? source.size };
}

/** What the user chose, and the io a plan needs. */
export interface CloneChoices {
  readonly sourcePath: string;
  readonly source: ByteSource;
  readonly sectorSize: number;
  readonly target: OpenedRestoreTarget;
  readonly fit: FitMode;
  readonly sizes: readonly SizeRequest[];
  readonly sectorBySector: boolean;
  readonly newIds: boolean;
  readonly partitionStartLba: (device: string, sectorSize: number) => Promise<number | undefined>;
  readonly random: RandomBytes;
  /** Measures ext and NTFS minimums when the target is smaller (without it nothing shrinks). */
  readonly measureMinimum?: MeasureMinimum;
}

/** The clone's plan onto the opened target (nothing is written). */
export async function planCloneFrom(read: CloneSourceRead, choices: CloneChoices): Promise<ClonePlan> {
  const { sourcePath, source, sectorSize, target } = choices;
  const choice = { fit: choices.fit, sizes: choices.sizes, sectorBySector: choices.sectorBySector };
  const planned = read.system
    ? planSystemCloneOnto({ sourcePath, sourceBytes: source.size, read: read.system, target, ...choice })
    : await planClone({ sourcePath, source, sectorSize, table: read.table, target, ...choice, partitionStartLba: choices.partitionStartLba, ...(choices.measureMinimum ? { measureMinimum: choices.measureMinimum } : {}) });
  return choices.newIds ? planCloneNewIds({ plan: planned, source, table: read.table ?? read.system?.table, random: choices.random }) : planned;
}
