// Used-block map of FAT12/16/32, counted the way partclone.fat counts it.
// Format: boot sector and BPB at byte 0 (parsed by filesystems/fat.ts), then reserved sectors, the FAT
// copies, (FAT12/16) the fixed root directory, then the data clusters from cluster 2. A FAT entry is
// 12 bits (packed, two entries in three bytes), 16 bits or 32 bits; 0 means free, 0xFF7/0xFFF7/
// 0x0FFFFFF7 bad. Units are sectors, as partclone's: every sector is used except those of free and
// bad clusters (metadata, and the sectors after the last whole cluster, count as used). Like
// partclone, the raw entry value is tested (FAT32's top four bits included).

import type { ByteSource } from '../byte-source.ts';
import { readStructure } from '../filesystems/fields.ts';
import { readFatVolume, type FatGeometry } from '../filesystems/fat.ts';
import { mergeExtents, type UsedBlockMap, type UsedExtent } from './used-block-map.ts';

/** FAT entries decoded per read (even, so FAT12 chunks start on a byte boundary). */
const FAT_CHUNK_ENTRIES = 256 * 1024;
const FIRST_DATA_CLUSTER = 2;

interface ClusterRun {
  readonly first: number;
  readonly count: number;
}

/** Reads a FAT volume's used sectors (partclone.fat's map); undefined when the bytes are not FAT. */
export async function readFatUsedBlockMap(source: ByteSource): Promise<UsedBlockMap | undefined> {
  const volume = await readFatVolume(source);
  if (!volume) return undefined;
  const { geometry } = volume;
  const sectorsPerCluster = geometry.clusterSize / geometry.bytesPerSector;
  const totalSectors = geometry.sizeBytes / geometry.bytesPerSector;
  let unusedClusters = 0;
  for await (const run of unusedClusterRuns(source, geometry)) unusedClusters += run.count;
  return {
    filesystem: `FAT${geometry.variant}`,
    blockSize: geometry.bytesPerSector,
    totalBlocks: totalSectors,
    usedBlocks: totalSectors - unusedClusters * sectorsPerCluster,
    sizeBytes: geometry.sizeBytes,
    notice: undefined,
    extents: () => mergeExtents(usedExtents(source, geometry)),
  };
}

/** Everything but the unused clusters, ascending. */
async function* usedExtents(source: ByteSource, geometry: FatGeometry): AsyncIterable<UsedExtent> {
  let at = 0;
  for await (const run of unusedClusterRuns(source, geometry)) {
    const start = geometry.dataOffset + (run.first - FIRST_DATA_CLUSTER) * geometry.clusterSize;
    if (start > at) yield { offset: at, length: start - at };
    at = start + run.count * geometry.clusterSize;
  }
  if (geometry.sizeBytes > at) yield { offset: at, length: geometry.sizeBytes - at };
}

/** Runs of free or bad clusters in the first FAT, read in chunks. */
async function* unusedClusterRuns(source: ByteSource, geometry: FatGeometry): AsyncIterable<ClusterRun> {
  const end = FIRST_DATA_CLUSTER + geometry.clusterCount;
  const bad = geometry.variant === 12 ? 0xff7 : geometry.variant === 16 ? 0xfff7 : 0x0ffffff7;
  let runFirst = -1;
  for (let first = FIRST_DATA_CLUSTER; first < end; first += FAT_CHUNK_ENTRIES) {
    const count = Math.min(FAT_CHUNK_ENTRIES, end - first);
    const entries = await readEntries(source, geometry, first, count);
    for (let i = 0; i < count; i++) {
      const value = entries(i);
      const unused = value === 0 || value === bad;
      if (unused && runFirst < 0) runFirst = first + i;
      else if (!unused && runFirst >= 0) {
        yield { first: runFirst, count: first + i - runFirst };
        runFirst = -1;
      }
    }
  }
  if (runFirst >= 0) yield { first: runFirst, count: end - runFirst };
}

/** Reads `count` entries from cluster `first` (even for FAT12) and returns an accessor by index. */
async function readEntries(source: ByteSource, geometry: FatGeometry, first: number, count: number): Promise<(index: number) => number> {
  const { variant, fatOffset } = geometry;
  if (variant === 12) {
    const start = (first * 3) / 2;
    const last = first + count - 1;
    const endByte = Math.floor((last * 3) / 2) + 2;
    const table = await readStructure(source, 'FAT', 'FAT', fatOffset + start, endByte - start);
    return (index) => {
      const cluster = first + index;
      const at = Math.floor((cluster * 3) / 2) - start;
      const pair = (table[at] ?? 0) | ((table[at + 1] ?? 0) << 8);
      return cluster & 1 ? pair >> 4 : pair & 0xfff;
    };
  }
  const width = variant / 8;
  const chunk = await readStructure(source, 'FAT', 'FAT', fatOffset + first * width, count * width);
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return width === 2 ? (index) => view.getUint16(index * 2, true) : (index) => view.getUint32(index * 4, true);
}
