// A file's bytes on an ext volume: inline (i_block plus the system.data attribute), a fast symlink's
// target in i_block, or blocks through the extent tree / block map. Reads never pass the file's size;
// physically contiguous blocks are fetched in one read; holes and unwritten extents read as zeros.

import { checkRange, readInto } from '../byte-source.ts';
import { corrupt } from '../filesystems/fields.ts';
import type { FileContent } from './file-tree.ts';
import { readBlockRuns, type BlockRun } from './ext-block-runs.ts';
import { EXT_INODE_FLAG, I_BLOCK_BYTES, type ExtInode } from './ext-inode.ts';
import type { ExtVolume } from './ext-volume.ts';
import { inodeXattrs } from './ext-xattrs.ts';

const SYSTEM_INDEX = 7;

/** The bytes of an inline-data inode (i_block, then the system.data value), `size` long. */
export function inlineBytes(volume: ExtVolume, inode: ExtInode): Uint8Array {
  const extra = inodeXattrs(volume, inode).find((x) => x.index === SYSTEM_INDEX && x.suffix === 'data');
  const tail = extra && extra.value instanceof Uint8Array ? extra.value : new Uint8Array(0);
  const all = new Uint8Array(I_BLOCK_BYTES + tail.length);
  all.set(inode.iBlock, 0);
  all.set(tail, I_BLOCK_BYTES);
  return all;
}

/** True when the inode keeps its data inside itself (inline data flag). */
export function isInline(inode: ExtInode): boolean {
  return (inode.flags & EXT_INODE_FLAG.INLINE_DATA) !== 0;
}

/** e2fsprogs' ext2fs_is_fast_symlink (after the inline check): the target sits in i_block. */
export function isFastSymlink(inode: ExtInode): boolean {
  return inode.kind === 'symlink' && !isInline(inode) && inode.size > 0 && inode.size < I_BLOCK_BYTES;
}

/** Opens the inode's main data as a FileContent. */
export function openContent(volume: ExtVolume, inode: ExtInode): FileContent {
  const size = inode.size;
  if (isInline(inode) || isFastSymlink(inode)) {
    const bytes = isInline(inode) ? inlineBytes(volume, inode) : inode.iBlock;
    if (size > bytes.length) throw corrupt('ext', `inode ${inode.number} i_size`, inode.offset + 0x04, `${size} bytes, but only ${bytes.length} are stored inline.`);
    return {
      size,
      read: async (offset, length) => {
        checkRange(size, offset, length);
        return bytes.slice(offset, offset + length);
      },
      dataRanges: async () => (size > 0 ? [{ offset: 0, length: size }] : []),
    };
  }
  let runs: Promise<BlockRun[]> | undefined;
  const getRuns = (): Promise<BlockRun[]> => (runs ??= readBlockRuns(volume, inode));
  return {
    size,
    read: async (offset, length) => {
      checkRange(size, offset, length);
      const target = new Uint8Array(length);
      await readRuns(volume, await getRuns(), target, offset);
      return target;
    },
    readInto: async (target, offset) => {
      checkRange(size, offset, target.length);
      target.fill(0);
      await readRuns(volume, await getRuns(), target, offset);
    },
    dataRanges: async () => {
      const ranges: Array<{ offset: number; length: number }> = [];
      for (const run of await getRuns()) {
        if (run.unwritten) continue;
        const start = run.logical * volume.blockSize;
        const end = Math.min(size, (run.logical + run.count) * volume.blockSize);
        if (end <= start) continue;
        const last = ranges[ranges.length - 1];
        if (last && last.offset + last.length === start) last.length += end - start;
        else ranges.push({ offset: start, length: end - start });
      }
      return ranges;
    },
    placedRanges: async () => (await getRuns()).filter((run) => !run.unwritten && run.logical * volume.blockSize < size).map((run) => ({
      offset: run.logical * volume.blockSize, at: run.physical * volume.blockSize, length: Math.min(size, (run.logical + run.count) * volume.blockSize) - run.logical * volume.blockSize,
    })),
  };
}

/** Fills the parts of zeroed `target` (file bytes from `offset`) that runs map, one read per run. */
async function readRuns(volume: ExtVolume, runs: readonly BlockRun[], target: Uint8Array, offset: number): Promise<void> {
  const blockSize = volume.blockSize;
  const end = offset + target.length;
  const firstBlock = Math.floor(offset / blockSize);
  let low = 0;
  let high = runs.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    const run = runs[middle]!;
    if (run.logical + run.count <= firstBlock) low = middle + 1;
    else high = middle;
  }
  const reads: Array<Promise<void>> = [];
  for (let i = low; i < runs.length; i++) {
    const run = runs[i]!;
    const runStart = run.logical * blockSize;
    if (runStart >= end) break;
    if (run.unwritten) continue;
    const from = Math.max(offset, runStart);
    const to = Math.min(end, (run.logical + run.count) * blockSize);
    if (to <= from) continue;
    reads.push(readInto(volume.source, target.subarray(from - offset, to - offset), run.physical * blockSize + (from - runStart)));
  }
  await Promise.all(reads);
}
