// The smallest a filesystem can land on a target, for the formats whose answer is read from their
// own structures (the others ask their tools: io/filesystem-minimum.ts runs resize2fs -P and
// ntfsresize --info). FAT keeps its cluster size and variant: its metadata and used clusters, at
// least as many clusters as the variant needs. exFAT is copied file by file onto a new exFAT with
// the same cluster size: its used clusters plus a new volume's boot region, FAT and alignment.

import type { ByteSource } from '../byte-source.ts';
import { readFatUsedBlockMap } from '../block-maps/fat.ts';
import { readFatVolume } from '../filesystems/fat.ts';
import type { FilesystemProbe } from '../filesystems/probe-types.ts';

/** The fewest clusters a FAT16 or FAT32 may have and still be read as that variant (fewer makes it FAT12 or FAT16). */
const VARIANT_MINIMUM_CLUSTERS: Readonly<Record<12 | 16 | 32, number>> = { 12: 1, 16: 4085, 32: 65525 };

/** Where mkfs.exfat starts the FAT (after the boot regions) and aligns the cluster heap: 1 MiB. */
const EXFAT_BOUNDARY_BYTES = 1024 * 1024;

/** Clusters a new exFAT needs besides the files: bitmap, up-case table, root directory and one spare. */
const EXFAT_SPARE_CLUSTERS = 4;

/** A FAT volume's minimum: reserved sectors, its FATs, the root directory (FAT12/16) and its used clusters (at least the variant's minimum). */
export async function fatMinimumBytes(source: ByteSource): Promise<{ bytes: number; usedClusters: number } | undefined> {
  const volume = await readFatVolume(source);
  const map = await readFatUsedBlockMap(source);
  if (!volume || !map) return undefined;
  const { geometry } = volume;
  const sectorsPerCluster = geometry.clusterSize / geometry.bytesPerSector;
  const unusedClusters = (map.totalBlocks - map.usedBlocks) / sectorsPerCluster;
  const usedClusters = geometry.clusterCount - unusedClusters;
  const clusters = Math.max(usedClusters, VARIANT_MINIMUM_CLUSTERS[geometry.variant]);
  return { bytes: Math.min(geometry.sizeBytes, geometry.dataOffset + clusters * geometry.clusterSize), usedClusters };
}

/** An exFAT's minimum as a new volume of the same cluster size holding its files; undefined without its used clusters. */
export function exfatMinimumBytes(probe: FilesystemProbe): number | undefined {
  if (probe.type !== 'exfat' || probe.usedBytes === undefined || !probe.blockSize) return undefined;
  const clusters = Math.ceil(probe.usedBytes / probe.blockSize) + EXFAT_SPARE_CLUSTERS;
  const fatBytes = (clusters + 2) * 4;
  const heapOffset = Math.ceil((EXFAT_BOUNDARY_BYTES + fatBytes) / EXFAT_BOUNDARY_BYTES) * EXFAT_BOUNDARY_BYTES;
  const bytes = heapOffset + clusters * probe.blockSize;
  return probe.sizeBytes === undefined ? bytes : Math.min(bytes, probe.sizeBytes);
}
