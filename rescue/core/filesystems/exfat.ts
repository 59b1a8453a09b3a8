// exFAT boot sector probe, with the label from the root directory and used clusters from the
// allocation bitmap. Format: boot sector at byte 0: 0x03 "EXFAT   ", 0x48 VolumeLength (sectors),
// 0x50 FatOffset, 0x54 FatLength, 0x58 ClusterHeapOffset (sectors), 0x5C ClusterCount,
// 0x60 FirstClusterOfRootDirectory, 0x64 VolumeSerialNumber, 0x68 FileSystemRevision (minor, major),
// 0x6A VolumeFlags (bit 1 VolumeDirty, bit 2 MediaFailure), 0x6C BytesPerSectorShift,
// 0x6D SectorsPerClusterShift, 0x6E NumberOfFats. Root directory entries (32 bytes): 0x83 volume label
// (+1 character count, +2 UTF-16LE name), 0x81 allocation bitmap (+1 flags, +20 first cluster,
// +24 data length). Cluster chains follow the first FAT (32-bit entries, >= 0xFFFFFFF7 ends).

import type { ByteSource } from '../byte-source.ts';
import { Fields, corrupt, countSetBits, formatSerial32, hasAscii, readIfPresent, readStructure, truncated, utf16Text } from './fields.ts';
import type { FilesystemProbe, ProbeState } from './probe-types.ts';

const MAX_CLUSTER_COUNT = 0xfffffff5;
/** Root directory clusters read while looking for the label and bitmap entries. */
const MAX_ROOT_CLUSTERS = 256;
/** Allocation bitmaps larger than this are not counted (2^31 clusters). */
const MAX_BITMAP_BYTES = 256 * 1024 * 1024;

/** Where an exFAT volume's FAT and cluster heap lie. */
export interface ExfatGeometry {
  readonly sectorSize: number;
  readonly clusterSize: number;
  readonly fatOffset: number;
  readonly heapOffset: number;
  readonly clusterCount: number;
}

/** Recognises exFAT and reports label, serial, size, used clusters and the dirty flag. */
export async function probeExfat(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes || !hasAscii(bytes, 3, 'EXFAT   ')) return undefined;
  const bs = new Fields(bytes, 0, 'exFAT');
  const { geometry, rootCluster, sizeBytes } = readExfatGeometry(bs, source.size);
  const clusterCount = geometry.clusterCount;
  const flags = bs.u16(0x6a, 'VolumeFlags');
  const warnings: string[] = [];
  let state: ProbeState = 'clean';
  if (flags & 0x2) {
    state = 'needs-check';
    warnings.push('VolumeDirty is set: the volume was not unmounted cleanly.');
  }
  if (flags & 0x4) {
    state = 'needs-check';
    warnings.push('MediaFailure is set: the volume has reported read or write errors.');
  }

  const root = await readRootDirectory(source, geometry, rootCluster);
  const usedClusters = root.bitmap ? await countUsedClusters(source, geometry, root.bitmap, warnings) : undefined;
  if (!root.bitmap) warnings.push('The root directory has no allocation bitmap entry.');
  return {
    type: 'exfat',
    kind: 'filesystem',
    version: `${bs.u8(0x69, 'FileSystemRevision')}.${bs.u8(0x68, 'FileSystemRevision')}`,
    ...(root.label === undefined ? {} : { label: root.label }),
    uuid: formatSerial32(bs.slice(0x64, 4, 'VolumeSerialNumber')),
    sizeBytes,
    blockSize: geometry.clusterSize,
    totalBlocks: clusterCount,
    ...(usedClusters === undefined ? {} : { freeBlocks: clusterCount - usedClusters, usedBytes: usedClusters * geometry.clusterSize }),
    state,
    warnings,
  };
}

/** Validates the exFAT boot sector and computes where the FAT and cluster heap lie (block maps reuse it). */
export function readExfatGeometry(bs: Fields, sourceSize: number): { geometry: ExfatGeometry; rootCluster: number; sizeBytes: number; volumeSectors: number } {
  const sectorShift = bs.u8(0x6c, 'BytesPerSectorShift');
  const clusterShift = bs.u8(0x6d, 'SectorsPerClusterShift');
  if (sectorShift < 9 || sectorShift > 12) throw bs.fail(0x6c, 'BytesPerSectorShift', `${sectorShift} is not between 9 and 12.`);
  if (clusterShift > 25 - sectorShift) throw bs.fail(0x6d, 'SectorsPerClusterShift', `clusters larger than 32 MiB (${clusterShift}).`);
  const sectorSize = 2 ** sectorShift;
  const volumeSectors = bs.u64(0x48, 'VolumeLength');
  const fatOffsetSectors = bs.u32(0x50, 'FatOffset');
  const fatLength = bs.u32(0x54, 'FatLength');
  const heapOffsetSectors = bs.u32(0x58, 'ClusterHeapOffset');
  const clusterCount = bs.u32(0x5c, 'ClusterCount');
  const rootCluster = bs.u32(0x60, 'FirstClusterOfRootDirectory');
  const fats = bs.u8(0x6e, 'NumberOfFats');
  if (fats !== 1 && fats !== 2) throw bs.fail(0x6e, 'NumberOfFats', `${fats} FATs.`);
  if (fatOffsetSectors < 24) throw bs.fail(0x50, 'FatOffset', `sector ${fatOffsetSectors} overlaps the boot region.`);
  if (fatLength * sectorSize < (clusterCount + 2) * 4) throw bs.fail(0x54, 'FatLength', `${fatLength} sectors cannot map ${clusterCount} clusters.`);
  if (heapOffsetSectors < fatOffsetSectors + fatLength * fats) throw bs.fail(0x58, 'ClusterHeapOffset', `sector ${heapOffsetSectors} overlaps the FATs.`);
  const sizeBytes = volumeSectors * sectorSize;
  if (!Number.isSafeInteger(sizeBytes) || volumeSectors < heapOffsetSectors) throw bs.fail(0x48, 'VolumeLength', `${volumeSectors} sectors is out of range.`);
  if (clusterCount === 0 || clusterCount > MAX_CLUSTER_COUNT || clusterCount > Math.floor((volumeSectors - heapOffsetSectors) / 2 ** clusterShift)) {
    throw bs.fail(0x5c, 'ClusterCount', `${clusterCount} clusters do not fit the volume.`);
  }
  if (rootCluster < 2 || rootCluster > clusterCount + 1) throw bs.fail(0x60, 'FirstClusterOfRootDirectory', `cluster ${rootCluster} is not a data cluster.`);
  if (sizeBytes > sourceSize) throw truncated('exFAT', 'VolumeLength', 0x48, `the filesystem spans ${sizeBytes} bytes, the source has ${sourceSize}.`);

  const geometry: ExfatGeometry = {
    sectorSize,
    clusterSize: sectorSize * 2 ** clusterShift,
    fatOffset: fatOffsetSectors * sectorSize,
    heapOffset: heapOffsetSectors * sectorSize,
    clusterCount,
  };
  return { geometry, rootCluster, sizeBytes, volumeSectors };
}

/** The root directory's allocation bitmap entry: first cluster, DataLength, and where the entry is. */
export interface BitmapEntry {
  readonly firstCluster: number;
  readonly length: number;
  readonly offset: number;
}

/** Walks the root directory chain for the volume label and the allocation bitmap entry. */
export async function readRootDirectory(source: ByteSource, geometry: ExfatGeometry, rootCluster: number): Promise<{ label?: string; bitmap?: BitmapEntry }> {
  let label: string | undefined;
  let bitmap: BitmapEntry | undefined;
  let cluster = rootCluster;
  for (let step = 0; step < MAX_ROOT_CLUSTERS; step++) {
    const at = clusterOffset(geometry, cluster, 'root directory', 0x60);
    const dir = new Fields(await readStructure(source, 'exFAT', 'root directory', at, geometry.clusterSize), at, 'exFAT');
    for (let entry = 0; entry < geometry.clusterSize; entry += 32) {
      const type = dir.u8(entry, 'EntryType');
      if (type === 0) return { ...(label === undefined ? {} : { label }), ...(bitmap ? { bitmap } : {}) };
      if (type === 0x83 && label === undefined) {
        const count = dir.u8(entry + 1, 'CharacterCount');
        if (count > 11) throw dir.fail(entry + 1, 'CharacterCount', `a volume label of ${count} characters (at most 11).`);
        label = utf16Text(dir.slice(entry + 2, count * 2, 'VolumeLabel'));
      } else if (type === 0x81 && bitmap === undefined && (dir.u8(entry + 1, 'BitmapFlags') & 1) === 0) {
        bitmap = { firstCluster: dir.u32(entry + 20, 'FirstCluster'), length: dir.u64(entry + 24, 'DataLength'), offset: at + entry };
      }
    }
    cluster = await nextCluster(source, geometry, cluster);
    if (cluster >= 0xfffffff7) return { ...(label === undefined ? {} : { label }), ...(bitmap ? { bitmap } : {}) };
  }
  throw corrupt('exFAT', 'root directory', geometry.heapOffset + (rootCluster - 2) * geometry.clusterSize, `the root directory chain is longer than ${MAX_ROOT_CLUSTERS} clusters.`);
}

async function countUsedClusters(source: ByteSource, geometry: ExfatGeometry, bitmap: BitmapEntry, warnings: string[]): Promise<number | undefined> {
  const needed = Math.ceil(geometry.clusterCount / 8);
  const fail = (detail: string) => corrupt('exFAT', 'allocation bitmap', bitmap.offset, detail);
  if (bitmap.length < needed) throw fail(`DataLength ${bitmap.length} is shorter than the ${needed} bytes ${geometry.clusterCount} clusters need.`);
  if (needed > MAX_BITMAP_BYTES) {
    warnings.push('The allocation bitmap is too large to count quickly; used space is not reported.');
    return undefined;
  }
  let used = 0;
  let remainingBits = geometry.clusterCount;
  let cluster = bitmap.firstCluster;
  const maxClusters = Math.ceil(needed / geometry.clusterSize);
  for (let step = 0; step < maxClusters; step++) {
    const at = clusterOffset(geometry, cluster, 'allocation bitmap', bitmap.offset + 20);
    const length = Math.min(geometry.clusterSize, Math.ceil(remainingBits / 8));
    used += countSetBits(await readStructure(source, 'exFAT', 'allocation bitmap', at, length), Math.min(remainingBits, length * 8));
    remainingBits -= Math.min(remainingBits, length * 8);
    if (remainingBits === 0) return used;
    cluster = await nextCluster(source, geometry, cluster);
  }
  throw fail('the bitmap cluster chain ends before the bitmap does.');
}

/** Byte offset of a data cluster; a cluster outside the heap is LB_FILESYSTEM_CORRUPT at `fieldOffset`. */
export function clusterOffset(geometry: ExfatGeometry, cluster: number, field: string, fieldOffset: number): number {
  if (cluster < 2 || cluster > geometry.clusterCount + 1) {
    throw corrupt('exFAT', field, fieldOffset, `cluster ${cluster} is not a data cluster.`);
  }
  return geometry.heapOffset + (cluster - 2) * geometry.clusterSize;
}

/** The FAT entry of `cluster`: the next cluster of its chain. */
export async function nextCluster(source: ByteSource, geometry: ExfatGeometry, cluster: number): Promise<number> {
  const at = geometry.fatOffset + cluster * 4;
  return new Fields(await readStructure(source, 'exFAT', 'FAT entry', at, 4), at, 'exFAT').u32(0, 'FAT entry');
}
