// NTFS MFT records: fix-ups, attribute walking and runlist decoding, used by the NTFS probe.
// Format: a FILE record (and an INDX index block, same fix-up layout) starts with "FILE", 0x04 update-sequence offset, 0x06 its count (1 + one per
// 512-byte stride), 0x14 first attribute offset, 0x18 bytes in use. Each attribute: 0x00 type
// (0xFFFFFFFF ends), 0x04 length, 0x08 non-resident flag, 0x09 name length; resident: 0x10 value length,
// 0x14 value offset; non-resident: 0x20 runlist offset, 0x30 data size. A runlist is a series of
// (header byte: low nibble length bytes, high nibble offset bytes; length; signed LCN delta), 0 ends.
// An attribute's name (UTF-16LE, nameLength characters) starts at the offset in its header at 0x0A.

import { Fields, corrupt, hasAscii, utf16Text } from './fields.ts';

const FIXUP_STRIDE = 512;

/** One extent of a non-resident attribute: `clusters` clusters at `lcn` (undefined: sparse). */
export interface Run {
  readonly lcn: number | undefined;
  readonly clusters: number;
}

/** An attribute found in a record: where it is and its header fields. */
export interface Attribute {
  readonly type: number;
  readonly nonResident: boolean;
  readonly nameLength: number;
  readonly offset: number;
  readonly length: number;
}

/** Checks the magic (FILE, or INDX for index blocks) and applies the update-sequence fix-ups in place; torn records are corrupt. */
export function applyFixups(record: Uint8Array, base: number, field: string, magic = 'FILE'): Fields {
  const fields = new Fields(record, base, 'NTFS');
  if (!hasAscii(record, 0, magic)) throw fields.fail(0, `${field} magic`, `the record does not start with ${magic}.`);
  const usaOffset = fields.u16(4, `${field} update sequence offset`);
  const usaCount = fields.u16(6, `${field} update sequence count`);
  if (usaCount !== record.length / FIXUP_STRIDE + 1 || usaOffset < 0x28 || usaOffset % 2 !== 0 || usaOffset + usaCount * 2 > record.length) {
    throw fields.fail(4, `${field} update sequence`, `offset ${usaOffset} and count ${usaCount} do not fit a ${record.length}-byte record.`);
  }
  const check = fields.u16(usaOffset, `${field} update sequence number`);
  for (let stride = 1; stride < usaCount; stride++) {
    const tail = stride * FIXUP_STRIDE - 2;
    if (fields.u16(tail, `${field} sector tail`) !== check) throw fields.fail(tail, `${field} sector tail`, 'the record was torn by an interrupted write.');
    record[tail] = record[usaOffset + stride * 2] ?? 0;
    record[tail + 1] = record[usaOffset + stride * 2 + 1] ?? 0;
  }
  return fields;
}

/** The attributes of a fixed-up record, in order; a malformed chain is corrupt, never an endless loop. */
export function listAttributes(record: Fields, field: string): Attribute[] {
  const inUse = record.u32(0x18, `${field} bytes in use`);
  if (inUse > record.bytes.length) throw record.fail(0x18, `${field} bytes in use`, `${inUse} is larger than the record.`);
  const attributes: Attribute[] = [];
  let offset = record.u16(0x14, `${field} first attribute`);
  while (true) {
    if (offset < 0x18 || offset + 4 > inUse) throw record.fail(offset, `${field} attribute`, 'an attribute lies outside the record.');
    const type = record.u32(offset, `${field} attribute type`);
    if (type === 0xffffffff) return attributes;
    const length = record.u32(offset + 4, `${field} attribute length`);
    if (length < 0x18 || length % 8 !== 0 || offset + length > inUse) throw record.fail(offset + 4, `${field} attribute length`, `${length} does not fit the record.`);
    attributes.push({ type, nonResident: record.u8(offset + 8, `${field} non-resident flag`) !== 0, nameLength: record.u8(offset + 9, `${field} name length`), offset, length });
    offset += length;
  }
}

/** The value bytes of a resident attribute. */
export function residentValue(record: Fields, attribute: Attribute, field: string): Uint8Array {
  if (attribute.nonResident) throw record.fail(attribute.offset + 8, field, 'expected a resident attribute.');
  const length = record.u32(attribute.offset + 0x10, `${field} value length`);
  const start = record.u16(attribute.offset + 0x14, `${field} value offset`);
  if (start + length > attribute.length) throw record.fail(attribute.offset + 0x10, `${field} value length`, `${length} bytes at ${start} overflow the attribute.`);
  return record.slice(attribute.offset + start, length, field);
}

/** The value of a resident attribute as Fields whose offsets name the right absolute bytes. */
export function residentFields(record: Fields, attribute: Attribute, field: string): Fields {
  const value = residentValue(record, attribute, field);
  return new Fields(value, record.base + attribute.offset + record.u16(attribute.offset + 0x14, `${field} value offset`), 'NTFS');
}

/** An attribute's name ('' when unnamed), checked to lie inside the attribute. */
export function attributeName(record: Fields, attribute: Attribute, field: string): string {
  if (attribute.nameLength === 0) return '';
  const start = record.u16(attribute.offset + 0x0a, `${field} name offset`);
  if (start + attribute.nameLength * 2 > attribute.length) throw record.fail(attribute.offset + 0x0a, `${field} name offset`, `the name at ${start} overflows the attribute.`);
  return utf16Text(record.slice(attribute.offset + start, attribute.nameLength * 2, `${field} name`)) ?? '';
}

/** The runs of a non-resident attribute, each checked to lie inside the volume's clusters. */
export function decodeRuns(record: Fields, attribute: Attribute, totalClusters: number, field: string): Run[] {
  if (!attribute.nonResident || attribute.length < 0x40) throw record.fail(attribute.offset + 8, field, 'expected a non-resident attribute.');
  const end = attribute.offset + attribute.length;
  let at = attribute.offset + record.u16(attribute.offset + 0x20, `${field} runlist offset`);
  const runs: Run[] = [];
  let lcn = 0;
  while (at < end) {
    const header = record.u8(at, `${field} run header`);
    if (header === 0) return runs;
    const lengthBytes = header & 0x0f;
    const offsetBytes = header >> 4;
    if (lengthBytes === 0 || lengthBytes > 8 || offsetBytes > 8 || at + 1 + lengthBytes + offsetBytes > end) {
      throw record.fail(at, `${field} run header`, `run header 0x${header.toString(16)} does not fit the attribute.`);
    }
    const clusters = readSigned(record.slice(at + 1, lengthBytes, `${field} run length`));
    if (clusters <= 0n || clusters > BigInt(totalClusters)) throw record.fail(at + 1, `${field} run length`, `${clusters} clusters.`);
    if (offsetBytes === 0) {
      runs.push({ lcn: undefined, clusters: Number(clusters) });
    } else {
      const next = BigInt(lcn) + readSigned(record.slice(at + 1 + lengthBytes, offsetBytes, `${field} run offset`));
      if (next < 0n || next + clusters > BigInt(totalClusters)) throw record.fail(at + 1 + lengthBytes, `${field} run offset`, `run at LCN ${next} lies outside the volume.`);
      lcn = Number(next);
      runs.push({ lcn, clusters: Number(clusters) });
    }
    at += 1 + lengthBytes + offsetBytes;
  }
  throw corrupt('NTFS', `${field} runlist`, record.base + end, 'the runlist has no terminator.');
}

/** The absolute byte offset of `length` bytes at `offset` into the data a runlist maps; undefined unless one allocated run holds them all. */
export function runByteOffset(runs: readonly Run[], clusterSize: number, offset: number, length: number): number | undefined {
  let start = 0;
  for (const run of runs) {
    const runBytes = run.clusters * clusterSize;
    if (offset < start + runBytes) {
      if (run.lcn === undefined || offset + length > start + runBytes) return undefined;
      return run.lcn * clusterSize + (offset - start);
    }
    start += runBytes;
  }
  return undefined;
}

function readSigned(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  const bits = BigInt(bytes.length * 8);
  return bytes.length > 0 && ((bytes[bytes.length - 1] ?? 0) & 0x80) ? value - (1n << bits) : value;
}
