// The repository format's constants, file shapes and their validators (FORMAT.md is the
// specification). Every file read from a repository goes through a parse* function here: nothing
// from disk is trusted before its fields are checked against the hard limits below.

import { LifeboatError } from '../errors.ts';
import type { PartitionTableInfo } from '../partition-table/partition-table.ts';
import { SYSTEM_ROLES, type SystemChoice, type SystemRole } from './system-selection.ts';

/**
 * The format version new repositories get. Bumped when readers would be affected. Version 2 adds
 * delta blobs (a `base` in a blob entry); a version-1 repository stays version 1 (no delta blobs
 * are written into it), so the Lifeboat that made it can still read it.
 */
export const REPOSITORY_FORMAT_VERSION = 2;
/** The versions this code reads (and writes into repositories of that version). */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];
/** The first version with delta blobs. */
export const DELTA_BLOBS_VERSION = 2;
/** The first version whose writers store index files and pack footers as zstd frames of the JSON. */
export const COMPRESSED_METADATA_VERSION = 2;
/** Name written into config.json so a random JSON file is never taken for a repository. */
export const REPOSITORY_FORMAT_NAME = 'lifeboat-repository';
/**
 * Default bytes of device per chunk (a power of two); stored per repository. 1 MiB: after 1% of
 * the files of a 4 GiB filesystem changed, a second backup stores ~1% of the first's bytes thanks
 * to delta blobs (without them: 6.4% on ext4, 10.3% on NTFS; 512 KiB chunks: 4.1% and 6.1%, at
 * 0.3% more stored bytes). Smaller chunks compress worse and back up slower. 2 MiB chunks store
 * 0.2% less on NTFS but make a second backup ~15% slower (each changed chunk costs its whole base).
 */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** Smallest and largest chunk sizes a repository may declare. */
export const MIN_CHUNK_BYTES = 64 * 1024;
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
/** A pack is closed once it reaches this many bytes (far below FAT32's 4 GiB file limit). */
export const DEFAULT_PACK_BYTES = 64 * 1024 * 1024;
/** Hard limit of a pack's size and of a blob's raw size (trees included), checked on read. */
export const MAX_PACK_BYTES = 1024 * 1024 * 1024;
export const MAX_BLOB_RAW_BYTES = 16 * 1024 * 1024;
/** Default zstd level: Clonezilla's default too. */
export const DEFAULT_COMPRESSION_LEVEL = 3;
/** Pack header and trailer magic. */
export const PACK_HEADER_MAGIC = 'LBPACK01';
export const PACK_TRAILER_MAGIC = 'LBPKEND1';
/** Header bytes, and trailer bytes: footer length (u32le) + magic. */
export const PACK_HEADER_BYTES = 8;
export const PACK_TRAILER_BYTES = 12;

/** What a blob holds: device data, or a tree (chunk list / extent list) describing a volume. */
export type BlobType = 'data' | 'tree';
/** How a blob's stored bytes were compressed. Values are never reused for another meaning. */
export type BlobCompression = 'zstd' | 'none';

/** config.json: the repository's identity and parameters (never encrypted: needed to open it). */
export interface RepositoryConfig {
  readonly format: typeof REPOSITORY_FORMAT_NAME;
  readonly version: number;
  readonly id: string;
  readonly created: string;
  readonly chunkBytes: number;
  readonly packBytes: number;
  readonly encryption: 'none' | 'aes-256-gcm';
}

/** One blob inside a pack, as the pack footer and the index list it. */
export interface BlobEntry {
  readonly id: string;
  readonly type: BlobType;
  readonly offset: number;
  /** Stored bytes (after compression and encryption). */
  readonly length: number;
  /** Bytes once decompressed (the chunk's content). */
  readonly rawLength: number;
  readonly compression: BlobCompression;
  /**
   * Format 2: a delta blob, zstd-compressed with the content of the data blob `base` as its
   * dictionary (the chunk at the same place in an earlier snapshot). A base never has a base.
   */
  readonly base?: string;
}

/** One pack as an index file lists it. */
export interface IndexPack {
  readonly id: string;
  readonly size: number;
  readonly blobs: readonly BlobEntry[];
}

/** An index file: which blob lives in which pack, at which offset. */
export interface IndexFile {
  readonly version: number;
  readonly packs: readonly IndexPack[];
}

/** A byte range of a volume that a backup read (and a restore writes). */
export interface ByteExtent {
  readonly offset: number;
  readonly length: number;
}

/** The content of a volume or region: which chunks hold which bytes, split into tree blobs. */
export interface VolumeContent {
  readonly sizeBytes: number;
  readonly usedBytes: number;
  /** Tree blobs listing (chunk index, chunk id) for every non-zero chunk, in order. */
  readonly chunkLists: readonly string[];
  /** Tree blobs listing the used extents, in order. */
  readonly extentLists: readonly string[];
}

/** Source facts kept with a snapshot: what was backed up. */
export interface SnapshotSource {
  readonly path: string;
  readonly model: string;
  readonly serial: string;
  readonly sizeBytes: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  readonly transport: string;
}

/** A partition as the snapshot's table held it. */
export interface SnapshotPartition {
  readonly number: number;
  readonly startLba: number;
  readonly sectors: number;
  readonly type: string;
  readonly kind: 'gpt' | 'primary' | 'extended' | 'logical';
  readonly bootable: boolean;
  readonly uuid?: string;
  readonly name?: string;
  /** GPT attribute bits as a decimal string. */
  readonly attributes?: string;
}

/** The partition table of a disk snapshot. */
export interface SnapshotTable {
  readonly kind: 'gpt' | 'mbr' | 'none';
  readonly sectorSize: number;
  readonly diskSectors: number;
  readonly id: string | undefined;
  readonly firstUsableLba?: number;
  readonly lastUsableLba?: number;
  /** Slots in the GPT entry array (128 for nearly every disk). */
  readonly gptEntryCount?: number;
  readonly partitions: readonly SnapshotPartition[];
}

/** A partition table as a snapshot keeps it (and as a restore compares a target's with it). */
export function snapshotTableOf(table: PartitionTableInfo): SnapshotTable {
  return {
    kind: table.kind,
    sectorSize: table.sectorSize,
    diskSectors: table.diskSectors,
    id: table.id,
    ...(table.firstUsableLba === undefined ? {} : { firstUsableLba: table.firstUsableLba }),
    ...(table.lastUsableLba === undefined ? {} : { lastUsableLba: table.lastUsableLba }),
    ...(table.gpt ? { gptEntryCount: table.gpt.entryCount } : {}),
    partitions: table.partitions.map(({ number, startLba, sectors, type, kind, bootable, uuid, name, attributes }) => ({
      number, startLba, sectors, type, kind, bootable,
      ...(uuid === undefined ? {} : { uuid }), ...(name === undefined ? {} : { name }), ...(attributes === undefined ? {} : { attributes }),
    })),
  };
}

/** Bytes of a disk outside its partitions that a restore needs: tables, boot code, the boot gap, EBRs, the backup GPT. */
export interface SnapshotRegion {
  readonly name: string;
  readonly offset: number;
  readonly content: VolumeContent;
}

/** A filesystem (or raw partition) kept in a snapshot. */
export interface SnapshotVolume {
  /** The partition number on the source disk; undefined for a partition snapshot. */
  readonly partition: number | undefined;
  /** Offset on the source disk (0 for a partition snapshot). */
  readonly offset: number;
  readonly filesystem: { readonly type: string; readonly label: string; readonly uuid: string } | undefined;
  readonly method: 'used-blocks' | 'sector-by-sector';
  readonly notice: string | undefined;
  readonly content: VolumeContent;
}

/** Figures of the backup run that made the snapshot. */
export interface SnapshotStats {
  readonly logicalBytes: number;
  readonly readBytes: number;
  readonly newBytes: number;
  readonly chunks: number;
  readonly newChunks: number;
  /** Format 2: how many of the new chunks were stored as deltas. */
  readonly deltaChunks?: number;
  readonly durationMs: number;
}

/** What every backup run records in its snapshot and how it stores it (disk, partition, system and files backups, imports). */
export interface SnapshotOptions {
  readonly tags: readonly string[];
  readonly note: string;
  readonly compressionLevel: number;
  readonly verify: boolean;
  readonly host: string;
  readonly lifeboatVersion: string;
}

/** A snapshot manifest: everything needed to restore, plus what it came from. */
export interface SnapshotManifest {
  readonly version: number;
  /** 'system': a disk snapshot holding only the partitions a system needs (see `system`). */
  readonly kind: 'files' | 'disk' | 'partition' | 'system';
  readonly time: string;
  readonly host: string;
  readonly lifeboatVersion: string;
  readonly tags: readonly string[];
  readonly note: string;
  readonly chunkBytes: number;
  readonly source: SnapshotSource;
  readonly table: SnapshotTable | undefined;
  readonly regions: readonly SnapshotRegion[];
  readonly volumes: readonly SnapshotVolume[];
  /** Files snapshots (kind 'files'): the backed-up folders and the root folder's tree blobs. */
  readonly files?: FilesSnapshotInfo;
  /** System snapshots: every partition of the table with its role, whether it was kept, and why. */
  readonly system?: readonly SystemChoice[];
  readonly stats: SnapshotStats;
}

/** A lock file's content. */
export interface LockInfo {
  readonly host: string;
  readonly pid: number;
  readonly time: string;
  readonly exclusive: boolean;
  readonly command: string;
  /** The writer's boot id (Linux: a random UUID made at each start); absent in older locks. */
  readonly boot?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Throws LB_REPO_INVALID naming the file and the field. */
function invalid(file: string, field: string): never {
  throw new LifeboatError('LB_REPO_INVALID', { detail: `${file}: field ${field} is missing or out of range.`, file, field });
}

function record(value: unknown, file: string, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(file, field);
  return value as Record<string, unknown>;
}

function integer(value: unknown, file: string, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) invalid(file, field);
  return value;
}

function text(value: unknown, file: string, field: string, maxLength = 4096): string {
  if (typeof value !== 'string' || value.length > maxLength) invalid(file, field);
  return value;
}

function hexId(value: unknown, file: string, field: string): string {
  if (typeof value !== 'string' || !HEX64.test(value)) invalid(file, field);
  return value;
}

function list(value: unknown, file: string, field: string, maxLength = 10_000_000): unknown[] {
  if (!Array.isArray(value) || value.length > maxLength) invalid(file, field);
  return value;
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}

/** Validates config.json. */
export function parseConfig(value: unknown, file = 'config.json'): RepositoryConfig {
  const raw = record(value, file, '(root)');
  if (raw.format !== REPOSITORY_FORMAT_NAME) throw new LifeboatError('LB_REPO_NOT_FOUND', { detail: `${file} is not a Lifeboat repository configuration.`, file });
  const version = integer(raw.version, file, 'version');
  if (!READABLE_FORMAT_VERSIONS.includes(version)) throw new LifeboatError('LB_REPO_UNSUPPORTED_VERSION', { detail: `Format version ${version}; this Lifeboat reads versions ${READABLE_FORMAT_VERSIONS.join(' and ')}.`, version });
  const chunkBytes = integer(raw.chunkBytes, file, 'chunkBytes', MAX_CHUNK_BYTES);
  if (chunkBytes < MIN_CHUNK_BYTES || !isPowerOfTwo(chunkBytes)) invalid(file, 'chunkBytes');
  const packBytes = integer(raw.packBytes, file, 'packBytes', MAX_PACK_BYTES);
  if (packBytes < chunkBytes) invalid(file, 'packBytes');
  if (raw.encryption !== 'none' && raw.encryption !== 'aes-256-gcm') invalid(file, 'encryption');
  if (typeof raw.id !== 'string' || !/^[0-9a-f]{32}$/.test(raw.id)) invalid(file, 'id');
  return { format: REPOSITORY_FORMAT_NAME, version, id: raw.id, created: text(raw.created, file, 'created'), chunkBytes, packBytes, encryption: raw.encryption };
}

/** Validates one blob entry of a pack footer or an index. */
export function parseBlobEntry(value: unknown, file: string): BlobEntry {
  const raw = record(value, file, 'blob');
  if (raw.type !== 'data' && raw.type !== 'tree') invalid(file, 'blob.type');
  if (raw.compression !== 'zstd' && raw.compression !== 'none') invalid(file, 'blob.compression');
  return {
    id: hexId(raw.id, file, 'blob.id'),
    type: raw.type,
    offset: integer(raw.offset, file, 'blob.offset', MAX_PACK_BYTES),
    length: integer(raw.length, file, 'blob.length', MAX_PACK_BYTES),
    rawLength: integer(raw.rawLength, file, 'blob.rawLength', MAX_BLOB_RAW_BYTES),
    compression: raw.compression,
    ...(raw.base === undefined ? {} : { base: deltaBase(raw, file) }),
  };
}

/** A delta blob's base: a data blob's id, not its own, and only with zstd. */
function deltaBase(raw: Record<string, unknown>, file: string): string {
  const base = hexId(raw.base, file, 'blob.base');
  if (raw.type !== 'data' || raw.compression !== 'zstd' || base === raw.id) invalid(file, 'blob.base');
  return base;
}

/** Validates a pack's blob list: entries inside the pack's data area, in order, not overlapping. */
export function parsePackBlobs(value: unknown, file: string, dataEnd: number): BlobEntry[] {
  const blobs = list(value, file, 'blobs').map((entry) => parseBlobEntry(entry, file));
  let previousEnd = PACK_HEADER_BYTES;
  for (const blob of blobs) {
    if (blob.offset < previousEnd || blob.offset + blob.length > dataEnd) invalid(file, `blob ${blob.id} offset`);
    previousEnd = blob.offset + blob.length;
  }
  return blobs;
}

/** Validates an index file. */
export function parseIndex(value: unknown, file: string): IndexFile {
  const raw = record(value, file, '(root)');
  const version = integer(raw.version, file, 'version');
  if (!READABLE_FORMAT_VERSIONS.includes(version)) throw new LifeboatError('LB_REPO_UNSUPPORTED_VERSION', { detail: `${file}: version ${version}.`, version });
  const packs = list(raw.packs, file, 'packs').map((entry) => {
    const pack = record(entry, file, 'pack');
    const size = integer(pack.size, file, 'pack.size', MAX_PACK_BYTES);
    return { id: hexId(pack.id, file, 'pack.id'), size, blobs: parsePackBlobs(pack.blobs, file, size - PACK_TRAILER_BYTES) };
  });
  return { version, packs };
}

function parseContent(value: unknown, file: string, field: string): VolumeContent {
  const raw = record(value, file, field);
  const sizeBytes = integer(raw.sizeBytes, file, `${field}.sizeBytes`);
  const usedBytes = integer(raw.usedBytes, file, `${field}.usedBytes`, sizeBytes);
  return {
    sizeBytes,
    usedBytes,
    chunkLists: list(raw.chunkLists, file, `${field}.chunkLists`).map((id) => hexId(id, file, `${field}.chunkLists`)),
    extentLists: list(raw.extentLists, file, `${field}.extentLists`).map((id) => hexId(id, file, `${field}.extentLists`)),
  };
}

function parsePartition(value: unknown, file: string): SnapshotPartition {
  const raw = record(value, file, 'partition');
  if (raw.kind !== 'gpt' && raw.kind !== 'primary' && raw.kind !== 'extended' && raw.kind !== 'logical') invalid(file, 'partition.kind');
  return {
    number: integer(raw.number, file, 'partition.number', 256),
    startLba: integer(raw.startLba, file, 'partition.startLba'),
    sectors: integer(raw.sectors, file, 'partition.sectors'),
    type: text(raw.type, file, 'partition.type', 64),
    kind: raw.kind,
    bootable: raw.bootable === true,
    ...(raw.uuid === undefined ? {} : { uuid: text(raw.uuid, file, 'partition.uuid', 64) }),
    ...(raw.name === undefined ? {} : { name: text(raw.name, file, 'partition.name', 256) }),
    ...(raw.attributes === undefined ? {} : { attributes: text(raw.attributes, file, 'partition.attributes', 32) }),
  };
}

function parseTable(value: unknown, file: string): SnapshotTable | undefined {
  if (value === undefined || value === null) return undefined;
  const raw = record(value, file, 'table');
  if (raw.kind !== 'gpt' && raw.kind !== 'mbr' && raw.kind !== 'none') invalid(file, 'table.kind');
  const sectorSize = integer(raw.sectorSize, file, 'table.sectorSize');
  if (sectorSize !== 512 && sectorSize !== 4096) invalid(file, 'table.sectorSize');
  return {
    kind: raw.kind,
    sectorSize,
    diskSectors: integer(raw.diskSectors, file, 'table.diskSectors'),
    id: raw.id === undefined || raw.id === null ? undefined : text(raw.id, file, 'table.id', 64),
    ...(raw.firstUsableLba === undefined ? {} : { firstUsableLba: integer(raw.firstUsableLba, file, 'table.firstUsableLba') }),
    ...(raw.lastUsableLba === undefined ? {} : { lastUsableLba: integer(raw.lastUsableLba, file, 'table.lastUsableLba') }),
    ...(raw.gptEntryCount === undefined ? {} : { gptEntryCount: integer(raw.gptEntryCount, file, 'table.gptEntryCount', 4096) }),
    partitions: list(raw.partitions, file, 'table.partitions', 256).map((entry) => parsePartition(entry, file)),
  };
}

function parseVolume(value: unknown, file: string): SnapshotVolume {
  const raw = record(value, file, 'volume');
  if (raw.method !== 'used-blocks' && raw.method !== 'sector-by-sector') invalid(file, 'volume.method');
  let filesystem: SnapshotVolume['filesystem'];
  if (raw.filesystem !== undefined && raw.filesystem !== null) {
    const fs = record(raw.filesystem, file, 'volume.filesystem');
    filesystem = { type: text(fs.type, file, 'filesystem.type', 32), label: text(fs.label, file, 'filesystem.label', 256), uuid: text(fs.uuid, file, 'filesystem.uuid', 64) };
  }
  return {
    partition: raw.partition === undefined || raw.partition === null ? undefined : integer(raw.partition, file, 'volume.partition', 256),
    offset: integer(raw.offset, file, 'volume.offset'),
    filesystem,
    method: raw.method,
    notice: raw.notice === undefined || raw.notice === null ? undefined : text(raw.notice, file, 'volume.notice'),
    content: parseContent(raw.content, file, 'volume.content'),
  };
}

function parseStats(value: unknown, file: string): SnapshotStats {
  const raw = record(value, file, 'stats');
  return {
    logicalBytes: integer(raw.logicalBytes, file, 'stats.logicalBytes'),
    readBytes: integer(raw.readBytes, file, 'stats.readBytes'),
    newBytes: integer(raw.newBytes, file, 'stats.newBytes'),
    chunks: integer(raw.chunks, file, 'stats.chunks'),
    newChunks: integer(raw.newChunks, file, 'stats.newChunks'),
    ...(raw.deltaChunks === undefined ? {} : { deltaChunks: integer(raw.deltaChunks, file, 'stats.deltaChunks') }),
    durationMs: integer(raw.durationMs, file, 'stats.durationMs'),
  };
}

/** Validates a snapshot manifest. */
export function parseManifest(value: unknown, file: string): SnapshotManifest {
  const raw = record(value, file, '(root)');
  const version = integer(raw.version, file, 'version');
  if (!READABLE_FORMAT_VERSIONS.includes(version)) throw new LifeboatError('LB_REPO_UNSUPPORTED_VERSION', { detail: `${file}: version ${version}.`, version });
  if (raw.kind !== 'files' && raw.kind !== 'disk' && raw.kind !== 'partition' && raw.kind !== 'system') invalid(file, 'kind');
  const source = record(raw.source, file, 'source');
  const chunkBytes = integer(raw.chunkBytes, file, 'chunkBytes', MAX_CHUNK_BYTES);
  if (chunkBytes < MIN_CHUNK_BYTES || !isPowerOfTwo(chunkBytes)) invalid(file, 'chunkBytes');
  const manifest: SnapshotManifest = {
    version,
    kind: raw.kind,
    time: text(raw.time, file, 'time', 64),
    host: text(raw.host, file, 'host', 256),
    lifeboatVersion: text(raw.lifeboatVersion, file, 'lifeboatVersion', 64),
    tags: list(raw.tags, file, 'tags', 256).map((tag) => text(tag, file, 'tags', 256)),
    note: text(raw.note, file, 'note', 65536),
    chunkBytes,
    source: {
      path: text(source.path, file, 'source.path'),
      model: text(source.model, file, 'source.model'),
      serial: text(source.serial, file, 'source.serial'),
      sizeBytes: integer(source.sizeBytes, file, 'source.sizeBytes'),
      logicalSectorSize: integer(source.logicalSectorSize, file, 'source.logicalSectorSize', 65536),
      physicalSectorSize: integer(source.physicalSectorSize, file, 'source.physicalSectorSize', 1 << 20),
      transport: text(source.transport, file, 'source.transport', 32),
    },
    table: parseTable(raw.table, file),
    regions: list(raw.regions, file, 'regions', 1024).map((entry) => {
      const region = record(entry, file, 'region');
      return { name: text(region.name, file, 'region.name', 64), offset: integer(region.offset, file, 'region.offset'), content: parseContent(region.content, file, 'region.content') };
    }),
    volumes: list(raw.volumes, file, 'volumes', 256).map((entry) => parseVolume(entry, file)),
    ...(raw.kind === 'files' ? { files: parseFilesInfo(raw, file) } : {}),
    ...(raw.kind === 'system' ? { system: parseSystem(raw.system, file) } : {}),
    stats: parseStats(raw.stats, file),
  };
  if (raw.kind === 'system') checkSystemSnapshot(manifest, file);
  return manifest;
}

function parseSystem(value: unknown, file: string): SystemChoice[] {
  return list(value, file, 'system', 256).map((entry) => {
    const raw = record(entry, file, 'system');
    if (typeof raw.role !== 'string' || !SYSTEM_ROLES.includes(raw.role as SystemRole)) invalid(file, 'system.role');
    if (typeof raw.chosen !== 'boolean') invalid(file, 'system.chosen');
    return { partition: integer(raw.partition, file, 'system.partition', 256), role: raw.role as SystemRole, chosen: raw.chosen, reason: text(raw.reason, file, 'system.reason', 1024) };
  });
}

/** A system snapshot has a table, one choice per partition of it, and volumes of chosen partitions only. */
function checkSystemSnapshot(manifest: SnapshotManifest, file: string): void {
  const partitions = manifest.table?.partitions;
  const system = manifest.system ?? [];
  if (!partitions || manifest.table?.kind === 'none') invalid(file, 'table');
  if (system.length !== partitions.length || partitions.some((partition) => system.filter((choice) => choice.partition === partition.number).length !== 1)) invalid(file, 'system');
  const chosen = new Set(system.filter((choice) => choice.chosen).map((choice) => choice.partition));
  if (manifest.volumes.some((volume) => volume.partition === undefined || !chosen.has(volume.partition))) invalid(file, 'volumes');
}

/** What a files snapshot adds to its manifest (FORMAT.md, "Files snapshots"). */
export interface FilesSnapshotInfo {
  /** The backed-up folders, absolute, as given on the command line (resolved). */
  readonly roots: readonly string[];
  /** The tree blobs of the snapshot's root folder ("/"), which leads to every root. */
  readonly trees: readonly string[];
  /** Entries (files, folders, links...) in the snapshot. */
  readonly entries: number;
  /** The content-defined chunking parameters the files were cut with. */
  readonly chunking: { readonly minBytes: number; readonly averageBytes: number; readonly maxBytes: number };
}

/** Validates the `files` part of a files snapshot; such a snapshot has no table, regions or volumes. */
function parseFilesInfo(raw: Record<string, unknown>, file: string): FilesSnapshotInfo {
  if (raw.table !== null && raw.table !== undefined) invalid(file, 'table');
  if (list(raw.regions, file, 'regions').length !== 0) invalid(file, 'regions');
  if (list(raw.volumes, file, 'volumes').length !== 0) invalid(file, 'volumes');
  const files = record(raw.files, file, 'files');
  const roots = list(files.roots, file, 'files.roots', 4096).map((root) => text(root, file, 'files.roots'));
  if (roots.length === 0 || roots.some((root) => !root.startsWith('/') || root.includes('\u0000'))) invalid(file, 'files.roots');
  const trees = list(files.trees, file, 'files.trees', 1_000_000).map((id) => hexId(id, file, 'files.trees'));
  if (trees.length === 0) invalid(file, 'files.trees');
  const chunking = record(files.chunking, file, 'files.chunking');
  const minBytes = integer(chunking.minBytes, file, 'files.chunking.minBytes', MAX_BLOB_RAW_BYTES);
  const averageBytes = integer(chunking.averageBytes, file, 'files.chunking.averageBytes', MAX_BLOB_RAW_BYTES);
  const maxBytes = integer(chunking.maxBytes, file, 'files.chunking.maxBytes', MAX_BLOB_RAW_BYTES);
  if (minBytes === 0 || minBytes > averageBytes || averageBytes > maxBytes || !isPowerOfTwo(averageBytes)) invalid(file, 'files.chunking');
  return { roots, trees, entries: integer(files.entries, file, 'files.entries'), chunking: { minBytes, averageBytes, maxBytes } };
}

/** Validates a lock file (a damaged one counts as stale by its caller). */
export function parseLock(value: unknown, file: string): LockInfo {
  const raw = record(value, file, '(root)');
  return {
    host: text(raw.host, file, 'host', 256),
    pid: integer(raw.pid, file, 'pid'),
    time: text(raw.time, file, 'time', 64),
    exclusive: raw.exclusive === true,
    command: text(raw.command ?? '', file, 'command', 256),
    ...(raw.boot === undefined ? {} : { boot: text(raw.boot, file, 'boot', 64) }),
  };
}

/** Every tree blob a manifest refers to. */
export function manifestTreeIds(manifest: SnapshotManifest): string[] {
  const contents = [...manifest.regions.map((region) => region.content), ...manifest.volumes.map((volume) => volume.content)];
  return [...contents.flatMap((content) => [...content.chunkLists, ...content.extentLists]), ...(manifest.files?.trees ?? [])];
}
