// The used-block map of a filesystem: which byte ranges hold data or metadata, so a backup reads
// and stores only those. Each filesystem's reader (ext.ts, fat.ts, exfat.ts, ntfs.ts) returns one;
// anything else gets the whole-device map, and a notice that the backup goes sector by sector.

import type { ByteSource } from '../byte-source.ts';

/** A run of used bytes, from the start of the filesystem. */
export interface UsedExtent {
  readonly offset: number;
  readonly length: number;
}

/** What is allocated on a filesystem, as the filesystem's own allocation structures say. */
export interface UsedBlockMap {
  readonly filesystem: string;
  /** The unit the filesystem allocates in (ext block, FAT/exFAT/NTFS cluster); partclone's block size where it uses another. */
  readonly blockSize: number;
  readonly totalBlocks: number;
  readonly usedBlocks: number;
  /** Bytes the map covers (the filesystem's size). */
  readonly sizeBytes: number;
  /** When the map is not the filesystem's own (unknown filesystem: every block). */
  readonly notice: string | undefined;
  /** Used extents in ascending order, merged, non-overlapping, inside [0, sizeBytes). */
  extents(): AsyncIterable<UsedExtent>;
}

/** Reads a filesystem's map; undefined when this reader does not handle the bytes. */
export type UsedBlockMapReader = (source: ByteSource) => Promise<UsedBlockMap | undefined>;

/** Every block of the source as used: the map of a filesystem Lifeboat cannot read. */
export function wholeDeviceMap(source: ByteSource, filesystem: string, blockSize = 4096): UsedBlockMap {
  const totalBlocks = Math.ceil(source.size / blockSize);
  return {
    filesystem,
    blockSize,
    totalBlocks,
    usedBlocks: totalBlocks,
    sizeBytes: source.size,
    notice: `The ${filesystem} filesystem's allocation is not read by Lifeboat: every sector will be backed up (sector by sector).`,
    async *extents() {
      if (source.size > 0) yield { offset: 0, length: source.size };
    },
  };
}

/** Merges adjacent or touching extents from an ascending stream (readers use it to emit runs). */
export async function* mergeExtents(extents: AsyncIterable<UsedExtent> | Iterable<UsedExtent>): AsyncIterable<UsedExtent> {
  let pending: UsedExtent | undefined;
  for await (const extent of extents) {
    if (extent.length <= 0) continue;
    if (pending && extent.offset <= pending.offset + pending.length) {
      const end = Math.max(pending.offset + pending.length, extent.offset + extent.length);
      pending = { offset: pending.offset, length: end - pending.offset };
    } else {
      if (pending) yield pending;
      pending = extent;
    }
  }
  if (pending) yield pending;
}
