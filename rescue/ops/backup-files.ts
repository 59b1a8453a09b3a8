// `backup files`: folders of a running system or a mounted partition into the repository that
// holds disk snapshots. File contents are cut by content (FastCDC), so an edited file shares all
// but the chunks around the edit with its earlier version, and any chunk equal to one of a disk
// snapshot is stored once. Folders become tree blobs (FORMAT.md, "Files snapshots"). Same order as
// a disk backup: blobs, flush (packs, then the index), verification, the manifest last.

import { LifeboatError, toLifeboatError } from '../core/errors.ts';
import type { ProgressReporter } from '../core/progress.ts';
import { FILE_CHUNK_PARAMETERS, nextChunkLength, type CdcParameters } from '../core/repository/cdc-chunker.ts';
import type { FileSystemWalker, LocalEntry, LocalRoot } from '../core/repository/files-backup-port.ts';
import {
  encodeChunkLists,
  encodeFolderTrees,
  INLINE_CHUNKS_MAX,
  INLINE_XATTR_MAX_BYTES,
  type StoredChunk,
  type StoredFileEntry,
  type StoredXattr,
} from '../core/repository/files-tree-blobs.ts';
import type { SnapshotManifest } from '../core/repository/format.ts';
import type { RepositoryWriter } from '../core/repository/repository-port.ts';
import { forEachLimited } from '../core/run-limited.ts';

/** Files read and chunked at once (reads, hashing and compression overlap on the thread pool). */
const FILES_IN_FLIGHT = 6;
/** Folders listed at once (lstat of their entries; their getfattr calls are gathered into few processes). */
const FOLDERS_LISTED_AT_ONCE = 16;
/** Progress events at most this often. */
const PROGRESS_INTERVAL_MS = 250;

/** What to back up and how. */
export interface FilesBackupRequest {
  /** Absolute, normalized paths. */
  readonly roots: readonly string[];
  readonly tags: readonly string[];
  readonly note: string;
  readonly compressionLevel: number;
  readonly verify: boolean;
  readonly host: string;
  readonly lifeboatVersion: string;
  /** Chunking parameters (tests may pass smaller ones). */
  readonly chunking?: CdcParameters;
}

/** The saved snapshot. */
export interface FilesBackupResult {
  readonly id: string;
  readonly manifest: SnapshotManifest;
}

interface Counters {
  logicalBytes: number;
  readBytes: number;
  newBytes: number;
  chunks: number;
  newChunks: number;
  entries: number;
}

/** A counting semaphore: bounds how many of one kind of work run at once across the whole walk. */
class Limiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

interface RunState {
  readonly request: FilesBackupRequest;
  readonly walker: FileSystemWalker;
  readonly repository: RepositoryWriter;
  readonly reporter: ProgressReporter;
  readonly counters: Counters;
  readonly chunking: CdcParameters;
  readonly files: Limiter;
  readonly folders: Limiter;
  /** "dev:ino" -> hard-link group number. */
  readonly hardLinks: Map<string, number>;
  readonly lastProgress: { at: number };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

async function storeData(state: RunState, bytes: Uint8Array): Promise<string> {
  const result = await state.repository.storeBlob('data', bytes, { compressionLevel: state.request.compressionLevel });
  state.counters.chunks++;
  if (result.isNew) {
    state.counters.newChunks++;
    state.counters.newBytes += result.storedBytes;
  }
  return result.id;
}

async function storeTree(state: RunState, bytes: Uint8Array): Promise<string> {
  const result = await state.repository.storeBlob('tree', bytes, { compressionLevel: 3 });
  if (result.isNew) state.counters.newBytes += result.storedBytes;
  return result.id;
}

function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Reads a file and stores its content-defined chunks; runs of zeros a whole chunk long are holes. */
async function backUpContent(state: RunState, entry: LocalEntry): Promise<StoredChunk[]> {
  const file = await state.walker.openFile(entry);
  const chunks: StoredChunk[] = [];
  // Sized to the file (most are small: a max-size buffer per file would be mostly zeroing), plus room to see its end.
  const buffer = new Uint8Array(Math.min(state.chunking.maxBytes, entry.size + 4096));
  const stores: Array<Promise<void>> = [];
  try {
    let filled = 0;
    let position = 0;
    let atEnd = false;
    while (!atEnd || filled > 0) {
      while (!atEnd && filled < buffer.length) {
        const read = await file.read(buffer.subarray(filled), position);
        if (read === 0) atEnd = true;
        filled += read;
        position += read;
        state.counters.readBytes += read;
      }
      if (filled === 0) break;
      // A file that grew past its buffer while being read is cut where the buffer ends.
      const length = nextChunkLength(buffer.subarray(0, filled), atEnd, state.chunking) || filled;
      const piece = buffer.slice(0, length);
      buffer.copyWithin(0, length, filled);
      filled -= length;
      const slot: { id: string | undefined; length: number } = { id: undefined, length };
      chunks.push(slot);
      if (!isAllZero(piece)) stores.push(storeData(state, piece).then((id) => { slot.id = id; }));
      state.counters.logicalBytes += length;
      reportProgress(state, entry.shownPath);
    }
  } finally {
    await Promise.allSettled(stores);
    await file.close();
  }
  await Promise.all(stores);
  return chunks;
}

/** The total is not known before the walk ends: progress shows the bytes read so far, 4 times a second. */
function reportProgress(state: RunState, item: string): void {
  const now = Date.now();
  if (now - state.lastProgress.at < PROGRESS_INTERVAL_MS) return;
  state.lastProgress.at = now;
  state.reporter.progress({ phase: 'backup', bytesDone: state.counters.readBytes, bytesTotal: state.counters.readBytes, item });
}

async function storedXattrs(state: RunState, entry: LocalEntry): Promise<StoredXattr[]> {
  const xattrs: StoredXattr[] = [];
  for (const { name, value } of entry.xattrs) {
    if (value.length <= INLINE_XATTR_MAX_BYTES) xattrs.push({ name, value, size: value.length });
    else xattrs.push({ name, blob: await storeData(state, new Uint8Array(value)), size: value.length });
  }
  return xattrs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The stored form of an entry: metadata, plus its content (files) or its trees (folders). */
async function storeEntry(state: RunState, entry: LocalEntry, extra: Partial<StoredFileEntry>): Promise<StoredFileEntry> {
  let hardLink: number | undefined;
  if (entry.kind !== 'directory' && entry.links > 1) {
    const key = `${entry.device}:${entry.inode}`;
    hardLink = state.hardLinks.get(key);
    if (hardLink === undefined) {
      hardLink = state.hardLinks.size + 1;
      state.hardLinks.set(key, hardLink);
    }
  }
  state.counters.entries++;
  return {
    name: entry.name, kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
    mtimeNs: entry.mtimeNs, atimeNs: entry.atimeNs, ctimeNs: entry.ctimeNs, size: entry.size, links: entry.links,
    ...(hardLink === undefined ? {} : { hardLink }),
    ...(entry.target === undefined ? {} : { target: entry.target }),
    ...(entry.rdev === undefined ? {} : { device: entry.rdev }),
    xattrs: await storedXattrs(state, entry),
    ...extra,
  };
}

async function backUpFile(state: RunState, entry: LocalEntry): Promise<StoredFileEntry | undefined> {
  let chunks: StoredChunk[];
  try {
    chunks = entry.size === 0 ? [] : await state.files.run(() => backUpContent(state, entry));
  } catch (error) {
    const coded = toLifeboatError(error);
    if (coded.code.startsWith('LB_REPO_')) throw coded;
    state.reporter.notice(`${entry.shownPath}: cannot be read (${(error as { code?: string }).code ?? coded.message}); left out`);
    return undefined;
  }
  const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  if (size !== entry.size) state.reporter.notice(`${entry.shownPath}: changed while it was read (${entry.size} bytes, then ${size}); the bytes read are kept`);
  const content: Partial<StoredFileEntry> = chunks.length === 0 ? {} : chunks.length <= INLINE_CHUNKS_MAX ? { chunks } : { chunkLists: await Promise.all(encodeChunkLists(chunks).map((blob) => storeTree(state, blob))) };
  return storeEntry(state, { ...entry, size }, content);
}

/** Stores a folder's entries (depth first) and returns the tree blob ids of the folder. */
async function backUpFolder(state: RunState, root: LocalRoot, folder: LocalEntry): Promise<string[]> {
  const { entries, notices } = folder.otherFileSystem ? { entries: [], notices: [] } : await state.folders.run(() => root.list(folder));
  for (const notice of notices) state.reporter.notice(notice);
  const stored = await Promise.all(entries.map((entry) => backUpChild(state, root, entry)));
  const kept = stored.filter((entry): entry is StoredFileEntry => entry !== undefined).sort((a, b) => compareBytes(a.name, b.name));
  const trees: string[] = [];
  for (const blob of encodeFolderTrees(kept)) trees.push(await storeTree(state, blob));
  return trees;
}

async function backUpChild(state: RunState, root: LocalRoot, entry: LocalEntry): Promise<StoredFileEntry | undefined> {
  if (entry.kind === 'directory') return storeEntry(state, entry, { trees: await backUpFolder(state, root, entry) });
  if (entry.kind === 'file') return backUpFile(state, entry);
  return storeEntry(state, entry, {});
}

/** The folders above the roots: "/" leads to every root through its path. */
interface PathNode {
  readonly children: Map<string, PathNode>;
  root?: string;
}

function pathTree(roots: readonly string[]): PathNode {
  const top: PathNode = { children: new Map() };
  for (const root of roots) {
    let node = top;
    for (const part of root.split('/').filter(Boolean)) {
      let child = node.children.get(part);
      if (!child) {
        child = { children: new Map() };
        node.children.set(part, child);
      }
      node = child;
    }
    node.root = root;
  }
  return top;
}

/** Drops roots inside other roots (they are backed up with them); sorts. */
export function normalizeRoots(roots: readonly string[]): string[] {
  const sorted = [...new Set(roots.map((root) => (root.length > 1 ? root.replace(/\/+$/, '') : root)))].sort();
  for (const root of sorted) if (!root.startsWith('/')) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${root} is not an absolute path.` });
  return sorted.filter((root) => !sorted.some((other) => other !== root && (other === '/' || root.startsWith(`${other}/`))));
}

/** Entries of the folder at `path` (a PathNode): roots are walked, folders above them only lstat-ed. */
async function backUpPathNode(state: RunState, node: PathNode, path: string): Promise<string[]> {
  const entries: StoredFileEntry[] = [];
  for (const [name, child] of node.children) {
    const childPath = `${path === '/' ? '' : path}/${name}`;
    if (child.root !== undefined) {
      const root = await state.walker.openRoot(child.root);
      const stored = await backUpChild(state, root, root.entry);
      if (stored) entries.push(stored);
    } else {
      const folder = await state.walker.statFolder(childPath);
      entries.push(await storeEntry(state, folder, { trees: await backUpPathNode(state, child, childPath) }));
    }
  }
  entries.sort((a, b) => compareBytes(a.name, b.name));
  const trees: string[] = [];
  for (const blob of encodeFolderTrees(entries)) trees.push(await storeTree(state, blob));
  return trees;
}

/** Backs up the roots and saves the snapshot; the repository must be locked for writing. */
export async function backupFiles(request: FilesBackupRequest, walker: FileSystemWalker, repository: RepositoryWriter, reporter: ProgressReporter): Promise<FilesBackupResult> {
  const started = Date.now();
  const roots = normalizeRoots(request.roots);
  if (roots.length === 0) throw new LifeboatError('LB_INPUT_USAGE', { detail: 'Name at least one folder to back up.' });
  const chunking = request.chunking ?? FILE_CHUNK_PARAMETERS;
  const state: RunState = {
    request, walker, repository, reporter, chunking,
    counters: { logicalBytes: 0, readBytes: 0, newBytes: 0, chunks: 0, newChunks: 0, entries: 0 },
    files: new Limiter(FILES_IN_FLIGHT), folders: new Limiter(FOLDERS_LISTED_AT_ONCE), hardLinks: new Map(), lastProgress: { at: 0 },
  };
  reporter.progress({ phase: 'backup', bytesDone: 0, bytesTotal: 0 });
  let trees: string[];
  try {
    if (roots[0] === '/') {
      const root = await walker.openRoot('/');
      trees = await backUpFolder(state, root, root.entry);
    } else {
      trees = await backUpPathNode(state, pathTree(roots), '/');
    }
    await repository.flush();
  } catch (error) {
    await repository.abort();
    throw error;
  }
  reporter.progress({ phase: 'backup', bytesDone: state.counters.readBytes, bytesTotal: state.counters.readBytes });
  if (request.verify) await verifyWrittenPacks(repository, reporter);
  const { counters } = state;
  const manifest: SnapshotManifest = {
    version: repository.config.version,
    kind: 'files',
    time: new Date(started).toISOString(),
    host: request.host,
    lifeboatVersion: request.lifeboatVersion,
    tags: [...request.tags],
    note: request.note,
    chunkBytes: repository.config.chunkBytes,
    source: { path: roots.join(' ').slice(0, 4096), model: '', serial: '', sizeBytes: counters.logicalBytes, logicalSectorSize: 512, physicalSectorSize: 512, transport: 'files' },
    table: undefined,
    regions: [],
    volumes: [],
    files: { roots, trees, entries: counters.entries, chunking: { minBytes: chunking.minBytes, averageBytes: chunking.averageBytes, maxBytes: chunking.maxBytes } },
    stats: { logicalBytes: counters.logicalBytes, readBytes: counters.readBytes, newBytes: counters.newBytes, chunks: counters.chunks, newChunks: counters.newChunks, durationMs: Date.now() - started },
  };
  const id = await repository.saveSnapshot(manifest);
  return { id, manifest };
}

/** Reads back every pack this run wrote and checks it against its hash and the index. */
async function verifyWrittenPacks(repository: RepositoryWriter, reporter: ProgressReporter): Promise<void> {
  const packs = repository.writtenPacks();
  const total = packs.reduce((sum, pack) => sum + pack.size, 0);
  let done = 0;
  reporter.progress({ phase: 'verify', bytesDone: 0, bytesTotal: total });
  await forEachLimited(packs, 2, async (pack) => {
    await repository.verifyPack(pack.id);
    done += pack.size;
    reporter.progress({ phase: 'verify', bytesDone: done, bytesTotal: total, item: pack.id.slice(0, 8) });
  });
}
