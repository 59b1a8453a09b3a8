// FAT12/FAT16/FAT32 boot sector probe, with free clusters counted in the first FAT.
// Format: boot sector at byte 0. BPB fields: 0x00 jump, 0x0B bytes/sector, 0x0D sectors/cluster,
// 0x0E reserved sectors, 0x10 FAT count, 0x11 root entries, 0x13 total sectors (16), 0x15 media,
// 0x16 sectors/FAT (16), 0x20 total sectors (32). FAT12/16 extended BPB at 0x24: 0x25 state (bit 0 dirty),
// 0x26 signature 0x29, 0x27 serial, 0x2B label. FAT32: 0x24 sectors/FAT (32), 0x2C root cluster,
// 0x41 state, 0x42 signature, 0x43 serial, 0x47 label. 0x1FE: 55 AA. FAT entry 1 carries the
// clean-shutdown (FAT16 0x8000, FAT32 0x08000000) and no-hard-error (0x4000, 0x04000000) bits.
// The label blkid shows is the root directory's volume-label entry (attribute 0x08), else the boot sector's.

import type { ByteSource } from '../byte-source.ts';
import { Fields, formatSerial32, isPowerOfTwo, readIfPresent, readStructure, truncated } from './fields.ts';
import type { FilesystemProbe, ProbeState } from './probe-types.ts';

const FAT12_MAX_CLUSTERS = 4084;
const FAT32_MAX_CLUSTERS = 0x0ffffff5;
/** FATs larger than this are not scanned for free clusters (FAT32's FSInfo count is used instead). */
const MAX_FAT_SCAN_BYTES = 64 * 1024 * 1024;
const FAT_SCAN_CHUNK_BYTES = 1024 * 1024;
/** Root directory clusters followed when looking for the FAT32 volume label. */
const MAX_ROOT_CLUSTERS = 4096;

/** Where a FAT volume's regions lie, from its validated BPB (block maps reuse it). */
export interface FatGeometry {
  readonly variant: 12 | 16 | 32;
  readonly bytesPerSector: number;
  readonly clusterSize: number;
  readonly fatOffset: number;
  readonly fatBytes: number;
  readonly rootDirOffset: number;
  readonly rootDirBytes: number;
  readonly dataOffset: number;
  readonly clusterCount: number;
  readonly rootCluster: number;
  readonly sizeBytes: number;
}

/** The boot sector and checked geometry of a FAT volume (used by the probe and the used-block map); undefined when not FAT. */
export async function readFatVolume(source: ByteSource): Promise<{ bs: Fields; geometry: FatGeometry } | undefined> {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes) return undefined;
  const bs = new Fields(bytes, 0, 'FAT');
  if (!looksLikeFat(bs)) return undefined;
  const geometry = readGeometry(bs);
  if (geometry.sizeBytes > source.size) throw truncated('FAT', 'total sectors', 0x13, `the filesystem spans ${geometry.sizeBytes} bytes, the source has ${source.size}.`);
  return { bs, geometry };
}

/** Recognises FAT12/16/32 and reports variant, label, serial, size, free clusters and the dirty flags. */
export async function probeFat(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const volume = await readFatVolume(source);
  if (!volume) return undefined;
  const { bs, geometry } = volume;

  const ebpb = geometry.variant === 32 ? 0x40 : 0x24;
  const hasSerial = [0x28, 0x29].includes(bs.u8(ebpb + 2, 'boot signature'));
  const warnings: string[] = [];
  let state: ProbeState = 'clean';
  if (hasSerial && bs.u8(ebpb + 1, 'state') & 1) {
    state = 'needs-check';
    warnings.push('The dirty bit is set: the volume was not unmounted cleanly.');
  }

  const fat = new FatTable(source, geometry);
  if (geometry.variant !== 12) {
    const entry1 = await fat.entry(1);
    const [cleanBit, errorBit] = geometry.variant === 16 ? [0x8000, 0x4000] : [0x08000000, 0x04000000];
    if (!(entry1 & cleanBit)) {
      state = 'needs-check';
      warnings.push('FAT entry 1 says the volume was not unmounted cleanly.');
    }
    if (!(entry1 & errorBit)) {
      state = 'needs-check';
      warnings.push('FAT entry 1 records a disk I/O error.');
    }
  }

  const freeClusters = await countFreeClusters(source, bs, geometry, warnings);
  const label = (await rootDirectoryLabel(source, geometry, fat)) ?? bootSectorLabel(bs, ebpb, hasSerial);
  return {
    type: 'vfat',
    kind: 'filesystem',
    version: `FAT${geometry.variant}`,
    fatVariant: geometry.variant,
    ...(label === undefined ? {} : { label }),
    ...(hasSerial ? { uuid: formatSerial32(bs.slice(ebpb + 3, 4, 'volume serial')) } : {}),
    sizeBytes: geometry.sizeBytes,
    blockSize: geometry.clusterSize,
    totalBlocks: geometry.clusterCount,
    ...(freeClusters === undefined ? {} : { freeBlocks: freeClusters, usedBytes: (geometry.clusterCount - freeClusters) * geometry.clusterSize }),
    state,
    warnings,
  };
}

/** The BPB checks that tell a FAT boot sector from other boot code; failing them means "not FAT". */
export function looksLikeFat(bs: Fields): boolean {
  const jump = bs.u8(0, 'jump');
  const signature = bs.u16(0x1fe, 'boot signature') === 0xaa55;
  if (!(jump === 0xeb && bs.u8(2, 'jump') === 0x90) && jump !== 0xe9 && !signature) return false;
  const bytesPerSector = bs.u16(0x0b, 'bytes per sector');
  const sectorsPerCluster = bs.u8(0x0d, 'sectors per cluster');
  const media = bs.u8(0x15, 'media');
  return [512, 1024, 2048, 4096].includes(bytesPerSector) && isPowerOfTwo(sectorsPerCluster)
    && bs.u16(0x0e, 'reserved sectors') > 0 && bs.u8(0x10, 'FAT count') > 0 && (media === 0xf0 || media >= 0xf8);
}

/** Validates the BPB and computes the regions and cluster count; bad values are LB_FILESYSTEM_CORRUPT. */
export function readGeometry(bs: Fields): FatGeometry {
  const bytesPerSector = bs.u16(0x0b, 'bytes per sector');
  const clusterSize = bytesPerSector * bs.u8(0x0d, 'sectors per cluster');
  if (clusterSize > 256 * 1024) throw bs.fail(0x0d, 'sectors per cluster', `clusters of ${clusterSize} bytes are larger than any FAT allows.`);
  const reserved = bs.u16(0x0e, 'reserved sectors');
  const fats = bs.u8(0x10, 'FAT count');
  const rootEntries = bs.u16(0x11, 'root entries');
  const sectorsPerFat16 = bs.u16(0x16, 'sectors per FAT');
  const sectorsPerFat = sectorsPerFat16 || bs.u32(0x24, 'sectors per FAT (32)');
  const totalSectors = bs.u16(0x13, 'total sectors') || bs.u32(0x20, 'total sectors (32)');
  if (sectorsPerFat === 0) throw bs.fail(0x16, 'sectors per FAT', 'the FAT has no sectors.');
  if (totalSectors === 0) throw bs.fail(0x20, 'total sectors', 'the volume has no sectors.');
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const dataStart = reserved + fats * sectorsPerFat + rootDirSectors;
  if (dataStart >= totalSectors) throw bs.fail(0x13, 'total sectors', `${totalSectors} sectors leave no room for data after ${dataStart} metadata sectors.`);
  const clusterCount = Math.floor((totalSectors - dataStart) / bs.u8(0x0d, 'sectors per cluster'));
  const variant = sectorsPerFat16 === 0 ? 32 : clusterCount > FAT12_MAX_CLUSTERS ? 16 : 12;
  if (variant === 32 && rootEntries !== 0) throw bs.fail(0x11, 'root entries', 'FAT32 keeps its root directory in clusters, yet root entries are set.');
  if (clusterCount === 0 || clusterCount > FAT32_MAX_CLUSTERS) throw bs.fail(0x0d, 'cluster count', `${clusterCount} clusters is out of range.`);
  const fatBytes = sectorsPerFat * bytesPerSector;
  const neededFatBytes = Math.ceil(((clusterCount + 2) * (variant === 12 ? 12 : variant)) / 8);
  if (fatBytes < neededFatBytes) throw bs.fail(0x16, 'sectors per FAT', `a ${fatBytes}-byte FAT cannot map ${clusterCount} clusters.`);
  const rootCluster = variant === 32 ? bs.u32(0x2c, 'root cluster') : 0;
  if (variant === 32 && (rootCluster < 2 || rootCluster > clusterCount + 1)) throw bs.fail(0x2c, 'root cluster', `cluster ${rootCluster} is not a data cluster.`);
  return {
    variant, bytesPerSector, clusterSize, clusterCount, rootCluster,
    fatOffset: reserved * bytesPerSector,
    fatBytes,
    rootDirOffset: (reserved + fats * sectorsPerFat) * bytesPerSector,
    rootDirBytes: rootEntries * 32,
    dataOffset: dataStart * bytesPerSector,
    sizeBytes: totalSectors * bytesPerSector,
  };
}

/** Reads single entries of the first FAT (for chains and entry 1). */
class FatTable {
  private readonly source: ByteSource;
  private readonly geometry: FatGeometry;
  constructor(source: ByteSource, geometry: FatGeometry) {
    this.source = source;
    this.geometry = geometry;
  }

  async entry(cluster: number): Promise<number> {
    const { variant, fatOffset } = this.geometry;
    if (variant === 12) {
      const at = fatOffset + Math.floor((cluster * 3) / 2);
      const pair = new Fields(await readStructure(this.source, 'FAT', 'FAT entry', at, 2), at, 'FAT').u16(0, 'FAT entry');
      return cluster & 1 ? pair >> 4 : pair & 0xfff;
    }
    const width = variant / 8;
    const at = fatOffset + cluster * width;
    const fields = new Fields(await readStructure(this.source, 'FAT', 'FAT entry', at, width), at, 'FAT');
    return variant === 16 ? fields.u16(0, 'FAT entry') : fields.u32(0, 'FAT entry') & 0x0fffffff;
  }
}

async function countFreeClusters(source: ByteSource, bs: Fields, geometry: FatGeometry, warnings: string[]): Promise<number | undefined> {
  const { variant, clusterCount, fatOffset } = geometry;
  const entryBits = variant === 12 ? 12 : variant;
  const scanBytes = Math.ceil(((clusterCount + 2) * entryBits) / 8);
  if (scanBytes > MAX_FAT_SCAN_BYTES) {
    return fsInfoFreeCount(source, bs, geometry, warnings);
  }
  let free = 0;
  if (variant === 12) {
    const table = await readStructure(source, 'FAT', 'FAT', fatOffset, scanBytes);
    for (let cluster = 2; cluster < clusterCount + 2; cluster++) {
      const at = Math.floor((cluster * 3) / 2);
      const pair = (table[at] ?? 0) | ((table[at + 1] ?? 0) << 8);
      if ((cluster & 1 ? pair >> 4 : pair & 0xfff) === 0) free++;
    }
    return free;
  }
  const width = variant / 8;
  const entriesPerChunk = FAT_SCAN_CHUNK_BYTES / width;
  for (let first = 2; first < clusterCount + 2; first += entriesPerChunk) {
    const count = Math.min(entriesPerChunk, clusterCount + 2 - first);
    const chunk = await readStructure(source, 'FAT', 'FAT', fatOffset + first * width, count * width);
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let i = 0; i < count; i++) {
      const value = width === 2 ? view.getUint16(i * 2, true) : view.getUint32(i * 4, true) & 0x0fffffff;
      if (value === 0) free++;
    }
  }
  return free;
}

/** FAT32's FSInfo sector keeps a free-cluster hint; used only when the FAT is too large to scan. */
async function fsInfoFreeCount(source: ByteSource, bs: Fields, geometry: FatGeometry, warnings: string[]): Promise<number | undefined> {
  const sector = geometry.variant === 32 ? bs.u16(0x30, 'FSInfo sector') : 0;
  const at = sector * geometry.bytesPerSector;
  if (sector === 0 || sector === 0xffff || at + 512 > geometry.fatOffset) {
    warnings.push('The FAT is too large to count free clusters quickly and there is no FSInfo hint.');
    return undefined;
  }
  const info = new Fields(await readStructure(source, 'FAT', 'FSInfo', at, 512), at, 'FAT');
  const free = info.u32(0x1e8, 'FSInfo free count');
  if (info.u32(0, 'FSInfo signature') !== 0x41615252 || info.u32(0x1e4, 'FSInfo signature') !== 0x61417272 || free > geometry.clusterCount) {
    warnings.push('The FAT is too large to count free clusters quickly and the FSInfo hint is not valid.');
    return undefined;
  }
  warnings.push('Free clusters come from the FSInfo hint, which may be stale.');
  return free;
}

/** The volume-label entry of the root directory, which blkid prefers over the boot sector copy. */
async function rootDirectoryLabel(source: ByteSource, geometry: FatGeometry, fat: FatTable): Promise<string | undefined> {
  if (geometry.variant !== 32) {
    const dir = await readStructure(source, 'FAT', 'root directory', geometry.rootDirOffset, geometry.rootDirBytes);
    return findLabelEntry(dir).label;
  }
  let cluster = geometry.rootCluster;
  for (let step = 0; step < MAX_ROOT_CLUSTERS; step++) {
    if (cluster < 2 || cluster > geometry.clusterCount + 1) return undefined;
    const at = geometry.dataOffset + (cluster - 2) * geometry.clusterSize;
    const found = findLabelEntry(await readStructure(source, 'FAT', 'root directory', at, geometry.clusterSize));
    if (found.label !== undefined || found.ended) return found.label;
    cluster = await fat.entry(cluster);
    if (cluster >= 0x0ffffff8) return undefined;
  }
  return undefined;
}

function findLabelEntry(dir: Uint8Array): { label?: string; ended: boolean } {
  for (let at = 0; at + 32 <= dir.length; at += 32) {
    const first = dir[at] ?? 0;
    if (first === 0) return { ended: true };
    const attributes = dir[at + 11] ?? 0;
    if (first === 0xe5 || attributes === 0x0f || (attributes & 0x18) !== 0x08) continue;
    const name = Uint8Array.from(dir.subarray(at, at + 11));
    if (name[0] === 0x05) name[0] = 0xe5;
    const label = fatText(name);
    return label === undefined ? { ended: true } : { label, ended: true };
  }
  return { ended: false };
}

function bootSectorLabel(bs: Fields, ebpb: number, hasSerial: boolean): string | undefined {
  if (!hasSerial) return undefined;
  const label = fatText(bs.slice(ebpb + 7, 11, 'volume label'));
  return label === 'NO NAME' ? undefined : label;
}

function fatText(bytes: Uint8Array): string | undefined {
  const text = Buffer.from(bytes).toString('latin1').replace(/[\0 ]+$/, '');
  return text === '' ? undefined : text;
}

