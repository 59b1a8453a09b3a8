// Cuts a volume's used extents into fixed chunks at fixed device offsets (chunk i covers
// [i*chunkBytes, (i+1)*chunkBytes)), so an unchanged region of a disk gives the same chunk, and
// the same id, in every backup: that is what makes the second backup store only what changed.

import type { ByteExtent } from './format.ts';

/** One chunk to read: its index, its range on the volume and the used extents inside it. */
export interface ChunkSpan {
  readonly index: number;
  readonly start: number;
  readonly length: number;
  /** Used extents clipped to the chunk, with absolute offsets. */
  readonly used: readonly ByteExtent[];
}

/** Number of chunks of a volume of `sizeBytes`. */
export function chunkCount(sizeBytes: number, chunkBytes: number): number {
  return Math.ceil(sizeBytes / chunkBytes);
}

/** The chunks touched by ascending, non-overlapping extents, each with its clipped extents. */
export async function* planChunks(extents: AsyncIterable<ByteExtent> | Iterable<ByteExtent>, sizeBytes: number, chunkBytes: number): AsyncIterable<ChunkSpan> {
  let current: { index: number; used: ByteExtent[] } | undefined;
  const spanOf = (entry: { index: number; used: ByteExtent[] }): ChunkSpan => {
    const start = entry.index * chunkBytes;
    return { index: entry.index, start, length: Math.min(chunkBytes, sizeBytes - start), used: entry.used };
  };
  for await (const extent of extents) {
    let offset = extent.offset;
    const end = Math.min(extent.offset + extent.length, sizeBytes);
    while (offset < end) {
      const index = Math.floor(offset / chunkBytes);
      const pieceEnd = Math.min(end, (index + 1) * chunkBytes);
      if (current && current.index !== index) {
        yield spanOf(current);
        current = undefined;
      }
      current ??= { index, used: [] };
      const last = current.used.at(-1);
      if (last && last.offset + last.length === offset) current.used[current.used.length - 1] = { offset: last.offset, length: last.length + pieceEnd - offset };
      else current.used.push({ offset, length: pieceEnd - offset });
      offset = pieceEnd;
    }
  }
  if (current) yield spanOf(current);
}

/** Zeroes the parts of a chunk buffer (starting at `start`) that no used extent covers. */
export function zeroUnused(buffer: Uint8Array, start: number, used: readonly ByteExtent[]): void {
  let cursor = 0;
  for (const extent of used) {
    const from = extent.offset - start;
    if (from > cursor) buffer.fill(0, cursor, from);
    cursor = from + extent.length;
  }
  if (cursor < buffer.length) buffer.fill(0, cursor);
}

let zeros = new Uint8Array(0);

/** True when every byte is zero (such chunks are not stored: absent from the chunk list). Compared with memcmp. */
export function isAllZero(buffer: Uint8Array): boolean {
  if (zeros.length < buffer.length) zeros = new Uint8Array(buffer.length);
  return Buffer.compare(buffer, zeros.subarray(0, buffer.length)) === 0;
}
