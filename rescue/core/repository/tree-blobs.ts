// The two kinds of tree blob (FORMAT.md, "Tree blobs"): a chunk list maps a volume's chunk
// indexes to chunk ids; an extent list names the used byte ranges. Both are binary, little-endian,
// and split into blobs of at most TREE_ENTRIES_PER_BLOB entries so no blob grows without bound.

import { LifeboatError } from '../errors.ts';
import type { ByteExtent } from './format.ts';

/** Entries per tree blob: 2.5 MiB of chunk list or 1 MiB of extent list at most. */
export const TREE_ENTRIES_PER_BLOB = 65536;
const CHUNK_LIST_MAGIC = 'LBCL';
const EXTENT_LIST_MAGIC = 'LBEX';
const TREE_VERSION = 1;
const TREE_HEADER_BYTES = 12;
const CHUNK_ENTRY_BYTES = 40;
const EXTENT_ENTRY_BYTES = 16;

/** A chunk of a volume that holds non-zero data: its index (offset / chunkBytes) and id. */
export interface ChunkRef {
  readonly index: number;
  readonly id: string;
}

function header(magic: string, count: number, entryBytes: number): Buffer {
  const bytes = Buffer.alloc(TREE_HEADER_BYTES + count * entryBytes);
  bytes.write(magic, 0, 'latin1');
  bytes.writeUInt32LE(TREE_VERSION, 4);
  bytes.writeUInt32LE(count, 8);
  return bytes;
}

function readHeader(bytes: Uint8Array, magic: string, entryBytes: number, what: string): { view: Buffer; count: number } {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.length < TREE_HEADER_BYTES || view.toString('latin1', 0, 4) !== magic || view.readUInt32LE(4) !== TREE_VERSION) {
    throw new LifeboatError('LB_REPO_INVALID', { detail: `A ${what} blob has a bad header.` });
  }
  const count = view.readUInt32LE(8);
  if (count > TREE_ENTRIES_PER_BLOB || view.length !== TREE_HEADER_BYTES + count * entryBytes) {
    throw new LifeboatError('LB_REPO_INVALID', { detail: `A ${what} blob holds ${view.length} bytes for ${count} entries.` });
  }
  return { view, count };
}

/** Encodes up to TREE_ENTRIES_PER_BLOB chunk refs (ascending indexes). */
export function encodeChunkList(refs: readonly ChunkRef[]): Uint8Array {
  const bytes = header(CHUNK_LIST_MAGIC, refs.length, CHUNK_ENTRY_BYTES);
  refs.forEach((ref, position) => {
    const at = TREE_HEADER_BYTES + position * CHUNK_ENTRY_BYTES;
    bytes.writeBigUInt64LE(BigInt(ref.index), at);
    bytes.write(ref.id, at + 8, 'hex');
  });
  return bytes;
}

/** Decodes a chunk list; indexes must ascend, stay below `chunkCount` and follow `after`. */
export function decodeChunkList(bytes: Uint8Array, chunkCount: number, after = -1): ChunkRef[] {
  const { view, count } = readHeader(bytes, CHUNK_LIST_MAGIC, CHUNK_ENTRY_BYTES, 'chunk list');
  const refs: ChunkRef[] = [];
  let previous = after;
  for (let position = 0; position < count; position++) {
    const at = TREE_HEADER_BYTES + position * CHUNK_ENTRY_BYTES;
    const index = Number(view.readBigUInt64LE(at));
    if (index <= previous || index >= chunkCount) throw new LifeboatError('LB_REPO_INVALID', { detail: `A chunk list has chunk index ${index} out of order or past the volume's ${chunkCount} chunks.` });
    refs.push({ index, id: view.toString('hex', at + 8, at + CHUNK_ENTRY_BYTES) });
    previous = index;
  }
  return refs;
}

/** Encodes up to TREE_ENTRIES_PER_BLOB extents. */
export function encodeExtentList(extents: readonly ByteExtent[]): Uint8Array {
  const bytes = header(EXTENT_LIST_MAGIC, extents.length, EXTENT_ENTRY_BYTES);
  extents.forEach((extent, position) => {
    const at = TREE_HEADER_BYTES + position * EXTENT_ENTRY_BYTES;
    bytes.writeBigUInt64LE(BigInt(extent.offset), at);
    bytes.writeBigUInt64LE(BigInt(extent.length), at + 8);
  });
  return bytes;
}

/** Decodes an extent list; extents must ascend without overlap (after `previousEnd`) and end inside `sizeBytes`. */
export function decodeExtentList(bytes: Uint8Array, sizeBytes: number, previousEnd = 0): ByteExtent[] {
  const { view, count } = readHeader(bytes, EXTENT_LIST_MAGIC, EXTENT_ENTRY_BYTES, 'extent list');
  const extents: ByteExtent[] = [];
  let end = previousEnd;
  for (let position = 0; position < count; position++) {
    const at = TREE_HEADER_BYTES + position * EXTENT_ENTRY_BYTES;
    const offset = Number(view.readBigUInt64LE(at));
    const length = Number(view.readBigUInt64LE(at + 8));
    if (offset < end || length === 0 || offset + length > sizeBytes) throw new LifeboatError('LB_REPO_INVALID', { detail: `An extent list has ${offset}+${length} out of order or past ${sizeBytes} bytes.` });
    extents.push({ offset, length });
    end = offset + length;
  }
  return extents;
}

/** Splits a list into blob-sized groups. */
export function splitForTrees<T>(items: readonly T[]): T[][] {
  const groups: T[][] = [];
  for (let start = 0; start < items.length; start += TREE_ENTRIES_PER_BLOB) groups.push(items.slice(start, start + TREE_ENTRIES_PER_BLOB));
  return groups;
}
