// An NTFS volume as the file tree reads it: MFT records read through $MFT's own runlist (completed
// from $MFT's attribute list when the MFT is fragmented past one record), in 256 KiB slices cached so a
// folder of files costs a few reads; a file's attributes gathered across its extension records through
// $ATTRIBUTE_LIST (0x20; entries: +0 type, +4 length, +6 name length, +8 lowest VCN, +0x10 MFT
// reference); clusters read through a runlist with neighbouring runs joined into one read.
// Record header: +0x10 sequence, +0x12 link count, +0x16 flags (1 in use, 2 directory), +0x20 base record.
// Non-resident attribute: +0x0C flags (1 compressed, 0x8000 sparse), +0x10 lowest VCN, +0x22 compression
// unit (log2 clusters), +0x28 allocated, +0x30 data, +0x38 initialized size, +0x40 compressed size.

import { readInto, type ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { Fields, corrupt, readStructure, truncated } from '../filesystems/fields.ts';
import type { NtfsGeometry } from '../filesystems/ntfs.ts';
import { applyFixups, attributeName, decodeRuns, listAttributes, residentValue, type Attribute, type Run } from '../filesystems/ntfs-records.ts';

export const ATTR_ATTRIBUTE_LIST = 0x20;
const RECORD_IN_USE = 0x01;
/** MFT bytes read at once: 256 records of 1 KiB. */
const MFT_SLICE_BYTES = 256 * 1024;
const MFT_SLICES_CACHED = 16;
/** Extension records one file may have before its attribute list is judged damaged. */
const MAX_EXTENSION_RECORDS = 4096;
const MAX_ATTRIBUTE_LIST_BYTES = 4 * 1024 * 1024;
/** Largest single read of file data; longer reads are split. */
const MAX_READ_BYTES = 16 * 1024 * 1024;

/** An attribute and the fixed-up record that holds it. */
export interface LocatedAttribute {
  readonly record: Fields;
  readonly attribute: Attribute;
  readonly name: string;
}

/** A file's base record header and every attribute it has, across extension records. */
export interface NtfsFile {
  readonly number: number;
  readonly record: Fields;
  readonly sequence: number;
  readonly links: number;
  readonly directory: boolean;
  readonly attributes: readonly LocatedAttribute[];
}

/** One attribute's value: resident bytes, or sizes and the runlist joined over its fragments. */
export type StreamValue =
  | { readonly resident: true; readonly bytes: Uint8Array; readonly at: number }
  | {
      readonly resident: false;
      readonly dataSize: number;
      readonly initializedSize: number;
      readonly allocatedBytes: number;
      readonly compressionUnitClusters: number;
      readonly runs: readonly Run[];
      readonly at: number;
    };

/** A small least-recently-used cache. */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();
  private readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }
}

/** Reads records, attributes and clusters of one NTFS volume. */
export class NtfsVolume {
  readonly source: ByteSource;
  readonly geometry: NtfsGeometry;
  private mftRuns: readonly Run[];
  private mftBytes: number;
  private slices = new LruCache<number, Promise<Uint8Array>>(MFT_SLICES_CACHED);

  constructor(source: ByteSource, geometry: NtfsGeometry) {
    this.source = source;
    this.geometry = geometry;
    this.mftRuns = geometry.mftRuns;
    this.mftBytes = geometry.mftRuns.reduce((sum, run) => sum + run.clusters, 0) * geometry.clusterSize;
  }

  /** Completes the $MFT runlist from record 0's attribute list and sets the MFT's size; called once on open. */
  async loadMftRunlist(): Promise<void> {
    const mft = await this.readFile(0);
    const data = this.stream(mft, 0x80, '');
    if (!data || data.resident) throw corrupt('NTFS', '$MFT $DATA', this.geometry.mftOffset, 'the $MFT has no non-resident $DATA.');
    this.mftRuns = data.runs;
    this.mftBytes = Math.min(data.dataSize, data.runs.reduce((sum, run) => sum + run.clusters, 0) * this.geometry.clusterSize);
    this.slices = new LruCache(MFT_SLICES_CACHED);
  }

  /** MFT record `index`, fixed up; a record out of the MFT, torn or with a bad magic is corrupt. */
  async readRecord(index: number, field: string): Promise<Fields> {
    const size = this.geometry.recordSize;
    const offset = index * size;
    if (!Number.isSafeInteger(offset) || index < 0 || offset + size > this.mftBytes) {
      throw corrupt('NTFS', `${field} record`, this.geometry.mftOffset, `record ${index} lies past the ${this.mftBytes}-byte MFT.`);
    }
    const sliceStart = Math.floor(offset / MFT_SLICE_BYTES) * MFT_SLICE_BYTES;
    let slice = this.slices.get(sliceStart);
    if (!slice) {
      slice = this.readMftSlice(sliceStart);
      this.slices.set(sliceStart, slice);
      slice.catch(() => undefined);
    }
    const bytes = await slice;
    const inSlice = offset - sliceStart;
    const at = mapOffset(this.mftRuns, this.geometry.clusterSize, offset) ?? this.geometry.mftOffset;
    return applyFixups(Uint8Array.from(bytes.subarray(inSlice, inSlice + size)), at, `${field} (record ${index})`);
  }

  private async readMftSlice(sliceStart: number): Promise<Uint8Array> {
    const length = Math.min(MFT_SLICE_BYTES, this.mftBytes - sliceStart);
    return this.readRuns(this.mftRuns, sliceStart, length, '$MFT');
  }

  /** A file's base record and all its attributes (gathered through $ATTRIBUTE_LIST); not in use or an extension record is corrupt. */
  async readFile(number: number, expectedSequence?: number): Promise<NtfsFile> {
    const field = `MFT record ${number}`;
    const record = await this.readRecord(number, field);
    const flags = record.u16(0x16, `${field} flags`);
    if ((flags & RECORD_IN_USE) === 0) throw record.fail(0x16, `${field} flags`, 'the record is not in use.');
    const sequence = record.u16(0x10, `${field} sequence number`);
    if (expectedSequence !== undefined && expectedSequence !== 0 && sequence !== expectedSequence) {
      throw record.fail(0x10, `${field} sequence number`, `${sequence}, the directory entry expects ${expectedSequence}: the entry is stale.`);
    }
    const base = record.u32(0x20, `${field} base record`) + record.u16(0x24, `${field} base record`) * 2 ** 32;
    if (base !== 0) throw record.fail(0x20, `${field} base record`, `the record is an extension of record ${base}, not a file.`);
    const attributes = locate(record, field);
    const list = attributes.find((located) => located.attribute.type === ATTR_ATTRIBUTE_LIST);
    if (list) {
      const value = await this.readValue(this.valueOf([list], `${field} $ATTRIBUTE_LIST`), MAX_ATTRIBUTE_LIST_BYTES, `${field} $ATTRIBUTE_LIST`);
      for (const extension of extensionRecords(value.bytes, value.at, number)) {
        const extensionRecord = await this.readRecord(extension, `${field} extension`);
        const owner = extensionRecord.u32(0x20, `${field} extension base`) + extensionRecord.u16(0x24, `${field} extension base`) * 2 ** 32;
        if (owner !== number) throw extensionRecord.fail(0x20, `${field} extension base`, `the extension record ${extension} belongs to record ${owner}.`);
        attributes.push(...locate(extensionRecord, `${field} extension ${extension}`).filter((located) => located.attribute.type !== ATTR_ATTRIBUTE_LIST));
      }
    }
    return { number, record, sequence, links: record.u16(0x12, `${field} link count`), directory: (flags & 0x02) !== 0, attributes };
  }

  /** The value of the attribute `type` named `name` (fragments joined), or undefined when the file has none. */
  stream(file: NtfsFile, type: number, name: string): StreamValue | undefined {
    const parts = file.attributes.filter((located) => located.attribute.type === type && located.name === name);
    return parts.length === 0 ? undefined : this.valueOf(parts, `record ${file.number} attribute 0x${type.toString(16)} "${name}"`);
  }

  private valueOf(parts: readonly LocatedAttribute[], field: string): StreamValue {
    const first = parts[0];
    if (!first) throw new LifeboatError('LB_INTERNAL', { detail: `${field}: no attribute.` });
    if (!first.attribute.nonResident) {
      return { resident: true, bytes: residentValue(first.record, first.attribute, field), at: first.record.base + first.attribute.offset };
    }
    const fragments = parts
      .filter((part) => part.attribute.nonResident)
      .map((part) => ({ part, lowest: part.record.u64(part.attribute.offset + 0x10, `${field} lowest VCN`) }))
      .sort((a, b) => a.lowest - b.lowest);
    const head = fragments[0]?.part ?? first;
    const { record, attribute } = head;
    if ((fragments[0]?.lowest ?? 0) !== 0) throw record.fail(attribute.offset + 0x10, `${field} lowest VCN`, 'no fragment starts at VCN 0.');
    const runs: Run[] = [];
    let vcn = 0;
    for (const { part, lowest } of fragments) {
      if (lowest !== vcn) throw part.record.fail(part.attribute.offset + 0x10, `${field} lowest VCN`, `the fragment starts at VCN ${lowest}, the runlist so far ends at ${vcn}.`);
      for (const run of decodeRuns(part.record, part.attribute, this.geometry.totalClusters, field)) {
        runs.push(run);
        vcn += run.clusters;
      }
    }
    const flags = record.u16(attribute.offset + 0x0c, `${field} flags`);
    const unitLog = record.u16(attribute.offset + 0x22, `${field} compression unit`);
    const compressed = (flags & 0x0001) !== 0 && unitLog !== 0;
    if (compressed && (unitLog > 8 || this.geometry.clusterSize > 4096)) throw record.fail(attribute.offset + 0x22, `${field} compression unit`, `2^${unitLog} clusters of ${this.geometry.clusterSize} bytes: not a compression NTFS supports.`);
    const dataSize = record.u64(attribute.offset + 0x30, `${field} data size`);
    const initializedSize = Math.min(dataSize, record.u64(attribute.offset + 0x38, `${field} initialized size`));
    const allocated = record.u64(attribute.offset + 0x28, `${field} allocated size`);
    const allocatedBytes = (flags & 0x8001) !== 0 && attribute.length >= 0x48 ? record.u64(attribute.offset + 0x40, `${field} compressed size`) : allocated;
    const mappedBytes = vcn * this.geometry.clusterSize;
    if (!compressed && initializedSize > mappedBytes) throw record.fail(attribute.offset + 0x38, `${field} initialized size`, `${initializedSize} bytes, the runlist maps ${mappedBytes}.`);
    return { resident: false, dataSize, initializedSize, allocatedBytes, compressionUnitClusters: compressed ? 2 ** unitLog : 0, runs, at: record.base + attribute.offset };
  }

  /** The whole value of an uncompressed attribute (attribute lists, bitmaps), up to `maxBytes`. */
  async readValue(value: StreamValue, maxBytes: number, field: string): Promise<{ bytes: Uint8Array; at: number }> {
    if (value.resident) return { bytes: value.bytes, at: value.at };
    if (value.dataSize > maxBytes) throw corrupt('NTFS', field, value.at, `${value.dataSize} bytes is larger than ${maxBytes}.`);
    if (value.compressionUnitClusters !== 0) throw corrupt('NTFS', field, value.at, 'the attribute is compressed.');
    const bytes = new Uint8Array(value.dataSize);
    bytes.set(await this.readRuns(value.runs, 0, value.initializedSize, field));
    return { bytes, at: value.at };
  }

  /** `length` bytes at `offset` of the data a runlist maps, sparse runs as zeros, neighbouring runs in one read. */
  async readRuns(runs: readonly Run[], offset: number, length: number, field: string): Promise<Uint8Array> {
    const output = new Uint8Array(length);
    const clusterSize = this.geometry.clusterSize;
    let runStart = 0;
    let pending: { target: number; disk: number; length: number } | undefined;
    const flush = async () => {
      if (!pending) return;
      const { target, disk, length: bytes } = pending;
      pending = undefined;
      for (let done = 0; done < bytes; done += MAX_READ_BYTES) {
        const part = Math.min(MAX_READ_BYTES, bytes - done);
        if (disk + done + part > this.source.size) throw truncated('NTFS', field, disk + done, `${part} bytes needed, the source has ${this.source.size}.`);
        await readInto(this.source, output.subarray(target + done, target + done + part), disk + done);
      }
    };
    const end = offset + length;
    for (const run of runs) {
      const runBytes = run.clusters * clusterSize;
      const from = Math.max(offset, runStart);
      const to = Math.min(end, runStart + runBytes);
      if (from < to && run.lcn !== undefined) {
        const disk = run.lcn * clusterSize + (from - runStart);
        if (pending && pending.disk + pending.length === disk && pending.target + pending.length === from - offset) pending.length += to - from;
        else {
          await flush();
          pending = { target: from - offset, disk, length: to - from };
        }
      }
      runStart += runBytes;
      if (runStart >= end) break;
    }
    await flush();
    if (runStart < end) throw corrupt('NTFS', field, 0, `bytes up to ${end} wanted, the runlist maps ${runStart}.`);
    return output;
  }

  /** Reads bytes the volume says exist (index blocks). */
  readAt(offset: number, length: number, field: string): Promise<Uint8Array> {
    return readStructure(this.source, 'NTFS', field, offset, length);
  }
}

/** Absolute offset of byte `offset` of the mapped data, for error messages. */
export function mapOffset(runs: readonly Run[], clusterSize: number, offset: number): number | undefined {
  let start = 0;
  for (const run of runs) {
    const bytes = run.clusters * clusterSize;
    if (offset < start + bytes) return run.lcn === undefined ? undefined : run.lcn * clusterSize + offset - start;
    start += bytes;
  }
  return undefined;
}

function locate(record: Fields, field: string): LocatedAttribute[] {
  return listAttributes(record, field).map((attribute) => ({ record, attribute, name: attributeName(record, attribute, field) }));
}

/** The records other than `base` that an attribute list names, each once, in order. */
function extensionRecords(bytes: Uint8Array, at: number, base: number): number[] {
  const list = new Fields(bytes, at, 'NTFS');
  const records: number[] = [];
  const seen = new Set<number>([base]);
  for (let offset = 0; offset + 0x1a <= bytes.length; ) {
    const length = list.u16(offset + 4, '$ATTRIBUTE_LIST entry length');
    if (length < 0x1a || length % 2 !== 0 || offset + length > bytes.length) throw list.fail(offset + 4, '$ATTRIBUTE_LIST entry length', `${length} does not fit the list.`);
    const record = list.u32(offset + 0x10, '$ATTRIBUTE_LIST MFT reference') + list.u16(offset + 0x14, '$ATTRIBUTE_LIST MFT reference') * 2 ** 32;
    if (!seen.has(record)) {
      seen.add(record);
      records.push(record);
      if (records.length > MAX_EXTENSION_RECORDS) throw list.fail(offset, '$ATTRIBUTE_LIST', `more than ${MAX_EXTENSION_RECORDS} extension records.`);
    }
    offset += length;
  }
  return records;
}
