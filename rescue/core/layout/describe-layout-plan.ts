// A layout plan as people read it on the plan screen and in --dry-run: each partition's old and
// new place and size, what grows or shrinks and why it may, and where the GPT backup goes.

import { formatBytes, formatOffset } from '../human-units.ts';
import type { LayoutPlan, PlannedPartition } from './layout-types.ts';

const FIT_WORDS: Readonly<Record<LayoutPlan['fit'], string>> = {
  largest: 'the largest data partition takes up the difference',
  proportional: 'the data partitions share the space by their sizes',
  keep: 'every partition stays where it is',
};

function describePartition(plan: LayoutPlan, partition: PlannedPartition): string {
  const bytes = (sectors: number) => formatBytes(sectors * plan.sectorSize);
  const what = partition.kind === 'extended' ? 'extended' : (partition.filesystem ?? 'unknown');
  const size = partition.change === 'same' ? bytes(partition.sectors) : `${bytes(partition.from.sectors)} -> ${bytes(partition.sectors)}`;
  const change = partition.kind === 'extended' ? '' : partition.change === 'grow' ? ', grows' : partition.change === 'shrink' ? `, shrinks (${partition.rule})` : '';
  const moved = partition.moved ? ` (was at ${formatOffset(partition.from.startLba * plan.sectorSize)})` : '';
  return `${partition.number}: ${what}, ${size} at ${formatOffset(partition.startLba * plan.sectorSize)}${moved}${change}`;
}

/** The plan as lines (no indentation; the caller indents). */
export function describeLayoutPlan(plan: LayoutPlan): string[] {
  const lines = [`New layout (${plan.table.toUpperCase()}, ${formatBytes(plan.diskSectors * plan.sectorSize)}; ${FIT_WORDS[plan.fit]}; needs at least ${formatBytes(plan.minimumBytes)}):`];
  for (const partition of plan.partitions) lines.push(`  ${describePartition(plan, partition)}`);
  if (plan.gptBackup) lines.push(`  backup GPT at the new end (LBA ${plan.gptBackup.entriesLba}-${plan.gptBackup.headerLba})`);
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  return lines;
}
