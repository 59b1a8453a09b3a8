// The real partclone as an oracle for used-block maps: run it, read its v2 image (110-byte
// header, then one bit per block), and expand our extents into the same kind of bitmap.

import { execa } from 'execa';
import { open, rm } from 'node:fs/promises';
import type { UsedBlockMap } from '../../rescue/core/block-maps/used-block-map.ts';

const HEADER_BYTES = 110;

/** What a partclone v2 image says: header counts, its bitmap, and partclone.info's text. */
export interface PartcloneImage {
  readonly blockSize: number;
  readonly totalBlocks: number;
  readonly usedBlocks: number;
  readonly bitmap: Buffer;
  readonly info: string;
}

/** Runs `partclone.<fs> -c` on an image and reads the partclone image it writes (then deletes it). */
export async function runPartclone(fs: string, image: string): Promise<PartcloneImage> {
  const out = `${image}.pc`;
  await rm(out, { force: true });
  await execa(`partclone.${fs}`, ['-c', '-q', '-L', `${out}.log`, '-s', image, '-O', out], { stdin: 'ignore' });
  const handle = await open(out, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    await handle.read(header, 0, HEADER_BYTES, 0);
    if (header.toString('latin1', 0, 15) !== 'partclone-image' || header.toString('latin1', 30, 34) !== '0002') throw new Error('not a partclone v2 image');
    const totalBlocks = Number(header.readBigUInt64LE(60));
    const bitmap = Buffer.alloc(Math.ceil(totalBlocks / 8));
    await handle.read(bitmap, 0, bitmap.length, HEADER_BYTES);
    const { stdout, stderr } = await execa('partclone.info', [out], { reject: false });
    return { blockSize: header.readUInt32LE(84), totalBlocks, usedBlocks: Number(header.readBigUInt64LE(68)), bitmap, info: `${stdout}\n${stderr}` };
  } finally {
    await handle.close();
    await rm(out, { force: true });
    await rm(`${out}.log`, { force: true });
  }
}

/** partclone.info's "Space in use" block count. */
export function infoUsedBlocks(info: string): number {
  return Number(/Space in use:.*?=\s*(\d+) Blocks/.exec(info)?.[1] ?? -1);
}

/** Our extents as a bitmap of `unit`-byte blocks; throws on extents out of order, overlapping, outside, or (when asked) unaligned. */
export async function extentsToBitmap(map: UsedBlockMap, unit: number, totalUnits: number, options: { aligned?: boolean } = {}): Promise<Buffer> {
  const bitmap = Buffer.alloc(Math.ceil(totalUnits / 8));
  let previousEnd = -1;
  for await (const { offset, length } of map.extents()) {
    if (offset <= previousEnd || length <= 0 || offset + length > map.sizeBytes) throw new Error(`bad extent ${offset}+${length} after ${previousEnd}, size ${map.sizeBytes}`);
    if (options.aligned && (offset % unit !== 0 || length % unit !== 0)) throw new Error(`unaligned extent ${offset}+${length}`);
    previousEnd = offset + length;
    for (let block = Math.floor(offset / unit); block < Math.ceil((offset + length) / unit); block++) bitmap[block >> 3] = (bitmap[block >> 3] ?? 0) | (1 << (block & 7));
  }
  return bitmap;
}
