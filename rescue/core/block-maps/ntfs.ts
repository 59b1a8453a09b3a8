// Used-block map of NTFS: the bits of $Bitmap, as partclone.ntfs counts them.
// Format: boot sector at byte 0 and $MFT record 0 (parsed by filesystems/ntfs.ts); MFT record 6
// ($Bitmap) is reached through $MFT's runlist and fixed up; its unnamed $DATA attribute (0x80) holds
// one bit per cluster, resident or as a runlist (sparse runs read as zeros). Units are clusters, as
// partclone's (block size = cluster size, total = clusters in the volume). partclone 0.3.23 does not
// count the backup boot sector past the last cluster (its code for that is commented out), so
// neither does this map; nor the sectors of a last partial cluster.

import type { ByteSource } from '../byte-source.ts';
import { corrupt, Fields, hasAscii, readIfPresent, readStructure } from '../filesystems/fields.ts';
import { readNtfsGeometry, readRecord, type NtfsGeometry } from '../filesystems/ntfs.ts';
import { decodeRuns, listAttributes, residentValue, type Run } from '../filesystems/ntfs-records.ts';
import { setBitRuns } from './exfat-ntfs-bit-runs.ts';
import { mergeExtents, type UsedBlockMap, type UsedExtent } from './used-block-map.ts';

const ATTR_DATA = 0x80;
const RECORD_BITMAP = 6;
const BITMAP_CHUNK_BYTES = 1024 * 1024;

/** Where the $Bitmap bytes are: resident bytes, or runs on disk. */
type BitmapSource = { readonly resident: Uint8Array } | { readonly runs: Run[] };

/** Reads an NTFS volume's used clusters from $Bitmap (partclone.ntfs's map); undefined when not NTFS. */
export async function readNtfsUsedBlockMap(source: ByteSource): Promise<UsedBlockMap | undefined> {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes || !hasAscii(bytes, 3, 'NTFS    ')) return undefined;
  const { geometry, sizeBytes } = await readNtfsGeometry(source, new Fields(bytes, 0, 'NTFS'));
  const bitmap = await locateBitmap(source, geometry);
  let usedClusters = 0;
  for await (const run of setBitRuns(bitmapChunks(source, geometry, bitmap), geometry.totalClusters)) usedClusters += run.end - run.start;
  return {
    filesystem: 'NTFS',
    blockSize: geometry.clusterSize,
    totalBlocks: geometry.totalClusters,
    usedBlocks: usedClusters,
    sizeBytes,
    notice: undefined,
    extents: () => mergeExtents(usedExtents(source, geometry, bitmap)),
  };
}

async function* usedExtents(source: ByteSource, geometry: NtfsGeometry, bitmap: BitmapSource): AsyncIterable<UsedExtent> {
  for await (const run of setBitRuns(bitmapChunks(source, geometry, bitmap), geometry.totalClusters)) {
    yield { offset: run.start * geometry.clusterSize, length: (run.end - run.start) * geometry.clusterSize };
  }
}

/** Finds $Bitmap's $DATA in MFT record 6 and checks that it covers every cluster of the volume. */
async function locateBitmap(source: ByteSource, geometry: NtfsGeometry): Promise<BitmapSource> {
  const record = await readRecord(source, geometry, RECORD_BITMAP, '$Bitmap');
  const data = listAttributes(record, '$Bitmap').find((attribute) => attribute.type === ATTR_DATA && attribute.nameLength === 0);
  if (!data) throw record.fail(0x14, '$Bitmap $DATA', 'the $Bitmap record has no $DATA attribute.');
  const neededBytes = Math.ceil(geometry.totalClusters / 8);
  if (!data.nonResident) {
    const resident = residentValue(record, data, '$Bitmap $DATA');
    if (resident.length < neededBytes) throw record.fail(data.offset + 0x10, '$Bitmap $DATA', `${resident.length} bytes cannot map ${geometry.totalClusters} clusters.`);
    return { resident };
  }
  if (record.u64(data.offset + 0x10, '$Bitmap lowest VCN') !== 0) throw record.fail(data.offset + 0x10, '$Bitmap lowest VCN', 'the $DATA attribute does not start at VCN 0.');
  const dataSize = record.u64(data.offset + 0x30, '$Bitmap data size');
  if (dataSize < neededBytes) throw record.fail(data.offset + 0x30, '$Bitmap data size', `${dataSize} bytes cannot map ${geometry.totalClusters} clusters.`);
  const runs = decodeRuns(record, data, geometry.totalClusters, '$Bitmap $DATA');
  const mappedBytes = runs.reduce((sum, run) => sum + run.clusters * geometry.clusterSize, 0);
  if (mappedBytes < neededBytes) throw record.fail(data.offset, '$Bitmap $DATA', `the runlist maps ${mappedBytes} bytes, the bitmap needs ${neededBytes}.`);
  return { runs };
}

/** The first ceil(clusters / 8) bytes of $Bitmap, in chunks of at most 1 MiB. */
async function* bitmapChunks(source: ByteSource, geometry: NtfsGeometry, bitmap: BitmapSource): AsyncIterable<Uint8Array> {
  if ('resident' in bitmap) {
    yield bitmap.resident;
    return;
  }
  let remaining = Math.ceil(geometry.totalClusters / 8);
  for (const run of bitmap.runs) {
    const runBytes = run.clusters * geometry.clusterSize;
    for (let done = 0; done < runBytes && remaining > 0; done += BITMAP_CHUNK_BYTES) {
      const length = Math.min(BITMAP_CHUNK_BYTES, runBytes - done, remaining);
      yield run.lcn === undefined ? new Uint8Array(length) : await readStructure(source, 'NTFS', '$Bitmap', run.lcn * geometry.clusterSize + done, length);
      remaining -= length;
    }
    if (remaining === 0) return;
  }
  throw corrupt('NTFS', '$Bitmap $DATA', geometry.mftOffset + RECORD_BITMAP * geometry.recordSize, 'the runlist ends before the bitmap covers every cluster.');
}
