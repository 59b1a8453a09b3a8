// Used-block map of exFAT, counted the way partclone.exfat (libexfat's exfat_find_used_sectors) counts it.
// Format: boot region (12 sectors, twice) at byte 0 (parsed by filesystems/exfat.ts), the FAT(s) at
// FatOffset, the cluster heap at ClusterHeapOffset; the allocation bitmap (root directory entry 0x81)
// has one bit per cluster from cluster 2 and is read as one contiguous extent, as the Linux driver and
// libexfat read it. Units are sectors, as partclone's. partclone marks each run of used clusters
// with sectors, the first run extended back to sector 0 (so the boot region, the FATs and any free
// clusters before the first used one count as used); it scans clusters 2..ClusterCount-1 only, and a
// run reaching cluster ClusterCount-1 takes cluster ClusterCount with it. Free space ahead of the
// first used cluster, and the last cluster, are reproduced exactly so the counts equal partclone's.

import type { ByteSource } from '../byte-source.ts';
import { corrupt, hasAscii, Fields, readIfPresent, readStructure } from '../filesystems/fields.ts';
import { readExfatGeometry, readRootDirectory, type BitmapEntry, type ExfatGeometry } from '../filesystems/exfat.ts';
import { setBitRuns } from './exfat-ntfs-bit-runs.ts';
import { mergeExtents, type UsedBlockMap, type UsedExtent } from './used-block-map.ts';

const BITMAP_CHUNK_BYTES = 1024 * 1024;
const FIRST_DATA_CLUSTER = 2;

/** Reads an exFAT volume's used sectors (partclone.exfat's map); undefined when the bytes are not exFAT. */
export async function readExfatUsedBlockMap(source: ByteSource): Promise<UsedBlockMap | undefined> {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes || !hasAscii(bytes, 3, 'EXFAT   ')) return undefined;
  const bs = new Fields(bytes, 0, 'exFAT');
  const { geometry, rootCluster, sizeBytes, volumeSectors } = readExfatGeometry(bs, source.size);
  const root = await readRootDirectory(source, geometry, rootCluster);
  if (!root.bitmap) throw corrupt('exFAT', 'allocation bitmap entry', geometry.heapOffset + (rootCluster - FIRST_DATA_CLUSTER) * geometry.clusterSize, 'the root directory has no allocation bitmap entry.');
  const bitmap = checkBitmap(geometry, root.bitmap);
  let usedBytes = 0;
  for await (const extent of usedExtents(source, geometry, bitmap)) usedBytes += extent.length;
  return {
    filesystem: 'exFAT',
    blockSize: geometry.sectorSize,
    totalBlocks: volumeSectors,
    usedBlocks: usedBytes / geometry.sectorSize,
    sizeBytes,
    notice: undefined,
    extents: () => mergeExtents(usedExtents(source, geometry, bitmap)),
  };
}

/** The bitmap's byte range, checked to hold every cluster's bit and to lie inside the heap. */
function checkBitmap(geometry: ExfatGeometry, entry: BitmapEntry): { offset: number; bytes: number } {
  const bytes = Math.ceil(geometry.clusterCount / 8);
  if (entry.length < bytes) throw corrupt('exFAT', 'allocation bitmap DataLength', entry.offset + 24, `${entry.length} bytes cannot map ${geometry.clusterCount} clusters.`);
  const { firstCluster } = entry;
  const clusters = Math.ceil(bytes / geometry.clusterSize);
  if (firstCluster < FIRST_DATA_CLUSTER || firstCluster + clusters > geometry.clusterCount + FIRST_DATA_CLUSTER) {
    throw corrupt('exFAT', 'allocation bitmap FirstCluster', entry.offset + 20, `a ${bytes}-byte bitmap at cluster ${firstCluster} does not fit the cluster heap.`);
  }
  return { offset: geometry.heapOffset + (firstCluster - FIRST_DATA_CLUSTER) * geometry.clusterSize, bytes };
}

/** partclone's used sectors as byte extents, ascending (not yet merged). */
async function* usedExtents(source: ByteSource, geometry: ExfatGeometry, bitmap: { offset: number; bytes: number }): AsyncIterable<UsedExtent> {
  const scanned = Math.max(0, geometry.clusterCount - FIRST_DATA_CLUSTER);
  let first = true;
  for await (const run of setBitRuns(bitmapChunks(source, bitmap), scanned)) {
    const firstCluster = run.start + FIRST_DATA_CLUSTER;
    const lastCluster = run.end === scanned ? geometry.clusterCount : run.end + FIRST_DATA_CLUSTER - 1;
    const start = first ? 0 : geometry.heapOffset + (firstCluster - FIRST_DATA_CLUSTER) * geometry.clusterSize;
    const end = geometry.heapOffset + (lastCluster + 1 - FIRST_DATA_CLUSTER) * geometry.clusterSize;
    first = false;
    yield { offset: start, length: end - start };
  }
}

async function* bitmapChunks(source: ByteSource, bitmap: { offset: number; bytes: number }): AsyncIterable<Uint8Array> {
  for (let done = 0; done < bitmap.bytes; done += BITMAP_CHUNK_BYTES) {
    yield await readStructure(source, 'exFAT', 'allocation bitmap', bitmap.offset + done, Math.min(BITMAP_CHUNK_BYTES, bitmap.bytes - done));
  }
}
