// What a restore will overwrite on its target, printed with the plan (--dry-run, and before the
// confirmation) as the TUI's confirmation lists it: the target's table and each partition with its
// filesystem, label, used space and size (core/disk-layout.ts draws both).

import { describeLoss, overwrittenPartitions, type MapPartition, type WrittenRange } from '../../core/disk-layout.ts';
import { readTargetMap } from '../../ops/read-target-layout.ts';
import type { OpenedRestoreTarget } from '../../ops/restore.ts';

/** The lines to print, and the partitions lost (for --json). */
export interface TargetLoss {
  readonly lines: readonly string[];
  readonly lost: readonly MapPartition[];
}

/**
 * Reads the target (never writes) and says what the plan overwrites: `kind` 'partition' when the
 * target is one volume; `overwritten` the ranges a system restore writes (undefined: all of it).
 */
export async function describeTargetLoss(target: OpenedRestoreTarget, plan: { kind: 'disk' | 'partition' | 'system'; overwritten?: readonly WrittenRange[] }): Promise<TargetLoss> {
  const before = await readTargetMap(target, { sectorSize: target.facts.logicalSectorSize, fresh: target.facts.fresh, volume: plan.kind === 'partition' });
  if (!before) return { lines: [], lost: [] };
  return { lines: describeLoss(before, target.facts.description, plan.overwritten), lost: overwrittenPartitions(before, plan.overwritten) };
}
