// The repository's on-disk shapes: config, index, pack footer and manifest validators accept what
// the writer produces and refuse every damaged or foreign field with a coded error; tree blobs
// (chunk lists, extent lists) round-trip, split at TREE_ENTRIES_PER_BLOB and refuse bad bytes.

import test, { type ExecutionContext } from 'ava';
import { zstdDecompressSync } from 'node:zlib';
import { decodeMetadata, encodeMetadata } from '../../rescue/io/repository/folder-repository.ts';
import { LifeboatError, type ErrorCode } from '../../rescue/core/errors.ts';
import {
  MAX_BLOB_RAW_BYTES,
  MAX_CHUNK_BYTES,
  MAX_PACK_BYTES,
  MIN_CHUNK_BYTES,
  PACK_HEADER_BYTES,
  PACK_TRAILER_BYTES,
  manifestTreeIds,
  parseConfig,
  parseIndex,
  parseManifest,
  parsePackBlobs,
} from '../../rescue/core/repository/format.ts';
import {
  TREE_ENTRIES_PER_BLOB,
  decodeChunkList,
  decodeExtentList,
  encodeChunkList,
  encodeExtentList,
  splitForTrees,
  type ChunkRef,
} from '../../rescue/core/repository/tree-blobs.ts';

type Json = Record<string, unknown>;

const MiB = 1024 * 1024;

/** A 64-hex-digit id made from a number (distinct numbers give distinct ids). */
function hexId(n: number): string {
  return n.toString(16).padStart(8, '0').repeat(8);
}

/** Asserts that `fn` throws a LifeboatError with `code` (and, when given, naming `field`). */
function rejects(t: ExecutionContext, fn: () => unknown, code: ErrorCode, field?: string, message?: string): void {
  const error = t.throws(fn, { instanceOf: LifeboatError }, message);
  t.is(error?.code, code, message);
  if (field !== undefined) t.is(error?.details.field, field, message);
}

/** A copy of `base` with `path` (dot-separated) set to `value` (undefined deletes it). */
function withField(base: Json, path: string, value: unknown): Json {
  const copy = structuredClone(base);
  const keys = path.split('.');
  let target: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = keys.at(-1) as string;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

// ---------------------------------------------------------------------------------------------
// config.json

const validConfig: Json = {
  format: 'lifeboat-repository',
  version: 1,
  id: '0123456789abcdef0123456789abcdef',
  created: '2025-03-01T10:00:00.000Z',
  chunkBytes: MiB,
  packBytes: 64 * MiB,
  encryption: 'aes-256-gcm',
};

test('parseConfig accepts a valid config and the extreme chunk sizes', (t) => {
  t.deepEqual(parseConfig(structuredClone(validConfig)), validConfig);
  t.is(parseConfig(withField(validConfig, 'chunkBytes', MIN_CHUNK_BYTES)).chunkBytes, MIN_CHUNK_BYTES);
  t.is(parseConfig(withField(withField(validConfig, 'chunkBytes', MAX_CHUNK_BYTES), 'packBytes', MAX_PACK_BYTES)).packBytes, MAX_PACK_BYTES);
  t.is(parseConfig(withField(validConfig, 'encryption', 'none')).encryption, 'none');
});

test('parseConfig says a foreign JSON file is not a repository', (t) => {
  rejects(t, () => parseConfig(withField(validConfig, 'format', undefined)), 'LB_REPO_NOT_FOUND');
  rejects(t, () => parseConfig(withField(validConfig, 'format', 'restic')), 'LB_REPO_NOT_FOUND');
  for (const value of [null, [], 'lifeboat-repository', 42]) rejects(t, () => parseConfig(value), 'LB_REPO_INVALID', '(root)', JSON.stringify(value));
});

test('parseConfig reads versions 1 and 2 and refuses others', (t) => {
  for (const version of [1, 2]) t.is(parseConfig(withField(validConfig, 'version', version)).version, version);
  for (const version of [0, 3, 99]) rejects(t, () => parseConfig(withField(validConfig, 'version', version)), 'LB_REPO_UNSUPPORTED_VERSION', undefined, `version ${version}`);
  for (const version of ['1', -1, 1.5, undefined]) rejects(t, () => parseConfig(withField(validConfig, 'version', version)), 'LB_REPO_INVALID', 'version', `version ${String(version)}`);
});

test('parseConfig refuses bad chunk and pack sizes, encryption and ids', (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['chunkBytes', MIN_CHUNK_BYTES / 2, 'chunkBytes'],
    ['chunkBytes', MAX_CHUNK_BYTES * 2, 'chunkBytes'],
    ['chunkBytes', 3 * MIN_CHUNK_BYTES, 'chunkBytes'],
    ['chunkBytes', -MiB, 'chunkBytes'],
    ['chunkBytes', MiB + 0.5, 'chunkBytes'],
    ['chunkBytes', String(MiB), 'chunkBytes'],
    ['packBytes', MiB / 2, 'packBytes'],
    ['packBytes', MAX_PACK_BYTES + 1, 'packBytes'],
    ['packBytes', Number.NaN, 'packBytes'],
    ['encryption', 'aes-128-cbc', 'encryption'],
    ['encryption', undefined, 'encryption'],
    ['id', '0123456789ABCDEF0123456789ABCDEF', 'id'],
    ['id', '0123456789abcdef', 'id'],
    ['id', 12345, 'id'],
    ['created', 1_700_000_000, 'created'],
    ['created', 'x'.repeat(5000), 'created'],
  ];
  for (const [field, value, named] of cases) rejects(t, () => parseConfig(withField(validConfig, field, value)), 'LB_REPO_INVALID', named, `${field}=${String(value).slice(0, 40)}`);
});

// ---------------------------------------------------------------------------------------------
// Pack footers and index files

test('index files and pack footers: JSON in version 1, a zstd frame of the JSON from version 2; both read back', (t) => {
  const value = { version: 2, packs: [{ id: hexId(7), size: 99, blobs: [blob(1, PACK_HEADER_BYTES, 100)] }] };
  const v1 = encodeMetadata(value, 1);
  t.deepEqual(JSON.parse(v1.toString('utf8')), value);
  const v2 = encodeMetadata(value, 2);
  t.is(v2.readUInt32LE(0), 0xfd2fb528);
  t.deepEqual(JSON.parse(zstdDecompressSync(v2).toString('utf8')), value);
  t.deepEqual(decodeMetadata(v1), value);
  t.deepEqual(decodeMetadata(v2), value);
  // Many ids: compressed well under the JSON's size (hex ids are half their length in entropy).
  const many = { blobs: Array.from({ length: 500 }, (_, i) => blob(i, PACK_HEADER_BYTES + i * 100, 100)) };
  t.true(encodeMetadata(many, 2).length < encodeMetadata(many, 1).length * 0.6);
  t.throws(() => decodeMetadata(v2.subarray(0, v2.length - 3)));
  t.throws(() => decodeMetadata(Buffer.from('not json')));
});

function blob(n: number, offset: number, length: number, extra: Json = {}): Json {
  return { id: hexId(n), type: 'data', offset, length, rawLength: length * 2, compression: 'zstd', ...extra };
}

/** Two blobs back to back after the header, ending exactly at the data end. */
const packBlobs = [blob(1, PACK_HEADER_BYTES, 100), blob(2, PACK_HEADER_BYTES + 100, 50, { type: 'tree', compression: 'none' })];
const dataEnd = PACK_HEADER_BYTES + 150;

test('parsePackBlobs accepts blobs back to back up to the data end', (t) => {
  t.deepEqual(parsePackBlobs(structuredClone(packBlobs), 'pack', dataEnd), packBlobs);
  t.deepEqual(parsePackBlobs([], 'pack', PACK_HEADER_BYTES), []);
  // A gap between blobs is allowed (a rewritten pack may leave one).
  t.is(parsePackBlobs([blob(1, 20, 10), blob(2, 40, 10)], 'pack', 50).length, 2);
});

test('parsePackBlobs refuses overlapping, out-of-order and out-of-pack blobs', (t) => {
  const cases: Array<[string, Json[], number]> = [
    ['overlap by one byte', [blob(1, 8, 100), blob(2, 107, 50)], dataEnd],
    ['out of order', [blob(2, 108, 50), blob(1, 8, 100)], dataEnd],
    ['same offset twice', [blob(1, 8, 10), blob(2, 8, 10)], dataEnd],
    ['inside the header', [blob(1, PACK_HEADER_BYTES - 1, 10)], dataEnd],
    ['past the data end', [blob(1, 8, 100), blob(2, 108, 51)], dataEnd],
    ['into the trailer', [blob(1, 8, 100)], 107],
  ];
  for (const [name, blobs, end] of cases) rejects(t, () => parsePackBlobs(blobs, 'pack', end), 'LB_REPO_INVALID', undefined, name);
});

test('parsePackBlobs refuses blob entries with bad fields', (t) => {
  const base = blob(1, 8, 100);
  const cases: Array<[string, unknown]> = [
    ['id', 'abc'],
    ['id', 'AB'.repeat(32)],
    ['id', `${hexId(1)}00`],
    ['type', 'index'],
    ['compression', 'gzip'],
    ['offset', -8],
    ['offset', '8'],
    ['offset', MAX_PACK_BYTES + 1],
    ['length', -1],
    ['length', 1.5],
    ['length', MAX_PACK_BYTES + 1],
    ['rawLength', MAX_BLOB_RAW_BYTES + 1],
    ['rawLength', undefined],
  ];
  for (const [field, value] of cases) {
    rejects(t, () => parsePackBlobs([withField(base, field, value)], 'pack', MAX_PACK_BYTES * 2), 'LB_REPO_INVALID', `blob.${field}`, `${field}=${String(value)}`);
  }
  rejects(t, () => parsePackBlobs('not a list', 'pack', dataEnd), 'LB_REPO_INVALID', 'blobs');
  // Delta blobs (format 2): a base is another data blob's id, only on zstd data blobs.
  t.is(parsePackBlobs([blob(1, 8, 100, { base: hexId(9) })], 'pack', 108)[0]?.base, hexId(9));
  t.is(parsePackBlobs([blob(1, 8, 100)], 'pack', 108)[0]?.base, undefined);
  const deltaCases: Array<[string, Json]> = [
    ['base not hex', { base: 'abc' }],
    ['base is the blob itself', { base: hexId(1) }],
    ['base on a tree blob', { base: hexId(9), type: 'tree' }],
    ['base on an uncompressed blob', { base: hexId(9), compression: 'none' }],
  ];
  for (const [name, extra] of deltaCases) rejects(t, () => parsePackBlobs([blob(1, 8, 100, extra)], 'pack', 108), 'LB_REPO_INVALID', 'blob.base', name);
  rejects(t, () => parsePackBlobs([null], 'pack', dataEnd), 'LB_REPO_INVALID', 'blob');
});

const validIndex: Json = {
  version: 1,
  packs: [
    { id: hexId(100), size: dataEnd + 200 + PACK_TRAILER_BYTES, blobs: packBlobs },
    { id: hexId(101), size: PACK_HEADER_BYTES + 10 + PACK_TRAILER_BYTES, blobs: [blob(3, PACK_HEADER_BYTES, 10)] },
  ],
};

test('parseIndex accepts a valid index and an empty one', (t) => {
  t.deepEqual(parseIndex(structuredClone(validIndex), 'index/x'), validIndex);
  t.deepEqual(parseIndex({ version: 1, packs: [] }, 'index/x'), { version: 1, packs: [] });
});

test('parseIndex refuses unknown versions and bad packs', (t) => {
  rejects(t, () => parseIndex(withField(validIndex, 'version', 3), 'index/x'), 'LB_REPO_UNSUPPORTED_VERSION');
  t.is(parseIndex(withField(validIndex, 'version', 2), 'index/x').version, 2);
  rejects(t, () => parseIndex(withField(validIndex, 'version', -1), 'index/x'), 'LB_REPO_INVALID', 'version');
  rejects(t, () => parseIndex([], 'index/x'), 'LB_REPO_INVALID', '(root)');
  rejects(t, () => parseIndex(withField(validIndex, 'packs', {}), 'index/x'), 'LB_REPO_INVALID', 'packs');
  rejects(t, () => parseIndex({ version: 1, packs: ['pack'] }, 'index/x'), 'LB_REPO_INVALID', 'pack');
  const [first] = validIndex.packs as Json[];
  const onePack = (pack: Json): Json => ({ version: 1, packs: [pack] });
  rejects(t, () => parseIndex(onePack(withField(first as Json, 'id', 'pack-1')), 'index/x'), 'LB_REPO_INVALID', 'pack.id');
  rejects(t, () => parseIndex(onePack(withField(first as Json, 'size', -1)), 'index/x'), 'LB_REPO_INVALID', 'pack.size');
  rejects(t, () => parseIndex(onePack(withField(first as Json, 'size', MAX_PACK_BYTES + 1)), 'index/x'), 'LB_REPO_INVALID', 'pack.size');
  // The blobs must end before the trailer: a size one byte short of header + blobs + trailer fails.
  rejects(t, () => parseIndex(onePack(withField(first as Json, 'size', dataEnd + PACK_TRAILER_BYTES - 1)), 'index/x'), 'LB_REPO_INVALID');
  t.notThrows(() => parseIndex(onePack(withField(first as Json, 'size', dataEnd + PACK_TRAILER_BYTES)), 'index/x'));
});

test('the error names the file it came from', (t) => {
  const error = t.throws(() => parseIndex({ version: 1, packs: 'x' }, 'index/abc'), { instanceOf: LifeboatError });
  t.is(error?.details.file, 'index/abc');
  t.regex(error?.message ?? '', /index\/abc/);
});

// ---------------------------------------------------------------------------------------------
// Snapshot manifests

function content(sizeBytes: number, usedBytes: number, trees: number[] = []): Json {
  return { sizeBytes, usedBytes, chunkLists: trees.map(hexId), extentLists: trees.map((n) => hexId(n + 1000)) };
}

const validManifest: Json = {
  version: 1,
  kind: 'disk',
  time: '2025-03-01T10:00:00.000Z',
  host: 'lifeboat',
  lifeboatVersion: '0.1.0',
  tags: ['weekly', 'laptop'],
  note: 'before the upgrade',
  chunkBytes: MiB,
  source: { path: '/dev/sda', model: 'QEMU HARDDISK', serial: 'QM0001', sizeBytes: 64 * MiB, logicalSectorSize: 512, physicalSectorSize: 4096, transport: 'sata' },
  table: {
    kind: 'gpt',
    sectorSize: 512,
    diskSectors: 131072,
    id: '01234567-89ab-cdef-0123-456789abcdef',
    firstUsableLba: 34,
    lastUsableLba: 131038,
    gptEntryCount: 128,
    partitions: [
      { number: 1, startLba: 2048, sectors: 20480, type: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', kind: 'gpt', bootable: false, uuid: 'aaaa', name: 'EFI', attributes: '0' },
      { number: 2, startLba: 22528, sectors: 40960, type: '0fc63daf-8483-4772-8e79-3d69d8477de4', kind: 'gpt', bootable: false },
    ],
  },
  regions: [
    { name: 'head', offset: 0, content: content(MiB, MiB, [1]) },
    { name: 'gpt-backup', offset: (131072 - 33) * 512, content: content(33 * 512, 33 * 512, [2]) },
  ],
  volumes: [
    { partition: 1, offset: 2048 * 512, filesystem: { type: 'vfat', label: 'EFI', uuid: '1234-ABCD' }, method: 'used-blocks', notice: 'a notice', content: content(20480 * 512, 5 * MiB, [3, 4]) },
    { partition: 2, offset: 22528 * 512, filesystem: { type: 'ext4', label: '', uuid: 'u' }, method: 'sector-by-sector', notice: 'none', content: content(40960 * 512, 40960 * 512, [5]) },
  ],
  stats: { logicalBytes: 64 * MiB, readBytes: 30 * MiB, newBytes: 10 * MiB, chunks: 30, newChunks: 10, durationMs: 1234 },
};

test('parseManifest accepts a valid disk manifest unchanged', (t) => {
  t.deepEqual(parseManifest(structuredClone(validManifest), 'snapshots/x'), validManifest);
});

test('parseManifest maps absent optional fields to undefined', (t) => {
  const partitionManifest = withField(withField(withField(validManifest, 'kind', 'partition'), 'table', null), 'regions', []);
  const volumes = [{ partition: null, offset: 0, filesystem: null, method: 'used-blocks', notice: null, content: content(MiB, 0) }];
  const parsed = parseManifest({ ...partitionManifest, volumes }, 'snapshots/x');
  t.is(parsed.table, undefined);
  t.is(parsed.volumes[0]?.partition, undefined);
  t.is(parsed.volumes[0]?.filesystem, undefined);
  t.is(parsed.volumes[0]?.notice, undefined);
  const table = parseManifest(withField(validManifest, 'table.id', undefined), 'snapshots/x').table;
  t.is(table?.id, undefined);
  const partition = parseManifest(withField(validManifest, 'table.partitions', [{ number: 1, startLba: 2048, sectors: 8, type: '83', kind: 'primary', bootable: 'yes' }]), 'x').table?.partitions[0];
  t.deepEqual(partition, { number: 1, startLba: 2048, sectors: 8, type: '83', kind: 'primary', bootable: false });
});

test('parseManifest refuses unknown versions', (t) => {
  for (const version of [0, 3]) rejects(t, () => parseManifest(withField(validManifest, 'version', version), 'x'), 'LB_REPO_UNSUPPORTED_VERSION', undefined, `version ${version}`);
  t.is(parseManifest(withField(validManifest, 'version', 2), 'x').version, 2);
  rejects(t, () => parseManifest(withField(validManifest, 'version', 'one'), 'x'), 'LB_REPO_INVALID', 'version');
});

test('parseManifest refuses wrong types, negative and oversized values and bad ids', (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['kind', 'file', 'kind'],
    ['chunkBytes', 1000, 'chunkBytes'],
    ['chunkBytes', MAX_CHUNK_BYTES * 2, 'chunkBytes'],
    ['time', 123, 'time'],
    ['host', 'h'.repeat(257), 'host'],
    ['tags', 'weekly', 'tags'],
    ['tags', ['ok', 7], 'tags'],
    ['tags', Array.from({ length: 257 }, () => 't'), 'tags'],
    ['note', 'n'.repeat(65537), 'note'],
    ['source', null, 'source'],
    ['source.sizeBytes', -1, 'source.sizeBytes'],
    ['source.logicalSectorSize', 65537, 'source.logicalSectorSize'],
    ['source.transport', undefined, 'source.transport'],
    ['table', 'gpt', 'table'],
    ['table.kind', 'apm', 'table.kind'],
    ['table.sectorSize', 1024, 'table.sectorSize'],
    ['table.diskSectors', -131072, 'table.diskSectors'],
    ['table.gptEntryCount', 5000, 'table.gptEntryCount'],
    ['table.partitions', Array.from({ length: 257 }, () => ({})), 'table.partitions'],
    ['regions', {}, 'regions'],
    ['volumes', [{ partition: 1 }], 'volume.method'],
    ['stats', undefined, 'stats'],
    ['stats.durationMs', -5, 'stats.durationMs'],
    ['stats.chunks', 2 ** 53, 'stats.chunks'],
  ];
  for (const [path, value, field] of cases) rejects(t, () => parseManifest(withField(validManifest, path, value), 'x'), 'LB_REPO_INVALID', field, `${path}`);
});

test('parseManifest refuses bad partitions, volumes and contents', (t) => {
  const table = validManifest.table as Json;
  const partitions = table.partitions as Json[];
  const volumes = validManifest.volumes as Json[];
  const withPartition = (field: string, value: unknown): Json => withField(validManifest, 'table.partitions', [withField(partitions[0] as Json, field, value)]);
  const withVolume = (field: string, value: unknown): Json => withField(validManifest, 'volumes', [withField(volumes[0] as Json, field, value)]);
  const cases: Array<[string, Json, string]> = [
    ['partition number past 256', withPartition('number', 257), 'partition.number'],
    ['negative start', withPartition('startLba', -1), 'partition.startLba'],
    ['fractional sectors', withPartition('sectors', 0.5), 'partition.sectors'],
    ['unknown partition kind', withPartition('kind', 'hidden'), 'partition.kind'],
    ['long partition name', withPartition('name', 'n'.repeat(257)), 'partition.name'],
    ['numeric attributes', withPartition('attributes', 1), 'partition.attributes'],
    ['volume partition past 256', withVolume('partition', 300), 'volume.partition'],
    ['negative volume offset', withVolume('offset', -512), 'volume.offset'],
    ['filesystem not an object', withVolume('filesystem', 'ext4'), 'volume.filesystem'],
    ['unknown method', withVolume('method', 'file-by-file'), 'volume.method'],
    ['used past size', withVolume('content', content(MiB, MiB + 1)), 'volume.content.usedBytes'],
    ['negative size', withVolume('content', content(-1, 0)), 'volume.content.sizeBytes'],
    ['bad tree id', withVolume('content', { ...content(MiB, 0), chunkLists: ['xyz'] }), 'volume.content.chunkLists'],
    ['uppercase tree id', withVolume('content', { ...content(MiB, 0), extentLists: ['CD'.repeat(32)] }), 'volume.content.extentLists'],
    ['missing content', withVolume('content', undefined), 'volume.content'],
    ['region without name', withField(validManifest, 'regions', [{ offset: 0, content: content(1, 1) }]), 'region.name'],
    ['region with negative offset', withField(validManifest, 'regions', [{ name: 'head', offset: -1, content: content(1, 1) }]), 'region.offset'],
  ];
  for (const [name, manifest, field] of cases) rejects(t, () => parseManifest(manifest, 'x'), 'LB_REPO_INVALID', field, name);
});

test('manifestTreeIds lists every region and volume tree blob', (t) => {
  const ids = manifestTreeIds(parseManifest(structuredClone(validManifest), 'x'));
  t.deepEqual([...ids].sort(), [1, 2, 3, 4, 5].flatMap((n) => [hexId(n), hexId(n + 1000)]).sort());
});

// ---------------------------------------------------------------------------------------------
// Tree blobs

function refs(indexes: readonly number[]): ChunkRef[] {
  return indexes.map((index) => ({ index, id: hexId(index * 7 + 1) }));
}

/** A copy of a blob with one u32 / u64 field rewritten. */
function patched(bytes: Uint8Array, at: number, value: bigint, width: 4 | 8): Buffer {
  const copy = Buffer.from(bytes);
  if (width === 4) copy.writeUInt32LE(Number(value), at);
  else copy.writeBigUInt64LE(value, at);
  return copy;
}

test('a chunk list round-trips, including an empty one and the largest index', (t) => {
  const list = refs([0, 1, 5, 999]);
  t.deepEqual(decodeChunkList(encodeChunkList(list), 1000), list);
  t.deepEqual(decodeChunkList(encodeChunkList([]), 0), []);
  const big = [{ index: 2 ** 40, id: hexId(9) }];
  t.deepEqual(decodeChunkList(encodeChunkList(big), 2 ** 40 + 1), big);
});

test('an extent list round-trips; touching extents are allowed', (t) => {
  const extents = [
    { offset: 0, length: 4096 },
    { offset: 4096, length: 512 },
    { offset: 10 * MiB, length: MiB },
  ];
  t.deepEqual(decodeExtentList(encodeExtentList(extents), 11 * MiB), extents);
  t.deepEqual(decodeExtentList(encodeExtentList([]), 0), []);
});

test('chunk lists split at TREE_ENTRIES_PER_BLOB and decode blob after blob', (t) => {
  const total = TREE_ENTRIES_PER_BLOB * 2 + 1;
  const all = refs(Array.from({ length: total }, (_, i) => i * 2));
  const groups = splitForTrees(all);
  t.deepEqual(groups.map((group) => group.length), [TREE_ENTRIES_PER_BLOB, TREE_ENTRIES_PER_BLOB, 1]);
  t.deepEqual(splitForTrees(all.slice(0, TREE_ENTRIES_PER_BLOB)).length, 1);
  t.deepEqual(splitForTrees([]), []);
  const chunkCount = total * 2;
  const decoded: ChunkRef[] = [];
  for (const group of groups) decoded.push(...decodeChunkList(encodeChunkList(group), chunkCount, decoded.at(-1)?.index ?? -1));
  t.deepEqual(decoded, all);
  // Decoding the second blob as if it came first is fine; as if it followed itself is not.
  const second = encodeChunkList(groups[1] ?? []);
  const lastOfSecond = groups[1]?.at(-1)?.index ?? 0;
  rejects(t, () => decodeChunkList(second, chunkCount, lastOfSecond), 'LB_REPO_INVALID');
});

test('extent lists split at TREE_ENTRIES_PER_BLOB and decode blob after blob', (t) => {
  const all = Array.from({ length: TREE_ENTRIES_PER_BLOB + 3 }, (_, i) => ({ offset: i * 8192, length: 4096 }));
  const groups = splitForTrees(all);
  t.deepEqual(groups.map((group) => group.length), [TREE_ENTRIES_PER_BLOB, 3]);
  const sizeBytes = all.length * 8192;
  const decoded: Array<{ offset: number; length: number }> = [];
  for (const group of groups) {
    const last = decoded.at(-1);
    decoded.push(...decodeExtentList(encodeExtentList(group), sizeBytes, last ? last.offset + last.length : 0));
  }
  t.deepEqual(decoded, all);
  const second = encodeExtentList(groups[1] ?? []);
  rejects(t, () => decodeExtentList(second, sizeBytes, sizeBytes), 'LB_REPO_INVALID');
});

test('a tree blob holding more than TREE_ENTRIES_PER_BLOB entries is refused', (t) => {
  const tooMany = refs(Array.from({ length: TREE_ENTRIES_PER_BLOB + 1 }, (_, i) => i));
  rejects(t, () => decodeChunkList(encodeChunkList(tooMany), tooMany.length), 'LB_REPO_INVALID');
  const extents = Array.from({ length: TREE_ENTRIES_PER_BLOB + 1 }, (_, i) => ({ offset: i * 2, length: 1 }));
  rejects(t, () => decodeExtentList(encodeExtentList(extents), extents.length * 2), 'LB_REPO_INVALID');
});

test('chunk lists out of order, duplicated or past the volume are refused', (t) => {
  rejects(t, () => decodeChunkList(encodeChunkList(refs([3, 2])), 10), 'LB_REPO_INVALID', undefined, 'descending');
  rejects(t, () => decodeChunkList(encodeChunkList(refs([3, 3])), 10), 'LB_REPO_INVALID', undefined, 'duplicate');
  rejects(t, () => decodeChunkList(encodeChunkList(refs([9, 10])), 10), 'LB_REPO_INVALID', undefined, 'index == chunkCount');
  rejects(t, () => decodeChunkList(encodeChunkList(refs([0])), 0), 'LB_REPO_INVALID', undefined, 'empty volume');
  rejects(t, () => decodeChunkList(encodeChunkList(refs([5, 6])), 10, 5), 'LB_REPO_INVALID', undefined, 'not after the previous blob');
  t.deepEqual(decodeChunkList(encodeChunkList(refs([5, 6])), 10, 4), refs([5, 6]));
  // An index beyond 2^53 cannot be a real chunk.
  rejects(t, () => decodeChunkList(patched(encodeChunkList(refs([1])), 12, 2n ** 63n, 8), Number.MAX_SAFE_INTEGER), 'LB_REPO_INVALID', undefined, 'huge index');
});

test('extent lists overlapping, empty or past the volume are refused', (t) => {
  const cases: Array<[string, Array<{ offset: number; length: number }>, number, number]> = [
    ['overlap', [{ offset: 0, length: 100 }, { offset: 99, length: 10 }], 1000, 0],
    ['descending', [{ offset: 500, length: 10 }, { offset: 100, length: 10 }], 1000, 0],
    ['zero length', [{ offset: 0, length: 0 }], 1000, 0],
    ['past the end', [{ offset: 990, length: 11 }], 1000, 0],
    ['before the previous blob end', [{ offset: 100, length: 10 }], 1000, 101],
  ];
  for (const [name, extents, size, previousEnd] of cases) rejects(t, () => decodeExtentList(encodeExtentList(extents), size, previousEnd), 'LB_REPO_INVALID', undefined, name);
  t.deepEqual(decodeExtentList(encodeExtentList([{ offset: 990, length: 10 }]), 1000, 990), [{ offset: 990, length: 10 }]);
});

test('truncated, padded, wrong-magic and wrong-version tree blobs are refused', (t) => {
  const chunkList = encodeChunkList(refs([1, 2, 3]));
  const extentList = encodeExtentList([{ offset: 0, length: 10 }]);
  const chunkCases: Array<[string, Uint8Array]> = [
    ['truncated by one byte', chunkList.subarray(0, chunkList.length - 1)],
    ['truncated to the header', chunkList.subarray(0, 12)],
    ['shorter than a header', chunkList.subarray(0, 11)],
    ['empty', new Uint8Array(0)],
    ['one byte too many', Buffer.concat([chunkList, Buffer.alloc(1)])],
    ['count too high', patched(chunkList, 8, 4n, 4)],
    ['count too low', patched(chunkList, 8, 2n, 4)],
    ['version 2', patched(chunkList, 4, 2n, 4)],
    ['an extent list', extentList],
  ];
  for (const [name, bytes] of chunkCases) rejects(t, () => decodeChunkList(bytes, 100), 'LB_REPO_INVALID', undefined, `chunk list: ${name}`);
  const extentCases: Array<[string, Uint8Array]> = [
    ['truncated by one byte', extentList.subarray(0, extentList.length - 1)],
    ['one byte too many', Buffer.concat([extentList, Buffer.alloc(1)])],
    ['version 0', patched(extentList, 4, 0n, 4)],
    ['a chunk list', chunkList],
    ['lower-case magic', Buffer.concat([Buffer.from('lbex'), Buffer.from(extentList).subarray(4)])],
  ];
  for (const [name, bytes] of extentCases) rejects(t, () => decodeExtentList(bytes, 100), 'LB_REPO_INVALID', undefined, `extent list: ${name}`);
});

test('tree blobs decode from a view into a larger buffer', (t) => {
  const list = refs([4, 8]);
  const encoded = encodeChunkList(list);
  const backing = new Uint8Array(encoded.length + 7).fill(0xee);
  backing.set(encoded, 3);
  t.deepEqual(decodeChunkList(backing.subarray(3, 3 + encoded.length), 10), list);
});
