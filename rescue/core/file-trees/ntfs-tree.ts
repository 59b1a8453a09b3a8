// The files of an NTFS volume, read-only, as ntfs-3g shows them: names from the $I30 indexes (DOS-only
// 8.3 duplicates skipped), metadata from each file's own record: $STANDARD_INFORMATION (0x10: +0 created,
// +8 modified, +0x10 MFT changed, +0x18 accessed, in 100 ns since 1601; +0x20 DOS attributes), the
// unnamed $DATA (0x80) and named ones (alternate data streams), $REPARSE_POINT (0xC0: +0 tag, +8 data;
// symlinks and junctions hold substitute and print name offsets and lengths, then the names). System
// files (records below 16 named $..., and $Extend) are hidden from the root, as ntfs-3g hides them.
// A damaged record, runlist or index is LB_FILESYSTEM_CORRUPT for the entry it belongs to.

import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { Fields, hasAscii, readIfPresent, utf16Text } from '../filesystems/fields.ts';
import { readNtfsGeometry } from '../filesystems/ntfs.ts';
import type { DataStream, FileContent, FileEntry, FileKind, FileTree, FileTreeOpener } from './file-tree.ts';
import { readIndexEntries, type IndexBlockCache, type IndexEntry } from './ntfs-index.ts';
import { readSpecialFile } from './ntfs-special.ts';
import { openStream } from './ntfs-stream.ts';
import { LruCache, NtfsVolume, type NtfsFile } from './ntfs-volume.ts';

const ATTR_STANDARD_INFORMATION = 0x10;
const ATTR_VOLUME_NAME = 0x60;
const ATTR_DATA = 0x80;
const ATTR_INDEX_ALLOCATION = 0xa0;
const RECORD_VOLUME = 3;
const RECORD_ROOT = 5;
const FIRST_USER_RECORD = 16;
const NAMESPACE_DOS = 2;
const DOS_DIRECTORY = 0x10;
const FILE_NAME_DIRECTORY = 0x10000000;
const DOS_REPARSE_POINT = 0x400;
const INDEX_BLOCKS_CACHED = 256;
/** Milliseconds between 1601-01-01 and 1970-01-01. */
const EPOCH_DIFFERENCE_MS = 11644473600000;
const DAMAGE_CODES = new Set(['LB_FILESYSTEM_CORRUPT', 'LB_FILESYSTEM_TRUNCATED']);

/** Opens the file tree of an NTFS volume; undefined when the source does not start with an NTFS boot sector. */
export const openNtfsTree: FileTreeOpener = async (source: ByteSource) => {
  const boot = await readIfPresent(source, 0, 512);
  if (!boot || !hasAscii(boot, 3, 'NTFS    ')) return undefined;
  const { geometry } = await readNtfsGeometry(source, new Fields(boot, 0, 'NTFS'));
  const volume = new NtfsVolume(source, geometry);
  await volume.loadMftRunlist();
  const label = await readLabel(volume);
  return new NtfsTree(volume, label);
};

async function readLabel(volume: NtfsVolume): Promise<string | undefined> {
  const value = volume.stream(await volume.readFile(RECORD_VOLUME), ATTR_VOLUME_NAME, '');
  return value?.resident ? utf16Text(value.bytes) : undefined;
}

class NtfsTree implements FileTree {
  readonly filesystem = 'ntfs';
  readonly label?: string;
  private readonly indexBlocks: IndexBlockCache = new LruCache(INDEX_BLOCKS_CACHED);
  private readonly volume: NtfsVolume;

  constructor(volume: NtfsVolume, label: string | undefined) {
    this.volume = volume;
    if (label !== undefined) this.label = label;
  }

  async root(): Promise<FileEntry> {
    return this.describe(await this.volume.readFile(RECORD_ROOT), '');
  }

  async list(directory: FileEntry): Promise<FileEntry[]> {
    const file = await this.volume.readFile(directory.id);
    if (!file.directory) throw notA('directory', directory);
    const entries: FileEntry[] = [];
    for (const entry of await readIndexEntries(this.volume, file, this.indexBlocks)) {
      if (entry.namespace === NAMESPACE_DOS || entry.name === '.') continue;
      if (file.number === RECORD_ROOT && isSystemFile(entry)) continue;
      entries.push(await this.describeChild(entry));
    }
    return entries;
  }

  async openFile(entry: FileEntry, stream?: string): Promise<FileContent> {
    const file = await this.volume.readFile(entry.id);
    const value = this.volume.stream(file, ATTR_DATA, stream ?? '');
    if (value) return openStream(this.volume, value, `record ${file.number} $DATA "${stream ?? ''}"`);
    if (stream !== undefined) throw new LifeboatError('LB_INPUT_PATH_NOT_FOUND', { detail: `${entry.name} has no data stream named "${stream}".`, stream });
    if (file.directory) throw notA('file', entry);
    return openStream(this.volume, { resident: true, bytes: new Uint8Array(0), at: file.record.base }, entry.name);
  }

  async readLink(entry: FileEntry): Promise<string> {
    const file = await this.volume.readFile(entry.id);
    const info = this.volume.stream(file, ATTR_STANDARD_INFORMATION, '');
    const dos = info?.resident && info.bytes.length >= 0x24 ? new Fields(info.bytes, info.at, 'NTFS').u32(0x20, 'file attributes') : 0;
    const special = await readSpecialFile(this.volume, file, dos);
    if (special?.target === undefined) throw notA('symlink', entry);
    return special.target;
  }

  async extendedAttributes(): Promise<[]> {
    return [];
  }

  /** An entry for a name in a directory; a record that cannot be read gives what the index knows, and opening it then fails. */
  private async describeChild(entry: IndexEntry): Promise<FileEntry> {
    try {
      return await this.describe(await this.volume.readFile(entry.record, entry.sequence), entry.name);
    } catch (error) {
      if (!(error instanceof LifeboatError) || !DAMAGE_CODES.has(error.code)) throw error;
      return fromIndexKey(entry);
    }
  }

  private async describe(file: NtfsFile, name: string): Promise<FileEntry> {
    const volume = this.volume;
    const info = volume.stream(file, ATTR_STANDARD_INFORMATION, '');
    const si = info?.resident && info.bytes.length >= 0x24 ? new Fields(info.bytes, info.at, 'NTFS') : undefined;
    const dosRaw = si ? si.u32(0x20, 'file attributes') : 0;
    const special = await readSpecialFile(volume, file, dosRaw);
    const data = volume.stream(file, ATTR_DATA, '');
    const streams: DataStream[] = [];
    for (const located of file.attributes) {
      if (located.attribute.type !== ATTR_DATA || located.name === '' || streams.some((stream) => stream.name === located.name)) continue;
      const value = volume.stream(file, ATTR_DATA, located.name);
      streams.push({ name: located.name, size: value?.resident ? value.bytes.length : (value?.dataSize ?? 0) });
    }
    const kind: FileKind = special?.kind ?? (file.directory ? 'directory' : 'file');
    const size = special?.target !== undefined ? Buffer.byteLength(special.target) : file.directory ? directorySize(volume, file) : !data ? 0 : data.resident ? data.bytes.length : data.dataSize;
    const allocatedBytes = !data || file.directory ? 0 : data.resident ? (data.bytes.length + 7) & ~7 : data.allocatedBytes;
    const dos = si ? dosRaw | (file.directory ? DOS_DIRECTORY : 0) : undefined;
    return {
      name,
      kind,
      id: file.number,
      size,
      allocatedBytes,
      links: file.links,
      ...(si ? { birthtimeMs: ntfsTimeMs(si, 0x00), mtimeMs: ntfsTimeMs(si, 0x08), ctimeMs: ntfsTimeMs(si, 0x10), atimeMs: ntfsTimeMs(si, 0x18) } : {}),
      ...(dos === undefined ? {} : { dosAttributes: dos }),
      ...(streams.length > 0 ? { streams } : {}),
      ...(special?.reparseTag === undefined ? {} : { reparseTag: special.reparseTag }),
      ...(special?.device ? { device: special.device } : {}),
    };
  }
}

/** A folder's size as ntfs-3g gives it: its $I30 index allocation's size (0 when the index is all in the record). */
function directorySize(volume: NtfsVolume, file: NtfsFile): number {
  const allocation = volume.stream(file, ATTR_INDEX_ALLOCATION, '$I30');
  return allocation && !allocation.resident ? allocation.dataSize : 0;
}

function isSystemFile(entry: IndexEntry): boolean {
  return (entry.record < FIRST_USER_RECORD && entry.name.startsWith('$')) || entry.name === '$Extend';
}

/** What the directory index alone says of a file whose record is damaged. */
function fromIndexKey(entry: IndexEntry): FileEntry {
  const directory = (entry.fileFlags & FILE_NAME_DIRECTORY) !== 0;
  const kind: FileKind = entry.fileFlags & DOS_REPARSE_POINT ? 'reparse-point' : directory ? 'directory' : 'file';
  return {
    name: entry.name,
    kind,
    id: entry.record,
    size: directory ? 0 : entry.dataSize,
    allocatedBytes: entry.allocatedSize,
    birthtimeMs: toMs(...entry.time(0x08)),
    mtimeMs: toMs(...entry.time(0x10)),
    ctimeMs: toMs(...entry.time(0x18)),
    atimeMs: toMs(...entry.time(0x20)),
    dosAttributes: (entry.fileFlags & 0xffff) | (directory ? DOS_DIRECTORY : 0),
  };
}

function ntfsTimeMs(fields: Fields, offset: number): number {
  return toMs(fields.u32(offset, 'time'), fields.u32(offset + 4, 'time'));
}

/** 100 ns units since 1601 (as two u32 halves) to whole ms since 1970, exact without BigInt: 2^32 = 429496 * 10000 + 7296. */
function toMs(low: number, high: number): number {
  return high * 429496 + Math.floor((high * 7296 + low) / 10000) - EPOCH_DIFFERENCE_MS;
}

function notA(what: string, entry: FileEntry): LifeboatError {
  return new LifeboatError('LB_INPUT_USAGE', { detail: `${entry.name || '/'} is not a ${what}.`, id: entry.id });
}
