// How much a shrink writes into the copy-on-write overlay (io/copy-on-write-overlay.ts), known
// before it starts, so that a shrink that cannot fit is refused with its figures instead of failing
// midway: every used byte past the new end moves below it (one write each), and the tools rewrite
// metadata: ext's bitmaps, inode tables and descriptors, NTFS's $MFT records, $Bitmap and the
// $LogFile ntfsresize resets (up to 64 MiB). The margin is generous: refusing costs a --scratch
// folder, running out midway costs the whole run.

import { LifeboatError } from './errors.ts';
import type { UsedBlockMap } from './block-maps/used-block-map.ts';

/** Metadata a shrink rewrites besides the moved data: a fixed part plus a share of the new size. */
export const SHRINK_METADATA_FIXED_BYTES = 80 * 1024 * 1024;
export const SHRINK_METADATA_SHARE = 0.02;

/** The estimate and what it is made of. */
export interface ShrinkEstimate {
  readonly movedBytes: number;
  readonly metadataBytes: number;
  readonly overlayBytes: number;
}

/** Bytes the overlay should hold to shrink the filesystem of `map` to `newSize` bytes. */
export async function estimateShrinkOverlay(map: UsedBlockMap, newSize: number): Promise<ShrinkEstimate> {
  let movedBytes = 0;
  for await (const extent of map.extents()) {
    const end = extent.offset + extent.length;
    if (end > newSize) movedBytes += end - Math.max(extent.offset, newSize);
  }
  const metadataBytes = Math.min(map.sizeBytes, SHRINK_METADATA_FIXED_BYTES + Math.ceil(newSize * SHRINK_METADATA_SHARE));
  return { movedBytes, metadataBytes, overlayBytes: movedBytes + metadataBytes };
}

/** Refuses (LB_DEVICE_SCRATCH_TOO_SMALL, with the figures) when the room cannot hold the estimate. */
export function checkShrinkRoom(estimate: ShrinkEstimate, room: { readonly memoryBytes: number; readonly scratchBytes: number; readonly scratchFolder?: string }): void {
  if (estimate.overlayBytes <= room.memoryBytes + room.scratchBytes) return;
  throw new LifeboatError('LB_DEVICE_SCRATCH_TOO_SMALL', {
    detail: `Shrinking needs room for about ${estimate.overlayBytes} bytes of rewritten blocks (${estimate.movedBytes} to move past the new end, ${estimate.metadataBytes} of metadata); there are ${room.memoryBytes} bytes of memory for it and ${room.scratchBytes} in ${room.scratchFolder ?? 'no scratch folder'}.`,
    neededBytes: estimate.overlayBytes, movedBytes: estimate.movedBytes, metadataBytes: estimate.metadataBytes, memoryBytes: room.memoryBytes, scratchBytes: room.scratchBytes,
  });
}
