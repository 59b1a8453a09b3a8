// A repository in a folder (FORMAT.md): config, keys, packs, indexes, snapshots and locks as
// files. Every new file is written under a .tmp name, synced, then renamed, so a killed process
// leaves only ignorable temp files; packs are named by their SHA-256 and checked on read.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { constants as zlibConstants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { LifeboatError } from '../../core/errors.ts';
import {
  COMPRESSED_METADATA_VERSION, DEFAULT_CHUNK_BYTES, DEFAULT_PACK_BYTES, DELTA_BLOBS_VERSION, MAX_BLOB_RAW_BYTES, PACK_HEADER_BYTES, PACK_HEADER_MAGIC, PACK_TRAILER_BYTES, PACK_TRAILER_MAGIC,
  REPOSITORY_FORMAT_NAME, REPOSITORY_FORMAT_VERSION, parseConfig, parseIndex, parseManifest, parsePackBlobs,
  type BlobEntry, type BlobType, type IndexFile, type IndexPack, type RepositoryConfig, type SnapshotManifest,
} from '../../core/repository/format.ts';
import type { PackVerification, RepositoryMaintenance, StoredSnapshot, StoreResult } from '../../core/repository/repository-port.ts';
import type { ChunkWorkers, StoredBase } from './compression-pool.ts';
import { createKeyFile, openKeyFile, seal, SEAL_OVERHEAD_BYTES, sealInto, sha256Hex, unseal, unsealInto, type KeyFile, type MasterKey } from './repository-crypto.ts';
import { isOnFat, syncFolder, writeFileAtomic, toWriteError } from './repository-files.ts';
import { acquireLock, type RepositoryLock } from './repository-lock.ts';
import { KeptZstd } from './kept-zstd.ts';

/** One pool of chunk workers for the process (idle workers let it exit), loaded when first needed. */
let pool: ChunkWorkers | undefined;
async function chunkWorkers(): Promise<ChunkWorkers> {
  pool ??= new (await import('./compression-pool.ts')).ChunkWorkers();
  return pool;
}

/**
 * Bytes of chunks a process opens on its own thread before it hands chunks to the chunk workers.
 * A worker takes ~0.1-0.2 s of CPU to start in the single executable, far more than opening the
 * few chunks `ls`, `snapshots` or `get` of one file read (metadata, up to tens of MiB); a restore
 * or a check of a whole snapshot still spreads over every core once past this.
 */
const IN_THREAD_OPEN_BYTES = 32 * 1024 * 1024;
let openedInThread = 0;

/** Decompresses and hashes a stored payload here, as a chunk worker's `open` does (no delta). */
function openHere(payload: Uint8Array, compression: 'zstd' | 'none', rawLength: number, key: Uint8Array | undefined): { id: string; data: Uint8Array } {
  const data = compression === 'zstd' ? zstdDecompressSync(payload, { chunkSize: Math.max(64 * 1024, rawLength), maxOutputLength: Math.max(1, rawLength) }) : payload;
  return { id: idOf(data, key), data };
}

const idOf = (data: Uint8Array, key: Uint8Array | undefined): string => (key ? createHmac('sha256', key) : createHash('sha256')).update(data).digest('hex');
/** This thread's kept zstd decoding context (made on the first compressed chunk opened here). */
let keptZstd: KeptZstd | undefined;

/**
 * Opens a stored payload here into `into` (at least rawLength + 1 bytes), as a chunk worker's
 * `openInto` does: a kept decoding context, no memory allocated per chunk.
 */
function openHereInto(payload: Uint8Array, into: Uint8Array, compression: 'zstd' | 'none', rawLength: number, key: Uint8Array | undefined): { id: string; fits: boolean } {
  if (compression === 'zstd') {
    if (!(keptZstd ??= new KeptZstd()).decompressInto(payload, rawLength, into)) return { id: '', fits: false };
  } else {
    if (payload.length !== rawLength) return { id: '', fits: false };
    if (payload.buffer !== into.buffer || payload.byteOffset !== into.byteOffset) into.set(payload);
  }
  return { id: idOf(into.subarray(0, rawLength), key), fits: true };
}
/** Pack file descriptors kept open while reading. */
const OPEN_PACKS = 16;
/** A pack footer is read from at most this many trailing bytes (a 64 MiB pack's footer is ~10 KiB). */
const MAX_FOOTER_READ_BYTES = 16 * 1024 * 1024;

/** zstd level of index files and pack footers (JSON; the hex ids make up most of it). */
const METADATA_LEVEL = 9;
/** Largest decompressed index file or footer accepted (a 4 TiB disk's index is ~700 MB of JSON). */
const MAX_METADATA_BYTES = 2 * 1024 * 1024 * 1024 - 1;
const ZSTD_MAGIC = 0xfd2fb528;

/**
 * An index file's or pack footer's bytes before sealing (FORMAT.md): JSON, as a zstd frame from
 * version 2 on (an NTFS test volume's 1 MiB chunks: 0.7 MB of JSON, 0.2 MB compressed).
 */
export function encodeMetadata(value: unknown, version: number): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  if (version < COMPRESSED_METADATA_VERSION) return json;
  return zstdCompressSync(json, { params: { [zlibConstants.ZSTD_c_compressionLevel]: METADATA_LEVEL } });
}

/** Parses what encodeMetadata wrote: a zstd frame of JSON, or JSON (version 1, or written so). */
export function decodeMetadata(bytes: Uint8Array): unknown {
  const frame = bytes.length >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32LE(0) === ZSTD_MAGIC;
  const json = frame ? zstdDecompressSync(bytes, { maxOutputLength: MAX_METADATA_BYTES }) : bytes;
  return JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8'));
}

/** Where a blob lives. */
interface BlobLocation extends BlobEntry {
  readonly pack: string;
}

/** How the password is obtained when the repository is encrypted (asked only then). */
export type PasswordSource = () => Promise<string | undefined>;

/** A problem found while loading the index (check lists them; normal use throws the first). */
export interface LoadProblem {
  readonly code: string;
  readonly file: string;
  readonly detail: string;
}

function packPath(root: string, id: string): string {
  return path.join(root, 'data', id.slice(0, 2), `${id}.pack`);
}

async function readJsonFile(file: string, missingCode: 'LB_REPO_NOT_FOUND' | 'LB_REPO_INVALID'): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new LifeboatError(missingCode, { detail: `${file} cannot be read.`, file }, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new LifeboatError(missingCode === 'LB_REPO_NOT_FOUND' ? 'LB_REPO_INVALID' : missingCode, { detail: `${file} is not valid JSON.`, file }, { cause: error });
  }
}

function notAFolder(root: string, cause?: unknown): LifeboatError {
  return new LifeboatError('LB_REPO_NOT_A_FOLDER', { detail: `${root} is a file, or lies under one.`, path: root }, cause === undefined ? {} : { cause });
}

/** True when `folder` is missing or empty (a backup may then create a repository in it). */
export async function isEmptyFolder(folder: string): Promise<boolean> {
  try {
    return (await readdir(folder)).length === 0;
  } catch (error) {
    const errno = (error as { code?: string }).code;
    if (errno === 'ENOENT') return true;
    if (errno === 'ENOTDIR') throw notAFolder(folder, error);
    throw error;
  }
}

/**
 * Refuses a folder a repository cannot be made in before anything is written: the nearest folder
 * that exists must be a folder and writable (mkdir reports a read-only mount as ENOENT).
 */
async function checkWritable(root: string): Promise<void> {
  let folder = path.resolve(root);
  while (!(await stat(folder).then(() => true, () => false)) && path.dirname(folder) !== folder) folder = path.dirname(folder);
  if (!(await stat(folder)).isDirectory()) throw notAFolder(root);
  await access(folder, constants.W_OK).catch((error: unknown) => {
    throw toWriteError(error, folder);
  });
}

/** Creates a repository in a missing or empty folder. */
export async function initRepository(root: string, options: { password?: string; chunkBytes?: number }): Promise<RepositoryConfig> {
  if (!(await isEmptyFolder(root))) {
    const exists = await stat(path.join(root, 'config.json')).then(() => true, () => false);
    if (exists) throw new LifeboatError('LB_REPO_ALREADY_EXISTS', { detail: `${root} already holds a repository.`, path: root });
    throw new LifeboatError('LB_REPO_FOLDER_NOT_EMPTY', { detail: `${root} is not empty.`, path: root });
  }
  await checkWritable(root);
  const config: RepositoryConfig = {
    format: REPOSITORY_FORMAT_NAME,
    version: REPOSITORY_FORMAT_VERSION,
    id: randomBytes(16).toString('hex'),
    created: new Date().toISOString(),
    chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    packBytes: DEFAULT_PACK_BYTES,
    encryption: options.password === undefined ? 'none' : 'aes-256-gcm',
  };
  parseConfig(config);
  try {
    for (const folder of ['data', 'index', 'snapshots', 'locks', 'keys']) await mkdir(path.join(root, folder), { recursive: true });
    if (options.password !== undefined) {
      const { file } = await createKeyFile(options.password, config.id);
      await writeFileAtomic(path.join(root, 'keys'), `${randomBytes(16).toString('hex')}.json`, Buffer.from(`${JSON.stringify(file, null, 2)}\n`));
    }
    await writeFileAtomic(root, 'config.json', Buffer.from(`${JSON.stringify(config, null, 2)}\n`));
  } catch (error) {
    throw toWriteError(error, root);
  }
  return config;
}

async function unlockKey(root: string, config: RepositoryConfig, passwordSource: PasswordSource): Promise<MasterKey | undefined> {
  if (config.encryption === 'none') return undefined;
  const password = await passwordSource();
  if (password === undefined) throw new LifeboatError('LB_REPO_PASSWORD_REQUIRED', { path: root });
  const names = (await readdir(path.join(root, 'keys')).catch(() => [])).filter((name) => name.endsWith('.json'));
  if (names.length === 0) throw new LifeboatError('LB_REPO_INVALID', { detail: `${root}/keys holds no key file.`, path: root });
  for (const name of names) {
    const file = (await readJsonFile(path.join(root, 'keys', name), 'LB_REPO_INVALID')) as KeyFile;
    const key = await openKeyFile(file, password, config.id);
    if (key) return key;
  }
  throw new LifeboatError('LB_REPO_WRONG_PASSWORD', { path: root });
}

/** Opens an existing repository and loads its index. */
export async function openRepository(root: string, passwordSource: PasswordSource, options: { tolerant?: boolean } = {}): Promise<FolderRepository> {
  if (await stat(root).then((info) => !info.isDirectory(), () => false)) throw notAFolder(root);
  const config = parseConfig(await readJsonFile(path.join(root, 'config.json'), 'LB_REPO_NOT_FOUND'), path.join(root, 'config.json'));
  const key = await unlockKey(root, config, passwordSource);
  const repository = new FolderRepository(root, config, key);
  const problems = await repository.loadIndex();
  if (problems[0] && !options.tolerant) throw new LifeboatError(problems[0].code as 'LB_REPO_INVALID', { detail: problems[0].detail, file: problems[0].file });
  return repository;
}

/** The folder repository: reader, writer and the maintenance that check and prune need. */
export class FolderRepository implements RepositoryMaintenance {
  readonly path: string;
  readonly config: RepositoryConfig;
  private readonly key: MasterKey | undefined;
  private readonly blobs = new Map<string, BlobLocation>();
  private readonly packs = new Map<string, IndexPack>();
  private indexNames: string[] = [];
  private readonly pendingIds = new Set<string>();
  /** Files named by their hash that were read from their complete twin NAME.tmp (readNamedFile). */
  private readonly twins = new Set<string>();
  /** Index files and manifests found empty, a write a power cut on FAT interrupted (readNamedFile). */
  private readonly unfinished = new Set<string>();
  private readonly unindexedPacks: IndexPack[] = [];
  private readonly written: Array<{ id: string; size: number }> = [];
  private readonly indexesWritten: string[] = [];
  /** Packs and index files written since the last saved manifest: nothing refers to them yet, and abort removes them. */
  private readonly unsaved = { packs: [] as string[], indexes: [] as string[] };
  /** Packs this writer closed: each synced (and checked, with verifyPacksAsWritten) in the background. */
  private readonly settling = new Map<string, { readonly synced: Promise<void>; readonly verified: Promise<PackVerification> | undefined }>();
  private verifyOnClose = false;
  private pack: PackWriter | undefined;
  /** Whether data/ is on FAT (PackWriter orders its folder syncs for it), asked once. */
  private packsOnFat: Promise<boolean> | undefined;
  private writeQueue: Promise<unknown> = Promise.resolve();
  private readonly handles = new Map<string, { handle: Promise<FileHandle>; users: number; evicted: boolean }>();
  /** Shared memory kept for stored blobs being opened (readBlobInto): as many as were read at once. */
  private readonly storedSlots: Uint8Array[] = [];
  /** Memory a blob is sealed into just before its append (sealKept), kept for the repository's life. */
  private sealRoom = Buffer.allocUnsafeSlow(0);
  private lock: RepositoryLock | undefined;
  loadProblems: LoadProblem[] = [];

  constructor(root: string, config: RepositoryConfig, key: MasterKey | undefined) {
    this.path = root;
    this.config = config;
    this.key = key;
  }

  /** Takes the writer lock (exclusive) or a reader lock; stale locks of dead processes are removed. */
  async acquireLock(exclusive: boolean, command: string): Promise<string[]> {
    // A writer will need the chunk workers: they start now, while the caller plans (each takes
    // ~0.1-0.2 s to start in the single executable, which was on the way to the first chunk).
    if (exclusive) (await chunkWorkers()).start();
    const { lock, removedStale } = await acquireLock(path.join(this.path, 'locks'), { exclusive, command });
    this.lock = lock;
    return removedStale;
  }

  /** Releases the lock and closes files. */
  async close(): Promise<void> {
    const entries = [...this.handles.values()];
    this.handles.clear();
    for (const entry of entries) await entry.handle.then((handle) => handle.close()).catch(() => undefined);
    await this.lock?.release();
    this.lock = undefined;
  }

  /** Reads every index file; returns the problems (damaged files) it skipped. */
  async loadIndex(): Promise<LoadProblem[]> {
    this.blobs.clear();
    this.packs.clear();
    const problems: LoadProblem[] = [];
    const names = (await readdir(path.join(this.path, 'index')).catch(() => [])).filter((name) => /^[0-9a-f]{64}\.json$/.test(name));
    this.indexNames = names;
    for (const name of names) {
      const file = path.join(this.path, 'index', name);
      try {
        const index = await this.readIndexFile(file, name.slice(0, 64));
        for (const pack of index.packs) this.addPack(pack);
      } catch (error) {
        if (this.unfinished.has(path.relative(this.path, file))) continue;
        const coded = error instanceof LifeboatError ? error : new LifeboatError('LB_REPO_INVALID', { detail: String(error) });
        problems.push({ code: coded.code, file, detail: coded.message });
      }
    }
    this.loadProblems = problems;
    return problems;
  }

  /**
   * A file named by its hash (index, manifest). A power cut on FAT between the rename and the
   * folder's sync leaves two entries sharing the file's clusters, and fsck.fat -a truncates the one
   * it meets second: when that is the named file, its twin NAME.tmp still holds every byte. A twin
   * that matches the name is read instead (the hash proves it is the file), and remembered:
   * check says so and prune puts it in place.
   */
  private async readNamedFile(file: string, expectedHash: string): Promise<Buffer> {
    const stored = await readFile(file);
    if ((await sha256Hex(stored)) === expectedHash) return stored;
    const twin = await readFile(`${file}.tmp`).catch(() => undefined);
    // Empty: on FAT the name reached the disk (its folder synced) and its size did not (the file's
    // own sync after it): a write that never finished, so nothing was ever reported saved in it.
    if (stored.length === 0 && (!twin || (await sha256Hex(twin)) !== expectedHash)) this.unfinished.add(path.relative(this.path, file));
    if (!twin || (await sha256Hex(twin)) !== expectedHash) return stored;
    this.twins.add(path.relative(this.path, file));
    return twin;
  }

  /** Files cut short (relative paths) whose complete twin NAME.tmp was read instead. */
  cutShortFiles(): readonly string[] {
    return [...this.twins];
  }

  /** Index files and manifests (relative paths) found empty: writes a power cut interrupted; readers skip them. */
  unfinishedFiles(): readonly string[] {
    return [...this.unfinished];
  }

  /**
   * Puts each complete twin's bytes in place of its cut-short file (under the exclusive lock: prune).
   * The file is rewritten where it is and synced before its twin goes, so at every moment one of the
   * two is whole: a rename over the file would not do on FAT, where the renamed entry keeps the
   * cut-short file's size and clusters until the file itself is written out, while the twin's own
   * entry is already gone (test/boot/fat-folder-order.test.ts, third boot).
   */
  async putTwinsInPlace(): Promise<string[]> {
    const placed: string[] = [];
    for (const relative of this.twins) {
      const file = path.join(this.path, relative);
      try {
        const bytes = await readFile(`${file}.tmp`);
        const handle = await open(file, 'r+');
        try {
          await handle.write(bytes, 0, bytes.length, 0);
          await handle.truncate(bytes.length);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rm(`${file}.tmp`);
        await syncFolder(path.dirname(file));
      } catch (error) {
        throw toWriteError(error, this.path);
      }
      placed.push(relative);
    }
    this.twins.clear();
    return placed;
  }

  private async readIndexFile(file: string, expectedHash: string): Promise<IndexFile> {
    const stored = await this.readNamedFile(file, expectedHash);
    if ((await sha256Hex(stored)) !== expectedHash) throw new LifeboatError('LB_REPO_INVALID', { detail: `${file} does not match its name (damaged or altered).`, file });
    const plain = this.key ? unseal(this.key.encryption, stored, 'index') : stored;
    if (!plain) throw new LifeboatError('LB_REPO_INVALID', { detail: `${file} fails authentication.`, file });
    let parsed: unknown;
    try {
      parsed = decodeMetadata(plain);
    } catch (error) {
      throw new LifeboatError('LB_REPO_INVALID', { detail: `${file} cannot be decoded (${(error as Error).message}).`, file });
    }
    return parseIndex(parsed, file);
  }

  private addPack(pack: IndexPack): void {
    this.packs.set(pack.id, pack);
    for (const blob of pack.blobs) if (!this.blobs.has(blob.id)) this.blobs.set(blob.id, { ...blob, pack: pack.id });
  }

  /** Packs the index lists. */
  indexedPacks(): ReadonlyMap<string, IndexPack> {
    return this.packs;
  }

  /** Names of the index files loaded. */
  indexFiles(): readonly string[] {
    return this.indexNames;
  }

  /** True when an index lists the blob, and for a delta also its base. */
  hasBlob(id: string): boolean {
    const entry = this.blobs.get(id);
    return entry !== undefined && (entry.base === undefined || this.blobs.has(entry.base));
  }

  /** Where the index says a blob is. */
  locateBlob(id: string): BlobLocation | undefined {
    return this.blobs.get(id);
  }

  // ---- reading --------------------------------------------------------------------------------

  /**
   * Runs `work` with an open handle of pack `id`. Handles are shared and kept (at most OPEN_PACKS,
   * least recently used closed first); a handle is opened once even when asked for twice at the
   * same time, and an evicted one is closed only after its last user is done.
   */
  private async withPack<T>(id: string, work: (handle: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.handles.get(id);
    if (entry) {
      this.handles.delete(id);
      this.handles.set(id, entry);
    } else {
      const opening = open(packPath(this.path, id), 'r').catch((error: unknown) => {
        if (this.handles.get(id) === entry) this.handles.delete(id);
        if ((error as { code?: string }).code === 'ENOENT') throw new LifeboatError('LB_REPO_PACK_MISSING', { detail: `Pack ${id} is missing.`, pack: id }, { cause: error });
        throw new LifeboatError('LB_REPO_INVALID', { detail: `Pack ${id} cannot be opened.`, pack: id }, { cause: error });
      });
      entry = { handle: opening, users: 0, evicted: false };
      this.handles.set(id, entry);
      for (const [oldId, old] of this.handles) {
        if (this.handles.size <= OPEN_PACKS) break;
        this.handles.delete(oldId);
        old.evicted = true;
        if (old.users === 0) void old.handle.then((handle) => handle.close()).catch(() => undefined);
      }
    }
    const used = entry;
    used.users++;
    try {
      return await work(await used.handle);
    } finally {
      used.users--;
      if (used.evicted && used.users === 0) await used.handle.then((handle) => handle.close()).catch(() => undefined);
    }
  }

  async readBlob(id: string): Promise<Uint8Array> {
    const location = this.blobs.get(id);
    if (!location) throw new LifeboatError('LB_REPO_INDEX_MISSING', { detail: `Chunk ${id} is listed in no index.`, chunk: id });
    // Not zeroed: every byte is read, or the pack is too short and nothing of it is used.
    const stored = Buffer.allocUnsafeSlow(location.length);
    const { bytesRead } = await this.withPack(location.pack, (handle) => handle.read(stored, 0, location.length, location.offset));
    if (bytesRead !== location.length) {
      throw new LifeboatError('LB_REPO_PACK_TRUNCATED', { detail: `Pack ${location.pack} ends before chunk ${id} (offset ${location.offset}).`, pack: location.pack, chunk: id });
    }
    return this.openBlob(location, stored, location.pack);
  }

  /**
   * The blob's content, checked against its id, written into `into`: shared bytes of at least its
   * rawLength + 1 (RepositoryReader.readBlobInto). Its stored bytes are read into shared memory kept
   * across calls and opened on a chunk worker straight into `into`, so a restore allocates nothing
   * per chunk; with `few`, on this thread while the process is under IN_THREAD_OPEN_BYTES (no worker
   * started for a single file). Delta blobs, and memory that is not shared or too small, go the way
   * of readBlob (then copied into `into` when they fit).
   */
  async readBlobInto(id: string, into: Uint8Array, { few = false }: { few?: boolean } = {}): Promise<Uint8Array> {
    const location = this.blobs.get(id);
    if (!location) throw new LifeboatError('LB_REPO_INDEX_MISSING', { detail: `Chunk ${id} is listed in no index.`, chunk: id });
    if (location.base !== undefined || !(into.buffer instanceof SharedArrayBuffer) || into.length <= location.rawLength) {
      const content = await this.readBlob(id);
      if (content.length > into.length) return content;
      into.set(content);
      return into.subarray(0, content.length);
    }
    const corrupt = (why: string) => new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Chunk ${id} in pack ${location.pack}: ${why}.`, chunk: id, pack: location.pack });
    // Stored as is and not sealed: read straight into `into`.
    const direct = location.compression === 'none' && !this.key;
    const slot = direct ? undefined : this.takeStoredSlot(location.length);
    try {
      const stored = (slot ?? into).subarray(0, location.length);
      const { bytesRead } = await this.withPack(location.pack, (handle) => handle.read(stored, 0, location.length, location.offset));
      if (bytesRead !== location.length) {
        throw new LifeboatError('LB_REPO_PACK_TRUNCATED', { detail: `Pack ${location.pack} ends before chunk ${id} (offset ${location.offset}).`, pack: location.pack, chunk: id });
      }
      let payload = stored;
      if (this.key) {
        // Deciphered in place, through no memory of its own: stored as is, straight into `into`
        // (it is the content); zstd, over the stored bytes' own start (opened from there).
        const plainLength = Math.max(0, location.length - SEAL_OVERHEAD_BYTES);
        const room = location.compression === 'none' ? into : stored;
        if (plainLength > room.length) throw corrupt(`${plainLength} bytes instead of ${location.rawLength}`);
        if (unsealInto(this.key.encryption, stored, id, room) === undefined) throw corrupt('authentication failed');
        payload = room.subarray(0, plainLength);
      }
      let opened: { id: string; fits: boolean };
      try {
        if (few && openedInThread < IN_THREAD_OPEN_BYTES) {
          openedInThread += location.rawLength;
          opened = openHereInto(payload, into, location.compression, location.rawLength, this.key?.id);
        } else {
          opened = await (await chunkWorkers()).openInto(payload, into, location.compression, location.rawLength, this.key?.id);
        }
      } catch {
        throw corrupt('it does not decompress');
      }
      if (!opened.fits) throw corrupt(`it does not open to ${location.rawLength} bytes`);
      if (opened.id !== id) throw corrupt('its content does not match its id');
      return into.subarray(0, location.rawLength);
    } finally {
      if (slot) this.storedSlots.push(slot);
    }
  }

  /** Shared memory for one stored blob, from those kept (returned to storedSlots after use). */
  private takeStoredSlot(bytes: number): Uint8Array {
    const index = this.storedSlots.findIndex((slot) => slot.length >= bytes);
    if (index >= 0) return this.storedSlots.splice(index, 1)[0]!;
    // A new one, at least a chunk's size (the others stay kept for this repository's life).
    return new Uint8Array(new SharedArrayBuffer(Math.max(bytes, this.config.chunkBytes + 1024)));
  }

  /** Decrypts, decompresses and checks one stored blob against its id. */
  async openBlob(entry: BlobEntry, stored: Uint8Array, pack: string): Promise<Uint8Array> {
    const corrupt = (why: string) => new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Chunk ${entry.id} in pack ${pack}: ${why}.`, chunk: entry.id, pack });
    const payload = this.key ? unseal(this.key.encryption, stored, entry.id) : stored;
    if (!payload) throw corrupt('authentication failed');
    let base: Uint8Array | undefined;
    if (entry.base !== undefined) {
      try {
        base = await this.readBlob(entry.base);
      } catch (error) {
        const cause = error instanceof LifeboatError ? `${error.code}: ${error.message}` : String(error);
        throw new LifeboatError(error instanceof LifeboatError && error.code === 'LB_REPO_INDEX_MISSING' ? 'LB_REPO_INDEX_MISSING' : 'LB_REPO_DATA_CORRUPT', {
          detail: `Chunk ${entry.id} in pack ${pack} is stored against chunk ${entry.base}, which cannot be read (${cause}).`, chunk: entry.id, base: entry.base, pack,
        }, { cause: error });
      }
    }
    let opened: { id: string; data: Uint8Array };
    try {
      if (base === undefined && openedInThread < IN_THREAD_OPEN_BYTES) {
        openedInThread += entry.rawLength;
        opened = openHere(payload, entry.compression, entry.rawLength, this.key?.id);
      } else {
        opened = await (await chunkWorkers()).open(payload, entry.compression, entry.rawLength, this.key?.id, base);
      }
    } catch {
      throw corrupt('it does not decompress');
    }
    const content = opened.data;
    if (content.length !== entry.rawLength) throw corrupt(`${content.length} bytes instead of ${entry.rawLength}`);
    if (opened.id !== entry.id) throw corrupt('its content does not match its id');
    return content;
  }

  /** A pack file's bytes as they are. */
  async readPackFile(id: string): Promise<Buffer> {
    try {
      return await readFile(packPath(this.path, id));
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') throw new LifeboatError('LB_REPO_PACK_MISSING', { detail: `Pack ${id} is missing.`, pack: id }, { cause: error });
      throw error;
    }
  }

  /** Reads a whole pack, checks it against its name, and returns its footer's blob list. */
  async readPack(id: string): Promise<{ bytes: Buffer; blobs: BlobEntry[] }> {
    const bytes = await this.readPackFile(id);
    const indexed = this.packs.get(id);
    if (indexed && bytes.length < indexed.size) throw new LifeboatError('LB_REPO_PACK_TRUNCATED', { detail: `Pack ${id} has ${bytes.length} of its ${indexed.size} bytes.`, pack: id });
    if ((await sha256Hex(bytes)) !== id) throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Pack ${id} does not match its hash (damaged).`, pack: id });
    return { bytes, blobs: this.parsePackFooter(bytes, id) };
  }

  private parsePackFooter(bytes: Buffer, id: string): BlobEntry[] {
    if (bytes.length < PACK_HEADER_BYTES + PACK_TRAILER_BYTES || bytes.toString('latin1', 0, 8) !== PACK_HEADER_MAGIC) {
      throw new LifeboatError('LB_REPO_PACK_TRUNCATED', { detail: `Pack ${id}: no pack header.`, pack: id });
    }
    return this.parseFooterAt(bytes, 0, id);
  }

  /** Parses the footer from `tail`, the pack's last bytes starting at `tailStart`. */
  private parseFooterAt(tail: Buffer, tailStart: number, id: string): BlobEntry[] {
    const bad = (why: string) => new LifeboatError('LB_REPO_PACK_TRUNCATED', { detail: `Pack ${id}: ${why}.`, pack: id });
    const size = tailStart + tail.length;
    if (tail.length < PACK_TRAILER_BYTES || tail.toString('latin1', tail.length - 8) !== PACK_TRAILER_MAGIC) throw bad('no pack trailer (cut short)');
    const footerLength = tail.readUInt32LE(tail.length - PACK_TRAILER_BYTES);
    const footerStart = size - PACK_TRAILER_BYTES - footerLength;
    if (footerStart < PACK_HEADER_BYTES || footerStart < tailStart) throw bad('footer length out of range');
    const sealed = tail.subarray(footerStart - tailStart, tail.length - PACK_TRAILER_BYTES);
    const plain = this.key ? unseal(this.key.encryption, sealed, 'pack-footer') : sealed;
    if (!plain) throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Pack ${id}: footer fails authentication.`, pack: id });
    let footer: unknown;
    try {
      footer = decodeMetadata(plain);
    } catch {
      throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Pack ${id}: the footer cannot be decoded.`, pack: id });
    }
    return parsePackBlobs((footer as { blobs?: unknown }).blobs, `pack ${id}`, footerStart);
  }

  /**
   * From now on each pack is synced and re-read as soon as it is closed, on a chunk worker while the
   * run goes on; verifyPack of such a pack waits for that check instead of reading it once more.
   * (Checked at the end instead, a 2 GiB backup waited ~0.7 s for the hashing of its packs.)
   */
  verifyPacksAsWritten(): void {
    this.verifyOnClose = true;
  }

  async verifyPack(id: string): Promise<PackVerification> {
    const early = this.settling.get(id)?.verified;
    if (early) return early;
    return this.checkPack(id);
  }

  private async checkPack(id: string): Promise<PackVerification> {
    const { blobs, fromDevice } = await this.hashPackStreaming(id);
    const indexed = this.packs.get(id) ?? this.unindexedPacks.find((pack) => pack.id === id);
    if (!indexed || indexed.blobs.length !== blobs.length || indexed.blobs.some((blob, i) => blob.id !== blobs[i]?.id || blob.offset !== blobs[i]?.offset)) {
      throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Pack ${id}: its footer and the index disagree.`, pack: id });
    }
    return { fromDevice };
  }

  /** Checks a pack's hash reading it in pieces (bounded memory), then parses its footer from the tail. */
  private async hashPackStreaming(id: string): Promise<{ blobs: BlobEntry[]; fromDevice: boolean }> {
    return this.withPack(id, async (handle) => {
      const size = (await handle.stat()).size;
      // Hashed on a chunk worker, so that two packs are verified at once.
      const hashed = await (await chunkWorkers()).hashFile(packPath(this.path, id));
      if (hashed.hash !== id) throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Pack ${id} does not match its hash (damaged${hashed.direct ? ', as read back from the device' : ''}).`, pack: id });
      const head = Buffer.alloc(PACK_HEADER_BYTES);
      await handle.read(head, 0, PACK_HEADER_BYTES, 0);
      if (size < PACK_HEADER_BYTES + PACK_TRAILER_BYTES || head.toString('latin1') !== PACK_HEADER_MAGIC) {
        throw new LifeboatError('LB_REPO_PACK_TRUNCATED', { detail: `Pack ${id}: no pack header.`, pack: id });
      }
      const tailBytes = Math.min(size, MAX_FOOTER_READ_BYTES);
      const tail = Buffer.alloc(tailBytes);
      await handle.read(tail, 0, tailBytes, size - tailBytes);
      return { blobs: this.parseFooterAt(tail, size - tailBytes, id), fromDevice: hashed.direct };
    });
  }

  /** Pack files present in data/ with their sizes. */
  async listPackFiles(): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const data = path.join(this.path, 'data');
    for (const prefix of await readdir(data).catch(() => [])) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(path.join(data, prefix))) {
        const match = /^([0-9a-f]{64})\.pack$/.exec(name);
        if (match?.[1]) found.set(match[1], (await stat(path.join(data, prefix, name))).size);
      }
    }
    return found;
  }

  /** Leftover temp files of interrupted runs (relative paths). */
  async listTempFiles(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (relative: string, depth: number): Promise<void> => {
      for (const entry of await readdir(path.join(this.path, relative), { withFileTypes: true }).catch(() => [])) {
        const child = path.join(relative, entry.name);
        if (entry.isDirectory() && depth < 2) await walk(child, depth + 1);
        else if (entry.isFile() && entry.name.endsWith('.tmp')) found.push(child);
      }
    };
    await walk('', 0);
    return found;
  }

  /** Removes files by path relative to the repository (temp files, old indexes, dropped packs). */
  async removeFiles(relativePaths: readonly string[]): Promise<void> {
    for (const relative of relativePaths) await rm(path.join(this.path, relative), { force: true });
  }

  /** Relative path of a pack file. */
  packFile(id: string): string {
    return path.relative(this.path, packPath(this.path, id));
  }

  // ---- snapshots ------------------------------------------------------------------------------

  /** Every snapshot, with the damaged ones reported apart. */
  async scanSnapshots(): Promise<{ snapshots: StoredSnapshot[]; problems: LifeboatError[] }> {
    const names = (await readdir(path.join(this.path, 'snapshots')).catch(() => [])).filter((name) => /^[0-9a-f]{64}\.json$/.test(name));
    const snapshots: StoredSnapshot[] = [];
    const problems: LifeboatError[] = [];
    for (const name of names) {
      try {
        snapshots.push(await this.loadSnapshot(name.slice(0, 64)));
      } catch (error) {
        if (this.unfinished.has(path.join('snapshots', name))) continue;
        problems.push(error instanceof LifeboatError ? error : new LifeboatError('LB_REPO_SNAPSHOT_CORRUPT', { detail: String(error) }));
      }
    }
    return { snapshots, problems };
  }

  async listSnapshots(): Promise<StoredSnapshot[]> {
    return (await this.scanSnapshots()).snapshots;
  }

  /** Loads and checks one manifest. */
  async loadSnapshot(id: string): Promise<StoredSnapshot> {
    const file = path.join(this.path, 'snapshots', `${id}.json`);
    const corrupt = (why: string, cause?: unknown) => new LifeboatError('LB_REPO_SNAPSHOT_CORRUPT', { detail: `Snapshot ${id.slice(0, 8)}: ${why}.`, snapshot: id, file }, { cause });
    let stored: Buffer;
    try {
      stored = await this.readNamedFile(file, id);
    } catch (error) {
      throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: `Snapshot ${id} does not exist.`, snapshot: id }, { cause: error });
    }
    if ((await sha256Hex(stored)) !== id) throw corrupt('the manifest does not match its hash (damaged or altered)');
    const plain = this.key ? unseal(this.key.encryption, stored, 'snapshot') : stored;
    if (!plain) throw corrupt('the manifest fails authentication');
    try {
      return { id, manifest: parseManifest(JSON.parse(plain.toString('utf8')), file) };
    } catch (error) {
      throw corrupt('the manifest is not valid', error);
    }
  }

  async saveSnapshot(manifest: SnapshotManifest): Promise<string> {
    const plain = Buffer.from(`${JSON.stringify(manifest)}\n`);
    const stored = this.key ? seal(this.key.encryption, plain, 'snapshot') : plain;
    const id = await sha256Hex(stored);
    await writeFileAtomic(path.join(this.path, 'snapshots'), `${id}.json`, stored);
    this.unsaved.packs.length = 0;
    this.unsaved.indexes.length = 0;
    return id;
  }

  /** Deletes a snapshot's manifest (its chunks stay until prune). */
  async removeSnapshot(id: string): Promise<void> {
    await rm(path.join(this.path, 'snapshots', `${id}.json`), { force: true });
  }

  // ---- writing --------------------------------------------------------------------------------

  private serialize<T>(step: () => Promise<T>): Promise<T> {
    const next = this.writeQueue.then(step);
    this.writeQueue = next.catch(() => undefined);
    return next;
  }

  async storeBlob(type: BlobType, content: Uint8Array, options: { id?: string; compressionLevel: number; output?: Uint8Array; similar?: string }): Promise<StoreResult> {
    if (content.length > MAX_BLOB_RAW_BYTES) throw new LifeboatError('LB_INTERNAL', { detail: `A blob of ${content.length} bytes is over the limit.` });
    const rawLength = content.length;
    let id = options.id;
    let data = content;
    if (id === undefined) ({ id, data } = await (await chunkWorkers()).hash(content, this.key?.id));
    if (this.blobs.has(id) || this.pendingIds.has(id)) return { id, isNew: false, storedBytes: 0 };
    this.pendingIds.add(id);
    const base = type === 'data' && options.compressionLevel > 0 ? await this.deltaBase(options.similar) : undefined;
    const { data: payload, compression, delta } = options.compressionLevel > 0
      ? await (await chunkWorkers()).compress(data, options.compressionLevel, options.output, base)
      : { data, compression: 'none' as const, delta: false };
    const baseId = delta && base ? base.id : undefined;
    const storedBytes = payload.length + (this.key ? SEAL_OVERHEAD_BYTES : 0);
    await this.serialize(async () => {
      this.pack ??= await PackWriter.create(this.path, await (this.packsOnFat ??= isOnFat(path.join(this.path, 'data'))));
      // Sealed only now, in its turn, into memory kept for all blobs (append has written it when it returns).
      const stored = this.key ? this.sealKept(payload, id) : payload;
      await this.pack.append({ id, type, rawLength, compression, ...(baseId === undefined ? {} : { base: baseId }) }, stored);
      if (this.pack.size >= this.config.packBytes) await this.closePack();
    });
    return { id, isNew: true, storedBytes, ...(baseId === undefined ? {} : { base: baseId }) };
  }

  /**
   * Seals a blob into memory kept for the repository's life, for one serialized append at a time:
   * sealing each chunk into new memory that waited for its turn in the queue (and then for a
   * collection) cost an encrypted backup ~35 MiB of peak RSS and a third more page faults.
   */
  private sealKept(payload: Uint8Array, id: string): Uint8Array {
    const bytes = payload.length + SEAL_OVERHEAD_BYTES;
    if (this.sealRoom.length < bytes) this.sealRoom = Buffer.allocUnsafeSlow(Math.max(bytes, this.config.chunkBytes + SEAL_OVERHEAD_BYTES));
    return this.sealRoom.subarray(0, sealInto(this.key!.encryption, payload, id, this.sealRoom));
  }

  async storeBlobs(type: BlobType, contents: readonly Uint8Array[], options: { compressionLevel: number }): Promise<StoreResult[]> {
    if (contents.length === 0) return [];
    // One buffer and [offset, length] pairs: the callers' views of one buffer go over as they are.
    const buffer = contents[0]!.buffer;
    const whole = contents.every((content) => content.buffer === buffer) && buffer instanceof ArrayBuffer;
    const data = whole ? new Uint8Array(buffer) : Buffer.concat(contents);
    const pieces = new Uint32Array(contents.length * 2);
    let offset = 0;
    contents.forEach((content, index) => {
      if (content.length > MAX_BLOB_RAW_BYTES) throw new LifeboatError('LB_INTERNAL', { detail: `A blob of ${content.length} bytes is over the limit.` });
      pieces[2 * index] = whole ? content.byteOffset : offset;
      pieces[2 * index + 1] = content.length;
      offset += content.length;
    });
    const answers = await (await chunkWorkers()).storeBatch(data, pieces, options.compressionLevel, this.key?.id);
    const results: StoreResult[] = [];
    const fresh: Array<{ entry: Omit<BlobEntry, 'offset' | 'length'>; stored: Uint8Array }> = [];
    answers.forEach((answer, index) => {
      if (this.blobs.has(answer.id) || this.pendingIds.has(answer.id)) {
        results.push({ id: answer.id, isNew: false, storedBytes: 0 });
        return;
      }
      this.pendingIds.add(answer.id);
      const stored = this.key ? seal(this.key.encryption, answer.payload, answer.id) : answer.payload;
      fresh.push({ entry: { id: answer.id, type, rawLength: pieces[2 * index + 1]!, compression: answer.compression }, stored });
      results.push({ id: answer.id, isNew: true, storedBytes: stored.length });
    });
    if (fresh.length > 0) {
      await this.serialize(async () => {
        this.pack ??= await PackWriter.create(this.path, await (this.packsOnFat ??= isOnFat(path.join(this.path, 'data'))));
        await this.pack.appendMany(fresh);
        if (this.pack.size >= this.config.packBytes) await this.closePack();
      });
    }
    return results;
  }

  /**
   * The base for a delta of a chunk that was `similar` (the chunk at the same place in an earlier
   * snapshot): that chunk, or its own base when it is a delta (so a delta never needs more than one
   * other blob). Undefined in version-1 repositories, or when it cannot be read back sound.
   */
  private async deltaBase(similar: string | undefined): Promise<StoredBase | undefined> {
    if (similar === undefined || this.config.version < DELTA_BLOBS_VERSION) return undefined;
    const entry = this.blobs.get(similar);
    if (!entry || entry.type !== 'data') return undefined;
    const id = entry.base ?? similar;
    const location = this.blobs.get(id);
    if (!location || location.base !== undefined) return undefined;
    try {
      // Read as stored, into memory of its own (handed over to the worker, which opens and checks it).
      const stored = Buffer.allocUnsafeSlow(location.length);
      const { bytesRead } = await this.withPack(location.pack, (handle) => handle.read(stored, 0, location.length, location.offset));
      if (bytesRead !== location.length) return undefined;
      const payload = this.key ? unseal(this.key.encryption, stored, id) : stored;
      if (!payload) return undefined;
      return { id, stored: payload, compression: location.compression, rawLength: location.rawLength, key: this.key?.id };
    } catch {
      return undefined; // a damaged base: store the chunk whole (check reports the damage)
    }
  }

  /** Copies an already stored blob (prune's repacking) without re-encoding it. */
  async copyStoredBlob(entry: BlobEntry, stored: Uint8Array): Promise<void> {
    await this.serialize(async () => {
      this.pack ??= await PackWriter.create(this.path, await (this.packsOnFat ??= isOnFat(path.join(this.path, 'data'))));
      await this.pack.append(entry, stored);
      if (this.pack.size >= this.config.packBytes) await this.closePack();
    });
  }

  private async closePack(): Promise<void> {
    const pack = this.pack;
    if (!pack) return;
    this.pack = undefined;
    const footer = encodeMetadata({ blobs: pack.entries }, this.config.version);
    const sealed = this.key ? seal(this.key.encryption, footer, 'pack-footer') : footer;
    const indexPack = await pack.finish(sealed);
    this.unindexedPacks.push(indexPack);
    this.written.push({ id: indexPack.id, size: indexPack.size });
    this.unsaved.packs.push(indexPack.id);
    this.settle(indexPack.id, pack.durable());
  }

  /**
   * Tracks a closed pack becoming durable in the background (PackWriter.durable: most of it is on
   * the device already, synced as it was written), so that the run goes on meanwhile (synced all at
   * the end, a 2 GiB backup waited ~1.9 s for ~900 MB of packs: the page cache held them until the
   * end, as they stay under the dirty-page limits); then checks it if asked to.
   * Failures surface in flush (sync) and verifyPack (check).
   */
  private settle(id: string, synced: Promise<void>): void {
    const verified = this.verifyOnClose ? synced.then(() => this.checkPack(id)) : undefined;
    synced.catch(() => undefined);
    verified?.catch(() => undefined);
    this.settling.set(id, { synced, verified });
  }

  /** Waits for every background sync and check (their failures are the caller's to report elsewhere). */
  private async settled(): Promise<void> {
    await Promise.allSettled([...this.settling.values()].flatMap((entry) => [entry.synced, ...(entry.verified ? [entry.verified] : [])]));
  }

  async flush(): Promise<void> {
    await this.serialize(async () => {
      await this.closePack();
      if (this.unindexedPacks.length === 0) return;
      // closePack settles every pack it adds here (a missing entry throws rather than skip the sync).
      for (const pack of this.unindexedPacks) await this.settling.get(pack.id)!.synced;
      await syncPackFolders(this.path, this.unindexedPacks.map((pack) => pack.id));
      await this.writeIndex(this.unindexedPacks);
      for (const pack of this.unindexedPacks) this.addPack(pack);
      for (const pack of this.unindexedPacks) for (const blob of pack.blobs) this.pendingIds.delete(blob.id);
      this.unindexedPacks.length = 0;
    });
  }

  /** Writes an index file listing `packs`; returns its name. */
  async writeIndex(packs: readonly IndexPack[]): Promise<string> {
    const plain = encodeMetadata({ version: this.config.version, packs } satisfies IndexFile, this.config.version);
    const stored = this.key ? seal(this.key.encryption, plain, 'index') : plain;
    const name = `${await sha256Hex(stored)}.json`;
    await writeFileAtomic(path.join(this.path, 'index'), name, stored);
    this.indexesWritten.push(name);
    this.unsaved.indexes.push(name);
    return name;
  }

  writtenIndexes(): readonly string[] {
    return this.indexesWritten;
  }

  writtenPacks(): ReadonlyArray<{ readonly id: string; readonly size: number }> {
    return this.written;
  }

  /**
   * After a failed or stopped run: drops the unfinished pack, then removes the packs and index
   * files written since the last saved manifest (no snapshot refers to them, and the exclusive lock
   * kept other writers out), so nothing unreferenced stays behind. Index files go first and their
   * folder is synced before any pack goes: a crash in between leaves packs nobody names (check's
   * information, prune's to remove), never an index naming a missing pack. A removal that fails
   * leaves the same ignorable leftovers.
   */
  async abort(): Promise<void> {
    await this.writeQueue;
    await this.settled();
    // Blobs of the discarded pack are stored nowhere: a later run on this handle must store them again.
    for (const entry of this.pack?.entries ?? []) this.pendingIds.delete(entry.id);
    await this.pack?.discard();
    this.pack = undefined;
    await this.removeUnsaved().catch(() => undefined);
  }

  private async removeUnsaved(): Promise<void> {
    const indexes = this.unsaved.indexes.splice(0);
    const packs = new Set(this.unsaved.packs.splice(0));
    if (indexes.length > 0) {
      for (const name of indexes) await rm(path.join(this.path, 'index', name), { force: true });
      this.indexNames = this.indexNames.filter((name) => !indexes.includes(name));
      await syncFolder(path.join(this.path, 'index'));
    }
    for (const pack of this.unindexedPacks.splice(0)) for (const blob of pack.blobs) this.pendingIds.delete(blob.id);
    for (const [id, location] of this.blobs) if (packs.has(location.pack)) this.blobs.delete(id);
    for (const id of packs) {
      this.packs.delete(id);
      const entry = this.handles.get(id);
      this.handles.delete(id);
      if (entry) await entry.handle.then((handle) => handle.close()).catch(() => undefined);
      await rm(packPath(this.path, id), { force: true });
    }
  }
}

/** Makes the packs' names durable: their folders, and data/ (which holds the folders). */
async function syncPackFolders(root: string, ids: readonly string[]): Promise<void> {
  const folders = new Set(ids.map((id) => path.dirname(packPath(root, id))));
  try {
    for (const folder of [...folders, path.join(root, 'data')]) await syncFolder(folder);
  } catch (error) {
    throw toWriteError(error, root);
  }
}

/**
 * Bytes of a pack written between two background syncs. Left to the kernel, a 64 MiB pack stayed in
 * the page cache until its fsync (it is under the dirty-page limits) and then went out in one burst:
 * reads from the same disk waited up to 0.1 s behind it (measured with the NTFS bench volume: the
 * slowest 1% of the source reads took 86-109 ms, 23-39 ms with a sync every 8 MiB). Synced as it
 * goes, the progress shown is also what is on the device, and the memory held dirty stays small (a
 * rescue system runs from memory; a USB stick drains slowly).
 */
export const PACK_SYNC_STEP_BYTES = 8 * 1024 * 1024;

/** A pack being written under a temp name; renamed to its SHA-256 once complete. */
class PackWriter {
  readonly entries: BlobEntry[] = [];
  size = 0;
  private readonly hash = createHash('sha256');
  /** Bytes written when the last background sync started, and that sync while it runs (one at a time). */
  private syncedTo = 0;
  private syncing: Promise<void> | undefined;
  private syncError: unknown;

  private readonly root: string;
  private readonly tempPath: string;
  private readonly handle: FileHandle;
  private readonly fat: boolean;

  private constructor(root: string, tempPath: string, handle: FileHandle, fat: boolean) {
    this.root = root;
    this.tempPath = tempPath;
    this.handle = handle;
    this.fat = fat;
  }

  /**
   * A new pack under a temp name in data/. On FAT (`fat`) each new folder entry reaches the disk
   * with its folder's sync before any sync of the file itself, as writeFileAtomic orders it there: the
   * file's sync writes only the sector of its short entry, and long-name slots left in the sector
   * before as the folder's end mark (zeros) hide every later entry from mtools and Windows.
   */
  static async create(root: string, fat: boolean): Promise<PackWriter> {
    const tempPath = path.join(root, 'data', `pack-${randomBytes(8).toString('hex')}.tmp`);
    try {
      const handle = await open(tempPath, 'wx');
      const writer = new PackWriter(root, tempPath, handle, fat);
      if (fat) await syncFolder(path.join(root, 'data')).catch(async (error: unknown) => {
        await writer.discard();
        throw error;
      });
      await writer.write(Buffer.from(PACK_HEADER_MAGIC, 'latin1'));
      return writer;
    } catch (error) {
      throw toWriteError(error, root);
    }
  }

  private async write(bytes: Uint8Array): Promise<void> {
    try {
      let done = 0;
      while (done < bytes.length) done += (await this.handle.write(bytes, done, bytes.length - done, this.size + done)).bytesWritten;
    } catch (error) {
      await this.discard();
      throw toWriteError(error, this.root);
    }
    this.hash.update(bytes);
    this.size += bytes.length;
    this.syncSoon();
  }

  /** Starts a background fdatasync once PACK_SYNC_STEP_BYTES more are written; its failure surfaces in finish. */
  private syncSoon(): void {
    if (this.syncing || this.size - this.syncedTo < PACK_SYNC_STEP_BYTES) return;
    this.syncedTo = this.size;
    this.syncing = this.handle.datasync().catch((error: unknown) => {
      this.syncError ??= error;
    }).finally(() => {
      this.syncing = undefined;
    });
  }

  async append(entry: Omit<BlobEntry, 'offset' | 'length'>, stored: Uint8Array): Promise<void> {
    const offset = this.size;
    await this.write(stored);
    this.entries.push({ id: entry.id, type: entry.type, offset, length: stored.length, rawLength: entry.rawLength, compression: entry.compression, ...(entry.base === undefined ? {} : { base: entry.base }) });
  }

  /** Appends several blobs with one writev (a batch of small files' blobs). */
  async appendMany(blobs: ReadonlyArray<{ entry: Omit<BlobEntry, 'offset' | 'length'>; stored: Uint8Array }>): Promise<void> {
    const start = this.size;
    const pieces = blobs.map((blob) => blob.stored);
    const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
    try {
      let done = (await this.handle.writev(pieces, start)).bytesWritten;
      // A short write (rare): the rest one piece at a time.
      for (let index = 0, skip = done; done < total; index++) {
        const piece = pieces[index]!;
        if (skip >= piece.length) {
          skip -= piece.length;
          continue;
        }
        for (let at = skip; at < piece.length;) {
          const written = (await this.handle.write(piece, at, piece.length - at, start + done)).bytesWritten;
          at += written;
          done += written;
        }
        skip = 0;
      }
    } catch (error) {
      await this.discard();
      throw toWriteError(error, this.root);
    }
    for (const piece of pieces) this.hash.update(piece);
    this.size += total;
    let offset = start;
    for (const { entry, stored } of blobs) {
      this.entries.push({ id: entry.id, type: entry.type, offset, length: stored.length, rawLength: entry.rawLength, compression: entry.compression });
      offset += stored.length;
    }
  }

  async finish(footer: Uint8Array): Promise<IndexPack> {
    const trailer = Buffer.alloc(PACK_TRAILER_BYTES);
    trailer.writeUInt32LE(footer.length, 0);
    trailer.write(PACK_TRAILER_MAGIC, 4, 'latin1');
    await this.write(footer);
    await this.write(trailer);
    const id = this.hash.digest('hex');
    try {
      const folder = path.join(this.root, 'data', id.slice(0, 2));
      const made = await mkdir(folder, { recursive: true });
      if (this.fat) {
        // The background sync writes the file's entry too: it ends before the entry moves.
        await this.syncing;
        if (made !== undefined) await syncFolder(path.join(this.root, 'data'));
      }
      await rename(this.tempPath, packPath(this.root, id));
      if (this.fat) {
        await syncFolder(folder);
        await syncFolder(path.join(this.root, 'data'));
      }
    } catch (error) {
      await this.syncing;
      await this.handle.close().catch(() => undefined);
      await rm(this.tempPath, { force: true });
      throw toWriteError(error, this.root);
    }
    return { id, size: this.size, blobs: this.entries };
  }

  /**
   * After finish: the pack made durable (the last background sync, then an fsync of the whole file)
   * and its handle closed. Runs in the background; the writes go on into the next pack meanwhile.
   */
  async durable(): Promise<void> {
    try {
      await this.syncing;
      if (this.syncError !== undefined) throw this.syncError;
      await this.handle.sync();
    } catch (error) {
      throw toWriteError(error, this.root);
    } finally {
      await this.handle.close().catch(() => undefined);
    }
  }

  async discard(): Promise<void> {
    await this.syncing;
    await this.handle.close().catch(() => undefined);
    await rm(this.tempPath, { force: true }).catch(() => undefined);
  }
}

/** The host name written into manifests and locks. */
export function hostName(): string {
  return os.hostname();
}
