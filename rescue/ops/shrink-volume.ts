// Lands a filesystem on a partition smaller than its source without writing the source (issue 16):
// the overlay the shrink needs is estimated from the source's used-block map and refused with its
// figures when the room cannot hold it; the filesystem is shrunk on a copy-on-write view (the
// shrinkOnView port: io/shrink-view.ts), then the shrunk filesystem's used blocks (its own map, read
// from the view) and its last block (NTFS's backup boot sector) are written to the target.

import { readInto, type ByteSource } from '../core/byte-source.ts';
import { readUsedBlockMap } from '../core/block-maps/read-used-block-map.ts';
import { LifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { checkShrinkRoom, estimateShrinkOverlay, type ShrinkEstimate } from '../core/shrink-estimate.ts';

/** Where the shrunk filesystem goes: a partition (or a window of a disk) of at least newSize bytes. */
export interface ShrinkTarget {
  readonly size: number;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  sync(): Promise<void>;
}

/** The room the overlay may use: memory, and a scratch folder with its free bytes. */
export interface ShrinkRoom {
  readonly memoryBytes: number;
  readonly scratchFolder?: string;
  readonly scratchBytes?: number;
}

/** The port that shrinks on a view (io/shrink-view.ts shrinkOnView). */
export type ShrinkOnView = (request: { source: ByteSource; filesystem: string; newSize: number; budget: ShrinkRoom; signal?: AbortSignal }) => Promise<{
  readonly view: ByteSource;
  readonly usage: { readonly blocks: number; readonly memoryBytes: number; readonly scratchBytes: number };
  close(): Promise<void>;
}>;

/** What shrinkVolumeOnto needs. */
export interface ShrinkVolumeRequest {
  /** The source filesystem, read only (a device, an image's partition, a snapshot's volume). */
  readonly source: ByteSource;
  /** Its type as probed (ext2/3/4, ntfs; vfat and exfat are made again and copied). */
  readonly filesystem: string;
  /** The new filesystem size in bytes: the planner's partition size, rounded down to 4 KiB. */
  readonly newSize: number;
  readonly target: ShrinkTarget;
  /** Byte offset in the target where the filesystem starts (0 for a partition device). */
  readonly targetOffset?: number;
  readonly room: ShrinkRoom;
  readonly shrinkOnView: ShrinkOnView;
  readonly signal?: AbortSignal;
  /** Bytes written so far, after each piece. */
  readonly onProgress?: (written: number, total: number) => void;
}

/** What was done. */
export interface ShrinkVolumeResult {
  readonly estimate: ShrinkEstimate;
  readonly overlay: { readonly blocks: number; readonly memoryBytes: number; readonly scratchBytes: number };
  readonly writtenBytes: number;
}

const PIECE_BYTES = 4 * 1024 * 1024;
const LAST_BLOCK_BYTES = 4096;

function stopped(): LifeboatError {
  return new LifeboatError('LB_INPUT_STOPPED', { detail: 'Stopped while the shrunk filesystem was being written: the target is incomplete; the source was not written.' });
}

/** Shrinks `source`'s filesystem to `newSize` on a view and writes it to the target. */
export async function shrinkVolumeOnto(request: ShrinkVolumeRequest): Promise<ShrinkVolumeResult> {
  const newSize = Math.floor(request.newSize / LAST_BLOCK_BYTES) * LAST_BLOCK_BYTES;
  const offset = request.targetOffset ?? 0;
  if (offset + newSize > request.target.size) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `The shrunk filesystem needs ${newSize} bytes from byte ${offset}; the target holds ${request.target.size}.`, neededBytes: offset + newSize, targetBytes: request.target.size });
  }
  const sourceMap = await readUsedBlockMap(request.source, await probeFilesystem(request.source));
  const estimate = await estimateShrinkOverlay(sourceMap, newSize, request.filesystem);
  checkShrinkRoom(estimate, { memoryBytes: request.room.memoryBytes, scratchBytes: request.room.scratchBytes ?? 0, scratchFolder: request.room.scratchFolder });
  const shrunk = await request.shrinkOnView({ source: request.source, filesystem: request.filesystem, newSize, budget: request.room, signal: request.signal });
  try {
    const map = await readUsedBlockMap(shrunk.view, await probeFilesystem(shrunk.view));
    const total = map.usedBlocks * map.blockSize;
    const piece = new Uint8Array(PIECE_BYTES);
    let written = 0;
    const copy = async (from: number, length: number) => {
      for (let done = 0; done < length; done += PIECE_BYTES) {
        if (request.signal?.aborted) throw stopped();
        const bytes = piece.subarray(0, Math.min(PIECE_BYTES, length - done));
        await readInto(shrunk.view, bytes, from + done);
        await request.target.write(offset + from + done, bytes);
        written += bytes.length;
        request.onProgress?.(written, total);
      }
    };
    let lastCovered = false;
    for await (const extent of map.extents()) {
      const length = Math.min(extent.length, newSize - extent.offset);
      if (length <= 0) continue;
      await copy(extent.offset, length);
      if (extent.offset + length >= newSize) lastCovered = true;
    }
    if (!lastCovered) await copy(newSize - LAST_BLOCK_BYTES, LAST_BLOCK_BYTES);
    await request.target.sync();
    return { estimate, overlay: shrunk.usage, writtenBytes: written };
  } finally {
    await shrunk.close();
  }
}
