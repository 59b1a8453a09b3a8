// Where a file's blocks are: its logical blocks mapped to runs of volume blocks, from the extent tree
// (ext4) or the classic block map (ext2/ext3). Unmapped logical blocks are holes.
// Extent node (12-byte header, then 12-byte entries): 0x00 eh_magic 0xF30A, 0x02 eh_entries,
// 0x04 eh_max, 0x06 eh_depth. Index entry: 0x00 ei_block, 0x04 ei_leaf_lo, 0x08 ei_leaf_hi (u16).
// Leaf entry: 0x00 ee_block, 0x04 ee_len (above 32768: unwritten, ee_len - 32768 blocks),
// 0x06 ee_start_hi (u16), 0x08 ee_start_lo. Block map: i_block[0..11] direct, [12] indirect,
// [13] double and [14] triple indirect; 0 is a hole.

import { corrupt, Fields } from '../filesystems/fields.ts';
import { verifyExtentBlockChecksum } from './ext-checksums.ts';
import { EXT_INODE_FLAG, type ExtInode } from './ext-inode.ts';
import type { ExtVolume } from './ext-volume.ts';

const EXTENT_MAGIC = 0xf30a;
const EXTENT_HEADER_BYTES = 12;
const EXTENT_ENTRY_BYTES = 12;
/**
 * The kernel stops at 5 levels, e2fsprogs reads any depth (f_extent_too_deep has 7 and e2fsck calls it
 * clean). 32 levels of index nodes with two entries each already cover 2^32 logical blocks: deeper is hostile.
 */
const MAX_EXTENT_DEPTH = 32;
const INIT_MAX_LEN = 32768;
const DIRECT_BLOCKS = 12;
const LOGICAL_BLOCK_LIMIT = 2 ** 32;

/** Logical blocks [logical, logical+count) live at volume blocks [physical, physical+count). */
export interface BlockRun {
  readonly logical: number;
  readonly physical: number;
  readonly count: number;
  /** An unwritten (preallocated) extent: reads as zeros. */
  readonly unwritten: boolean;
}

/** The file's runs, ascending by logical block, disjoint; physically adjacent runs merged. */
export async function readBlockRuns(volume: ExtVolume, inode: ExtInode): Promise<BlockRun[]> {
  const runs: BlockRun[] = [];
  if (inode.flags & EXT_INODE_FLAG.EXTENTS) {
    await walkExtentNode(volume, inode, new Fields(inode.iBlock, inode.offset + 0x28, 'ext'), undefined, runs, { next: 0, nodes: new Set() });
  } else {
    const blocks = Math.ceil(inode.size / volume.blockSize);
    await walkBlockMap(volume, inode, blocks, runs);
  }
  return mergeRuns(runs);
}

/** The walk's state: the next logical block an extent may start at, and the node blocks read (a tree never shares one). */
interface ExtentWalk {
  next: number;
  readonly nodes: Set<number>;
}

async function walkExtentNode(volume: ExtVolume, inode: ExtInode, node: Fields, expectedDepth: number | undefined, runs: BlockRun[], order: ExtentWalk): Promise<void> {
  const where = `inode ${inode.number} extent node`;
  if (node.u16(0, 'eh_magic') !== EXTENT_MAGIC) throw node.fail(0, `${where} eh_magic`, `0x${node.u16(0, 'eh_magic').toString(16)} is not 0xf30a.`);
  const entries = node.u16(2, 'eh_entries');
  const max = node.u16(4, 'eh_max');
  const depth = node.u16(6, 'eh_depth');
  const room = Math.floor((node.bytes.length - EXTENT_HEADER_BYTES) / EXTENT_ENTRY_BYTES);
  if (max > room || entries > max) throw node.fail(2, `${where} eh_entries`, `${entries} entries of ${max} do not fit ${room} slots.`);
  if (depth > MAX_EXTENT_DEPTH || (expectedDepth !== undefined && depth !== expectedDepth)) {
    throw node.fail(6, `${where} eh_depth`, `depth ${depth} where ${expectedDepth ?? `at most ${MAX_EXTENT_DEPTH}`} was expected.`);
  }
  if (expectedDepth !== undefined) verifyExtentBlockChecksum(inode.checksumSeed, inode.number, node, max); // a block, not the root in i_block
  for (let i = 0; i < entries; i++) {
    const at = EXTENT_HEADER_BYTES + i * EXTENT_ENTRY_BYTES;
    const logical = node.u32(at, 'ee_block');
    if (logical < order.next) throw node.fail(at, `${where} ee_block`, `logical block ${logical} overlaps or precedes the previous extent (next free ${order.next}).`);
    if (depth === 0) {
      const rawLength = node.u16(at + 4, 'ee_len');
      const unwritten = rawLength > INIT_MAX_LEN;
      const count = unwritten ? rawLength - INIT_MAX_LEN : rawLength;
      if (count === 0) continue;
      const physical = node.u32(at + 8, 'ee_start_lo') + node.u16(at + 6, 'ee_start_hi') * 2 ** 32;
      if (logical + count > LOGICAL_BLOCK_LIMIT) throw node.fail(at, `${where} ee_block`, `logical blocks ${logical}+${count} pass 2^32.`);
      volume.checkBlocks(physical, count, inode.number, 'extent ee_start', node.base + at + 6);
      runs.push({ logical, physical, count, unwritten });
      order.next = logical + count;
    } else {
      const child = node.u32(at + 4, 'ei_leaf_lo') + node.u16(at + 8, 'ei_leaf_hi') * 2 ** 32;
      // Index entries naming one block twice would walk it again and again (empty leaves keep `next` still).
      if (order.nodes.has(child)) throw node.fail(at + 4, `${where} ei_leaf`, `block ${child} is named twice in the extent tree.`);
      order.nodes.add(child);
      const bytes = await volume.readBlocks(child, 1, inode.number, 'extent ei_leaf', node.base + at + 4);
      await walkExtentNode(volume, inode, new Fields(bytes, child * volume.blockSize, 'ext'), depth - 1, runs, order);
    }
  }
}

/** ext2/ext3: 12 direct pointers, then trees of indirect blocks 1, 2 and 3 levels deep. */
async function walkBlockMap(volume: ExtVolume, inode: ExtInode, blocks: number, runs: BlockRun[]): Promise<void> {
  const root = new Fields(inode.iBlock, inode.offset + 0x28, 'ext');
  const perBlock = volume.blockSize / 4;
  const indirect = new Set<number>(); // a file never shares an indirect block: one named twice would be walked again and again
  const add = (logical: number, physical: number, offset: number): void => {
    volume.checkBlocks(physical, 1, inode.number, 'i_block', offset);
    const last = runs[runs.length - 1];
    if (last && last.logical + last.count === logical && last.physical + last.count === physical) {
      runs[runs.length - 1] = { ...last, count: last.count + 1 };
    } else runs.push({ logical, physical, count: 1, unwritten: false });
  };
  const walk = async (pointer: number, level: number, first: number, offset: number): Promise<void> => {
    if (pointer === 0 || first >= blocks) return;
    if (level === 0) return add(first, pointer, offset);
    if (indirect.has(pointer)) throw corrupt('ext', `inode ${inode.number} indirect block`, offset, `block ${pointer} is named twice in the block map.`);
    indirect.add(pointer);
    const bytes = await volume.readBlocks(pointer, 1, inode.number, 'indirect block', offset);
    const node = new Fields(bytes, pointer * volume.blockSize, 'ext');
    const span = perBlock ** (level - 1);
    for (let i = 0; i < perBlock && first + i * span < blocks; i++) {
      await walk(node.u32(i * 4, 'block pointer'), level - 1, first + i * span, node.base + i * 4);
    }
  };
  for (let i = 0; i < DIRECT_BLOCKS && i < blocks; i++) await walk(root.u32(i * 4, 'i_block'), 0, i, root.base + i * 4);
  let first = DIRECT_BLOCKS;
  for (let level = 1; level <= 3; level++) {
    await walk(root.u32((DIRECT_BLOCKS + level - 1) * 4, 'i_block'), level, first, root.base + (DIRECT_BLOCKS + level - 1) * 4);
    first += perBlock ** level;
  }
}

function mergeRuns(runs: readonly BlockRun[]): BlockRun[] {
  const merged: BlockRun[] = [];
  for (const run of runs) {
    const last = merged[merged.length - 1];
    if (last && last.unwritten === run.unwritten && last.logical + last.count === run.logical && last.physical + last.count === run.physical) {
      merged[merged.length - 1] = { ...last, count: last.count + run.count };
    } else merged.push(run);
  }
  return merged;
}
