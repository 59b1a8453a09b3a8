// NTFS probe: boot sector geometry, the label and dirty flag from $Volume, used clusters from $Bitmap, and
// whether Windows is hibernated (hiberfil.sys in the root directory, see ntfs-hibernation.ts).
// Format: boot sector at byte 0: 0x03 "NTFS    ", 0x0B bytes/sector, 0x0D sectors/cluster (values
// above 0x80 mean 2^(256-v)), 0x28 total sectors (u64), 0x30 $MFT LCN, 0x40 clusters per MFT record
// (negative: 2^-v bytes), 0x48 serial (u64). MFT record 0 ($MFT) $DATA (0x80) runlist locates the other
// records; record 3 ($Volume) holds $VOLUME_NAME (0x60, UTF-16LE) and $VOLUME_INFORMATION (0x70:
// +8 major, +9 minor, +10 flags, bit 0 dirty); record 6 ($Bitmap) $DATA is one bit per cluster.
// Hibernation (as ntfs-3g checks it): record 5 is the root directory. Its $INDEX_ROOT (0x90, named $I30)
// value has +0x08 index block size and an index header at +0x10: +0 entries offset, +4 bytes in use
// (both from the header). Entries may point to sub-nodes: INDX blocks in $INDEX_ALLOCATION (0xA0, $I30),
// fixed up like FILE records, +0x10 their own VCN, index header at +0x18; a VCN counts clusters, or
// 512-byte units when blocks are smaller than a cluster. An index entry: +0 MFT reference (48-bit record,
// 16-bit sequence), +8 length, +0x0A key length, +0x0C flags (1: sub-node VCN in the last 8 bytes, 2:
// last entry), +0x10 key, a $FILE_NAME: +0x40 name length in characters, +0x42 UTF-16LE name. When
// hiberfil.sys's unnamed $DATA starts with "hibr" or "wake" (any case) Windows is hibernated; zeros or
// no hiberfil.sys mean it shut down fully.

import type { ByteSource } from '../byte-source.ts';
import { LifeboatError, type ErrorCode } from '../errors.ts';
import { Fields, corrupt, countSetBits, formatHexLittleEndian, hasAscii, isPowerOfTwo, readIfPresent, readStructure, truncated, utf16Text } from './fields.ts';
import { windowsHibernated } from './ntfs-hibernation.ts';
import { applyFixups, decodeRuns, listAttributes, residentValue, runByteOffset, type Run } from './ntfs-records.ts';
import type { FilesystemProbe, ProbeState } from './probe-types.ts';

const ATTR_DATA = 0x80;
const ATTR_VOLUME_NAME = 0x60;
const ATTR_VOLUME_INFORMATION = 0x70;
const RECORD_VOLUME = 3;
const RECORD_BITMAP = 6;
const VOLUME_DIRTY = 0x0001;
const MAX_CLUSTER_BYTES = 2 * 1024 * 1024;
/** $Bitmap larger than this is not counted (2^31 clusters, 8 TiB at 4 KiB). */
const MAX_BITMAP_BYTES = 256 * 1024 * 1024;
const BITMAP_CHUNK_BYTES = 1024 * 1024;
/** Errors that mean damaged metadata (a failing device is still an error). */
const DAMAGE_CODES: readonly ErrorCode[] = ['LB_FILESYSTEM_CORRUPT', 'LB_FILESYSTEM_TRUNCATED'];

/** An NTFS volume's clusters, record size and $MFT runlist. */
export interface NtfsGeometry {
  readonly clusterSize: number;
  readonly totalClusters: number;
  readonly recordSize: number;
  readonly mftRuns: Run[];
  /** Absolute offset of record 0, named in errors about the $MFT runlist. */
  readonly mftOffset: number;
}

/** Recognises NTFS and reports label, serial, size, used clusters and the $Volume dirty flag. */
export async function probeNtfs(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes || !hasAscii(bytes, 3, 'NTFS    ')) return undefined;
  const bs = new Fields(bytes, 0, 'NTFS');
  const { geometry, sizeBytes } = await readNtfsGeometry(source, bs);
  const { clusterSize, totalClusters } = geometry;

  const warnings: string[] = [];
  const volume = await readRecord(source, geometry, RECORD_VOLUME, '$Volume');
  const volumeAttributes = listAttributes(volume, '$Volume');
  const nameAttribute = volumeAttributes.find((attribute) => attribute.type === ATTR_VOLUME_NAME);
  const label = nameAttribute ? utf16Text(residentValue(volume, nameAttribute, '$VOLUME_NAME')) : undefined;
  const infoAttribute = volumeAttributes.find((attribute) => attribute.type === ATTR_VOLUME_INFORMATION);
  let state: ProbeState = 'clean';
  let version: string | undefined;
  if (infoAttribute) {
    const info = new Fields(residentValue(volume, infoAttribute, '$VOLUME_INFORMATION'), volume.base + infoAttribute.offset, 'NTFS');
    version = `${info.u8(8, 'major version')}.${info.u8(9, 'minor version')}`;
    if (info.u16(10, 'volume flags') & VOLUME_DIRTY) {
      state = 'needs-check';
      warnings.push('The volume is marked dirty: Windows will run chkdsk on it.');
    }
  } else {
    state = 'unknown';
    warnings.push('$Volume has no $VOLUME_INFORMATION; the dirty flag is unknown.');
  }
  if (await checkHibernation(source, geometry, warnings)) {
    state = 'hibernated';
    warnings.push('Windows is hibernated or was shut down with Fast Startup (hiberfil.sys holds its memory image): changes made here are lost or cause damage when Windows resumes.');
  }

  const usedClusters = await countUsedClusters(source, geometry, warnings);
  return {
    type: 'ntfs',
    kind: 'filesystem',
    ...(version === undefined ? {} : { version }),
    ...(label === undefined ? {} : { label }),
    uuid: formatHexLittleEndian(bs.slice(0x48, 8, 'serial')),
    sizeBytes,
    blockSize: clusterSize,
    totalBlocks: totalClusters,
    ...(usedClusters === undefined ? {} : { freeBlocks: totalClusters - usedClusters, usedBytes: usedClusters * clusterSize }),
    state,
    warnings,
  };
}

/** Validates the NTFS boot sector and reads the $MFT runlist from record 0 (block maps reuse it). */
export async function readNtfsGeometry(source: ByteSource, bs: Fields): Promise<{ geometry: NtfsGeometry; sizeBytes: number }> {
  const sectorSize = bs.u16(0x0b, 'bytes per sector');
  if (!isPowerOfTwo(sectorSize) || sectorSize < 256 || sectorSize > 4096) throw bs.fail(0x0b, 'bytes per sector', `${sectorSize} is not a sector size.`);
  const rawSpc = bs.u8(0x0d, 'sectors per cluster');
  const sectorsPerCluster = rawSpc > 0x80 ? 2 ** (256 - rawSpc) : rawSpc;
  const clusterSize = sectorSize * sectorsPerCluster;
  if (!isPowerOfTwo(sectorsPerCluster) || clusterSize > MAX_CLUSTER_BYTES) throw bs.fail(0x0d, 'sectors per cluster', `${rawSpc} gives clusters of ${clusterSize} bytes.`);
  const totalSectors = bs.u64(0x28, 'total sectors');
  const totalClusters = Math.floor(totalSectors / sectorsPerCluster);
  if (totalClusters === 0) throw bs.fail(0x28, 'total sectors', `${totalSectors} sectors hold no cluster.`);
  const sizeBytes = totalSectors * sectorSize;
  if (!Number.isSafeInteger(sizeBytes)) throw bs.fail(0x28, 'total sectors', `${totalSectors} sectors is out of range.`);
  if (sizeBytes > source.size) throw truncated('NTFS', 'total sectors', 0x28, `the filesystem spans ${sizeBytes} bytes, the source has ${source.size}.`);
  const rawRecord = bs.i8(0x40, 'clusters per MFT record');
  const recordSize = rawRecord > 0 ? rawRecord * clusterSize : 2 ** -rawRecord;
  if (!isPowerOfTwo(recordSize) || recordSize < 512 || recordSize > 65536) throw bs.fail(0x40, 'clusters per MFT record', `${rawRecord} gives ${recordSize}-byte records.`);
  const mftLcn = bs.u64(0x30, '$MFT LCN');
  if (mftLcn >= totalClusters) throw bs.fail(0x30, '$MFT LCN', `cluster ${mftLcn} lies past the ${totalClusters} clusters of the volume.`);

  const firstRecordAt = mftLcn * clusterSize;
  const mft = applyFixups(Uint8Array.from(await readStructure(source, 'NTFS', '$MFT record', firstRecordAt, recordSize)), firstRecordAt, '$MFT');
  const mftData = listAttributes(mft, '$MFT').find((attribute) => attribute.type === ATTR_DATA && attribute.nameLength === 0);
  if (!mftData) throw mft.fail(0x14, '$MFT $DATA', 'the $MFT record has no $DATA attribute.');
  const geometry: NtfsGeometry = { clusterSize, totalClusters, recordSize, mftRuns: decodeRuns(mft, mftData, totalClusters, '$MFT $DATA'), mftOffset: firstRecordAt };
  return { geometry, sizeBytes };
}

/** Reads MFT record `index` through the $MFT runlist and applies its fix-ups. */
export async function readRecord(source: ByteSource, geometry: NtfsGeometry, index: number, field: string): Promise<Fields> {
  const at = mftByteOffset(geometry, index * geometry.recordSize, field);
  return applyFixups(Uint8Array.from(await readStructure(source, 'NTFS', `${field} record`, at, geometry.recordSize)), at, field);
}

function mftByteOffset(geometry: NtfsGeometry, offsetInMft: number, field: string): number {
  const at = runByteOffset(geometry.mftRuns, geometry.clusterSize, offsetInMft, geometry.recordSize);
  if (at !== undefined) return at;
  throw corrupt('NTFS', `${field} record`, geometry.mftOffset, `record at MFT offset ${offsetInMft}: the $MFT runlist does not map this record to one contiguous extent.`);
}

/** Whether hiberfil.sys holds a hibernation image; damage to the lookup becomes a warning, not an error. */
async function checkHibernation(source: ByteSource, geometry: NtfsGeometry, warnings: string[]): Promise<boolean> {
  const volume = { clusterSize: geometry.clusterSize, totalClusters: geometry.totalClusters, readRecord: (index: number, field: string) => readRecord(source, geometry, index, field) };
  try {
    return await windowsHibernated(source, volume);
  } catch (error) {
    if (!(error instanceof LifeboatError) || !DAMAGE_CODES.includes(error.code)) throw error;
    warnings.push(`hibernation state could not be read: ${typeof error.details.detail === 'string' ? error.details.detail : error.message}`);
    return false;
  }
}

async function countUsedClusters(source: ByteSource, geometry: NtfsGeometry, warnings: string[]): Promise<number | undefined> {
  const record = await readRecord(source, geometry, RECORD_BITMAP, '$Bitmap');
  const data = listAttributes(record, '$Bitmap').find((attribute) => attribute.type === ATTR_DATA && attribute.nameLength === 0);
  if (!data) throw record.fail(0x14, '$Bitmap $DATA', 'the $Bitmap record has no $DATA attribute.');
  const neededBytes = Math.ceil(geometry.totalClusters / 8);
  if (neededBytes > MAX_BITMAP_BYTES) {
    warnings.push('$Bitmap is too large to count quickly; used space is not reported.');
    return undefined;
  }
  if (!data.nonResident) {
    return countSetBits(residentValue(record, data, '$Bitmap $DATA'), geometry.totalClusters);
  }
  const dataSize = record.u64(data.offset + 0x30, '$Bitmap data size');
  if (dataSize < neededBytes) throw record.fail(data.offset + 0x30, '$Bitmap data size', `${dataSize} bytes cannot map ${geometry.totalClusters} clusters.`);
  let remainingBits = geometry.totalClusters;
  let used = 0;
  for (const run of decodeRuns(record, data, geometry.totalClusters, '$Bitmap $DATA')) {
    for (let done = 0; done < run.clusters * geometry.clusterSize && remainingBits > 0; done += BITMAP_CHUNK_BYTES) {
      const length = Math.min(BITMAP_CHUNK_BYTES, run.clusters * geometry.clusterSize - done, Math.ceil(remainingBits / 8));
      const bits = Math.min(remainingBits, length * 8);
      if (run.lcn !== undefined) used += countSetBits(await readStructure(source, 'NTFS', '$Bitmap', run.lcn * geometry.clusterSize + done, length), bits);
      remainingBits -= bits;
    }
    if (remainingBits === 0) return used;
  }
  throw record.fail(data.offset, '$Bitmap $DATA', 'the runlist ends before the bitmap covers every cluster.');
}
