// The tree blobs of a files snapshot (FORMAT.md, "Files snapshots"): a folder is one or more
// "lifeboat-folder" blobs (a JSON header line, then one JSON line per entry), a very large file's
// chunk list is "LBFC" binary blobs. Encoders and validating decoders come in pairs; every field a
// decoder returns was checked (habit 1): a damaged or hostile tree is LB_REPO_INVALID, never a crash.

import { LifeboatError } from '../errors.ts';
import type { FileKind } from '../file-trees/file-tree.ts';

/** Marks a folder tree blob (first line). */
export const FOLDER_TREE_FORMAT = 'lifeboat-folder';
const FOLDER_TREE_VERSION = 1;
/** A folder blob is closed once its entries reach this many bytes of JSON, or this many entries. */
export const FOLDER_BLOB_MAX_BYTES = 4 * 1024 * 1024;
export const FOLDER_BLOB_MAX_ENTRIES = 16384;
/** A file with more chunks than this keeps them in LBFC chunk-list blobs instead of inline. */
export const INLINE_CHUNKS_MAX = 1024;
/** Extended attribute values up to this size are kept inline (ACLs, capabilities, labels); larger ones in a data blob. */
export const INLINE_XATTR_MAX_BYTES = 1024;
/** Hard limits checked on read. */
const MAX_NAME_BYTES = 4096;
const MAX_XATTR_NAME_BYTES = 255;
const MAX_XATTR_VALUE_BYTES = 16 * 1024 * 1024;
const MAX_XATTRS = 4096;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
const CHUNK_LIST_MAGIC = 'LBFC';
const CHUNK_LIST_VERSION = 1;
const CHUNK_LIST_HEADER_BYTES = 12;
const CHUNK_LIST_ENTRY_BYTES = 36;
/** Chunks per LBFC blob (2.3 MiB). */
export const CHUNK_LIST_MAX_ENTRIES = 65536;
const ZERO_ID = '0'.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;
const NANOSECONDS = /^-?[0-9]{1,20}$/;
const UNSIGNED_DECIMAL = /^[0-9]{1,20}$/;

/** The entry kinds a files snapshot keeps (st_mode's file types). */
export type StoredKind = Exclude<FileKind, 'reparse-point' | 'damaged'>;
const MODE_TYPE: Record<StoredKind, number> = {
  file: 0o100000, directory: 0o040000, symlink: 0o120000, fifo: 0o010000, socket: 0o140000, 'char-device': 0o020000, 'block-device': 0o060000,
};

/** A chunk of a file's content: its blob id, or undefined for a run of zeros that was not stored (a hole). */
export interface StoredChunk {
  readonly id: string | undefined;
  readonly length: number;
}

/** An extended attribute: its value inline, or the id of the data blob that holds it. */
export interface StoredXattr {
  readonly name: string;
  readonly value?: Uint8Array;
  readonly blob?: string;
  readonly size: number;
}

/** One entry of a folder, as a files snapshot keeps it. */
export interface StoredFileEntry {
  /** The name's bytes as the filesystem returned them. */
  readonly name: Uint8Array;
  readonly kind: StoredKind;
  /** st_mode, type bits included. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Nanoseconds since 1970 UTC. */
  readonly mtimeNs: bigint;
  readonly atimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly size: number;
  /** st_nlink. */
  readonly links: number;
  /** Entries of one snapshot with the same group are names of one file (hard links). */
  readonly hardLink?: number;
  /** st_ino and st_dev (decimal) when backed up: with size, mtime and ctime they tell the next backup the file is unchanged (absent in older snapshots). */
  readonly inode?: string;
  readonly fsDevice?: string;
  /** Symlink target bytes. */
  readonly target?: Uint8Array;
  readonly device?: { readonly major: number; readonly minor: number };
  readonly xattrs: readonly StoredXattr[];
  /** Files: the content's chunks in order (inline) ... */
  readonly chunks?: readonly StoredChunk[];
  /** ... or the LBFC blobs that list them. */
  readonly chunkLists?: readonly string[];
  /** Folders: the tree blobs of its entries. */
  readonly trees?: readonly string[];
}

function bad(detail: string): never {
  throw new LifeboatError('LB_REPO_INVALID', { detail: `A folder tree blob is damaged: ${detail}.` });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();

/** The bytes as text when they are valid UTF-8 (so the JSON stays readable), else undefined. */
function asText(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(value: unknown, field: string, maxBytes: number): Uint8Array {
  if (typeof value !== 'string' || value.length > Math.ceil(maxBytes / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) bad(`${field} is not base64`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

/** Bytes-safe text field: `key` as text when valid UTF-8, `keyBase64` otherwise. */
function bytesField(key: string, bytes: Uint8Array): Record<string, string> {
  const text = asText(bytes);
  return text === undefined ? { [`${key}Base64`]: base64(bytes) } : { [key]: text };
}

function encodeEntry(entry: StoredFileEntry): string {
  const json: Record<string, unknown> = {
    ...bytesField('name', entry.name),
    kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
    mtime: entry.mtimeNs.toString(), atime: entry.atimeNs.toString(), ctime: entry.ctimeNs.toString(),
    size: entry.size, links: entry.links,
  };
  if (entry.hardLink !== undefined) json.hardLink = entry.hardLink;
  if (entry.inode !== undefined) json.ino = entry.inode;
  if (entry.fsDevice !== undefined) json.dev = entry.fsDevice;
  if (entry.target !== undefined) Object.assign(json, bytesField('target', entry.target));
  if (entry.device) json.device = [entry.device.major, entry.device.minor];
  if (entry.xattrs.length > 0) json.xattrs = entry.xattrs.map((x) => (x.blob === undefined ? { name: x.name, value: base64(x.value ?? new Uint8Array()) } : { name: x.name, blob: x.blob, size: x.size }));
  if (entry.chunks) json.chunks = entry.chunks.map((chunk) => [chunk.id ?? null, chunk.length]);
  if (entry.chunkLists) json.chunkLists = entry.chunkLists;
  if (entry.trees) json.trees = entry.trees;
  return JSON.stringify(json);
}

/** Encodes a folder's entries (sorted by the caller) into blobs of bounded size. */
export function encodeFolderTrees(entries: readonly StoredFileEntry[]): Uint8Array[] {
  const blobs: Uint8Array[] = [];
  let lines: string[] = [];
  let bytes = 0;
  const close = () => {
    const header = JSON.stringify({ format: FOLDER_TREE_FORMAT, version: FOLDER_TREE_VERSION, count: lines.length });
    blobs.push(textEncoder.encode([header, ...lines].join('\n') + '\n'));
    lines = [];
    bytes = 0;
  };
  for (const entry of entries) {
    const line = encodeEntry(entry);
    if (lines.length > 0 && (bytes + line.length > FOLDER_BLOB_MAX_BYTES || lines.length >= FOLDER_BLOB_MAX_ENTRIES)) close();
    lines.push(line);
    bytes += line.length + 1;
  }
  if (lines.length > 0 || blobs.length === 0) close();
  return blobs;
}

function uint(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) bad(`${field} is out of range`);
  return value;
}

function nanoseconds(value: unknown, field: string): bigint {
  if (typeof value !== 'string' || !NANOSECONDS.test(value)) bad(`${field} is not a time in nanoseconds`);
  return BigInt(value);
}

function decimal(value: unknown, field: string): string {
  if (typeof value !== 'string' || !UNSIGNED_DECIMAL.test(value)) bad(`${field} is not a decimal number`);
  return value;
}

function hexIds(value: unknown, field: string, max: number): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > max) bad(`${field} is not a list of ids`);
  return value.map((id) => {
    if (typeof id !== 'string' || !HEX64.test(id)) bad(`${field} holds a bad id`);
    return id;
  });
}

function bytesValue(raw: Record<string, unknown>, key: string, maxBytes: number): Uint8Array | undefined {
  if (raw[key] !== undefined) {
    if (typeof raw[key] !== 'string') bad(`${key} is not text`);
    const bytes = textEncoder.encode(raw[key]);
    if (bytes.length > maxBytes) bad(`${key} is too long`);
    return bytes;
  }
  if (raw[`${key}Base64`] !== undefined) return fromBase64(raw[`${key}Base64`], `${key}Base64`, maxBytes);
  return undefined;
}

function decodeXattrs(value: unknown): StoredXattr[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_XATTRS) bad('xattrs is not a list');
  return value.map((item) => {
    if (typeof item !== 'object' || item === null) bad('an xattr is not an object');
    const raw = item as Record<string, unknown>;
    if (typeof raw.name !== 'string' || raw.name.length === 0 || textEncoder.encode(raw.name).length > MAX_XATTR_NAME_BYTES || raw.name.includes('\u0000')) bad('an xattr name is out of range');
    if (raw.blob !== undefined) {
      const [blob] = hexIds([raw.blob], 'xattr blob', 1);
      return { name: raw.name, blob: blob!, size: uint(raw.size, 'xattr size', MAX_XATTR_VALUE_BYTES) };
    }
    const bytes = fromBase64(raw.value, 'xattr value', INLINE_XATTR_MAX_BYTES);
    return { name: raw.name, value: bytes, size: bytes.length };
  });
}

function decodeChunks(value: unknown): StoredChunk[] {
  if (!Array.isArray(value) || value.length > INLINE_CHUNKS_MAX) bad('chunks is not a list');
  return value.map((item) => {
    if (!Array.isArray(item) || item.length !== 2) bad('a chunk is not [id, length]');
    const [id, length] = item as unknown[];
    if (id !== null && (typeof id !== 'string' || !HEX64.test(id))) bad('a chunk id is bad');
    if (length === 0) bad('a chunk is empty');
    return { id: id ?? undefined, length: uint(length, 'chunk length', MAX_CHUNK_BYTES) } as StoredChunk;
  });
}

function decodeEntry(line: string): StoredFileEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    bad('an entry is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) bad('an entry is not an object');
  const raw = parsed as Record<string, unknown>;
  const name = bytesValue(raw, 'name', MAX_NAME_BYTES);
  if (!name || name.length === 0) bad('an entry has no name');
  if (typeof raw.kind !== 'string' || !Object.hasOwn(MODE_TYPE, raw.kind)) bad('an entry kind is unknown');
  const kind = raw.kind as StoredKind;
  const mode = uint(raw.mode, 'mode', 0o177777);
  if ((mode & 0o170000) !== MODE_TYPE[kind]) bad(`the mode ${mode.toString(8)} does not match the kind ${kind}`);
  const size = uint(raw.size, 'size', Number.MAX_SAFE_INTEGER);
  const entry: { -readonly [K in keyof StoredFileEntry]: StoredFileEntry[K] } = {
    name, kind, mode,
    uid: uint(raw.uid, 'uid', 0xffffffff), gid: uint(raw.gid, 'gid', 0xffffffff),
    mtimeNs: nanoseconds(raw.mtime, 'mtime'), atimeNs: nanoseconds(raw.atime, 'atime'), ctimeNs: nanoseconds(raw.ctime, 'ctime'),
    size, links: uint(raw.links, 'links', 0xffffffff),
    xattrs: decodeXattrs(raw.xattrs),
  };
  if (raw.hardLink !== undefined) entry.hardLink = uint(raw.hardLink, 'hardLink', Number.MAX_SAFE_INTEGER);
  if (raw.ino !== undefined) entry.inode = decimal(raw.ino, 'ino');
  if (raw.dev !== undefined) entry.fsDevice = decimal(raw.dev, 'dev');
  const target = bytesValue(raw, 'target', MAX_NAME_BYTES);
  if ((target !== undefined) !== (kind === 'symlink')) bad('a link target is missing or misplaced');
  if (target !== undefined) entry.target = target;
  if (raw.device !== undefined) {
    if (kind !== 'char-device' && kind !== 'block-device') bad('a device number on a non-device');
    if (!Array.isArray(raw.device) || raw.device.length !== 2) bad('device is not [major, minor]');
    entry.device = { major: uint(raw.device[0], 'device major', 0xffffffff), minor: uint(raw.device[1], 'device minor', 0xffffffff) };
  }
  if (raw.chunks !== undefined || raw.chunkLists !== undefined) {
    if (kind !== 'file' || (raw.chunks !== undefined && raw.chunkLists !== undefined)) bad('content on a non-file, or both chunks and chunkLists');
    if (raw.chunks !== undefined) {
      entry.chunks = decodeChunks(raw.chunks);
      if (entry.chunks.reduce((sum, chunk) => sum + chunk.length, 0) !== size) bad('the chunks do not add up to the size');
    } else {
      entry.chunkLists = hexIds(raw.chunkLists, 'chunkLists', 1_000_000);
    }
  } else if (kind === 'file' && size > 0) {
    bad('a non-empty file has no chunks');
  }
  if (raw.trees !== undefined) {
    if (kind !== 'directory') bad('trees on a non-folder');
    entry.trees = hexIds(raw.trees, 'trees', 1_000_000);
  } else if (kind === 'directory') {
    bad('a folder has no trees');
  }
  return entry;
}

/** Decodes and checks one folder tree blob. */
export function decodeFolderTree(bytes: Uint8Array): StoredFileEntry[] {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    bad('not UTF-8');
  }
  if (!text.endsWith('\n')) bad('the last line is cut');
  const lines = text.slice(0, -1).split('\n');
  let header: unknown;
  try {
    header = JSON.parse(lines[0] ?? '');
  } catch {
    bad('no header');
  }
  const raw = header as Record<string, unknown> | null;
  if (typeof raw !== 'object' || raw === null || raw.format !== FOLDER_TREE_FORMAT || raw.version !== FOLDER_TREE_VERSION) bad('the header is not a lifeboat-folder version 1 header');
  const count = uint(raw.count, 'count', FOLDER_BLOB_MAX_ENTRIES);
  const body = lines.length === 2 && lines[1] === '' && count === 0 ? [] : lines.slice(1);
  if (body.length !== count) bad(`the header says ${count} entries, the blob holds ${body.length}`);
  return body.map(decodeEntry);
}

/** Encodes a file's chunk list into LBFC blobs (a zero id marks a hole). */
export function encodeChunkLists(chunks: readonly StoredChunk[]): Uint8Array[] {
  const blobs: Uint8Array[] = [];
  for (let start = 0; start < chunks.length || blobs.length === 0; start += CHUNK_LIST_MAX_ENTRIES) {
    const group = chunks.slice(start, start + CHUNK_LIST_MAX_ENTRIES);
    const bytes = Buffer.alloc(CHUNK_LIST_HEADER_BYTES + group.length * CHUNK_LIST_ENTRY_BYTES);
    bytes.write(CHUNK_LIST_MAGIC, 0, 'latin1');
    bytes.writeUInt32LE(CHUNK_LIST_VERSION, 4);
    bytes.writeUInt32LE(group.length, 8);
    group.forEach((chunk, index) => {
      const at = CHUNK_LIST_HEADER_BYTES + index * CHUNK_LIST_ENTRY_BYTES;
      bytes.writeUInt32LE(chunk.length, at);
      bytes.write(chunk.id ?? ZERO_ID, at + 4, 'hex');
    });
    blobs.push(bytes);
    if (group.length === 0) break;
  }
  return blobs;
}

/** Decodes and checks one LBFC blob. */
export function decodeChunkListBlob(bytes: Uint8Array): StoredChunk[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.length < CHUNK_LIST_HEADER_BYTES || view.toString('latin1', 0, 4) !== CHUNK_LIST_MAGIC || view.readUInt32LE(4) !== CHUNK_LIST_VERSION) bad('a file chunk list has a bad header');
  const count = view.readUInt32LE(8);
  if (count > CHUNK_LIST_MAX_ENTRIES || view.length !== CHUNK_LIST_HEADER_BYTES + count * CHUNK_LIST_ENTRY_BYTES) bad('a file chunk list has the wrong length');
  const chunks: StoredChunk[] = [];
  for (let index = 0; index < count; index++) {
    const at = CHUNK_LIST_HEADER_BYTES + index * CHUNK_LIST_ENTRY_BYTES;
    const length = view.readUInt32LE(at);
    if (length === 0 || length > MAX_CHUNK_BYTES) bad('a chunk length is out of range');
    const id = view.toString('hex', at + 4, at + 36);
    chunks.push({ id: id === ZERO_ID ? undefined : id, length });
  }
  return chunks;
}
