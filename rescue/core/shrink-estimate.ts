// How much a shrink writes into the copy-on-write overlay (io/copy-on-write-overlay.ts), known
// before it starts, so that a shrink that cannot fit is refused with its figures instead of failing
// midway: every used byte past the new end moves below it (one write each), and the tools rewrite
// metadata: ext's bitmaps, inode tables and descriptors, NTFS's $MFT records, $Bitmap and the
// $LogFile ntfsresize resets (up to 64 MiB). The margin is generous: refusing costs a --scratch
// folder, running out midway costs the whole run. FAT and exFAT are made again in a scratch file and
// their files copied (io/rebuild-filesystem.ts): every used byte is written there, not in memory.

import { LifeboatError } from './errors.ts';
import type { UsedBlockMap } from './block-maps/used-block-map.ts';

/** Metadata a shrink rewrites besides the moved data: a fixed part plus a share of the new size. */
export const SHRINK_METADATA_FIXED_BYTES = 80 * 1024 * 1024;
export const SHRINK_METADATA_SHARE = 0.02;

/** Metadata of a filesystem made again by copying: its FATs, bitmap and directories, a fixed part plus a share. */
export const REBUILD_METADATA_FIXED_BYTES = 8 * 1024 * 1024;
export const REBUILD_METADATA_SHARE = 0.01;

/** The estimate and what it is made of. */
export interface ShrinkEstimate {
  readonly movedBytes: number;
  readonly metadataBytes: number;
  readonly overlayBytes: number;
  /** Set for a filesystem made again by copying: the room is the scratch folder only. */
  readonly scratchOnly?: boolean;
}

/** True for the filesystems made smaller by making them again and copying their files (FAT, exFAT). */
export function shrinksByCopy(filesystem: string): boolean {
  return filesystem === 'vfat' || filesystem === 'exfat';
}

/** Bytes the overlay (or, for FAT and exFAT, the scratch file) should hold to shrink the filesystem of `map` to `newSize` bytes. */
export async function estimateShrinkOverlay(map: UsedBlockMap, newSize: number, filesystem?: string): Promise<ShrinkEstimate> {
  const byCopy = filesystem !== undefined && shrinksByCopy(filesystem);
  let movedBytes = 0;
  for await (const extent of map.extents()) {
    const end = extent.offset + extent.length;
    if (byCopy) movedBytes += extent.length;
    else if (end > newSize) movedBytes += end - Math.max(extent.offset, newSize);
  }
  const metadataBytes = byCopy
    ? Math.min(newSize, REBUILD_METADATA_FIXED_BYTES + Math.ceil(newSize * REBUILD_METADATA_SHARE))
    : Math.min(map.sizeBytes, SHRINK_METADATA_FIXED_BYTES + Math.ceil(newSize * SHRINK_METADATA_SHARE));
  return { movedBytes, metadataBytes, overlayBytes: movedBytes + metadataBytes, ...(byCopy ? { scratchOnly: true } : {}) };
}

/** Refuses (LB_DEVICE_SCRATCH_TOO_SMALL, with the figures) when the room cannot hold the estimate. */
export function checkShrinkRoom(estimate: ShrinkEstimate, room: { readonly memoryBytes: number; readonly scratchBytes: number; readonly scratchFolder?: string }): void {
  const memoryBytes = estimate.scratchOnly ? 0 : room.memoryBytes;
  if (estimate.overlayBytes <= memoryBytes + room.scratchBytes) return;
  throw new LifeboatError('LB_DEVICE_SCRATCH_TOO_SMALL', {
    detail: estimate.scratchOnly
      ? `Shrinking this filesystem makes it again in a scratch file and copies its files: about ${estimate.overlayBytes} bytes (${estimate.movedBytes} used, ${estimate.metadataBytes} of metadata); there are ${room.scratchBytes} in ${room.scratchFolder ?? 'no scratch folder'}.`
      : `Shrinking needs room for about ${estimate.overlayBytes} bytes of rewritten blocks (${estimate.movedBytes} to move past the new end, ${estimate.metadataBytes} of metadata); there are ${room.memoryBytes} bytes of memory for it and ${room.scratchBytes} in ${room.scratchFolder ?? 'no scratch folder'}.`,
    neededBytes: estimate.overlayBytes, movedBytes: estimate.movedBytes, metadataBytes: estimate.metadataBytes, memoryBytes, scratchBytes: room.scratchBytes,
  });
}
