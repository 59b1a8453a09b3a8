// A directory's $I30 index as ntfs-3g's readdir walks it: the entries of $INDEX_ROOT (0x90), then every
// INDX block of $INDEX_ALLOCATION (0xA0) whose bit is set in the index's $BITMAP (0xB0), in block order.
// Each block is read once, so an index whose sub-node pointers loop cannot loop here. Layout of the
// root, blocks and entries: the format note of filesystems/ntfs.ts. An entry's key is a $FILE_NAME:
// +0x28 allocated, +0x30 data size, +0x38 flags, +0x40 name length, +0x41 namespace (0 POSIX, 1 Win32,
// 2 DOS, 3 Win32 and DOS), +0x42 UTF-16LE name.

import { Fields, corrupt, isPowerOfTwo, utf16Text } from '../filesystems/fields.ts';
import { applyFixups } from '../filesystems/ntfs-records.ts';
import { LruCache, mapOffset, type NtfsFile, type NtfsVolume } from './ntfs-volume.ts';

const ATTR_INDEX_ROOT = 0x90;
const ATTR_INDEX_ALLOCATION = 0xa0;
const ATTR_BITMAP = 0xb0;
const INDEX_NAME = '$I30';
const ENTRY_SUBNODE = 0x01;
const ENTRY_LAST = 0x02;
const VCN_UNIT_SMALL_BLOCKS = 512;
const MAX_INDEX_BITMAP_BYTES = 1024 * 1024;
/** Index bytes read at once when walking the allocation. */
const INDEX_READ_BYTES = 1024 * 1024;
/** Entries one index node may hold before it is judged damaged. */
const MAX_ENTRIES_PER_NODE = 65536;

/** A name in a directory: the file it names and the $FILE_NAME key's fields. */
export interface IndexEntry {
  readonly record: number;
  readonly sequence: number;
  readonly name: string;
  readonly namespace: number;
  readonly dataSize: number;
  readonly allocatedSize: number;
  readonly fileFlags: number;
  /** The key's time at +0x08 created, +0x10 modified, +0x18 MFT changed, +0x20 accessed (100 ns since 1601), as low and high u32. */
  time(offset: 0x08 | 0x10 | 0x18 | 0x20): [number, number];
}

/** Fixed-up INDX blocks, shared by every directory of a volume (keyed by absolute offset). */
export type IndexBlockCache = LruCache<number, Fields>;

/** Every name in the directory `file`, root entries first, then blocks in VCN order. */
export async function readIndexEntries(volume: NtfsVolume, file: NtfsFile, cache: IndexBlockCache): Promise<IndexEntry[]> {
  const field = `directory record ${file.number}`;
  const root = volume.stream(file, ATTR_INDEX_ROOT, INDEX_NAME);
  if (!root?.resident) throw file.record.fail(0x14, `${field} $INDEX_ROOT`, 'the directory has no resident $I30 index root.');
  const value = new Fields(root.bytes, root.at, 'NTFS');
  const entries: IndexEntry[] = [];
  scanNode(value, 0x10, entries, `${field} $INDEX_ROOT`);
  const allocation = volume.stream(file, ATTR_INDEX_ALLOCATION, INDEX_NAME);
  if (!allocation) return entries;
  if (allocation.resident || allocation.compressionUnitClusters !== 0) throw corrupt('NTFS', `${field} $INDEX_ALLOCATION`, allocation.at, 'the index allocation is not a plain non-resident attribute.');
  const blockSize = value.u32(0x08, `${field} index block size`);
  if (!isPowerOfTwo(blockSize) || blockSize < 512 || blockSize > 65536) throw value.fail(0x08, `${field} index block size`, `${blockSize} is not an index block size.`);
  const bitmapValue = volume.stream(file, ATTR_BITMAP, INDEX_NAME);
  if (!bitmapValue) throw corrupt('NTFS', `${field} $BITMAP`, allocation.at, 'the directory has an index allocation but no $I30 bitmap.');
  const bitmap = (await volume.readValue(bitmapValue, MAX_INDEX_BITMAP_BYTES, `${field} $BITMAP`)).bytes;
  const clusterSize = volume.geometry.clusterSize;
  const vcnSize = blockSize < clusterSize ? VCN_UNIT_SMALL_BLOCKS : clusterSize;
  const blocks = Math.floor(allocation.initializedSize / blockSize);
  const inUse: number[] = [];
  for (let block = 0; block < blocks && block < bitmap.length * 8; block++) if ((bitmap[block >> 3] ?? 0) & (1 << (block & 7))) inUse.push(block);
  for (let i = 0; i < inUse.length; ) {
    // Read a stretch of consecutive in-use blocks that are not cached in one go.
    const first = inUse[i] ?? 0;
    const firstAt = mapOffset(allocation.runs, clusterSize, first * blockSize);
    if (firstAt !== undefined && cache.get(firstAt)) {
      scanBlock(cache.get(firstAt) as Fields, first, blockSize, vcnSize, entries, field);
      i++;
      continue;
    }
    let count = 1;
    while (i + count < inUse.length && inUse[i + count] === first + count && count * blockSize < INDEX_READ_BYTES) count++;
    const bytes = await volume.readRuns(allocation.runs, first * blockSize, count * blockSize, `${field} $INDEX_ALLOCATION`);
    for (let k = 0; k < count; k++) {
      const block = first + k;
      const at = mapOffset(allocation.runs, clusterSize, block * blockSize) ?? allocation.at;
      const fields = applyFixups(bytes.slice(k * blockSize, (k + 1) * blockSize), at, `${field} INDX block ${block}`, 'INDX');
      cache.set(at, fields);
      scanBlock(fields, block, blockSize, vcnSize, entries, field);
    }
    i += count;
  }
  return entries;
}

function scanBlock(block: Fields, index: number, blockSize: number, vcnSize: number, entries: IndexEntry[], field: string): void {
  const vcn = (index * blockSize) / vcnSize;
  const own = block.u64(0x10, `${field} INDX block VCN`);
  if (own !== vcn) throw block.fail(0x10, `${field} INDX block VCN`, `the block says VCN ${own}, its place in the allocation is VCN ${vcn}.`);
  scanNode(block, 0x18, entries, `${field} INDX block ${index}`);
}

/** The entries after the index header at `headerAt`. */
function scanNode(fields: Fields, headerAt: number, entries: IndexEntry[], field: string): void {
  const entriesOffset = fields.u32(headerAt, `${field} entries offset`);
  const inUse = fields.u32(headerAt + 4, `${field} index length`);
  const end = headerAt + inUse;
  if (end > fields.bytes.length || entriesOffset < 0x10 || entriesOffset >= inUse) {
    throw fields.fail(headerAt, `${field} index header`, `entries at ${entriesOffset} and ${inUse} bytes in use do not fit ${fields.bytes.length} bytes.`);
  }
  let at = headerAt + entriesOffset;
  for (let count = 0; count < MAX_ENTRIES_PER_NODE; count++) {
    if (at + 0x10 > end) throw fields.fail(at, `${field} entry`, 'the entries run past the bytes in use without a last entry.');
    const length = fields.u16(at + 8, `${field} entry length`);
    if (length < 0x10 || length % 8 !== 0 || at + length > end) throw fields.fail(at + 8, `${field} entry length`, `${length} does not fit the index.`);
    const flags = fields.u16(at + 0x0c, `${field} entry flags`);
    if (flags & ENTRY_LAST) return;
    entries.push(readEntry(fields, at, length - (flags & ENTRY_SUBNODE ? 8 : 0), field));
    at += length;
  }
  throw fields.fail(headerAt, `${field} index header`, `more than ${MAX_ENTRIES_PER_NODE} entries.`);
}

function readEntry(fields: Fields, at: number, room: number, field: string): IndexEntry {
  const keyLength = fields.u16(at + 0x0a, `${field} key length`);
  if (keyLength < 0x42 || 0x10 + keyLength > room) throw fields.fail(at + 0x0a, `${field} key length`, `a ${keyLength}-byte $FILE_NAME does not fit the entry.`);
  const key = at + 0x10;
  const characters = fields.u8(key + 0x40, `${field} name length`);
  if (0x42 + characters * 2 > keyLength) throw fields.fail(key + 0x40, `${field} name length`, `${characters} characters overflow the ${keyLength}-byte key.`);
  return {
    record: fields.u32(at, `${field} MFT reference`) + fields.u16(at + 4, `${field} MFT reference`) * 2 ** 32,
    sequence: fields.u16(at + 6, `${field} sequence number`),
    name: utf16Text(fields.slice(key + 0x42, characters * 2, `${field} name`)) ?? '',
    namespace: fields.u8(key + 0x41, `${field} namespace`),
    allocatedSize: fields.u64(key + 0x28, `${field} allocated size`),
    dataSize: fields.u64(key + 0x30, `${field} data size`),
    fileFlags: fields.u32(key + 0x38, `${field} file flags`),
    time: (offset) => [fields.u32(key + offset, `${field} time`), fields.u32(key + offset + 4, `${field} time`)],
  };
}
