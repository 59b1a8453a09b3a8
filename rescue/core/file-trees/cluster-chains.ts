// Cluster chains shared by the FAT and exFAT file trees: a cached view of the allocation table,
// a chain walker that turns a chain into runs of contiguous clusters (with loop and range checks),
// and a FileContent that reads those runs with as few source reads as possible.
// Sources are often snapshots whose every read decompresses a whole chunk, so the table is read
// in large blocks and kept, and file reads go one source read per contiguous run.

import { checkRange, readInto, type ByteSource } from '../byte-source.ts';
import { corrupt, readStructure } from '../filesystems/fields.ts';
import type { FileContent } from './file-tree.ts';

/** Bytes of the allocation table read at once (a whole FAT12/16 of most volumes). */
const TABLE_BLOCK_BYTES = 256 * 1024;
/** Table blocks kept (8 MiB). */
const TABLE_CACHED_BLOCKS = 32;
/** Chains longer than this track visited clusters in a bitmap instead of a Set. */
const SET_TRACKING_CLUSTERS = 65536;
/** Directory runs separated by at most this many bytes are read together (a directory grown between its files). */
const BRIDGED_GAP_BYTES = 1024 * 1024;
/** Largest read that bridges gaps. */
const MAX_BRIDGED_READ_BYTES = 16 * 1024 * 1024;

/** Clusters first, first+1, ... first+count-1, contiguous on the volume. */
export interface ClusterRun {
  readonly first: number;
  readonly count: number;
}

/** Where the data clusters lie: cluster 2 starts at dataOffset. */
export interface ClusterHeap {
  readonly filesystem: string;
  readonly dataOffset: number;
  readonly clusterSize: number;
  readonly clusterCount: number;
}

/** The allocation table (FAT) read in large cached blocks, so chain walks cost few source reads. */
export class CachedTable {
  private readonly source: ByteSource;
  private readonly filesystem: string;
  private readonly offset: number;
  private readonly length: number;
  private readonly blocks = new Map<number, Uint8Array>();
  constructor(options: { source: ByteSource; filesystem: string; offset: number; length: number }) {
    this.source = options.source;
    this.filesystem = options.filesystem;
    this.offset = options.offset;
    this.length = options.length;
  }

  /** The byte at `at` inside the table. */
  async byte(at: number): Promise<number> {
    const block = await this.block(at);
    return block[at % TABLE_BLOCK_BYTES] ?? 0;
  }

  /** The little-endian 16-bit value at `at` (2-aligned). */
  async u16(at: number): Promise<number> {
    const block = await this.block(at);
    const i = at % TABLE_BLOCK_BYTES;
    return (block[i] ?? 0) | ((block[i + 1] ?? 0) << 8);
  }

  /** The little-endian 32-bit value at `at` (4-aligned). */
  async u32(at: number): Promise<number> {
    const block = await this.block(at);
    const i = at % TABLE_BLOCK_BYTES;
    return ((block[i] ?? 0) | ((block[i + 1] ?? 0) << 8) | ((block[i + 2] ?? 0) << 16)) + (block[i + 3] ?? 0) * 0x1000000;
  }

  private async block(at: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(at) || at < 0 || at >= this.length) {
      throw corrupt(this.filesystem, 'FAT entry', this.offset + Math.max(0, at), `byte ${at} lies outside the ${this.length}-byte FAT.`);
    }
    const index = Math.floor(at / TABLE_BLOCK_BYTES);
    const cached = this.blocks.get(index);
    if (cached) {
      this.blocks.delete(index);
      this.blocks.set(index, cached);
      return cached;
    }
    const start = index * TABLE_BLOCK_BYTES;
    const bytes = await readStructure(this.source, this.filesystem, 'FAT', this.offset + start, Math.min(TABLE_BLOCK_BYTES, this.length - start));
    this.blocks.set(index, bytes);
    if (this.blocks.size > TABLE_CACHED_BLOCKS) {
      const oldest = this.blocks.keys().next().value;
      if (oldest !== undefined) this.blocks.delete(oldest);
    }
    return bytes;
  }
}

/** What a chain walk needs: the heap, the first cluster, how to read one table entry and what ends a chain. */
export interface ChainOptions {
  readonly heap: ClusterHeap;
  readonly first: number;
  readonly next: (cluster: number) => Promise<number>;
  readonly isEnd: (value: number) => boolean;
  /** A longer chain is corrupt (a directory's size limit; the cluster count otherwise). */
  readonly maxClusters: number;
  /** What the chain belongs to and where it is recorded, for errors. */
  readonly field: string;
  readonly fieldOffset: number;
}

/** Walks a cluster chain into runs; a loop, a cluster outside the heap or a chain past maxClusters is LB_FILESYSTEM_CORRUPT. */
export async function readChainRuns(options: ChainOptions): Promise<ClusterRun[]> {
  const { heap, field, fieldOffset } = options;
  const fail = (detail: string) => corrupt(heap.filesystem, field, fieldOffset, detail);
  const limit = Math.min(options.maxClusters, heap.clusterCount);
  const visited = new VisitedClusters(heap.clusterCount);
  const runs: Array<{ first: number; count: number }> = [];
  let cluster = options.first;
  for (let count = 1; ; count++) {
    if (!isDataCluster(heap, cluster)) throw fail(`the cluster chain reaches cluster ${cluster}, outside the ${heap.clusterCount} data clusters.`);
    if (count > limit) throw fail(`the cluster chain is longer than ${limit} clusters.`);
    if (visited.visit(cluster)) throw fail(`the cluster chain loops back to cluster ${cluster}.`);
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === cluster) last.count++;
    else runs.push({ first: cluster, count: 1 });
    const value = await options.next(cluster);
    if (options.isEnd(value)) return runs;
    cluster = value;
  }
}

/** The runs covering `clusters` contiguous clusters from `first` (exFAT NoFatChain); outside the heap is corrupt. */
export function contiguousRuns(options: { heap: ClusterHeap; first: number; clusters: number; field: string; fieldOffset: number }): ClusterRun[] {
  const { heap, first, clusters } = options;
  if (clusters === 0) return [];
  if (!isDataCluster(heap, first) || !isDataCluster(heap, first + clusters - 1)) {
    throw corrupt(heap.filesystem, options.field, options.fieldOffset, `clusters ${first} to ${first + clusters - 1} are not all data clusters (${heap.clusterCount}).`);
  }
  return [{ first, count: clusters }];
}

/** True for clusters 2 .. clusterCount+1. */
export function isDataCluster(heap: ClusterHeap, cluster: number): boolean {
  return Number.isSafeInteger(cluster) && cluster >= 2 && cluster <= heap.clusterCount + 1;
}

/** Total clusters in runs. */
export function runClusters(runs: readonly ClusterRun[]): number {
  return runs.reduce((sum, run) => sum + run.count, 0);
}

/** Reads the first `length` bytes of runs (directories): runs close together on disk share one source read. */
export async function readRuns(source: ByteSource, heap: ClusterHeap, runs: readonly ClusterRun[], length: number, field: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const pieces: Array<{ at: number; cluster: number; bytes: number }> = [];
  let at = 0;
  for (const run of runs) {
    if (at >= length) break;
    const bytes = Math.min(run.count * heap.clusterSize, length - at);
    pieces.push({ at, cluster: run.first, bytes });
    at += bytes;
  }
  for (let i = 0; i < pieces.length;) {
    const first = pieces[i] as { at: number; cluster: number; bytes: number };
    const start = heap.dataOffset + (first.cluster - 2) * heap.clusterSize;
    let end = i + 1;
    let spanEnd = start + first.bytes;
    for (; end < pieces.length; end++) {
      const piece = pieces[end] as { at: number; cluster: number; bytes: number };
      const pieceStart = heap.dataOffset + (piece.cluster - 2) * heap.clusterSize;
      if (pieceStart < spanEnd || pieceStart - spanEnd > BRIDGED_GAP_BYTES || pieceStart + piece.bytes - start > MAX_BRIDGED_READ_BYTES) break;
      spanEnd = pieceStart + piece.bytes;
    }
    const span = await readStructure(source, heap.filesystem, field, start, spanEnd - start);
    for (let j = i; j < end; j++) {
      const piece = pieces[j] as { at: number; cluster: number; bytes: number };
      const from = heap.dataOffset + (piece.cluster - 2) * heap.clusterSize - start;
      out.set(span.subarray(from, from + piece.bytes), piece.at);
    }
    i = end;
  }
  return out;
}

/** A file's bytes over its runs: `size` bytes, of which those past `validSize` read as zeros (exFAT ValidDataLength). */
export function runsContent(options: { source: ByteSource; heap: ClusterHeap; runs: readonly ClusterRun[]; size: number; validSize?: number }): FileContent {
  const { source, heap, runs, size } = options;
  const validSize = Math.min(options.validSize ?? size, size);
  const starts: number[] = [];
  let total = 0;
  for (const run of runs) {
    starts.push(total);
    total += run.count * heap.clusterSize;
  }
  if (total < validSize) throw new RangeError(`runs of ${total} bytes cannot hold ${validSize} bytes`);

  const fill = async (target: Uint8Array, offset: number): Promise<void> => {
    checkRange(size, offset, target.length);
    const end = Math.min(offset + target.length, validSize);
    let index = findRun(starts, offset);
    let at = offset;
    while (at < end) {
      const run = runs[index];
      const runStart = starts[index];
      if (!run || runStart === undefined) break;
      const runEnd = Math.min(runStart + run.count * heap.clusterSize, end);
      const piece = target.subarray(at - offset, runEnd - offset);
      await readInto(source, piece, heap.dataOffset + (run.first - 2) * heap.clusterSize + (at - runStart));
      at = runEnd;
      index++;
    }
    if (end - offset < target.length) target.fill(0, Math.max(0, end - offset));
  };

  return {
    size,
    read: async (offset, length) => {
      checkRange(size, offset, length);
      const target = new Uint8Array(length);
      await fill(target, offset);
      return target;
    },
    readInto: fill,
    dataRanges: async () => (validSize > 0 ? [{ offset: 0, length: validSize }] : []),
    placedRanges: async () => runs.map((run, index) => ({ offset: starts[index] ?? 0, at: heap.dataOffset + (run.first - 2) * heap.clusterSize, length: Math.min(run.count * heap.clusterSize, validSize - (starts[index] ?? 0)) })).filter((range) => range.length > 0),
  };
}

/** Index of the run holding byte `offset` (the last run whose start is at or before it). */
function findRun(starts: readonly number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if ((starts[middle] ?? 0) <= offset) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** Clusters seen on one chain: a Set for short chains, a bitmap once the chain is long. */
class VisitedClusters {
  private readonly clusterCount: number;
  private set: Set<number> | undefined = new Set();
  private bitmap: Uint8Array | undefined;
  constructor(clusterCount: number) {
    this.clusterCount = clusterCount;
  }

  /** Marks `cluster`; true when it was already marked. */
  visit(cluster: number): boolean {
    if (this.set) {
      if (this.set.has(cluster)) return true;
      this.set.add(cluster);
      if (this.set.size > SET_TRACKING_CLUSTERS) {
        this.bitmap = new Uint8Array(Math.ceil((this.clusterCount + 2) / 8));
        for (const seen of this.set) this.mark(seen);
        this.set = undefined;
      }
      return false;
    }
    const bitmap = this.bitmap as Uint8Array;
    if (((bitmap[Math.floor(cluster / 8)] ?? 0) >> (cluster % 8)) & 1) return true;
    this.mark(cluster);
    return false;
  }

  private mark(cluster: number): void {
    const bitmap = this.bitmap as Uint8Array;
    const at = Math.floor(cluster / 8);
    bitmap[at] = (bitmap[at] ?? 0) | (1 << (cluster % 8));
  }
}
