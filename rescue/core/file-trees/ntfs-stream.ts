// The bytes of one NTFS data stream: resident values, runlists with sparse runs, bytes past the
// initialized size read as zeros, and LZNT1-compressed streams. A compressed stream is cut into units
// of 2^n clusters (16 as NTFS writes them): a unit with every cluster allocated is stored as is, one with
// none is zeros, one whose runlist ends in a sparse run holds LZNT1 data in its allocated clusters.

import { checkRange } from '../byte-source.ts';
import type { Run } from '../filesystems/ntfs-records.ts';
import type { FileContent } from './file-tree.ts';
import { decompressLznt1 } from './lznt1.ts';
import { LruCache, type NtfsVolume, type StreamValue } from './ntfs-volume.ts';

const UNITS_CACHED = 8;

/** A FileContent over one attribute value of `volume`. */
export function openStream(volume: NtfsVolume, value: StreamValue, field: string): FileContent {
  if (value.resident) {
    const bytes = value.bytes;
    return {
      size: bytes.length,
      read: async (offset, length) => {
        checkRange(bytes.length, offset, length);
        return bytes.slice(offset, offset + length);
      },
      dataRanges: async () => (bytes.length === 0 ? [] : [{ offset: 0, length: bytes.length }]),
    };
  }
  const clusterSize = volume.geometry.clusterSize;
  const mappedBytes = value.runs.reduce((sum, run) => sum + run.clusters, 0) * clusterSize;
  const units = new LruCache<number, Uint8Array>(UNITS_CACHED);
  const unitBytes = value.compressionUnitClusters * clusterSize;

  const readCompressed = async (output: Uint8Array, offset: number, end: number): Promise<void> => {
    const first = Math.floor(offset / unitBytes);
    const last = Math.floor((end - 1) / unitBytes);
    const missing: number[] = [];
    for (let unit = first; unit <= last; unit++) if (!units.get(unit)) missing.push(unit);
    if (missing.length > 0) {
      const spanStart = (missing[0] ?? 0) * unitBytes;
      const spanEnd = Math.min(((missing[missing.length - 1] ?? 0) + 1) * unitBytes, mappedBytes);
      const raw = spanEnd > spanStart ? await volume.readRuns(value.runs, spanStart, spanEnd - spanStart, field) : new Uint8Array(0);
      for (const unit of missing) {
        const at = unit * unitBytes - spanStart;
        const allocated = allocatedClusters(value.runs, unit * value.compressionUnitClusters, value.compressionUnitClusters);
        let bytes: Uint8Array;
        if (allocated === value.compressionUnitClusters) bytes = raw.slice(at, at + unitBytes);
        else if (allocated === 0) bytes = new Uint8Array(unitBytes);
        else bytes = decompressLznt1(raw.subarray(at, at + allocated * clusterSize), unitBytes, value.at);
        units.set(unit, bytes);
      }
    }
    for (let unit = first; unit <= last; unit++) {
      const bytes = units.get(unit) ?? new Uint8Array(unitBytes);
      const unitStart = unit * unitBytes;
      const from = Math.max(offset, unitStart);
      const to = Math.min(end, unitStart + unitBytes);
      output.set(bytes.subarray(from - unitStart, to - unitStart), from - offset);
    }
  };

  return {
    size: value.dataSize,
    read: async (offset, length) => {
      checkRange(value.dataSize, offset, length);
      const output = new Uint8Array(length);
      const end = Math.min(offset + length, value.initializedSize);
      if (end <= offset) return output;
      if (value.compressionUnitClusters !== 0) await readCompressed(output, offset, end);
      else output.set(await volume.readRuns(value.runs, offset, end - offset, field));
      return output;
    },
    dataRanges: async () => dataRanges(value, clusterSize),
  };
}

/** Allocated clusters among `count` clusters from `vcn` (clusters past the runlist count as sparse). */
function allocatedClusters(runs: readonly Run[], vcn: number, count: number): number {
  let start = 0;
  let allocated = 0;
  for (const run of runs) {
    const from = Math.max(vcn, start);
    const to = Math.min(vcn + count, start + run.clusters);
    if (from < to && run.lcn !== undefined) allocated += to - from;
    start += run.clusters;
    if (start >= vcn + count) break;
  }
  return allocated;
}

function dataRanges(value: Extract<StreamValue, { resident: false }>, clusterSize: number): Array<{ offset: number; length: number }> {
  const ranges: Array<{ offset: number; length: number }> = [];
  const add = (from: number, to: number) => {
    if (to <= from) return;
    const previous = ranges[ranges.length - 1];
    if (previous && previous.offset + previous.length === from) previous.length += to - from;
    else ranges.push({ offset: from, length: to - from });
  };
  if (value.compressionUnitClusters !== 0) {
    const unitClusters = value.compressionUnitClusters;
    const unitBytes = unitClusters * clusterSize;
    for (let unit = 0; unit * unitBytes < value.initializedSize; unit++) {
      if (allocatedClusters(value.runs, unit * unitClusters, unitClusters) > 0) add(unit * unitBytes, Math.min((unit + 1) * unitBytes, value.initializedSize));
    }
    return ranges;
  }
  let start = 0;
  for (const run of value.runs) {
    const bytes = run.clusters * clusterSize;
    if (run.lcn !== undefined) add(start, Math.min(start + bytes, value.initializedSize));
    start += bytes;
    if (start >= value.initializedSize) break;
  }
  return ranges;
}
