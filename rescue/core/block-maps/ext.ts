// The used-block map of ext2/ext3/ext4, read from the block bitmaps.
// Format: the blocks after s_first_data_block form groups of s_blocks_per_group blocks (the last may be
// short). Group descriptors (32 bytes, or s_desc_size with 64bit) follow the superblock's block, or
// with meta_bg from s_first_meta_bg on sit in the first block (after any superblock copy) of groups
// 0, 1 and the last of each meta group. Descriptor fields: 0x00/0x20 bg_block_bitmap lo/hi,
// 0x04/0x24 bg_inode_bitmap, 0x08/0x28 bg_inode_table, 0x12 bg_flags (0x2 BLOCK_UNINIT), 0x1E bg_checksum
// (checked against ext2fs_group_desc_csum with metadata_csum or gdt_csum/uninit_bg). Each group's
// block bitmap (anywhere on disk with flex_bg) has one bit per block, or per cluster with bigalloc.
// A BLOCK_UNINIT group (uninit_bg or metadata_csum) has no bitmap on disk: its used blocks are its
// superblock copy, descriptor and reserved GDT blocks, as e2fsprogs reconstructs them
// (ext2fs_reserve_super_and_bgd), and, as e2fsprogs' read_bitmaps marks them, the bitmaps and inode
// table of every BLOCK_UNINIT group wherever they live. Blocks before s_first_data_block (block 0 with
// 1 KiB blocks) count as used, as partclone counts them.
// A filesystem that was not unmounted cleanly (needs_recovery) keeps the allocations of its committed
// but unreplayed transactions only in the journal: the map is the union of the bitmaps as they stand
// and as the replayed journal (file-trees/ext-journal-replay.ts) shows them, so the data of files
// written just before the crash is backed up too (the journal itself is copied and replays on mount).

import type { ByteSource } from '../byte-source.ts';
import { corrupt, countSetBits, Fields, readStructure } from '../filesystems/fields.ts';
import {
  descriptorBlockLocation, groupBlockCount, groupDescriptorChecksum, groupFirstBlock, readExtLayout, superAndDescriptorRuns, type BlockRun, type ExtLayout,
} from './ext-layout.ts';
import { mergeExtents, type UsedBlockMap, type UsedExtent } from './used-block-map.ts';
import { LifeboatError } from '../errors.ts';
import { EXT_FEATURE, EXT_SUPERBLOCK_BYTES, EXT_SUPERBLOCK_OFFSET } from '../filesystems/ext-constants.ts';
import { replayExtJournal } from '../file-trees/ext-journal-replay.ts';
import { ExtVolume } from '../file-trees/ext-volume.ts';

const BG_BLOCK_UNINIT = 0x2;

/** Reads an ext2/3/4 filesystem's used-block map; undefined when the source holds no ext superblock. */
export async function readExtUsedBlockMap(source: ByteSource): Promise<UsedBlockMap | undefined> {
  const layout = await readExtLayout(source);
  if (!layout) return undefined;
  const views: BitmapView[] = [];
  for (const view of [source, ...(await replayedView(source))]) views.push({ source: view, uninitRuns: await collectUninitMetadata(view, layout) });
  let usedBlocks = layout.firstDataBlock;
  for await (const group of walkGroups(views, layout)) usedBlocks += countSetBits(group.bits, group.clusterCount);
  const sizeBytes = layout.blocksCount * layout.blockSize;
  const unitBytes = layout.blockSize * layout.clusterRatio;
  return {
    filesystem: 'ext',
    blockSize: unitBytes,
    totalBlocks: Math.ceil(layout.blocksCount / layout.clusterRatio),
    usedBlocks,
    sizeBytes,
    notice: undefined,
    extents: () => mergeExtents(groupExtents(views, layout, sizeBytes)),
  };
}

/** One way of reading the bitmaps: the volume as it stands, or through its replayed journal. */
interface BitmapView {
  readonly source: ByteSource;
  readonly uninitRuns: readonly BlockRun[];
}

/** The replayed view of a needs_recovery volume, when its journal holds committed transactions (else none: the bitmaps as they stand). */
async function replayedView(source: ByteSource): Promise<ByteSource[]> {
  const sb = new Fields(await readStructure(source, 'ext', 'superblock', EXT_SUPERBLOCK_OFFSET, EXT_SUPERBLOCK_BYTES), EXT_SUPERBLOCK_OFFSET, 'ext');
  if (!(sb.u32(0x60, 's_feature_incompat') & EXT_FEATURE.INCOMPAT_RECOVER)) return [];
  try {
    const volume = await ExtVolume.open(source);
    if (!volume) return [];
    const view = await replayExtJournal(source, volume);
    return view.source === source ? [] : [view.source];
  } catch (error) {
    // What the file reader cannot open (a damaged inode table or journal inode) leaves the map as the bitmaps say.
    if (error instanceof LifeboatError) return [];
    throw error;
  }
}

interface GroupDescriptor {
  readonly blockBitmap: number;
  /** bg_free_blocks_count (clusters with bigalloc). */
  readonly freeBlocks: number;
  readonly inodeBitmap: number;
  readonly inodeTable: number;
  readonly flags: number;
  /** Absolute byte offset of the descriptor, for errors. */
  readonly offset: number;
}

/** Reads descriptors one descriptor block at a time, keeping the last block. */
function descriptorReader(source: ByteSource, layout: ExtLayout): (group: number) => Promise<GroupDescriptor> {
  let cachedIndex = -1;
  let cached: Fields | undefined;
  return async (group) => {
    const index = Math.floor(group / layout.descPerBlock);
    if (index !== cachedIndex || !cached) {
      const block = descriptorBlockLocation(layout, index);
      const offset = block * layout.blockSize;
      if (block >= layout.blocksCount) throw corrupt('ext', 'group descriptor block', offset, `block ${block} is past the ${layout.blocksCount} blocks.`);
      cached = new Fields(await readStructure(source, 'ext', 'group descriptor block', offset, layout.blockSize), offset, 'ext');
      cachedIndex = index;
    }
    const at = (group % layout.descPerBlock) * layout.descSize;
    if (layout.descriptorChecksum) {
      const stored = cached.u16(at + 0x1e, 'bg_checksum');
      const computed = groupDescriptorChecksum(layout.descriptorChecksum, group, cached.slice(at, layout.descSize, 'group descriptor'));
      if (stored !== computed) throw cached.fail(at + 0x1e, 'bg_checksum', `group ${group}'s descriptor checksum ${stored} does not match ${computed}.`);
    }
    const wide = (lo: number, hi: number, field: string): number =>
      cached!.u32(at + lo, field) + (layout.is64 ? cached!.u32(at + hi, field) * 2 ** 32 : 0);
    return {
      blockBitmap: wide(0x00, 0x20, 'bg_block_bitmap'),
      freeBlocks: cached.u16(at + 0x0c, 'bg_free_blocks_count_lo') + (layout.is64 ? cached.u16(at + 0x2c, 'bg_free_blocks_count_hi') * 0x10000 : 0),
      inodeBitmap: wide(0x04, 0x24, 'bg_inode_bitmap'),
      inodeTable: wide(0x08, 0x28, 'bg_inode_table'),
      flags: cached.u16(at + 0x12, 'bg_flags'),
      offset: cached.base + at,
    };
  };
}

function isUninit(layout: ExtLayout, descriptor: GroupDescriptor): boolean {
  return layout.groupChecksums && (descriptor.flags & BG_BLOCK_UNINIT) !== 0;
}

/** The bitmaps and inode tables of BLOCK_UNINIT groups, sorted and merged (e2fsprogs marks them used wherever they are). */
async function collectUninitMetadata(source: ByteSource, layout: ExtLayout): Promise<BlockRun[]> {
  if (!layout.groupChecksums) return [];
  const read = descriptorReader(source, layout);
  const runs: BlockRun[] = [];
  const add = (start: number, count: number, descriptor: GroupDescriptor, field: string, fieldOffset: number): void => {
    if (start === 0) return;
    if (start < layout.firstDataBlock || start + count > layout.blocksCount) {
      throw corrupt('ext', field, descriptor.offset + fieldOffset, `blocks ${start}..${start + count - 1} lie outside the ${layout.blocksCount} blocks.`);
    }
    runs.push({ start, count });
  };
  for (let group = 0; group < layout.groupCount; group++) {
    const descriptor = await read(group);
    if (!isUninit(layout, descriptor)) continue;
    add(descriptor.blockBitmap, 1, descriptor, 'bg_block_bitmap', 0x00);
    add(descriptor.inodeBitmap, 1, descriptor, 'bg_inode_bitmap', 0x04);
    add(descriptor.inodeTable, layout.inodeBlocksPerGroup, descriptor, 'bg_inode_table', 0x08);
  }
  runs.sort((a, b) => a.start - b.start);
  const merged: BlockRun[] = [];
  for (const run of runs) {
    const last = merged[merged.length - 1];
    if (last && run.start <= last.start + last.count) {
      merged[merged.length - 1] = { start: last.start, count: Math.max(last.count, run.start + run.count - last.start) };
    } else merged.push(run);
  }
  return merged;
}

/** One group's used clusters: bit i is cluster i of the group. */
interface GroupBits {
  readonly group: number;
  readonly firstBlock: number;
  readonly clusterCount: number;
  readonly bits: Uint8Array;
}

/** Yields each group's allocation bits in order (OR of every view's): one group in memory at a time. */
async function* walkGroups(views: readonly BitmapView[], layout: ExtLayout): AsyncIterable<GroupBits> {
  const readers = views.map((view) => readGroupBits(view.source, layout, view.uninitRuns)[Symbol.asyncIterator]());
  for (;;) {
    let merged: GroupBits | undefined;
    for (const reader of readers) {
      const next = await reader.next();
      if (next.done) return;
      if (!merged) merged = next.value;
      else for (let i = 0; i < merged.bits.length; i++) merged.bits[i] = (merged.bits[i] ?? 0) | (next.value.bits[i] ?? 0);
    }
    if (!merged) return;
    yield merged;
  }
}

/** Yields each group's allocation bits of one view in order. */
async function* readGroupBits(source: ByteSource, layout: ExtLayout, uninitRuns: readonly BlockRun[]): AsyncIterable<GroupBits> {
  const read = descriptorReader(source, layout);
  for (let group = 0; group < layout.groupCount; group++) {
    const descriptor = await read(group);
    const firstBlock = groupFirstBlock(layout, group);
    const blockCount = groupBlockCount(layout, group);
    const clusterCount = Math.ceil(blockCount / layout.clusterRatio);
    const bitmapBytes = Math.ceil(clusterCount / 8);
    let bits = new Uint8Array(bitmapBytes);
    for (const run of superAndDescriptorRuns(layout, group)) markBlocks(layout, bits, firstBlock, blockCount, run);
    for (const run of overlapping(uninitRuns, firstBlock, blockCount)) markBlocks(layout, bits, firstBlock, blockCount, run);
    // A BLOCK_UNINIT group whose descriptor counts fewer free clusters than the reconstruction leaves
    // holds data all the same (e2fsck: "block(s) in use but group is marked BLOCK_UNINIT"): its bitmap is read.
    if (!isUninit(layout, descriptor) || descriptor.freeBlocks < clusterCount - countSetBits(bits, clusterCount)) {
      const at = descriptor.blockBitmap;
      if (at < layout.firstDataBlock || at >= layout.blocksCount || isSuperOrDescriptorBlock(layout, at)) {
        throw corrupt('ext', 'bg_block_bitmap', descriptor.offset, `group ${group}'s block bitmap at block ${at} lies outside the ${layout.blocksCount} blocks or on a superblock or descriptor block.`);
      }
      const read = await readStructure(source, 'ext', 'block bitmap', at * layout.blockSize, bitmapBytes);
      if (isUninit(layout, descriptor)) for (let i = 0; i < bitmapBytes; i++) bits[i] = (bits[i] ?? 0) | (read[i] ?? 0);
      else bits = new Uint8Array(read); // a copy (markBlocks writes into it) even from a Buffer
      for (const run of overlapping(uninitRuns, firstBlock, blockCount)) markBlocks(layout, bits, firstBlock, blockCount, run);
    }
    yield { group, firstBlock, clusterCount, bits };
  }
}

/** True when `block` holds its group's superblock copy or a descriptor block (a bitmap there is a missing one: f_miss_blk_bmap names block 0). */
function isSuperOrDescriptorBlock(layout: ExtLayout, block: number): boolean {
  if (block === 0 || block < layout.firstDataBlock) return true;
  const group = Math.floor((block - layout.firstDataBlock) / layout.blocksPerGroup);
  return superAndDescriptorRuns(layout, group).some((run) => block >= run.start && block < run.start + run.count);
}

/** Sets the bits of a block run's clusters that fall inside the group. */
function markBlocks(layout: ExtLayout, bits: Uint8Array, firstBlock: number, blockCount: number, run: BlockRun): void {
  const start = Math.max(run.start, firstBlock);
  const end = Math.min(run.start + run.count, firstBlock + blockCount);
  if (end <= start) return;
  const lastCluster = (end - 1 - firstBlock) >> layout.clusterBits;
  for (let cluster = (start - firstBlock) >> layout.clusterBits; cluster <= lastCluster; cluster++) {
    bits[cluster >> 3] = (bits[cluster >> 3] ?? 0) | (1 << (cluster & 7));
  }
}

/** The runs of a sorted, merged list that touch [firstBlock, firstBlock + blockCount). */
function overlapping(runs: readonly BlockRun[], firstBlock: number, blockCount: number): readonly BlockRun[] {
  let low = 0;
  let high = runs.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    const run = runs[mid]!;
    if (run.start + run.count <= firstBlock) low = mid + 1;
    else high = mid;
  }
  const found: BlockRun[] = [];
  for (let i = low; i < runs.length && runs[i]!.start < firstBlock + blockCount; i++) found.push(runs[i]!);
  return found;
}

/** Byte extents of every group's runs of used clusters, in ascending order (merged by the caller). */
async function* groupExtents(views: readonly BitmapView[], layout: ExtLayout, sizeBytes: number): AsyncIterable<UsedExtent> {
  if (layout.firstDataBlock > 0) yield { offset: 0, length: layout.firstDataBlock * layout.blockSize };
  const clusterBytes = layout.blockSize * layout.clusterRatio;
  for await (const group of walkGroups(views, layout)) {
    const base = group.firstBlock * layout.blockSize;
    for (const [start, end] of setBitRuns(group.bits, group.clusterCount)) {
      const offset = base + start * clusterBytes;
      yield { offset, length: Math.min(sizeBytes, base + end * clusterBytes) - offset };
    }
  }
}

/** Runs [start, end) of set bits among the first `bitCount` bits (little-endian bit order), skipping whole 0x00/0xFF bytes. */
function* setBitRuns(bits: Uint8Array, bitCount: number): Iterable<[number, number]> {
  let runStart = -1;
  let bit = 0;
  while (bit < bitCount) {
    const byte = bits[bit >> 3] ?? 0;
    if ((bit & 7) === 0 && bit + 8 <= bitCount && (byte === 0 || byte === 0xff)) {
      if (byte === 0xff) {
        if (runStart < 0) runStart = bit;
      } else if (runStart >= 0) {
        yield [runStart, bit];
        runStart = -1;
      }
      bit += 8;
      continue;
    }
    if (byte & (1 << (bit & 7))) {
      if (runStart < 0) runStart = bit;
    } else if (runStart >= 0) {
      yield [runStart, bit];
      runStart = -1;
    }
    bit++;
  }
  if (runStart >= 0) yield [runStart, bitCount];
}
