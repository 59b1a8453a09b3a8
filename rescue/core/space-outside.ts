// The space of a disk that no partition, table or saved region covers: the gaps between partitions,
// around the EBRs inside an extended partition, after the last partition. A restore onto a disk that
// held data writes zeros there (as the source had them, or as nothing the snapshot holds), so old
// contents and stale signatures do not survive between the restored partitions.

import { formatBytes } from './human-units.ts';

/** A run of bytes. */
export interface ByteRun {
  readonly offset: number;
  readonly length: number;
}

/** The parts of [0, endBytes) that none of `taken` covers, ascending and merged. */
export function spaceOutside(endBytes: number, taken: readonly ByteRun[]): ByteRun[] {
  const sorted = taken.filter((run) => run.length > 0).map((run) => ({ start: run.offset, end: run.offset + run.length })).sort((a, b) => a.start - b.start);
  const free: ByteRun[] = [];
  let at = 0;
  for (const run of sorted) {
    if (run.start >= endBytes) break;
    if (run.start > at) free.push({ offset: at, length: run.start - at });
    at = Math.max(at, run.end);
  }
  if (at < endBytes) free.push({ offset: at, length: endBytes - at });
  return free;
}

/** How a plan names the zeros it writes: "zeros where the disk has no partition (3 gaps, 5.00 MiB), ...". */
export function describeZeros(runs: readonly ByteRun[]): string {
  const total = runs.reduce((sum, run) => sum + run.length, 0);
  return `zeros where the disk has no partition (${runs.length} gap${runs.length === 1 ? '' : 's'}, ${formatBytes(total)}), so the target's old contents do not stay there`;
}
