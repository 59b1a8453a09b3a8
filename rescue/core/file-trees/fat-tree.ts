// Read-only file tree of FAT12/16/32 volumes. Format: the geometry comes from filesystems/fat.ts.
// The FAT12/16 root directory is a fixed region after the FATs; FAT32's is a cluster chain from the
// BPB's root cluster; every other directory is a cluster chain. A directory is an array of 32-byte
// entries: 0x00 name (8+3, byte 0: 0x00 end, 0xE5 deleted, 0x05 stands for 0xE5), 0x0B attributes,
// 0x0C NT case flags (0x08 base lowercase, 0x10 extension lowercase), 0x0D creation 10 ms units
// (0-199), 0x0E creation time, 0x10 creation date, 0x12 access date, 0x14 first cluster high (FAT32),
// 0x16 write time, 0x18 write date, 0x1A first cluster low, 0x1C size. Long names (attributes 0x0F)
// precede their short entry in reverse order: 0x00 sequence (0x40 marks the last), 0x01 5, 0x0E 6 and
// 0x1C 2 UTF-16 units, 0x0D checksum of the short name. FAT has no inodes: an entry's id is the byte
// offset of its short entry in the volume (the root directory, which has no entry, is 0).

import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { readFatVolume, type FatGeometry } from '../filesystems/fat.ts';
import { corrupt, readStructure, type Fields } from '../filesystems/fields.ts';
import { CachedTable, readChainRuns, readRuns, runClusters, runsContent, type ClusterHeap } from './cluster-chains.ts';
import type { ExtendedAttribute, FileContent, FileEntry, FileTree, FileTreeOpener } from './file-tree.ts';

const ENTRY_BYTES = 32;
/** A FAT directory holds at most 65536 entries (the spec's limit): a longer chain is corrupt. */
const MAX_DIRECTORY_BYTES = 65536 * ENTRY_BYTES;
const MAX_LFN_ENTRIES = 20;
const ATTR_VOLUME_LABEL = 0x08;
const ATTR_DIRECTORY = 0x10;
const ATTR_LONG_NAME = 0x0f;
const NT_LOWER_BASE = 0x08;
const NT_LOWER_EXTENSION = 0x10;
/** Code page 437, bytes 0x80-0xFF (the OEM code page of short names, as Linux's vfat default). */
const CP437_HIGH = 'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/** Where an entry's data starts, kept beside the entries this tree hands out. */
interface EntryLocation {
  readonly firstCluster: number;
}

/** Opens a FAT12/16/32 volume's files; undefined when the source is not FAT. */
export const openFatTree: FileTreeOpener = async (source) => {
  const volume = await readFatVolume(source);
  if (!volume) return undefined;
  const tree = new FatTree(source, volume.geometry);
  let label: string | undefined;
  try {
    label = (await tree.readDirectory(tree.rootLocation(), 0)).label;
  } catch (error) {
    if (!(error instanceof LifeboatError)) throw error;
  }
  tree.label = label ?? bootSectorLabel(volume.bs, volume.geometry);
  return tree;
};

class FatTree implements FileTree {
  readonly filesystem = 'vfat';
  label: string | undefined;
  private readonly source: ByteSource;
  private readonly geometry: FatGeometry;
  private readonly heap: ClusterHeap;
  private readonly table: CachedTable;
  private readonly locations = new WeakMap<FileEntry, EntryLocation>();
  constructor(source: ByteSource, geometry: FatGeometry) {
    this.source = source;
    this.geometry = geometry;
    this.heap = { filesystem: 'FAT', dataOffset: geometry.dataOffset, clusterSize: geometry.clusterSize, clusterCount: geometry.clusterCount };
    this.table = new CachedTable({ source, filesystem: 'FAT', offset: geometry.fatOffset, length: geometry.fatBytes });
  }

  async root(): Promise<FileEntry> {
    const entry: FileEntry = { name: '', kind: 'directory', id: 0, size: 0, dosAttributes: ATTR_DIRECTORY };
    this.locations.set(entry, this.rootLocation());
    return entry;
  }

  rootLocation(): EntryLocation {
    return { firstCluster: this.geometry.variant === 32 ? this.geometry.rootCluster : 0 };
  }

  async list(directory: FileEntry): Promise<FileEntry[]> {
    if (directory.kind !== 'directory') throw usage(`${directory.name} is not a directory.`);
    const found = await this.readDirectory(await this.locate(directory), directory.id);
    for (const { entry, location } of found.entries) this.locations.set(entry, location);
    return found.entries.map(({ entry }) => entry);
  }

  async openFile(file: FileEntry, stream?: string): Promise<FileContent> {
    if (stream !== undefined) throw usage(`FAT files have no named streams (asked for "${stream}").`);
    if (file.kind !== 'file') throw usage(`${file.name} is not a file.`);
    const { firstCluster } = await this.locate(file);
    if (file.size === 0) return runsContent({ source: this.source, heap: this.heap, runs: [], size: 0 });
    const runs = await this.chain(firstCluster, this.geometry.clusterCount, file.id);
    const bytes = runClusters(runs) * this.geometry.clusterSize;
    if (bytes < file.size) throw corrupt('FAT', 'file size', file.id + 0x1c, `the file has ${file.size} bytes, its cluster chain only ${bytes}.`);
    return runsContent({ source: this.source, heap: this.heap, runs, size: file.size });
  }

  async readLink(entry: FileEntry): Promise<string> {
    throw usage(`${entry.name}: FAT has no symbolic links.`);
  }

  async extendedAttributes(): Promise<ExtendedAttribute[]> {
    return [];
  }

  /** The entries of the directory at `location` (`id` for errors), and the volume label entry if there is one. */
  async readDirectory(location: EntryLocation, id: number): Promise<{ entries: Array<{ entry: FileEntry; location: EntryLocation }>; label?: string }> {
    const { geometry } = this;
    if (location.firstCluster === 0) {
      if (geometry.variant === 32) throw corrupt('FAT', 'first cluster', id + 0x1a, 'a directory without clusters.');
      const bytes = await readStructure(this.source, 'FAT', 'root directory', geometry.rootDirOffset, geometry.rootDirBytes);
      return parseDirectory(bytes, (at) => geometry.rootDirOffset + at, geometry);
    }
    const runs = await this.chain(location.firstCluster, Math.ceil(MAX_DIRECTORY_BYTES / geometry.clusterSize), id);
    const bytes = await readRuns(this.source, this.heap, runs, runClusters(runs) * geometry.clusterSize, 'directory');
    const volumeOffsets: Array<{ start: number; offset: number }> = [];
    let start = 0;
    for (const run of runs) {
      volumeOffsets.push({ start, offset: geometry.dataOffset + (run.first - 2) * geometry.clusterSize });
      start += run.count * geometry.clusterSize;
    }
    const offsetOf = (at: number): number => {
      let piece = volumeOffsets[0] ?? { start: 0, offset: 0 };
      for (const candidate of volumeOffsets) if (candidate.start <= at) piece = candidate;
      return piece.offset + at - piece.start;
    };
    return parseDirectory(bytes, offsetOf, geometry);
  }

  private chain(first: number, maxClusters: number, id: number) {
    const { variant } = this.geometry;
    const end = variant === 12 ? 0xff8 : variant === 16 ? 0xfff8 : 0x0ffffff8;
    return readChainRuns({
      heap: this.heap,
      first,
      maxClusters,
      next: (cluster) => this.entry(cluster),
      isEnd: (value) => value >= end,
      field: id === 0 ? 'root cluster' : 'cluster chain',
      fieldOffset: id === 0 ? 0x2c : id + 0x1a,
    });
  }

  private async entry(cluster: number): Promise<number> {
    const { variant } = this.geometry;
    if (variant === 12) {
      const at = Math.floor((cluster * 3) / 2);
      const pair = (await this.table.byte(at)) | ((await this.table.byte(at + 1)) << 8);
      return cluster & 1 ? pair >> 4 : pair & 0xfff;
    }
    if (variant === 16) return this.table.u16(cluster * 2);
    return (await this.table.u32(cluster * 4)) % 0x10000000;
  }

  /** The entry's first cluster: remembered from the listing, else read again from its short entry at `id`. */
  private async locate(entry: FileEntry): Promise<EntryLocation> {
    const known = this.locations.get(entry);
    if (known) return known;
    if (entry.id === 0) return this.rootLocation();
    const { geometry } = this;
    const inRoot = entry.id >= geometry.rootDirOffset && entry.id < geometry.rootDirOffset + geometry.rootDirBytes;
    const aligned = (entry.id - (inRoot ? geometry.rootDirOffset : geometry.dataOffset)) % ENTRY_BYTES === 0;
    if (!aligned || entry.id < geometry.rootDirOffset || entry.id + ENTRY_BYTES > geometry.sizeBytes) throw usage(`id ${entry.id} is not a FAT directory entry of this volume.`);
    const bytes = await readStructure(this.source, 'FAT', 'directory entry', entry.id, ENTRY_BYTES);
    const attributes = bytes[11] ?? 0;
    if (bytes[0] === 0 || bytes[0] === 0xe5 || (attributes & 0x3f) === ATTR_LONG_NAME || (attributes & ATTR_VOLUME_LABEL) !== 0) {
      throw usage(`id ${entry.id} is not the short entry of a file or directory.`);
    }
    return { firstCluster: firstClusterOf(bytes, 0, geometry) };
  }
}

/** A long name being collected: its units by sequence number, the sequence expected next and the checksum. */
interface LongName {
  readonly parts: string[];
  expected: number;
  readonly checksum: number;
}

function parseDirectory(bytes: Uint8Array, offsetOf: (at: number) => number, geometry: FatGeometry): { entries: Array<{ entry: FileEntry; location: EntryLocation }>; label?: string } {
  const entries: Array<{ entry: FileEntry; location: EntryLocation }> = [];
  let label: string | undefined;
  let longName: LongName | undefined;
  for (let at = 0; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
    const first = bytes[at] ?? 0;
    if (first === 0) break;
    if (first === 0xe5) {
      longName = undefined;
      continue;
    }
    const attributes = bytes[at + 11] ?? 0;
    if ((attributes & 0x3f) === ATTR_LONG_NAME) {
      longName = collectLongName(bytes, at, longName);
      continue;
    }
    const checksum = shortNameChecksum(bytes, at);
    const name = longName && longName.expected === 1 && longName.checksum === checksum ? joinLongName(longName) : undefined;
    longName = undefined;
    if (attributes & ATTR_VOLUME_LABEL) {
      if (!(attributes & ATTR_DIRECTORY) && label === undefined) label = labelText(bytes.subarray(at, at + 11));
      continue;
    }
    const shortName = decodeShortName(bytes, at);
    if (shortName === '.' || shortName === '..') continue;
    const isDirectory = (attributes & ATTR_DIRECTORY) !== 0;
    const size = isDirectory ? 0 : readU32(bytes, at + 0x1c);
    const firstCluster = firstClusterOf(bytes, at, geometry);
    const mtimeMs = fatTime(readU16(bytes, at + 0x18), readU16(bytes, at + 0x16), 0);
    const atimeMs = fatTime(readU16(bytes, at + 0x12), 0, 0);
    const tenMs = bytes[at + 0x0d] ?? 0;
    const birthtimeMs = fatTime(readU16(bytes, at + 0x10), readU16(bytes, at + 0x0e), tenMs <= 199 ? tenMs * 10 : 0);
    const entry: FileEntry = {
      name: name ?? shortName,
      kind: isDirectory ? 'directory' : 'file',
      id: offsetOf(at),
      size,
      ...(isDirectory ? {} : { allocatedBytes: firstCluster === 0 ? 0 : Math.ceil(size / geometry.clusterSize) * geometry.clusterSize }),
      ...(mtimeMs === undefined ? {} : { mtimeMs }),
      ...(atimeMs === undefined ? {} : { atimeMs }),
      ...(birthtimeMs === undefined ? {} : { birthtimeMs }),
      dosAttributes: attributes,
    };
    entries.push({ entry, location: { firstCluster } });
  }
  return label === undefined ? { entries } : { entries, label };
}

/** Adds one long-name entry to the name being collected; a broken sequence drops it (the short name is used). */
function collectLongName(bytes: Uint8Array, at: number, current: LongName | undefined): LongName | undefined {
  const order = bytes[at] ?? 0;
  const sequence = order & 0x1f;
  const checksum = bytes[at + 13] ?? 0;
  if (sequence < 1 || sequence > MAX_LFN_ENTRIES || (bytes[at + 12] ?? 0) !== 0) return undefined;
  let name = current;
  if (order & 0x40) name = { parts: [], expected: sequence + 1, checksum };
  if (!name || sequence !== name.expected - 1 || checksum !== name.checksum) return undefined;
  name.expected = sequence;
  const units: number[] = [];
  for (const [start, count] of [[1, 5], [14, 6], [28, 2]] as const) {
    for (let i = 0; i < count; i++) units.push(readU16(bytes, at + start + i * 2));
  }
  name.parts[sequence - 1] = String.fromCharCode(...units);
  return name;
}

function joinLongName(name: LongName): string | undefined {
  const text = name.parts.join('');
  const end = text.indexOf('\0');
  const result = end === -1 ? text : text.slice(0, end);
  return result === '' ? undefined : result;
}

function shortNameChecksum(bytes: Uint8Array, at: number): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >> 1)) + (bytes[at + i] ?? 0)) & 0xff;
  return sum;
}

function decodeShortName(bytes: Uint8Array, at: number): string {
  const flags = bytes[at + 0x0c] ?? 0;
  const raw = Uint8Array.from(bytes.subarray(at, at + 11));
  if (raw[0] === 0x05) raw[0] = 0xe5;
  const base = oemText(raw.subarray(0, 8), (flags & NT_LOWER_BASE) !== 0);
  const extension = oemText(raw.subarray(8, 11), (flags & NT_LOWER_EXTENSION) !== 0);
  return extension === '' ? base : `${base}.${extension}`;
}

function oemText(bytes: Uint8Array, lower: boolean): string {
  let text = '';
  for (const byte of bytes) {
    const char = byte < 0x80 ? String.fromCharCode(byte) : (CP437_HIGH[byte - 0x80] ?? '?');
    text += lower && byte >= 0x41 && byte <= 0x5a ? char.toLowerCase() : char;
  }
  return text.replace(/ +$/, '');
}

function labelText(bytes: Uint8Array): string | undefined {
  const text = Buffer.from(bytes).toString('latin1').replace(/[\0 ]+$/, '');
  return text === '' ? undefined : text;
}

/** The boot sector's label, used when the root directory has no label entry (as blkid does). */
function bootSectorLabel(bs: Fields, geometry: FatGeometry): string | undefined {
  const ebpb = geometry.variant === 32 ? 0x40 : 0x24;
  if (![0x28, 0x29].includes(bs.u8(ebpb + 2, 'boot signature'))) return undefined;
  const label = labelText(bs.slice(ebpb + 7, 11, 'volume label'));
  return label === 'NO NAME' ? undefined : label;
}

function firstClusterOf(bytes: Uint8Array, at: number, geometry: FatGeometry): number {
  const low = readU16(bytes, at + 0x1a);
  return geometry.variant === 32 ? readU16(bytes, at + 0x14) * 0x10000 + low : low;
}

/** A FAT date and time (local time, taken as UTC) plus milliseconds; undefined when unset or invalid. */
function fatTime(date: number, time: number, extraMs: number): number | undefined {
  if (date === 0) return undefined;
  const month = (date >> 5) & 0x0f;
  const day = date & 0x1f;
  const hours = time >> 11;
  const minutes = (time >> 5) & 0x3f;
  const seconds = (time & 0x1f) * 2;
  if (month < 1 || month > 12 || day < 1 || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  return Date.UTC(1980 + (date >> 9), month - 1, day, hours, minutes, seconds) + extraMs;
}

function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
}

function readU32(bytes: Uint8Array, at: number): number {
  return readU16(bytes, at) + readU16(bytes, at + 2) * 0x10000;
}

function usage(detail: string): LifeboatError {
  return new LifeboatError('LB_INPUT_USAGE', { detail });
}
