// Read-only file tree of exFAT volumes. Format: the geometry comes from filesystems/exfat.ts. A
// directory is an array of 32-byte entries (0x00 ends it; types below 0x80 are unused or deleted).
// A file is an entry set: 0x85 File (+1 SecondaryCount, +2 SetChecksum over the whole set but its
// own bytes 2-3, +4 FileAttributes, +8 create, +12 modify, +16 access timestamps, +20/+21 create and
// modify 10 ms increments (0-199), +22/+23/+24 UTC offsets: bit 7 valid, bits 0-6 signed quarter
// hours), then 0xC0 Stream Extension (+1 flags: bit 0 AllocationPossible, bit 1 NoFatChain,
// +3 NameLength, +8 ValidDataLength, +20 FirstCluster, +24 DataLength), then 0xC1 File Name entries
// (+2 fifteen UTF-16 units each), then any vendor entries. A timestamp is DoubleSeconds (bits 0-4),
// Minute (5-10), Hour (11-15), Day (16-20), Month (21-24), Year-1980 (25-31). Allocation bitmap
// (0x81), up-case table (0x82), volume label (0x83) and GUID (0xA0) entries are not files. An
// entry's id is the byte offset of its File entry in the volume (the root directory's is 0).

import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { readExfatGeometry, readRootDirectory, type ExfatGeometry } from '../filesystems/exfat.ts';
import { Fields, corrupt, hasAscii, readIfPresent, readStructure } from '../filesystems/fields.ts';
import { CachedTable, contiguousRuns, readChainRuns, readRuns, runClusters, runsContent, type ClusterHeap, type ClusterRun } from './cluster-chains.ts';
import type { ExtendedAttribute, FileContent, FileEntry, FileTree, FileTreeOpener } from './file-tree.ts';

const ENTRY_BYTES = 32;
/** exFAT directories are at most 256 MiB (the spec's limit). */
const MAX_DIRECTORY_BYTES = 256 * 1024 * 1024;
const TYPE_FILE = 0x85;
const TYPE_STREAM = 0xc0;
const TYPE_NAME = 0xc1;
const NAME_UNITS_PER_ENTRY = 15;
const ATTR_DIRECTORY = 0x10;
const FLAG_ALLOCATION_POSSIBLE = 0x01;
const FLAG_NO_FAT_CHAIN = 0x02;
const END_OF_CHAIN = 0xfffffff8;

/** Where an entry's data lies, kept beside the entries this tree hands out. */
interface EntryLocation {
  readonly firstCluster: number;
  readonly noFatChain: boolean;
  readonly dataLength: number;
  readonly validDataLength: number;
}

/** Opens an exFAT volume's files; undefined when the source is not exFAT. */
export const openExfatTree: FileTreeOpener = async (source) => {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes || !hasAscii(bytes, 3, 'EXFAT   ')) return undefined;
  const { geometry, rootCluster } = readExfatGeometry(new Fields(bytes, 0, 'exFAT'), source.size);
  let label: string | undefined;
  try {
    label = (await readRootDirectory(source, geometry, rootCluster)).label;
  } catch (error) {
    if (!(error instanceof LifeboatError)) throw error;
  }
  return new ExfatTree({ source, geometry, rootCluster, label });
};

class ExfatTree implements FileTree {
  readonly filesystem = 'exfat';
  readonly label: string | undefined;
  private readonly source: ByteSource;
  private readonly geometry: ExfatGeometry;
  private readonly rootCluster: number;
  private readonly heap: ClusterHeap;
  private readonly table: CachedTable;
  private readonly locations = new WeakMap<FileEntry, EntryLocation>();
  constructor(options: { source: ByteSource; geometry: ExfatGeometry; rootCluster: number; label: string | undefined }) {
    const { source, geometry } = options;
    this.source = source;
    this.geometry = geometry;
    this.rootCluster = options.rootCluster;
    this.label = options.label;
    this.heap = { filesystem: 'exFAT', dataOffset: geometry.heapOffset, clusterSize: geometry.clusterSize, clusterCount: geometry.clusterCount };
    this.table = new CachedTable({ source, filesystem: 'exFAT', offset: geometry.fatOffset, length: (geometry.clusterCount + 2) * 4 });
  }

  async root(): Promise<FileEntry> {
    return { name: '', kind: 'directory', id: 0, size: 0, dosAttributes: ATTR_DIRECTORY };
  }

  async list(directory: FileEntry): Promise<FileEntry[]> {
    if (directory.kind !== 'directory') throw usage(`${directory.name} is not a directory.`);
    const { bytes, offsetOf } = await this.readDirectory(directory);
    const entries: FileEntry[] = [];
    for (let at = 0; at + ENTRY_BYTES <= bytes.length;) {
      const type = bytes[at] ?? 0;
      if (type === 0) break;
      const set = type === TYPE_FILE ? parseEntrySet(bytes, at, offsetOf(at), this.geometry.clusterSize) : undefined;
      if (!set) {
        at += ENTRY_BYTES; // unused, deleted, bitmap, up-case, label, GUID, stray secondaries, damaged sets
        continue;
      }
      this.locations.set(set.entry, set.location);
      entries.push(set.entry);
      at += set.entries * ENTRY_BYTES;
    }
    return entries;
  }

  async openFile(file: FileEntry, stream?: string): Promise<FileContent> {
    if (stream !== undefined) throw usage(`exFAT files have no named streams (asked for "${stream}").`);
    if (file.kind !== 'file') throw usage(`${file.name} is not a file.`);
    const location = await this.locate(file);
    const runs = await this.runs(location, file.id);
    return runsContent({ source: this.source, heap: this.heap, runs, size: location.dataLength, validSize: location.validDataLength });
  }

  async readLink(entry: FileEntry): Promise<string> {
    throw usage(`${entry.name}: exFAT has no symbolic links.`);
  }

  async extendedAttributes(): Promise<ExtendedAttribute[]> {
    return [];
  }

  /** A directory's bytes, and the volume offset of each byte (for ids). */
  private async readDirectory(directory: FileEntry): Promise<{ bytes: Uint8Array; offsetOf: (at: number) => number }> {
    const { clusterSize } = this.geometry;
    let runs: ClusterRun[];
    if (directory.id === 0) {
      runs = await this.chain(this.rootCluster, Math.ceil(MAX_DIRECTORY_BYTES / clusterSize), 'FirstClusterOfRootDirectory', 0x60);
    } else {
      const location = await this.locate(directory);
      if (location.dataLength > MAX_DIRECTORY_BYTES) throw corrupt('exFAT', 'DataLength', directory.id + ENTRY_BYTES + 24, `a directory of ${location.dataLength} bytes (at most ${MAX_DIRECTORY_BYTES}).`);
      runs = await this.runs(location, directory.id);
    }
    const length = Math.min(runClusters(runs) * clusterSize, MAX_DIRECTORY_BYTES);
    const bytes = await readRuns(this.source, this.heap, runs, length, 'directory');
    const starts: Array<{ start: number; offset: number }> = [];
    let start = 0;
    for (const run of runs) {
      starts.push({ start, offset: this.geometry.heapOffset + (run.first - 2) * clusterSize });
      start += run.count * clusterSize;
    }
    const offsetOf = (at: number): number => {
      let piece = starts[0] ?? { start: 0, offset: 0 };
      for (const candidate of starts) if (candidate.start <= at) piece = candidate;
      return piece.offset + at - piece.start;
    };
    return { bytes, offsetOf };
  }

  /** The clusters holding DataLength bytes: contiguous (NoFatChain) or along the FAT. */
  private async runs(location: EntryLocation, id: number): Promise<ClusterRun[]> {
    const clusters = Math.ceil(location.dataLength / this.geometry.clusterSize);
    if (clusters === 0) return [];
    const streamOffset = id + ENTRY_BYTES;
    if (location.noFatChain) {
      return contiguousRuns({ heap: this.heap, first: location.firstCluster, clusters, field: 'FirstCluster', fieldOffset: streamOffset + 20 });
    }
    const runs = await this.chain(location.firstCluster, this.geometry.clusterCount, 'FirstCluster', streamOffset + 20);
    if (runClusters(runs) < clusters) {
      throw corrupt('exFAT', 'DataLength', streamOffset + 24, `${location.dataLength} bytes need ${clusters} clusters, the chain has ${runClusters(runs)}.`);
    }
    return runs;
  }

  private chain(first: number, maxClusters: number, field: string, fieldOffset: number): Promise<ClusterRun[]> {
    return readChainRuns({
      heap: this.heap,
      first,
      maxClusters,
      next: (cluster) => this.table.u32(cluster * 4),
      isEnd: (value) => value >= END_OF_CHAIN,
      field,
      fieldOffset,
    });
  }

  /** The entry's data location: remembered from the listing, else read again from its entry set at `id`. */
  private async locate(entry: FileEntry): Promise<EntryLocation> {
    const known = this.locations.get(entry);
    if (known) return known;
    const { clusterSize, heapOffset } = this.geometry;
    const inCluster = (entry.id - heapOffset) % clusterSize;
    const heapEnd = heapOffset + this.geometry.clusterCount * clusterSize;
    if (entry.id < heapOffset || entry.id + ENTRY_BYTES > heapEnd || inCluster % ENTRY_BYTES !== 0) throw usage(`id ${entry.id} is not an exFAT directory entry of this volume.`);
    const length = Math.min(clusterSize - inCluster, 19 * ENTRY_BYTES);
    const bytes = await readStructure(this.source, 'exFAT', 'directory entry', entry.id, length);
    const set = parseEntrySet(bytes, 0, entry.id, clusterSize);
    if (!set) throw usage(`id ${entry.id} is not the start of a whole exFAT entry set inside one cluster; list its directory again.`);
    return set.location;
  }
}

/** Parses the entry set whose File entry is at `at`; undefined when it is damaged (wrong types, counts or checksum). */
function parseEntrySet(bytes: Uint8Array, at: number, id: number, clusterSize: number): { entry: FileEntry; location: EntryLocation; entries: number } | undefined {
  const secondaries = bytes[at + 1] ?? 0;
  const entries = secondaries + 1;
  if (secondaries < 2 || secondaries > 18 || at + entries * ENTRY_BYTES > bytes.length) return undefined;
  const set = new Fields(bytes.subarray(at, at + entries * ENTRY_BYTES), id, 'exFAT');
  if (setChecksum(set.bytes) !== set.u16(2, 'SetChecksum')) return undefined;
  const stream = ENTRY_BYTES;
  if (set.u8(stream, 'EntryType') !== TYPE_STREAM) return undefined;
  const nameLength = set.u8(stream + 3, 'NameLength');
  const nameEntries = Math.ceil(nameLength / NAME_UNITS_PER_ENTRY);
  if (nameLength === 0 || nameEntries > secondaries - 1) return undefined;
  const units: Uint8Array[] = [];
  for (let i = 0; i < nameEntries; i++) {
    const nameAt = (2 + i) * ENTRY_BYTES;
    if (set.u8(nameAt, 'EntryType') !== TYPE_NAME) return undefined;
    units.push(set.slice(nameAt + 2, NAME_UNITS_PER_ENTRY * 2, 'FileName'));
  }
  const name = Buffer.concat(units).subarray(0, nameLength * 2).toString('utf16le');

  const attributes = set.u16(4, 'FileAttributes');
  const flags = set.u8(stream + 1, 'GeneralSecondaryFlags');
  let dataLength: number;
  let validDataLength: number;
  try {
    dataLength = set.u64(stream + 24, 'DataLength');
    validDataLength = set.u64(stream + 8, 'ValidDataLength');
  } catch {
    return undefined;
  }
  const allocated = (flags & FLAG_ALLOCATION_POSSIBLE) !== 0;
  if (validDataLength > dataLength || (!allocated && dataLength !== 0)) return undefined;
  const isDirectory = (attributes & ATTR_DIRECTORY) !== 0;
  const mtimeMs = exfatTime(set.u32(12, 'LastModifiedTimestamp'), set.u8(21, 'LastModified10msIncrement'), set.u8(23, 'LastModifiedUtcOffset'));
  const atimeMs = exfatTime(set.u32(16, 'LastAccessedTimestamp'), 0, set.u8(24, 'LastAccessedUtcOffset'));
  const birthtimeMs = exfatTime(set.u32(8, 'CreateTimestamp'), set.u8(20, 'Create10msIncrement'), set.u8(22, 'CreateUtcOffset'));
  const entry: FileEntry = {
    name,
    kind: isDirectory ? 'directory' : 'file',
    id,
    size: dataLength,
    allocatedBytes: Math.ceil(dataLength / clusterSize) * clusterSize,
    ...(mtimeMs === undefined ? {} : { mtimeMs }),
    ...(atimeMs === undefined ? {} : { atimeMs }),
    ...(birthtimeMs === undefined ? {} : { birthtimeMs }),
    dosAttributes: attributes,
  };
  const location: EntryLocation = { firstCluster: set.u32(stream + 20, 'FirstCluster'), noFatChain: (flags & FLAG_NO_FAT_CHAIN) !== 0, dataLength, validDataLength };
  return { entry, location, entries };
}

/** The entry set checksum: a rotate-and-add over every byte but the checksum field itself. */
function setChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (i === 2 || i === 3) continue;
    sum = (((sum & 1) << 15) | (sum >> 1)) + (bytes[i] ?? 0);
    sum &= 0xffff;
  }
  return sum;
}

/** A timestamp with its 10 ms increment, converted to UTC with its offset when the offset is valid; undefined when unset or invalid. */
function exfatTime(stamp: number, tenMs: number, utcOffset: number): number | undefined {
  if (stamp === 0) return undefined;
  const seconds = (stamp & 0x1f) * 2;
  const minutes = (stamp >>> 5) & 0x3f;
  const hours = (stamp >>> 11) & 0x1f;
  const day = (stamp >>> 16) & 0x1f;
  const month = (stamp >>> 21) & 0x0f;
  const year = 1980 + (stamp >>> 25);
  if (month < 1 || month > 12 || day < 1 || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const local = Date.UTC(year, month - 1, day, hours, minutes, seconds) + (tenMs <= 199 ? tenMs * 10 : 0);
  if (!(utcOffset & 0x80)) return local;
  const quarters = utcOffset & 0x40 ? (utcOffset & 0x7f) - 0x80 : utcOffset & 0x7f;
  return local - quarters * 15 * 60 * 1000;
}

function usage(detail: string): LifeboatError {
  return new LifeboatError('LB_INPUT_USAGE', { detail });
}
