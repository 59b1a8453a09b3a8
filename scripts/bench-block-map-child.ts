// The Lifeboat side of bench-block-map.ts, run as a fresh process like partclone: opens the image,
// computes its used-block map (ext4 or NTFS), iterates every extent and prints the figures as JSON.
// The bench bundles it with esbuild first, as the single executable carries the program.
// Usage: node bench-block-map-child.cjs ext4|ntfs IMAGE

import { readExtUsedBlockMap } from '../rescue/core/block-maps/ext.ts';
import { readNtfsUsedBlockMap } from '../rescue/core/block-maps/ntfs.ts';
import type { UsedBlockMapReader } from '../rescue/core/block-maps/used-block-map.ts';
import { openByteSource } from '../rescue/io/file-source.ts';

const READERS: Readonly<Record<string, UsedBlockMapReader>> = { ext4: readExtUsedBlockMap, ntfs: readNtfsUsedBlockMap };

const [fs = '', image = ''] = process.argv.slice(2);
const reader = READERS[fs];
if (!reader || image === '') throw new Error('usage: bench-block-map-child ext4|ntfs IMAGE');
const source = await openByteSource(image);
try {
  const map = await reader(source);
  if (!map) throw new Error(`${image} is not ${fs}`);
  let extents = 0;
  let bytes = 0;
  for await (const extent of map.extents()) {
    extents++;
    bytes += extent.length;
  }
  if (bytes > map.sizeBytes) throw new Error('extents exceed the filesystem');
  console.log(JSON.stringify({ extents, bytes, usedBlocks: map.usedBlocks, totalBlocks: map.totalBlocks, blockSize: map.blockSize }));
} finally {
  await source.close();
}
