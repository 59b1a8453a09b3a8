// How much room a shrink's copy-on-write overlay may take on this machine: a share of the memory
// the kernel reports available, and the free space of a scratch folder (--scratch DIR) when one is
// given. A scratch folder on tmpfs or ramfs is memory too (the medium's /tmp is): it adds nothing.

import { readFile, statfs } from 'node:fs/promises';
import type { OverlayBudget } from './copy-on-write-overlay.ts';

/** The share of MemAvailable the overlay may fill, and what is left to the rest of the run. */
export const OVERLAY_MEMORY_SHARE = 0.5;
export const SCRATCH_RESERVE_BYTES = 64 * 1024 * 1024;
const MEMORY_FILESYSTEMS = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);

/** MemAvailable from /proc/meminfo, in bytes (0 when it cannot be read). */
async function availableMemory(): Promise<number> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const kib = Number(/^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
  return kib * 1024;
}

/** The room for a shrink: memory, and the scratch folder's free bytes less a reserve. */
export async function measureShrinkRoom(options: { readonly scratchFolder?: string } = {}): Promise<OverlayBudget> {
  const memoryBytes = Math.floor((await availableMemory()) * OVERLAY_MEMORY_SHARE / 4096) * 4096;
  if (options.scratchFolder === undefined) return { memoryBytes };
  const info = await statfs(options.scratchFolder);
  const free = MEMORY_FILESYSTEMS.has(info.type) ? 0 : info.bavail * info.bsize;
  return { memoryBytes, scratchFolder: options.scratchFolder, scratchBytes: Math.max(0, free - SCRATCH_RESERVE_BYTES) };
}
