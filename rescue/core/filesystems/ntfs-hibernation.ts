// NTFS hibernation check: find hiberfil.sys in the root directory's $I30 index and read the first bytes
// of its data, as ntfs-3g does before it mounts read-write. The layout is in the format note of ntfs.ts.
// Every offset, length and VCN is checked; damage throws LB_FILESYSTEM_CORRUPT or _TRUNCATED.

import type { ByteSource } from '../byte-source.ts';
import { Fields, corrupt, isPowerOfTwo, readStructure, utf16Text } from './fields.ts';
import { applyFixups, attributeName, decodeRuns, listAttributes, residentFields, residentValue, runByteOffset, type Attribute, type Run } from './ntfs-records.ts';

const ATTR_DATA = 0x80;
const ATTR_INDEX_ROOT = 0x90;
const ATTR_INDEX_ALLOCATION = 0xa0;
const RECORD_ROOT = 5;
const INDEX_NAME = '$I30';
const HIBERFILE = 'hiberfil.sys';
const ENTRY_SUBNODE = 0x01;
const ENTRY_LAST = 0x02;
const VCN_UNIT_SMALL_BLOCKS = 512;
/** INDX blocks visited before the root directory is judged to loop. */
const MAX_INDEX_BLOCKS = 4096;
const SIGNATURES = ['hibr', 'wake'];

/** What the check needs of a volume: its clusters and a reader of fixed-up MFT records. */
export interface NtfsVolume {
  readonly clusterSize: number;
  readonly totalClusters: number;
  readRecord(index: number, field: string): Promise<Fields>;
}

interface IndexEntry {
  readonly record: number;
  readonly sequence: number;
  readonly name: string | undefined;
  readonly subnode: number | undefined;
  readonly length: number;
  readonly last: boolean;
}

interface IndexAllocation {
  readonly blockSize: number;
  readonly vcnSize: number;
  readonly dataSize: number;
  readonly runs: Run[];
  /** Absolute offset of the $INDEX_ALLOCATION attribute, named in errors. */
  readonly at: number;
}

/** True when the root directory's hiberfil.sys starts with "hibr" or "wake" (any case); damage throws. */
export async function windowsHibernated(source: ByteSource, volume: NtfsVolume): Promise<boolean> {
  const entry = await findRootEntry(source, volume, HIBERFILE);
  if (!entry) return false;
  const start = await readDataStart(source, volume, entry, 4);
  return SIGNATURES.includes(String.fromCharCode(...start).toLowerCase());
}

async function findRootEntry(source: ByteSource, volume: NtfsVolume, name: string): Promise<IndexEntry | undefined> {
  const root = await volume.readRecord(RECORD_ROOT, 'root directory');
  const attributes = listAttributes(root, 'root directory');
  const rootAttribute = findNamed(root, attributes, ATTR_INDEX_ROOT, '$INDEX_ROOT');
  if (!rootAttribute) throw root.fail(0x14, '$INDEX_ROOT', 'the root directory has no $I30 index root.');
  const value = residentFields(root, rootAttribute, '$INDEX_ROOT');
  const pending: number[] = [];
  const found = scanEntries(value, 0x10, name, pending, '$INDEX_ROOT');
  if (found || pending.length === 0) return found;
  const allocation = indexAllocation(root, attributes, value, volume);
  const visited = new Set<number>();
  for (let vcn = pending.pop(); vcn !== undefined; vcn = pending.pop()) {
    if (visited.has(vcn)) continue;
    if (visited.size >= MAX_INDEX_BLOCKS) throw corrupt('NTFS', '$INDEX_ALLOCATION', allocation.at, `more than ${MAX_INDEX_BLOCKS} index blocks: the index loops.`);
    visited.add(vcn);
    const hit = scanEntries(await readIndexBlock(source, volume, allocation, vcn), 0x18, name, pending, 'INDX block');
    if (hit) return hit;
  }
  return undefined;
}

function findNamed(record: Fields, attributes: readonly Attribute[], type: number, field: string): Attribute | undefined {
  return attributes.find((attribute) => attribute.type === type && attributeName(record, attribute, field) === INDEX_NAME);
}

/** Walks the entries after the index header at `headerAt`; sub-node VCNs go to `pending`. */
function scanEntries(fields: Fields, headerAt: number, name: string, pending: number[], field: string): IndexEntry | undefined {
  const entriesOffset = fields.u32(headerAt, `${field} entries offset`);
  const inUse = fields.u32(headerAt + 4, `${field} index length`);
  const end = headerAt + inUse;
  if (end > fields.bytes.length || entriesOffset < 0x10 || entriesOffset >= inUse) {
    throw fields.fail(headerAt, `${field} index header`, `entries at ${entriesOffset} and ${inUse} bytes in use do not fit ${fields.bytes.length} bytes.`);
  }
  for (let at = headerAt + entriesOffset; ; ) {
    const entry = readEntry(fields, at, end, field);
    if (entry.subnode !== undefined) pending.push(entry.subnode);
    if (entry.name !== undefined && entry.name.toLowerCase() === name) return entry;
    if (entry.last) return undefined;
    at += entry.length;
  }
}

function readEntry(fields: Fields, at: number, end: number, field: string): IndexEntry {
  if (at + 0x10 > end) throw fields.fail(at, `${field} entry`, 'the entries run past the bytes in use without a last entry.');
  const length = fields.u16(at + 8, `${field} entry length`);
  if (length < 0x10 || length % 8 !== 0 || at + length > end) throw fields.fail(at + 8, `${field} entry length`, `${length} does not fit the index.`);
  const flags = fields.u16(at + 0x0c, `${field} entry flags`);
  const hasSubnode = (flags & ENTRY_SUBNODE) !== 0;
  if (hasSubnode && length < 0x18) throw fields.fail(at + 8, `${field} entry length`, `${length} bytes cannot hold a sub-node VCN.`);
  const last = (flags & ENTRY_LAST) !== 0;
  return {
    record: fields.u32(at, `${field} MFT reference`) + fields.u16(at + 4, `${field} MFT reference`) * 2 ** 32,
    sequence: fields.u16(at + 6, `${field} sequence number`),
    name: last ? undefined : entryName(fields, at, length - (hasSubnode ? 8 : 0), field),
    subnode: hasSubnode ? fields.u64(at + length - 8, `${field} sub-node VCN`) : undefined,
    length,
    last,
  };
}

function entryName(fields: Fields, at: number, room: number, field: string): string {
  const keyLength = fields.u16(at + 0x0a, `${field} key length`);
  if (keyLength < 0x42 || 0x10 + keyLength > room) throw fields.fail(at + 0x0a, `${field} key length`, `a ${keyLength}-byte $FILE_NAME does not fit the entry.`);
  const characters = fields.u8(at + 0x50, `${field} name length`);
  if (0x42 + characters * 2 > keyLength) throw fields.fail(at + 0x50, `${field} name length`, `${characters} characters overflow the ${keyLength}-byte key.`);
  return utf16Text(fields.slice(at + 0x52, characters * 2, `${field} name`)) ?? '';
}

function indexAllocation(root: Fields, attributes: readonly Attribute[], value: Fields, volume: NtfsVolume): IndexAllocation {
  const blockSize = value.u32(0x08, '$INDEX_ROOT index block size');
  if (!isPowerOfTwo(blockSize) || blockSize < 512 || blockSize > 65536) throw value.fail(0x08, '$INDEX_ROOT index block size', `${blockSize} is not an index block size.`);
  const attribute = findNamed(root, attributes, ATTR_INDEX_ALLOCATION, '$INDEX_ALLOCATION');
  if (!attribute) throw root.fail(0x14, '$INDEX_ALLOCATION', 'index entries point to sub-nodes but the root directory has no $I30 index allocation.');
  const runs = decodeRuns(root, attribute, volume.totalClusters, '$INDEX_ALLOCATION');
  const dataSize = root.u64(attribute.offset + 0x30, '$INDEX_ALLOCATION data size');
  const vcnSize = blockSize < volume.clusterSize ? VCN_UNIT_SMALL_BLOCKS : volume.clusterSize;
  return { blockSize, vcnSize, dataSize, runs, at: root.base + attribute.offset };
}

async function readIndexBlock(source: ByteSource, volume: NtfsVolume, allocation: IndexAllocation, vcn: number): Promise<Fields> {
  const offset = vcn * allocation.vcnSize;
  const at = Number.isSafeInteger(offset) && offset + allocation.blockSize <= allocation.dataSize
    ? runByteOffset(allocation.runs, volume.clusterSize, offset, allocation.blockSize)
    : undefined;
  if (at === undefined) throw corrupt('NTFS', 'INDX sub-node VCN', allocation.at, `VCN ${vcn} is not a block inside the ${allocation.dataSize}-byte index allocation.`);
  const block = applyFixups(Uint8Array.from(await readStructure(source, 'NTFS', 'INDX block', at, allocation.blockSize)), at, 'INDX block', 'INDX');
  const own = block.u64(0x10, 'INDX block VCN');
  if (own !== vcn) throw block.fail(0x10, 'INDX block VCN', `the block says VCN ${own}, the entry pointing to it says ${vcn}.`);
  return block;
}

/** Up to `length` bytes from the start of the file's unnamed $DATA (fewer when the file is shorter). */
async function readDataStart(source: ByteSource, volume: NtfsVolume, entry: IndexEntry, length: number): Promise<Uint8Array> {
  const record = await volume.readRecord(entry.record, HIBERFILE);
  const sequence = record.u16(0x10, `${HIBERFILE} sequence number`);
  if (entry.sequence !== 0 && sequence !== entry.sequence) throw record.fail(0x10, `${HIBERFILE} sequence number`, `${sequence}, the directory entry expects ${entry.sequence}.`);
  const data = listAttributes(record, HIBERFILE).find((attribute) => attribute.type === ATTR_DATA && attribute.nameLength === 0);
  if (!data) throw record.fail(0x14, `${HIBERFILE} $DATA`, 'the base record has no unnamed $DATA.');
  if (!data.nonResident) return residentValue(record, data, `${HIBERFILE} $DATA`).subarray(0, length);
  const initialized = Math.min(record.u64(data.offset + 0x30, `${HIBERFILE} data size`), record.u64(data.offset + 0x38, `${HIBERFILE} initialized size`));
  const first = decodeRuns(record, data, volume.totalClusters, `${HIBERFILE} $DATA`)[0];
  const wanted = Math.min(length, initialized);
  if (wanted === 0) return new Uint8Array(0);
  if (!first) throw record.fail(data.offset, `${HIBERFILE} $DATA`, 'the runlist is empty.');
  if (first.lcn === undefined) return new Uint8Array(wanted);
  return readStructure(source, 'NTFS', `${HIBERFILE} data`, first.lcn * volume.clusterSize, wanted);
}
