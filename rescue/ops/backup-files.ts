// `backup files`: folders of a running system or a mounted partition into the repository that
// holds disk snapshots. File contents are cut by content (FastCDC), so an edited file shares all
// but the chunks around the edit with its earlier version, and any chunk equal to one of a disk
// snapshot is stored once. Folders become tree blobs (FORMAT.md, "Files snapshots"). Same order as
// a disk backup: blobs, flush (packs, then the index), verification, the manifest last.
//
// A parent snapshot (the latest files snapshot of the same host and roots, or --parent) makes a
// second backup cheap: a file whose size, mtime, ctime, inode and device are those of its entry in
// the parent keeps the parent's chunk list and extended attributes without being read (restic's
// parent, kopia's cache). Small files (one chunk) are read whole, straight into a batch buffer, and
// a batch goes to the chunk workers as one message (hashes and zstd) and into the pack as one write:
// per-blob messages and per-file promises had made the main thread the bottleneck.

import { LifeboatError, toLifeboatError } from '../core/errors.ts';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';
import { FILE_CHUNK_PARAMETERS, nextChunkLength, type CdcParameters } from '../core/repository/cdc-chunker.ts';
import type { FileSystemWalker, LocalEntry, LocalRoot } from '../core/repository/files-backup-port.ts';
import {
  decodeChunkListBlob,
  decodeFolderTree,
  encodeChunkLists,
  encodeFolderTrees,
  INLINE_CHUNKS_MAX,
  INLINE_XATTR_MAX_BYTES,
  type StoredChunk,
  type StoredFileEntry,
  type StoredXattr,
} from '../core/repository/files-tree-blobs.ts';
import type { SnapshotManifest, SnapshotOptions } from '../core/repository/format.ts';
import type { RepositoryWriter, StoredSnapshot, StoreResult } from '../core/repository/repository-port.ts';
import { selectSnapshot } from '../core/repository/select-snapshot.ts';
import { manifestHead, verifyBeforeSaving } from './snapshot-common.ts';

/** Large files read and chunked at once (reads, hashing and compression overlap on the thread pool). */
const FILES_IN_FLIGHT = 6;
/** Chunks of large files hashed, compressed and written at once (each holds up to 4 MiB). */
const CHUNKS_IN_FLIGHT = 8;
/** Folders listed and having their files backed up at once. */
const FOLDERS_OPEN_AT_ONCE = 128;
/** Progress events at most this often. */
const PROGRESS_INTERVAL_MS = 250;
/** Files up to this size (and up to the chunker's minimum: one chunk) are read whole into a batch. */
const SMALL_FILE_MAX_BYTES = 512 * 1024;
/** A batch of small files' blobs is sent once it holds this many bytes or blobs. */
const BATCH_BYTES = 1024 * 1024;
const BATCH_MAX_BLOBS = 1024;
/** A partial batch waits while this many are with the workers (one each, and one more queued). */
const BATCHES_KEEPING_WORKERS_BUSY = 2;
/** Bytes of small files read but not yet stored, at most (the read side waits beyond it). */
const BATCHED_BYTES_MAX = 16 * 1024 * 1024;

/** How the parent snapshot is chosen. */
export type ParentChoice =
  /** The latest files snapshot of the same host and roots. */
  | { readonly mode: 'latest' }
  /** A given snapshot (id prefix or `latest`). */
  | { readonly mode: 'snapshot'; readonly spec: string }
  /** None: every file is read (--force, --no-parent). */
  | { readonly mode: 'none' };

/** What to back up and how. */
export interface FilesBackupRequest extends SnapshotOptions {
  /** Absolute, normalized paths. */
  readonly roots: readonly string[];
  /** Chunking parameters (tests may pass smaller ones). */
  readonly chunking?: CdcParameters;
  /** Default: the latest files snapshot of the same host and roots. */
  readonly parent?: ParentChoice;
  /** Stops the backup between files and chunks (LB_INPUT_STOPPED); no snapshot is saved and the repository stays consistent. */
  readonly signal?: AbortSignal;
}

/** What the run read and what it took from the parent snapshot. */
export interface FilesBackupCounts {
  /** The parent snapshot's id, or undefined. */
  readonly parent: string | undefined;
  readonly filesRead: number;
  readonly filesReused: number;
  /** Content bytes taken from the parent without reading the files. */
  readonly bytesReused: number;
  /** Entries not in the snapshot (or folders kept empty) because they could not be read. */
  readonly leftOut: number;
  /** Entries kept without their extended attributes because those could not be read. */
  readonly xattrsDropped: number;
}

/** What a saved files snapshot lacks, in words ("2 entries could not be read and are not in it; ..."); undefined when complete. */
export function describeLeftOut(counts: { readonly leftOut: number; readonly xattrsDropped: number }): string | undefined {
  const { leftOut, xattrsDropped } = counts;
  const parts = [
    leftOut > 0 ? `${leftOut} entr${leftOut === 1 ? 'y' : 'ies'} could not be read and ${leftOut === 1 ? 'is' : 'are'} not in it` : '',
    xattrsDropped > 0 ? `${xattrsDropped} entr${xattrsDropped === 1 ? 'y is' : 'ies are'} kept without ${xattrsDropped === 1 ? 'its' : 'their'} extended attributes` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** The saved snapshot. */
export interface FilesBackupResult {
  readonly id: string;
  readonly manifest: SnapshotManifest;
  readonly counts: FilesBackupCounts;
}

interface Counters {
  logicalBytes: number;
  readBytes: number;
  newBytes: number;
  chunks: number;
  newChunks: number;
  entries: number;
  filesRead: number;
  filesReused: number;
  bytesReused: number;
  leftOut: number;
  xattrsDropped: number;
}

/** A first-in first-out queue whose take is O(1) (Array#shift moves every element: with the tens of
 * thousands of files of a large tree waiting, it had cost seconds). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  /** Puts an item taken last back at the head. */
  unshiftFirst(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }
  take(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** A counting semaphore: bounds how many of one kind of work run at once across the whole walk. */
class Limiter {
  private running = 0;
  private readonly waiting = new Fifo<() => void>();
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  /** Resolves once a run could start without waiting. */
  async idle(): Promise<void> {
    while (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    // Hand the wake-up on: the run this one was woken for did not start.
    if (this.running < this.limit) this.waiting.take()?.();
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.take()?.();
    }
  }
}

/**
 * Gathers small blobs into one buffer and stores them as a batch (RepositoryWriter.storeBlobs).
 * `reserve` waits until the bytes read and not yet stored leave room (first come, first served),
 * `space` hands out the free part of the current buffer, to be filled synchronously and taken with
 * `commit` (or the reservation given back with `release`); a batch goes out when full, or when the
 * walk has nothing else to do right now.
 */
class BlobBatcher {
  private buffer: Uint8Array = new Uint8Array(0);
  private used = 0;
  private pieces: Array<{ view: Uint8Array; reserved: number; resolve: (result: StoreResult) => void; reject: (error: unknown) => void }> = [];
  /** Bytes reserved: read or about to be read, not yet stored. */
  private reservedBytes = 0;
  private scheduled = false;
  private inFlight = 0;
  private readonly waiting = new Fifo<{ bytes: number; resolve: () => void }>();
  private readonly store: (contents: Uint8Array[]) => Promise<StoreResult[]>;

  constructor(store: (contents: Uint8Array[]) => Promise<StoreResult[]>) {
    this.store = store;
  }

  /** Waits for room for `bytes` more (always granted when nothing is reserved). */
  async reserve(bytes: number): Promise<void> {
    if (this.waiting.size === 0 && (this.reservedBytes === 0 || this.reservedBytes + bytes <= BATCHED_BYTES_MAX)) {
      this.reservedBytes += bytes;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ bytes, resolve }));
  }

  /** Gives back a reservation that was not committed. */
  release(bytes: number): void {
    this.reservedBytes -= bytes;
    this.wake();
  }

  private wake(): void {
    for (;;) {
      const next = this.waiting.take();
      if (!next) return;
      if (this.reservedBytes !== 0 && this.reservedBytes + next.bytes > BATCHED_BYTES_MAX) {
        // Not yet: put it back at the head.
        this.waiting.unshiftFirst(next);
        return;
      }
      this.reservedBytes += next.bytes;
      next.resolve();
    }
  }

  /** At least `bytes` of free buffer (the current batch goes out first when it has less room). */
  space(bytes: number): Uint8Array {
    if (this.buffer.length - this.used < bytes) {
      this.send();
      // Not zeroed: only the committed pieces are ever read.
      this.buffer = Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES + SMALL_FILE_MAX_BYTES + 1, bytes));
      this.used = 0;
    }
    return this.buffer.subarray(this.used, this.buffer.length);
  }

  /** Takes the first `length` bytes of the last `space` as a blob; `reserved` bytes are given back once it is stored. */
  commit(length: number, reserved: number): Promise<StoreResult> {
    const view = this.buffer.subarray(this.used, this.used + length);
    this.used += length;
    const result = new Promise<StoreResult>((resolve, reject) => this.pieces.push({ view, reserved, resolve, reject }));
    if (this.used >= BATCH_BYTES || this.pieces.length >= BATCH_MAX_BLOBS) this.send();
    else if (!this.scheduled) {
      // Sent when the walk waits for something (the pieces' ids may be what it waits for), unless
      // batches enough to keep the workers busy are out: then when one of them is back.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.sendIfIdle();
      });
    }
    return result;
  }

  private sendIfIdle(): void {
    if (this.inFlight < BATCHES_KEEPING_WORKERS_BUSY) this.send();
  }

  private send(): void {
    const pieces = this.pieces;
    if (pieces.length === 0) return;
    this.pieces = [];
    // The buffer is handed over with the batch; the next piece starts a new one.
    this.buffer = new Uint8Array(0);
    this.used = 0;
    const reserved = pieces.reduce((sum, piece) => sum + piece.reserved, 0);
    this.inFlight++;
    this.store(pieces.map((piece) => piece.view)).then(
      (results) => pieces.forEach((piece, index) => piece.resolve(results[index]!)),
      (error: unknown) => pieces.forEach((piece) => piece.reject(error)),
    ).finally(() => {
      this.inFlight--;
      this.release(reserved);
      this.sendIfIdle();
    });
  }
}

/** A folder of the parent snapshot: its entries by name (the name's bytes as latin1). */
type ParentFolder = ReadonlyMap<string, StoredFileEntry>;

interface RunState {
  readonly request: FilesBackupRequest;
  readonly walker: FileSystemWalker;
  readonly repository: RepositoryWriter;
  readonly reporter: ProgressReporter;
  readonly counters: Counters;
  readonly chunking: CdcParameters;
  readonly files: Limiter;
  readonly folders: Limiter;
  /** Chunks of large files being stored. */
  readonly chunkStores: Limiter;
  readonly batcher: BlobBatcher;
  readonly treeBatcher: BlobBatcher;
  /** Files up to this size go through the batcher. */
  readonly smallFileBytes: number;
  readonly parent: StoredSnapshot | undefined;
  /** "dev:ino" -> hard-link group number. */
  readonly hardLinks: Map<string, number>;
  readonly lastProgress: { at: number };
  /** Stores under way: a stopped or failed run waits for them before it drops its unfinished pack. */
  readonly storing: Set<Promise<unknown>>;
  /** Reasons already told why no entry's extended attributes can be read (told once). */
  readonly xattrReasonsTold: Set<string>;
  /** Attribute lists that miss what could not be read, with why: their entries are counted and told when stored (not when left out), without ino/dev, so the next backup reads them again. */
  readonly incompleteXattrs: WeakMap<StoredXattr[], { readonly reason: string; readonly everywhere: boolean; readonly partly: boolean }>;
}

/** Keeps `work` in the run's set of stores under way until it settles. */
function tracked<T>(storing: Set<Promise<unknown>>, work: Promise<T>): Promise<T> {
  storing.add(work);
  const settled = (): void => {
    storing.delete(work);
  };
  work.then(settled, settled);
  return work;
}

/** Waits until no store is under way (a settling store may start the next batch). */
async function settleStores(storing: Set<Promise<unknown>>): Promise<void> {
  do {
    while (storing.size > 0) await Promise.allSettled([...storing]);
    // A batch sent when the last store came back (or at the next turn) joins the set first.
    await new Promise((resolve) => setImmediate(resolve));
  } while (storing.size > 0);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function nameKey(name: Uint8Array): string {
  return Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');
}

function countStored(state: RunState, result: StoreResult): string {
  state.counters.chunks++;
  if (result.isNew) {
    state.counters.newChunks++;
    state.counters.newBytes += result.storedBytes;
  }
  return result.id;
}

async function storeData(state: RunState, bytes: Uint8Array): Promise<string> {
  return countStored(state, await tracked(state.storing, state.repository.storeBlob('data', bytes, { compressionLevel: state.request.compressionLevel })));
}

async function storeTree(state: RunState, bytes: Uint8Array): Promise<string> {
  let result: StoreResult;
  if (bytes.length <= SMALL_FILE_MAX_BYTES) {
    // Most folders are small: their blobs go in batches too.
    await state.treeBatcher.reserve(bytes.length);
    state.treeBatcher.space(bytes.length).set(bytes);
    result = await state.treeBatcher.commit(bytes.length, bytes.length);
  } else {
    result = await tracked(state.storing, state.repository.storeBlob('tree', bytes, { compressionLevel: 3 }));
  }
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
  // Sized to the file, plus room to see its end.
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
      throwIfStopped(state.request.signal, 'the backup');
      // A file that grew past its buffer while being read is cut where the buffer ends.
      const length = nextChunkLength(buffer.subarray(0, filled), atEnd, state.chunking) || filled;
      const piece = buffer.slice(0, length);
      buffer.copyWithin(0, length, filled);
      filled -= length;
      // Reading waits while the chunks in flight (of all files) are at their bound: a large file is never all in memory.
      await state.chunkStores.idle();
      const slot: { id: string | undefined; length: number } = { id: undefined, length };
      chunks.push(slot);
      if (!isAllZero(piece)) stores.push(state.chunkStores.run(() => storeData(state, piece)).then((id) => { slot.id = id; }));
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

/**
 * A small file (one chunk): read whole into the batch buffer and stored with its batch. Undefined
 * when it grew past the size lstat gave (then it is read as a large file).
 */
async function backUpSmallContent(state: RunState, entry: LocalEntry): Promise<StoredChunk[] | undefined> {
  const reserved = entry.size + 1;
  await state.batcher.reserve(reserved);
  let length: number;
  let zeros: boolean;
  try {
    // From space() to commit() nothing else runs: the bytes land in the batch buffer in place.
    const target = state.batcher.space(reserved).subarray(0, reserved);
    length = state.walker.readSmallFile(entry, target);
    zeros = length <= entry.size && isAllZero(target.subarray(0, length));
  } catch (error) {
    state.batcher.release(reserved);
    throw error;
  }
  if (length > entry.size || zeros) state.batcher.release(reserved);
  if (length > entry.size) return undefined;
  state.counters.readBytes += length;
  state.counters.logicalBytes += length;
  reportProgress(state, entry.shownPath);
  if (zeros) return length === 0 ? [] : [{ id: undefined, length }];
  return [{ id: countStored(state, await state.batcher.commit(length, reserved)), length }];
}

/** The total is not known before the walk ends: progress shows the bytes read so far, 4 times a second. */
function reportProgress(state: RunState, item: string): void {
  const now = Date.now();
  if (now - state.lastProgress.at < PROGRESS_INTERVAL_MS) return;
  state.lastProgress.at = now;
  state.reporter.progress({ phase: 'backup', bytesDone: state.counters.readBytes, bytesTotal: state.counters.readBytes, item });
}

/** Whether the entry is as the parent snapshot saw it: same inode, device, size, times, mode and owner. */
function unchangedSinceParent(entry: LocalEntry, old: StoredFileEntry | undefined): old is StoredFileEntry {
  return old !== undefined && old.inode === entry.inode && old.fsDevice === entry.device && old.kind === entry.kind && old.size === entry.size
    && old.mtimeNs === entry.mtimeNs && old.ctimeNs === entry.ctimeNs && old.mode === entry.mode && old.uid === entry.uid && old.gid === entry.gid;
}

/** The parent's xattrs of an unchanged entry (setting an xattr changes ctime), if their blobs are still there. */
function parentXattrs(state: RunState, old: StoredFileEntry): StoredXattr[] | undefined {
  return old.xattrs.every((xattr) => xattr.blob === undefined || state.repository.hasBlob(xattr.blob)) ? [...old.xattrs] : undefined;
}

/** The parent's content of an unchanged file, if every chunk (and chunk list) is still in the index. */
async function parentContent(state: RunState, old: StoredFileEntry): Promise<Partial<StoredFileEntry> | undefined> {
  const present = (chunks: readonly StoredChunk[]) => chunks.every((chunk) => chunk.id === undefined || state.repository.hasBlob(chunk.id));
  if (old.chunks) return present(old.chunks) ? { chunks: old.chunks } : undefined;
  if (old.chunkLists) {
    try {
      for (const id of old.chunkLists) if (!state.repository.hasBlob(id) || !present(decodeChunkListBlob(await state.repository.readBlob(id)))) return undefined;
    } catch {
      return undefined; // a damaged list: the file is read again
    }
    return { chunkLists: old.chunkLists };
  }
  return old.size === 0 ? {} : undefined;
}

async function storedXattrs(state: RunState, entry: LocalEntry, old: StoredFileEntry | undefined): Promise<StoredXattr[]> {
  const kept = unchangedSinceParent(entry, old) ? parentXattrs(state, old) : undefined;
  if (kept) return kept;
  const xattrs: StoredXattr[] = [];
  const reading = await state.walker.readXattrs(entry);
  if (reading.problem) state.incompleteXattrs.set(xattrs, { ...reading.problem, partly: reading.xattrs.length > 0 });
  for (const { name, value } of reading.xattrs) {
    if (value.length <= INLINE_XATTR_MAX_BYTES) xattrs.push({ name, value, size: value.length });
    else xattrs.push({ name, blob: await storeData(state, new Uint8Array(value)), size: value.length });
  }
  return xattrs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Counts an entry kept without (some of) its extended attributes and says why: per entry, or once for a reason that holds for every entry (getfattr missing). */
function tellDroppedXattrs(state: RunState, entry: LocalEntry, problem: { readonly reason: string; readonly everywhere: boolean; readonly partly: boolean }): void {
  state.counters.xattrsDropped++;
  if (!problem.everywhere) {
    state.reporter.notice(`${entry.shownPath}: its extended attributes cannot be read (${problem.reason}); kept without ${problem.partly ? 'some of them' : 'them'}`);
  } else if (!state.xattrReasonsTold.has(problem.reason)) {
    state.xattrReasonsTold.add(problem.reason);
    state.reporter.notice(`Extended attributes cannot be read (${problem.reason}); entries are kept without them.`);
  }
}

/** The stored form of an entry: metadata, plus its content (files) or its trees (folders). */
async function storeEntry(state: RunState, entry: LocalEntry, xattrs: Promise<StoredXattr[]>, extra: Promise<Partial<StoredFileEntry>> | Partial<StoredFileEntry>, size = entry.size): Promise<StoredFileEntry> {
  const content = await extra;
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
  const attributes = await xattrs;
  const problem = state.incompleteXattrs.get(attributes);
  if (problem) tellDroppedXattrs(state, entry, problem);
  // Without ino/dev, an entry whose attributes could not all be read is never taken as unchanged from this snapshot.
  const identity = problem ? {} : { inode: entry.inode, fsDevice: entry.device };
  return {
    name: entry.name, kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid,
    mtimeNs: entry.mtimeNs, atimeNs: entry.atimeNs, ctimeNs: entry.ctimeNs, size, links: entry.links,
    ...(hardLink === undefined ? {} : { hardLink }),
    ...identity,
    ...(entry.target === undefined ? {} : { target: entry.target }),
    ...(entry.rdev === undefined ? {} : { device: entry.rdev }),
    xattrs: attributes,
    ...content,
  };
}

/** A file's content: the parent's when unchanged, else read (small files whole, large ones in chunks). */
async function fileContent(state: RunState, entry: LocalEntry, old: StoredFileEntry | undefined): Promise<{ size: number; content: Partial<StoredFileEntry> } | undefined> {
  if (unchangedSinceParent(entry, old)) {
    const content = await parentContent(state, old);
    if (content) {
      state.counters.filesReused++;
      state.counters.bytesReused += entry.size;
      state.counters.logicalBytes += entry.size;
      state.counters.chunks += old.chunks?.length ?? 0;
      return { size: entry.size, content };
    }
  }
  let chunks: StoredChunk[] | undefined;
  try {
    if (entry.size === 0) chunks = [];
    else if (entry.size <= state.smallFileBytes) chunks = await backUpSmallContent(state, entry);
    chunks ??= await state.files.run(() => backUpContent(state, entry));
  } catch (error) {
    // A stop, the repository's errors (and our own bugs) end the backup; a file that cannot be read is left out.
    if (error instanceof LifeboatError && (error.code.startsWith('LB_REPO_') || error.code === 'LB_INTERNAL' || error.code === 'LB_INPUT_STOPPED')) throw error;
    const coded = toLifeboatError(error);
    state.counters.leftOut++;
    state.reporter.notice(`${entry.shownPath}: cannot be read (${(error as { code?: string }).code ?? coded.message}); left out`);
    return undefined;
  }
  state.counters.filesRead++;
  const size = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  if (size !== entry.size) state.reporter.notice(`${entry.shownPath}: changed while it was read (${entry.size} bytes, then ${size}); the bytes read are kept`);
  const content: Partial<StoredFileEntry> = chunks.length === 0 ? {} : chunks.length <= INLINE_CHUNKS_MAX ? { chunks } : { chunkLists: await Promise.all(encodeChunkLists(chunks).map((blob) => storeTree(state, blob))) };
  return { size, content };
}

async function backUpFile(state: RunState, entry: LocalEntry, old: StoredFileEntry | undefined, xattrs: Promise<StoredXattr[]>): Promise<StoredFileEntry | undefined> {
  const read = await fileContent(state, entry, old);
  if (!read) return undefined;
  return storeEntry(state, entry, xattrs, read.content, read.size);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && Buffer.compare(a, b) === 0);
}

function sameList<T>(a: readonly T[] | undefined, b: readonly T[] | undefined, same: (x: T, y: T) => boolean): boolean {
  return a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((item, index) => same(item, b[index]!)));
}

/** Whether two stored entries are equal in every field (then they encode to the same line). */
function sameEntry(a: StoredFileEntry, b: StoredFileEntry | undefined): boolean {
  return b !== undefined && sameBytes(a.name, b.name) && a.kind === b.kind && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid
    && a.mtimeNs === b.mtimeNs && a.atimeNs === b.atimeNs && a.ctimeNs === b.ctimeNs && a.size === b.size && a.links === b.links
    && a.hardLink === b.hardLink && a.inode === b.inode && a.fsDevice === b.fsDevice && sameBytes(a.target, b.target)
    && a.device?.major === b.device?.major && a.device?.minor === b.device?.minor
    && sameList(a.xattrs, b.xattrs, (x, y) => x.name === y.name && x.blob === y.blob && x.size === y.size && sameBytes(x.value, y.value))
    && sameList(a.chunks, b.chunks, (x, y) => x.id === y.id && x.length === y.length)
    && sameList(a.chunkLists, b.chunkLists, (x, y) => x === y) && sameList(a.trees, b.trees, (x, y) => x === y);
}

/** The entries of a folder of the parent snapshot, or undefined (none, or its trees cannot be read). */
async function readParentFolder(state: RunState, trees: readonly string[] | undefined): Promise<ParentFolder | undefined> {
  if (!state.parent || !trees) return undefined;
  const entries = new Map<string, StoredFileEntry>();
  try {
    for (const id of trees) for (const entry of decodeFolderTree(await state.repository.readBlob(id))) entries.set(nameKey(entry.name), entry);
  } catch (error) {
    state.reporter.notice(`The parent snapshot's folder tree ${trees[0]?.slice(0, 8)} cannot be read (${toLifeboatError(error).message}); that folder's files are read again.`);
    return undefined;
  }
  return entries;
}

/** Stores a folder's entries (depth first) and returns the tree blob ids of the folder. */
async function backUpFolder(state: RunState, root: LocalRoot, folder: LocalEntry, oldTrees: readonly string[] | undefined): Promise<string[]> {
  // A folder holds a slot while it is listed and its files are backed up, not while its subfolders
  // are: the walk cannot run far ahead of the reading (all entries of a large tree in memory had
  // made garbage collection a sixth of the run), and no slot waits for another.
  const { stored, folders, parentFolder } = await state.folders.run(async () => {
    throwIfStopped(state.request.signal, 'the backup');
    const [{ entries, notices }, parentFolder] = await Promise.all([
      folder.otherFileSystem ? { entries: [], notices: [] } : root.list(folder),
      readParentFolder(state, oldTrees),
    ]);
    // Each notice of the listing is an entry left out (or a folder kept empty).
    state.counters.leftOut += notices.length;
    for (const notice of notices) state.reporter.notice(notice);
    const oldOf = (entry: LocalEntry) => parentFolder?.get(nameKey(entry.name));
    const folders = entries.filter((entry) => entry.kind === 'directory');
    const stored = await Promise.all(entries.filter((entry) => entry.kind !== 'directory').map((entry) => backUpChild(state, root, entry, oldOf(entry))));
    return { stored, folders: folders.map((entry) => ({ entry, old: oldOf(entry) })), parentFolder };
  });
  stored.push(...(await Promise.all(folders.map(({ entry, old }) => backUpChild(state, root, entry, old)))));
  const kept = stored.filter((entry): entry is StoredFileEntry => entry !== undefined).sort((a, b) => compareBytes(a.name, b.name));
  // A folder whose entries all equal the parent's encodes to the parent's blobs: no need to encode and hash them again.
  if (oldTrees && parentFolder?.size === kept.length && kept.every((entry) => sameEntry(entry, parentFolder.get(nameKey(entry.name)))) && oldTrees.every((id) => state.repository.hasBlob(id))) return [...oldTrees];
  const trees: string[] = [];
  for (const blob of encodeFolderTrees(kept)) trees.push(await storeTree(state, blob));
  return trees;
}

async function backUpChild(state: RunState, root: LocalRoot, entry: LocalEntry, old: StoredFileEntry | undefined): Promise<StoredFileEntry | undefined> {
  throwIfStopped(state.request.signal, 'the backup');
  // Requested before anything is awaited: the walker gathers the requests of whole folders.
  const xattrs = storedXattrs(state, entry, old);
  xattrs.catch(() => undefined);
  if (entry.kind === 'directory') {
    const oldTrees = old?.kind === 'directory' ? old.trees : undefined;
    return storeEntry(state, entry, xattrs, backUpFolder(state, root, entry, oldTrees).then((trees) => ({ trees })));
  }
  if (entry.kind === 'file') return backUpFile(state, entry, old?.kind === 'file' ? old : undefined, xattrs);
  return storeEntry(state, entry, xattrs, {});
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
async function backUpPathNode(state: RunState, node: PathNode, path: string, oldTrees: readonly string[] | undefined): Promise<string[]> {
  const entries: StoredFileEntry[] = [];
  const parentFolder = await readParentFolder(state, oldTrees);
  for (const [name, child] of node.children) {
    const childPath = `${path === '/' ? '' : path}/${name}`;
    const old = parentFolder?.get(Buffer.from(name).toString('latin1'));
    if (child.root !== undefined) {
      const root = await state.walker.openRoot(child.root);
      const stored = await backUpChild(state, root, root.entry, old?.kind === root.entry.kind ? old : undefined);
      if (stored) entries.push(stored);
    } else {
      const folder = await state.walker.statFolder(childPath);
      const below = old?.kind === 'directory' ? old.trees : undefined;
      entries.push(await storeEntry(state, folder, storedXattrs(state, folder, old), backUpPathNode(state, child, childPath, below).then((trees) => ({ trees }))));
    }
  }
  entries.sort((a, b) => compareBytes(a.name, b.name));
  const trees: string[] = [];
  for (const blob of encodeFolderTrees(entries)) trees.push(await storeTree(state, blob));
  return trees;
}

function sameRoots(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((root, index) => root === b[index]);
}

/** The parent snapshot: the latest files snapshot of this host and these roots, the one asked for, or none. */
async function chooseParent(repository: RepositoryWriter, choice: ParentChoice, host: string, roots: readonly string[]): Promise<StoredSnapshot | undefined> {
  if (choice.mode === 'none') return undefined;
  const snapshots = await repository.listSnapshots();
  if (choice.mode === 'snapshot') {
    const chosen = selectSnapshot(snapshots, choice.spec);
    if (chosen.manifest.kind !== 'files' || !chosen.manifest.files) throw new LifeboatError('LB_INPUT_USAGE', { detail: `--parent ${choice.spec}: snapshot ${chosen.id.slice(0, 8)} is not a files snapshot.` });
    return chosen;
  }
  const candidates = snapshots.filter((snapshot) => snapshot.manifest.kind === 'files' && snapshot.manifest.host === host && sameRoots(snapshot.manifest.files?.roots ?? [], roots));
  return candidates.sort((a, b) => Date.parse(b.manifest.time) - Date.parse(a.manifest.time) || b.id.localeCompare(a.id))[0];
}

/** Backs up the roots and saves the snapshot; the repository must be locked for writing. */
export async function backupFiles(request: FilesBackupRequest, walker: FileSystemWalker, repository: RepositoryWriter, reporter: ProgressReporter): Promise<FilesBackupResult> {
  const started = Date.now();
  const roots = normalizeRoots(request.roots);
  if (roots.length === 0) throw new LifeboatError('LB_INPUT_USAGE', { detail: 'Name at least one folder to back up.' });
  const chunking = request.chunking ?? FILE_CHUNK_PARAMETERS;
  const parent = await chooseParent(repository, request.parent ?? { mode: 'latest' }, request.host, roots);
  if (request.verify) repository.verifyPacksAsWritten();
  if (parent) reporter.notice(`Parent snapshot ${parent.id.slice(0, 8)} (${parent.manifest.time}): unchanged files are not read again.`);
  const storing = new Set<Promise<unknown>>();
  const state: RunState = {
    request, walker, repository, reporter, chunking, parent, storing,
    counters: { logicalBytes: 0, readBytes: 0, newBytes: 0, chunks: 0, newChunks: 0, entries: 0, filesRead: 0, filesReused: 0, bytesReused: 0, leftOut: 0, xattrsDropped: 0 },
    xattrReasonsTold: new Set(), incompleteXattrs: new WeakMap(),
    files: new Limiter(FILES_IN_FLIGHT), folders: new Limiter(FOLDERS_OPEN_AT_ONCE), chunkStores: new Limiter(CHUNKS_IN_FLIGHT), hardLinks: new Map(), lastProgress: { at: 0 },
    batcher: new BlobBatcher((contents) => tracked(storing, repository.storeBlobs('data', contents, { compressionLevel: request.compressionLevel }))),
    treeBatcher: new BlobBatcher((contents) => tracked(storing, repository.storeBlobs('tree', contents, { compressionLevel: 3 }))),
    smallFileBytes: Math.min(SMALL_FILE_MAX_BYTES, chunking.minBytes),
  };
  reporter.progress({ phase: 'backup', bytesDone: 0, bytesTotal: 0 });
  let trees: string[];
  try {
    const parentTrees = parent?.manifest.files?.trees;
    if (roots[0] === '/') {
      const root = await walker.openRoot('/');
      trees = await backUpFolder(state, root, root.entry, parentTrees);
    } else {
      trees = await backUpPathNode(state, pathTree(roots), '/', parentTrees);
    }
    await repository.flush();
  } catch (error) {
    // Other files' stores are still under way when one fails or the run is stopped: the unfinished
    // pack is dropped once they have settled, so none of them writes after it.
    await settleStores(storing);
    await repository.abort();
    throw error;
  }
  reporter.progress({ phase: 'backup', bytesDone: state.counters.readBytes, bytesTotal: state.counters.readBytes });
  await verifyBeforeSaving(repository, reporter, request);
  const { counters } = state;
  const manifest: SnapshotManifest = {
    ...manifestHead(repository, 'files', started, request),
    source: { path: roots.join(' ').slice(0, 4096), model: '', serial: '', sizeBytes: counters.logicalBytes, logicalSectorSize: 512, physicalSectorSize: 512, transport: 'files' },
    table: undefined,
    regions: [],
    volumes: [],
    files: { roots, trees, entries: counters.entries, chunking: { minBytes: chunking.minBytes, averageBytes: chunking.averageBytes, maxBytes: chunking.maxBytes } },
    stats: { logicalBytes: counters.logicalBytes, readBytes: counters.readBytes, newBytes: counters.newBytes, chunks: counters.chunks, newChunks: counters.newChunks, durationMs: Date.now() - started },
  };
  const id = await repository.saveSnapshot(manifest);
  return { id, manifest, counts: { parent: parent?.id, filesRead: counters.filesRead, filesReused: counters.filesReused, bytesReused: counters.bytesReused, leftOut: counters.leftOut, xattrsDropped: counters.xattrsDropped } };
}
