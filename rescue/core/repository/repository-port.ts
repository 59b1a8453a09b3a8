// What backup, restore, check and forget need from a repository, as types only: ops depend on
// this port, io/repository implements it over a folder (tests may hand ops anything that fits).

import type { BlobEntry, BlobType, IndexPack, RepositoryConfig, SnapshotManifest } from './format.ts';

/** A snapshot as listed: its id (the manifest file's hash) and manifest. */
export interface StoredSnapshot {
  readonly id: string;
  readonly manifest: SnapshotManifest;
}

/** Reading side: snapshots and verified blobs. */
export interface RepositoryReader {
  readonly config: RepositoryConfig;
  readonly path: string;
  listSnapshots(): Promise<StoredSnapshot[]>;
  /** True when an index lists the blob (and, for a delta blob, its base). */
  hasBlob(id: string): boolean;
  /** The blob's content, decrypted, decompressed and checked against its id. */
  readBlob(id: string): Promise<Uint8Array>;
  /**
   * The same content written into `into` (bytes on a SharedArrayBuffer of at least its length + 1:
   * nothing allocated per blob); returns the view of `into` holding it, or other bytes when it does
   * not fit. Readers without it are read with readBlob. `few`: the caller reads a few blobs (a
   * file, a folder's metadata), which open on the calling thread while the process has opened little.
   */
  readBlobInto?(id: string, into: Uint8Array, options?: { few?: boolean }): Promise<Uint8Array>;
}

/** What storing a blob did. */
export interface StoreResult {
  readonly id: string;
  readonly isNew: boolean;
  /** Bytes added to the repository (0 when the blob was already there). */
  readonly storedBytes: number;
  /** Set when the blob was stored as a delta against this base. */
  readonly base?: string;
}

/** Writing side (callers hold the exclusive lock). */
/** How a pack was read back to be verified. */
export interface PackVerification {
  /** True when every byte came from the device (O_DIRECT); false when read through the page cache
   * (the filesystem refused O_DIRECT: tmpfs, FUSE), which may still hold what was written. */
  readonly fromDevice: boolean;
}

export interface RepositoryWriter extends RepositoryReader {
  /** Compresses (unless incompressible), encrypts and appends the blob to a pack unless it is already stored.
   * `content` is handed over: the caller must not use it afterwards (it may be moved to a worker),
   * unless it lies on a SharedArrayBuffer: then it is only read, and free again once the call returns.
   * `output`, shared bytes too, is space the compressed bytes may be written into (free on return).
   * `similar`: the id of the chunk at the same place in an earlier snapshot; a new data blob is then
   * stored as a delta against it (or against its base) where the format allows. */
  storeBlob(type: BlobType, content: Uint8Array, options: { id?: string; compressionLevel: number; output?: Uint8Array; similar?: string }): Promise<StoreResult>;
  /** Stores many small blobs (e.g. whole small files) with one trip to the chunk workers and one pack write;
   * no deltas. The contents are handed over, as for storeBlob; views of one ArrayBuffer go over without a copy. */
  storeBlobs(type: BlobType, contents: readonly Uint8Array[], options: { compressionLevel: number }): Promise<StoreResult[]>;
  /** Closes the open pack and writes the index of every pack written since the last flush. */
  flush(): Promise<void>;
  /** Packs written by this writer so far, with their sizes. */
  writtenPacks(): ReadonlyArray<{ readonly id: string; readonly size: number }>;
  /** Re-reads a pack file and checks it against its name (hash) and footer; says whether the bytes came from the device. */
  verifyPack(id: string): Promise<PackVerification>;
  /** Checks each pack this writer closes from now on right away, in the background (after syncing
   * it); verifyPack of such a pack then gives that check's outcome. */
  verifyPacksAsWritten(): void;
  /** Writes a manifest; returns the snapshot id. */
  saveSnapshot(manifest: SnapshotManifest): Promise<string>;
  /** Drops an unfinished pack (after a failed run): nothing half-written stays referenced. */
  abort(): Promise<void>;
}

/** A file the index loader could not use. */
export interface IndexLoadProblem {
  readonly code: string;
  readonly file: string;
  readonly detail: string;
}

/** What check and prune need besides reading and writing: the files themselves. */
export interface RepositoryMaintenance extends RepositoryWriter {
  readonly loadProblems: readonly IndexLoadProblem[];
  indexedPacks(): ReadonlyMap<string, IndexPack>;
  indexFiles(): readonly string[];
  locateBlob(id: string): (BlobEntry & { readonly pack: string }) | undefined;
  listPackFiles(): Promise<Map<string, number>>;
  listTempFiles(): Promise<string[]>;
  /** Index files and manifests cut short (a power cut on FAT) whose complete twin NAME.tmp was read instead. */
  cutShortFiles(): readonly string[];
  /** Index files and manifests found empty (a power cut on FAT interrupted their writing); readers skip them, prune removes them. */
  unfinishedFiles(): readonly string[];
  /** Puts those twins in place of the files cut short (exclusive lock); returns what it placed. */
  putTwinsInPlace(): Promise<string[]>;
  /** A whole pack file's bytes, unchecked. */
  readPackFile(id: string): Promise<Uint8Array>;
  /** A whole pack, checked against its hash, with its footer's blob list. */
  readPack(id: string): Promise<{ bytes: Uint8Array; blobs: BlobEntry[] }>;
  openBlob(entry: BlobEntry, stored: Uint8Array, pack: string): Promise<Uint8Array>;
  scanSnapshots(): Promise<{ snapshots: StoredSnapshot[]; problems: Error[] }>;
  removeSnapshot(id: string): Promise<void>;
  writeIndex(packs: readonly IndexPack[]): Promise<string>;
  /** Index files written by this process. */
  writtenIndexes(): readonly string[];
  copyStoredBlob(entry: BlobEntry, stored: Uint8Array): Promise<void>;
  removeFiles(relativePaths: readonly string[]): Promise<void>;
  packFile(id: string): string;
}
