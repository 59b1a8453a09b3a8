// The repository's pure planning: cutting used extents into fixed chunks, which snapshots a
// retention policy keeps, which snapshot a SNAPSHOT[:N] argument names, and the restore plan
// (sizes, sector sizes, GPT re-encoding, --grow) made before anything is written.

import test, { type ExecutionContext } from 'ava';
import { LifeboatError, type ErrorCode } from '../../rescue/core/errors.ts';
import { chunkCount, isAllZero, planChunks, zeroUnused, type ChunkSpan } from '../../rescue/core/repository/chunk-plan.ts';
import type { ByteExtent, SnapshotManifest, SnapshotPartition, SnapshotRegion, SnapshotVolume, VolumeContent } from '../../rescue/core/repository/format.ts';
import { describePlan, planRestore, type RestorePlan, type RestoreStep, type RestoreTargetFacts } from '../../rescue/core/repository/restore-plan.ts';
import { planDiskLayout } from '../../rescue/core/repository/restore-layout-plan.ts';
import { applyRetention, isEmptyPolicy, type RetentionCandidate, type RetentionDecision } from '../../rescue/core/repository/retention.ts';
import { parseSnapshotSpec, selectSnapshot, type SelectableSnapshot } from '../../rescue/core/repository/select-snapshot.ts';

const MiB = 1024 * 1024;

function rejects(t: ExecutionContext, fn: () => unknown, code: ErrorCode, message?: string): LifeboatError | undefined {
  const error = t.throws(fn, { instanceOf: LifeboatError }, message);
  t.is(error?.code, code, message);
  return error;
}

// ---------------------------------------------------------------------------------------------
// Chunk planning

async function plan(extents: Iterable<ByteExtent> | AsyncIterable<ByteExtent>, sizeBytes: number, chunkBytes: number): Promise<ChunkSpan[]> {
  const spans: ChunkSpan[] = [];
  for await (const span of planChunks(extents, sizeBytes, chunkBytes)) spans.push(span);
  return spans;
}

const extent = (offset: number, length: number): ByteExtent => ({ offset, length });

test('chunkCount rounds up', (t) => {
  t.is(chunkCount(0, 100), 0);
  t.is(chunkCount(100, 100), 1);
  t.is(chunkCount(101, 100), 2);
  t.is(chunkCount(950, 100), 10);
});

test('planChunks cuts an extent spanning chunk boundaries at the fixed offsets', async (t) => {
  t.deepEqual(await plan([extent(50, 200)], 1000, 100), [
    { index: 0, start: 0, length: 100, used: [extent(50, 50)] },
    { index: 1, start: 100, length: 100, used: [extent(100, 100)] },
    { index: 2, start: 200, length: 100, used: [extent(200, 50)] },
  ]);
});

test('planChunks gathers several extents in one chunk and merges touching ones', async (t) => {
  t.deepEqual(await plan([extent(10, 10), extent(30, 10), extent(40, 5), extent(90, 20), extent(500, 1)], 1000, 100), [
    { index: 0, start: 0, length: 100, used: [extent(10, 10), extent(30, 15), extent(90, 10)] },
    { index: 1, start: 100, length: 100, used: [extent(100, 10)] },
    { index: 5, start: 500, length: 100, used: [extent(500, 1)] },
  ]);
});

test('planChunks gives the last chunk its partial length and clips extents to the volume', async (t) => {
  t.deepEqual(await plan([extent(880, 500)], 950, 100), [
    { index: 8, start: 800, length: 100, used: [extent(880, 20)] },
    { index: 9, start: 900, length: 50, used: [extent(900, 50)] },
  ]);
  t.deepEqual(await plan([extent(2000, 10)], 950, 100), []);
});

test('planChunks yields nothing for an empty list and takes async iterables', async (t) => {
  t.deepEqual(await plan([], 1000, 100), []);
  async function* extents(): AsyncIterable<ByteExtent> {
    yield extent(0, 150);
    yield extent(180, 10);
  }
  t.deepEqual(await plan(extents(), 1000, 100), [
    { index: 0, start: 0, length: 100, used: [extent(0, 100)] },
    { index: 1, start: 100, length: 100, used: [extent(100, 50), extent(180, 10)] },
  ]);
});

test('zeroUnused clears exactly the bytes no used extent covers', (t) => {
  const buffer = new Uint8Array(100).fill(0xff);
  zeroUnused(buffer, 200, [extent(210, 10), extent(250, 50)]);
  const expected = new Uint8Array(100);
  expected.fill(0xff, 10, 20);
  expected.fill(0xff, 50, 100);
  t.deepEqual(buffer, expected);

  const full = new Uint8Array(50).fill(7);
  zeroUnused(full, 900, [extent(900, 50)]);
  t.deepEqual(full, new Uint8Array(50).fill(7));

  const unused = new Uint8Array(20).fill(9);
  zeroUnused(unused, 0, []);
  t.deepEqual(unused, new Uint8Array(20));

  const tail = new Uint8Array(10).fill(1);
  zeroUnused(tail, 10, [extent(10, 3)]);
  t.deepEqual([...tail], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
});

test('isAllZero on whole buffers, growing sizes and unaligned views', (t) => {
  t.true(isAllZero(new Uint8Array(0)));
  t.true(isAllZero(new Uint8Array(16)));
  t.true(isAllZero(new Uint8Array(MiB)));
  const last = new Uint8Array(MiB);
  last[MiB - 1] = 1;
  t.false(isAllZero(last));
  const first = new Uint8Array(64);
  first[0] = 0x80;
  t.false(isAllZero(first));
  // A view at an odd offset whose neighbours are non-zero.
  const backing = new Uint8Array(4099).fill(0xaa);
  backing.fill(0, 3, 4098);
  t.true(isAllZero(backing.subarray(3, 4098)));
  t.false(isAllZero(backing.subarray(2, 4098)));
  t.false(isAllZero(backing.subarray(3, 4099)));
  backing[2000] = 5;
  t.false(isAllZero(backing.subarray(3, 4098)));
  t.true(isAllZero(Buffer.alloc(33)));
});

// ---------------------------------------------------------------------------------------------
// Retention

function snapshot(id: string, time: string, group = 'disk sda'): RetentionCandidate {
  return { id, time, group };
}

/** One snapshot a day at noon, newest last, ids s00, s01, ... */
function daily(first: string, days: number, group = 'disk sda', prefix = 's'): RetentionCandidate[] {
  const start = Date.parse(`${first}T12:00:00Z`);
  return Array.from({ length: days }, (_, day) => snapshot(`${prefix}${String(day).padStart(2, '0')}`, new Date(start + day * 86_400_000).toISOString(), group));
}

function kept(decisions: readonly RetentionDecision[]): string[] {
  return decisions.filter((decision) => decision.keep).map((decision) => decision.id);
}

function reasonsOf(decisions: readonly RetentionDecision[]): Record<string, readonly string[]> {
  return Object.fromEntries(decisions.filter((decision) => decision.keep).map((decision) => [decision.id, decision.reasons]));
}

test('keep-last keeps the newest N and lists every snapshot once, newest first', (t) => {
  const snapshots = daily('2025-03-01', 10);
  const decisions = applyRetention([...snapshots].reverse(), { keepLast: 3 });
  t.deepEqual(decisions.map((decision) => decision.id), snapshots.map((s) => s.id).reverse());
  t.deepEqual(kept(decisions), ['s09', 's08', 's07']);
  t.deepEqual(reasonsOf(decisions), { s09: ['last'], s08: ['last'], s07: ['last'] });
  for (const decision of decisions.filter((d) => !d.keep)) t.deepEqual(decision.reasons, []);
  t.deepEqual(kept(applyRetention(snapshots, { keepLast: 50 })).length, 10);
});

test('keep-daily keeps the newest snapshot of each of the newest N days that have one', (t) => {
  const snapshots = [
    snapshot('a', '2025-03-01T08:00:00Z'),
    snapshot('b', '2025-03-01T20:00:00Z'),
    snapshot('c', '2025-03-03T01:00:00Z'),
    snapshot('d', '2025-03-03T23:59:59Z'),
    snapshot('e', '2025-03-05T00:00:00Z'),
  ];
  const decisions = applyRetention(snapshots, { keepDaily: 3 });
  t.deepEqual(reasonsOf(decisions), { e: ['daily 2025-03-05'], d: ['daily 2025-03-03'], b: ['daily 2025-03-01'] });
  t.deepEqual(kept(applyRetention(snapshots, { keepDaily: 1 })), ['e']);
});

test('keep-weekly uses ISO weeks across a year boundary', (t) => {
  const snapshots = [
    snapshot('sat-2024-12-28', '2024-12-28T12:00:00Z'),
    snapshot('mon-2024-12-30', '2024-12-30T12:00:00Z'),
    snapshot('thu-2025-01-02', '2025-01-02T12:00:00Z'),
    snapshot('sun-2025-01-05', '2025-01-05T12:00:00Z'),
    snapshot('mon-2025-01-06', '2025-01-06T12:00:00Z'),
  ];
  t.deepEqual(reasonsOf(applyRetention(snapshots, { keepWeekly: 3 })), {
    'mon-2025-01-06': ['weekly 2025-W02'],
    'sun-2025-01-05': ['weekly 2025-W01'],
    'sat-2024-12-28': ['weekly 2024-W52'],
  });
  // 2020 has 53 ISO weeks: 31 Dec 2020 and 3 Jan 2021 share week 53 of 2020.
  const week53 = [snapshot('thu-2020-12-31', '2020-12-31T12:00:00Z'), snapshot('sun-2021-01-03', '2021-01-03T12:00:00Z'), snapshot('mon-2021-01-04', '2021-01-04T12:00:00Z')];
  t.deepEqual(reasonsOf(applyRetention(week53, { keepWeekly: 5 })), { 'mon-2021-01-04': ['weekly 2021-W01'], 'sun-2021-01-03': ['weekly 2020-W53'] });
});

test('keep-monthly keeps the newest snapshot of each month', (t) => {
  const snapshots = daily('2024-11-20', 60);
  const decisions = applyRetention(snapshots, { keepMonthly: 2 });
  const newestOf = (month: string): string => snapshots.filter((s) => s.time.startsWith(month)).at(-1)?.id ?? '';
  t.deepEqual(reasonsOf(decisions), { [newestOf('2025-01')]: ['monthly 2025-01'], [newestOf('2024-12')]: ['monthly 2024-12'] });
  t.deepEqual(kept(applyRetention(snapshots, { keepMonthly: 12 })).length, 3);
});

test('a snapshot kept by several rules lists each reason', (t) => {
  const snapshots = daily('2025-02-20', 15);
  const decisions = applyRetention(snapshots, { keepLast: 2, keepDaily: 1, keepWeekly: 2, keepMonthly: 2 });
  // s14 is 2025-03-06 (a Thursday, ISO week 10); s11 is Monday 2025-03-03 (week 10 too);
  // s10 is Sunday 2025-03-02 (week 9) and s08 is 2025-02-28 (the newest of February).
  t.deepEqual(reasonsOf(decisions), {
    s14: ['last', 'daily 2025-03-06', 'weekly 2025-W10', 'monthly 2025-03'],
    s13: ['last'],
    s10: ['weekly 2025-W09'],
    s08: ['monthly 2025-02'],
  });
});

test('groups are kept apart', (t) => {
  const sda = daily('2025-03-01', 3, 'disk sda', 'a');
  const sdb = daily('2025-02-01', 3, 'disk sdb', 'b');
  const decisions = applyRetention([...sda, ...sdb], { keepLast: 1, keepMonthly: 1 });
  t.deepEqual(reasonsOf(decisions), { a02: ['last', 'monthly 2025-03'], b02: ['last', 'monthly 2025-02'] });
  t.is(decisions.length, 6);
});

test('an empty policy keeps nothing and is recognised as empty', (t) => {
  const snapshots = daily('2025-03-01', 4);
  for (const policy of [{}, { keepLast: 0 }, { keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }]) {
    t.true(isEmptyPolicy(policy));
    const decisions = applyRetention(snapshots, policy);
    t.is(decisions.length, 4);
    t.deepEqual(kept(decisions), []);
  }
  t.false(isEmptyPolicy({ keepWeekly: 1 }));
  t.deepEqual(applyRetention([], { keepLast: 3 }), []);
});

// ---------------------------------------------------------------------------------------------
// Snapshot selection

function selectable(id: string, time: string, tags: string[] = []): SelectableSnapshot {
  return { id, manifest: { time, tags } };
}

const choices = [
  selectable('aa11ff', '2025-03-01T10:00:00Z', ['weekly']),
  selectable('aa22ff', '2025-03-03T10:00:00Z'),
  selectable('bb33ff', '2025-03-02T10:00:00Z', ['weekly', 'laptop']),
];

test('parseSnapshotSpec splits an id prefix or latest from an optional partition', (t) => {
  t.deepEqual(parseSnapshotSpec('latest'), { snapshot: 'latest', partition: undefined });
  t.deepEqual(parseSnapshotSpec('latest:2'), { snapshot: 'latest', partition: 2 });
  t.deepEqual(parseSnapshotSpec('AbC123'), { snapshot: 'abc123', partition: undefined });
  t.deepEqual(parseSnapshotSpec(' abc:128 '), { snapshot: 'abc', partition: 128 });
  for (const bad of ['', ':1', 'abc:', 'abc:1:2', 'xyz', 'abc:1234', 'abc:-1', 'latest:x', 'Latest']) {
    rejects(t, () => parseSnapshotSpec(bad), 'LB_INPUT_USAGE', JSON.stringify(bad));
  }
});

test('selectSnapshot: latest is the newest, among tagged ones when a tag is given', (t) => {
  t.is(selectSnapshot(choices, 'latest').id, 'aa22ff');
  t.is(selectSnapshot(choices, 'latest', 'weekly').id, 'bb33ff');
  t.is(selectSnapshot(choices, 'latest', 'laptop').id, 'bb33ff');
  rejects(t, () => selectSnapshot(choices, 'latest', 'daily'), 'LB_REPO_SNAPSHOT_NOT_FOUND');
  rejects(t, () => selectSnapshot([], 'latest'), 'LB_REPO_SNAPSHOT_NOT_FOUND');
});

test('selectSnapshot: an id prefix must match exactly one snapshot', (t) => {
  t.is(selectSnapshot(choices, 'aa1').id, 'aa11ff');
  t.is(selectSnapshot(choices, 'b').id, 'bb33ff');
  t.is(selectSnapshot(choices, 'aa22ff').id, 'aa22ff');
  const ambiguous = rejects(t, () => selectSnapshot(choices, 'aa'), 'LB_REPO_SNAPSHOT_NOT_FOUND');
  t.is(ambiguous?.details.matches, 2);
  rejects(t, () => selectSnapshot(choices, 'cc'), 'LB_REPO_SNAPSHOT_NOT_FOUND');
  // The tag narrows prefixes too: 'aa' is unique among the weekly snapshots.
  t.is(selectSnapshot(choices, 'aa', 'weekly').id, 'aa11ff');
  rejects(t, () => selectSnapshot(choices, 'aa2', 'weekly'), 'LB_REPO_SNAPSHOT_NOT_FOUND');
});

// ---------------------------------------------------------------------------------------------
// Restore plans

const SECTOR = 512;
const DISK_SECTORS = 131072; // 64 MiB
const GPT_TAIL = 33; // 128 entries of 128 bytes + the header, in 512-byte sectors

function content(sizeBytes: number, usedBytes = sizeBytes): VolumeContent {
  return { sizeBytes, usedBytes, chunkLists: [], extentLists: [] };
}

function partition(number: number, startLba: number, sectors: number, kind: SnapshotPartition['kind'], type: string): SnapshotPartition {
  return { number, startLba, sectors, type, kind, bootable: false };
}

function volumeOf(part: SnapshotPartition, fs: string | undefined, usedBytes: number): SnapshotVolume {
  return {
    partition: part.number,
    offset: part.startLba * SECTOR,
    filesystem: fs === undefined ? undefined : { type: fs, label: fs === 'vfat' ? 'EFI' : '', uuid: 'u' },
    method: fs === undefined ? 'sector-by-sector' : 'used-blocks',
    notice: undefined,
    content: content(part.sectors * SECTOR, usedBytes),
  };
}

const source = { path: '/dev/sda', model: 'disk', serial: 's', sizeBytes: DISK_SECTORS * SECTOR, logicalSectorSize: SECTOR, physicalSectorSize: 4096, transport: 'sata' };
const stats = { logicalBytes: 0, readBytes: 0, newBytes: 0, chunks: 0, newChunks: 0, durationMs: 0 };

function manifest(fields: Pick<SnapshotManifest, 'kind' | 'table' | 'regions' | 'volumes'>): SnapshotManifest {
  return { version: 1, time: '2025-03-01T10:00:00Z', host: 'h', lifeboatVersion: '0.1.0', tags: [], note: '', chunkBytes: MiB, source, stats, ...fields };
}

/** A 64 MiB GPT disk: EFI (10 MiB, 2048..22527) and ext4 (20 MiB, 22528..63487). */
function gptDisk(): SnapshotManifest {
  const partitions = [partition(1, 2048, 20480, 'gpt', 'esp'), partition(2, 22528, 40960, 'gpt', 'linux')];
  const regions: SnapshotRegion[] = [
    { name: 'head', offset: 0, content: content(2048 * SECTOR) },
    { name: 'gpt-backup', offset: (DISK_SECTORS - GPT_TAIL) * SECTOR, content: content(GPT_TAIL * SECTOR) },
  ];
  return manifest({
    kind: 'disk',
    table: { kind: 'gpt', sectorSize: SECTOR, diskSectors: DISK_SECTORS, id: 'guid', firstUsableLba: 34, lastUsableLba: DISK_SECTORS - 34, gptEntryCount: 128, partitions },
    regions,
    volumes: [volumeOf(partitions[0] as SnapshotPartition, 'vfat', 5 * MiB), volumeOf(partitions[1] as SnapshotPartition, 'ext4', 8 * MiB)],
  });
}

/** A 64 MiB MBR disk: FAT32 (2048..22527) and ext4 (22528..63487). */
function mbrDisk(last: SnapshotPartition['kind'] = 'primary'): SnapshotManifest {
  const partitions = [partition(1, 2048, 20480, 'primary', '0c'), partition(last === 'logical' ? 5 : 2, 22528, 40960, last, '83')];
  const extended = last === 'logical' ? [partition(2, 22526, 40962, 'extended', '05')] : [];
  return manifest({
    kind: 'disk',
    table: { kind: 'mbr', sectorSize: SECTOR, diskSectors: DISK_SECTORS, id: '0x12345678', partitions: [...partitions, ...extended] },
    regions: [{ name: 'head', offset: 0, content: content(2048 * SECTOR) }],
    volumes: partitions.map((part, index) => volumeOf(part, index === 0 ? 'vfat' : 'ext4', MiB)),
  });
}

/** A snapshot of one 10 MiB partition. */
function partitionSnapshot(): SnapshotManifest {
  return manifest({
    kind: 'partition',
    table: undefined,
    regions: [],
    volumes: [{ partition: undefined, offset: 0, filesystem: { type: 'ext4', label: 'data', uuid: 'u' }, method: 'used-blocks', notice: undefined, content: content(10 * MiB, 2 * MiB) }],
  });
}

function target(sizeBytes: number, logicalSectorSize = SECTOR): RestoreTargetFacts {
  return { path: '/tmp/target.img', sizeBytes, logicalSectorSize, fresh: true, description: 'target.img' };
}

/** Steps reduced to what identifies them. */
function shape(restore: RestorePlan): string[] {
  return restore.steps.map((step: RestoreStep) => {
    switch (step.kind) {
      case 'volume':
        return `volume ${step.volume} @${step.offset} ${step.sizeBytes}`;
      case 'region':
        return `region ${step.region} @${step.offset} ${step.sizeBytes}`;
      case 'gpt':
        return `gpt ${step.diskSectors}`;
      case 'mbr-entry':
        return `mbr-entry ${step.partition.number} ${step.partition.startLba}+${step.partition.sectors}`;
      case 'mbr-table':
        return `mbr-table ${step.keep.join(',')}`;
      case 'mbr-merge':
        return `mbr-merge ${step.partitions.map((partition) => partition.number).join(',')}`;
      case 'hidden-sectors':
        return `hidden-sectors ${step.filesystem} @${step.offset} ${step.startLba}`;
      case 'mbr-layout':
        return `mbr-layout ${step.layout.partitions.map((partition) => `${partition.number}@${partition.startLba}+${partition.sectors}`).join(',')}`;
      case 'grow-filesystem':
        return `grow ${step.filesystem} p${step.partition} @${step.offset} ${step.sizeBytes}`;
      case 'zero':
        return `zero ${step.runs.map((run) => `@${run.offset} ${run.length}`).join(', ')}`;
      case 'shrink-volume':
        return `shrink ${step.filesystem} p${step.partition} @${step.offset} ${step.fromBytes}->${step.sizeBytes}`;
      case 'swap':
        return `swap p${step.partition} @${step.offset} ${step.sizeBytes}`;
    }
  });
}

const P1 = `@${2048 * SECTOR} ${20480 * SECTOR}`;
const P2 = `@${22528 * SECTOR} ${40960 * SECTOR}`;
const GPT_REQUIRED = (63488 + GPT_TAIL) * SECTOR;

test('a partition snapshot onto a smaller target is refused', (t) => {
  const error = rejects(t, () => planRestore(partitionSnapshot(), target(10 * MiB - 1), {}), 'LB_DEVICE_TARGET_TOO_SMALL');
  t.is(error?.details.requiredBytes, 10 * MiB);
  t.is(error?.details.targetBytes, 10 * MiB - 1);
  t.regex(error?.message ?? '', /holds 10\.0 MiB \(10485759 bytes\); the partition needs 10\.0 MiB \(10485760 bytes\)/, 'sizes for people, exact beside them');
});

test('a partition snapshot onto an equal or larger target writes the one volume', (t) => {
  const exact = planRestore(partitionSnapshot(), target(10 * MiB), {});
  t.is(exact.kind, 'partition');
  t.is(exact.requiredBytes, 10 * MiB);
  t.deepEqual(shape(exact), [`volume 0 @0 ${10 * MiB}`]);
  t.deepEqual(exact.notes, []);
  const larger = planRestore(partitionSnapshot(), target(12 * MiB), {});
  t.deepEqual(shape(larger), [`volume 0 @0 ${10 * MiB}`]);
  t.is(larger.notes.length, 1);
  t.regex(larger.notes[0] ?? '', /2\.00 MiB larger/);
  rejects(t, () => planRestore(partitionSnapshot(), target(12 * MiB), { grow: true }), 'LB_INPUT_USAGE');
});

test('SNAPSHOT:N restores one partition of a disk snapshot; a missing N is refused', (t) => {
  const second = planRestore(gptDisk(), target(20 * MiB), { partition: 2 });
  t.is(second.kind, 'partition');
  t.deepEqual(shape(second), [`volume 1 @0 ${20 * MiB}`]);
  rejects(t, () => planRestore(gptDisk(), target(10 * MiB), { partition: 2 }), 'LB_DEVICE_TARGET_TOO_SMALL');
  const missing = rejects(t, () => planRestore(gptDisk(), target(64 * MiB), { partition: 3 }), 'LB_REPO_SNAPSHOT_NOT_FOUND');
  t.regex(missing?.message ?? '', /holds 1, 2/);
  rejects(t, () => planRestore(partitionSnapshot(), target(64 * MiB), { partition: 1 }), 'LB_REPO_SNAPSHOT_NOT_FOUND');
});

test('a disk snapshot onto a same-size target writes volumes and every region, with no new GPT', (t) => {
  const restore = planRestore(gptDisk(), target(DISK_SECTORS * SECTOR), {});
  t.is(restore.kind, 'disk');
  t.is(restore.requiredBytes, DISK_SECTORS * SECTOR);
  t.deepEqual(shape(restore), [`volume 0 ${P1}`, `volume 1 ${P2}`, `region 0 @0 ${MiB}`, `region 1 @${(DISK_SECTORS - GPT_TAIL) * SECTOR} ${GPT_TAIL * SECTOR}`]);
  t.deepEqual(restore.notes, []);
});

/** A target that is not a new file: it holds data, so the space outside the partitions is zeroed. */
function usedTarget(sizeBytes: number): RestoreTargetFacts {
  return { ...target(sizeBytes), fresh: false };
}

test('onto a target that holds data, the space outside the partitions and regions is zeroed, before any table step', (t) => {
  const end = (DISK_SECTORS - GPT_TAIL) * SECTOR;
  const same = planRestore(gptDisk(), usedTarget(DISK_SECTORS * SECTOR), {});
  t.deepEqual(shape(same), [`volume 0 ${P1}`, `volume 1 ${P2}`, `region 0 @0 ${MiB}`, `region 1 @${end} ${GPT_TAIL * SECTOR}`, `zero @${63488 * SECTOR} ${end - 63488 * SECTOR}`]);
  t.regex(same.steps.at(-1)?.label ?? '', /^zeros where the disk has no partition \(1 gap, 33\.0 MiB\), so the target's old contents do not stay there$/);
  // Onto a larger disk the old backup GPT's place is zeroed too (up to the source's end), before the new GPT.
  const larger = planRestore(gptDisk(), usedTarget(128 * MiB), {});
  t.deepEqual(shape(larger), [`volume 0 ${P1}`, `volume 1 ${P2}`, `region 0 @0 ${MiB}`, `zero @${63488 * SECTOR} ${(DISK_SECTORS - 63488) * SECTOR}`, 'gpt 262144']);
  // A gap between partitions, and inside an extended partition around its EBR.
  const mbr = mbrDisk('primary');
  const gapped = { ...mbr, volumes: mbr.volumes.slice(0, 1), table: mbr.table && { ...mbr.table, partitions: mbr.table.partitions.slice(0, 1) } };
  t.deepEqual(shape(planRestore(gapped, usedTarget(DISK_SECTORS * SECTOR), {})).at(-1), `zero @${22528 * SECTOR} ${(DISK_SECTORS - 22528) * SECTOR}`);
  // A new image file reads as zeros: no zero step.
  t.false(planRestore(gptDisk(), target(DISK_SECTORS * SECTOR), {}).steps.some((step) => step.kind === 'zero'));
});

test('a disk snapshot onto a larger target gets a GPT for the new size instead of the old backup GPT', (t) => {
  const restore = planRestore(gptDisk(), target(128 * MiB), {});
  t.is(restore.requiredBytes, GPT_REQUIRED);
  t.deepEqual(shape(restore), [`volume 0 ${P1}`, `volume 1 ${P2}`, `region 0 @0 ${MiB}`, 'gpt 262144']);
  const gpt = restore.steps.find((step) => step.kind === 'gpt');
  t.deepEqual(gpt?.kind === 'gpt' ? gpt.partitions : undefined, gptDisk().table?.partitions);
  t.is(restore.notes.length, 1);
  t.regex(restore.notes[0] ?? '', /64\.0 MiB larger.*--grow/);
});

test('a disk snapshot onto a smaller target fits down to its last partition plus the GPT tail', (t) => {
  const smallest = planRestore(gptDisk(), target(GPT_REQUIRED), {});
  t.deepEqual(shape(smallest).at(-1), `gpt ${63488 + GPT_TAIL}`);
  t.false(shape(smallest).some((line) => line.startsWith('region 1')));
  const error = rejects(t, () => planRestore(gptDisk(), target(GPT_REQUIRED - SECTOR), {}), 'LB_DEVICE_TARGET_TOO_SMALL');
  t.is(error?.details.requiredBytes, GPT_REQUIRED);
  // MBR has no tail: the end of the last partition is enough.
  t.is(planRestore(mbrDisk(), target(63488 * SECTOR), {}).requiredBytes, 63488 * SECTOR);
  rejects(t, () => planRestore(mbrDisk(), target(63488 * SECTOR - 1), {}), 'LB_DEVICE_TARGET_TOO_SMALL');
});

test('--grow on GPT enlarges the last partition to the end and grows its filesystem last', (t) => {
  const restore = planRestore(gptDisk(), target(128 * MiB), { grow: true });
  const grownSectors = 262144 - GPT_TAIL - 22528;
  t.deepEqual(shape(restore), [`volume 0 ${P1}`, `volume 1 ${P2}`, `region 0 @0 ${MiB}`, 'gpt 262144', `grow ext4 p2 @${22528 * SECTOR} ${grownSectors * SECTOR}`]);
  const gpt = restore.steps.find((step) => step.kind === 'gpt');
  const partitions = gpt?.kind === 'gpt' ? gpt.partitions : [];
  t.deepEqual(partitions[0], gptDisk().table?.partitions[0]);
  t.like(partitions[1], { number: 2, startLba: 22528, sectors: grownSectors });
  // The grown partition ends at the last usable LBA of the new disk.
  t.is(22528 + grownSectors - 1, 262144 - 34);
});

test('--grow on a same-size GPT disk re-encodes the table when there is room to grow', (t) => {
  const restore = planRestore(gptDisk(), target(DISK_SECTORS * SECTOR), { grow: true });
  const grownSectors = DISK_SECTORS - GPT_TAIL - 22528;
  t.deepEqual(shape(restore).slice(-2), [`gpt ${DISK_SECTORS}`, `grow ext4 p2 @${22528 * SECTOR} ${grownSectors * SECTOR}`]);
});

test('--grow when the last partition already reaches the end only notes it', (t) => {
  const restore = planRestore(gptDisk(), target(GPT_REQUIRED), { grow: true });
  t.false(restore.steps.some((step) => step.kind === 'grow-filesystem'));
  t.true(restore.notes.some((note) => note.includes('already reaches')));
});

test('--grow on MBR rewrites the last entry, needs no GPT and grows the filesystem last', (t) => {
  const restore = planRestore(mbrDisk(), target(128 * MiB), { grow: true });
  const grownSectors = 262144 - 22528;
  t.deepEqual(shape(restore), [`volume 0 ${P1}`, `volume 1 ${P2}`, `region 0 @0 ${MiB}`, `mbr-entry 2 22528+${grownSectors}`, `grow ext4 p2 @${22528 * SECTOR} ${grownSectors * SECTOR}`]);
  const entry = restore.steps.find((step) => step.kind === 'mbr-entry');
  t.like(entry?.kind === 'mbr-entry' ? entry.partition : undefined, { number: 2, kind: 'primary', type: '83', bootable: false });
  rejects(t, () => planRestore(mbrDisk('logical'), target(128 * MiB), { grow: true }), 'LB_INPUT_USAGE');
});

test('--grow of a FAT partition on MBR ends it one sector before the disk\'s end (fatresize refuses the last sector)', (t) => {
  const fatLast = mbrDisk();
  const swapped = { ...fatLast, volumes: fatLast.volumes.map((volume, index) => (index === 1 ? { ...volume, filesystem: { type: 'vfat', label: 'DATA', uuid: 'u' } } : volume)) };
  const grownSectors = 262144 - 1 - 22528;
  t.deepEqual(shape(planRestore(swapped, target(128 * MiB), { grow: true })).slice(-2), [`mbr-entry 2 22528+${grownSectors}`, `grow vfat p2 @${22528 * SECTOR} ${grownSectors * SECTOR}`]);
});

test('MBR onto a smaller disk: an extended partition running to the old end counts by its logical partitions and its slot is shrunk to the new end', (t) => {
  // The extended partition (slot 2) runs to the end of the 64 MiB disk; logical 5 ends at sector 63488 (31 MiB).
  const disk = mbrDisk('logical');
  const table = disk.table!;
  const extended = { ...table.partitions.find((part) => part.kind === 'extended')!, sectors: DISK_SECTORS - 22526 };
  const snapshot = { ...disk, table: { ...table, partitions: table.partitions.map((part) => (part.kind === 'extended' ? extended : part)) } };
  const restore = planRestore(snapshot, target(48 * MiB), {});
  t.is(restore.requiredBytes, 63488 * SECTOR);
  const entry = restore.steps.find((step) => step.kind === 'mbr-entry');
  t.like(entry?.kind === 'mbr-entry' ? entry.partition : undefined, { number: 2, kind: 'extended', startLba: 22526, sectors: (48 * MiB) / SECTOR - 22526 });
  t.true(restore.notes.some((note) => note.includes('shrunk')));
  // A target that ends inside logical 5 is refused; one as large as the source shrinks nothing.
  rejects(t, () => planRestore(snapshot, target(63487 * SECTOR), {}), 'LB_DEVICE_TARGET_TOO_SMALL');
  t.false(planRestore(snapshot, target(DISK_SECTORS * SECTOR), {}).steps.some((step) => step.kind === 'mbr-entry'));
});

test('restore --fit keep of an MBR snapshot leaves its EBRs where the snapshot saved them (regions ebr-LBA); largest moves them 1 MiB before each logical', (t) => {
  const disk = mbrDisk('logical');
  const snapshot = { ...disk, regions: [...disk.regions, { name: 'ebr-22526', offset: 22526 * SECTOR, content: content(SECTOR) }] };
  const kept = planDiskLayout(snapshot, target(DISK_SECTORS * SECTOR), { fit: 'keep' });
  const keptTable = kept.steps.find((step) => step.kind === 'mbr-layout');
  t.is(keptTable?.kind === 'mbr-layout' ? keptTable.layout.partitions.find((partition) => partition.number === 5)?.ebrLba : undefined, 22526);
  t.false(kept.steps.some((step) => step.kind === 'region' && step.region === 1), 'the old EBR region is not written: the table step writes the chain');
  const moved = planDiskLayout(snapshot, target(DISK_SECTORS * SECTOR), { fit: 'largest' });
  const logical = moved.layout.partitions.find((partition) => partition.number === 5);
  t.is(logical?.ebrLba, (logical?.startLba ?? 0) - 2048);
});

test('a disk snapshot onto a target with another sector size is refused', (t) => {
  const error = rejects(t, () => planRestore(gptDisk(), target(DISK_SECTORS * SECTOR, 4096), {}), 'LB_DEVICE_SECTOR_SIZE_MISMATCH');
  t.is(error?.details.source, 512);
  t.is(error?.details.target, 4096);
});

test('describePlan prints the target, one line per step with its offset (humanised, exact), then the notes', (t) => {
  const lines = describePlan(planRestore(gptDisk(), target(128 * MiB), {}));
  t.deepEqual(lines, [
    'Restore onto target.img (128 MiB; needs 31.0 MiB):',
    `  - partition 1 (vfat "EFI", 5.00 MiB used of 10.0 MiB, used-blocks) at 1 MiB`,
    `  - partition 2 (ext4, 8.00 MiB used of 20.0 MiB, used-blocks) at 11 MiB`,
    '  - partition table, boot code and boot gap at 0 B',
    '  - GPT for a disk of 128 MiB (backup header at the new end)',
    '  note: The target is 64.0 MiB larger than the source; that space stays unpartitioned (use --grow to enlarge the last partition).',
  ]);
  const same = describePlan(planRestore(gptDisk(), target(DISK_SECTORS * SECTOR), {}));
  t.is(same.at(-1), `  - backup GPT at 64.0 MiB (byte ${(DISK_SECTORS - GPT_TAIL) * SECTOR})`);
  const partitionLines = describePlan(planRestore(partitionSnapshot(), target(10 * MiB), {}));
  t.deepEqual(partitionLines, ['Restore onto target.img (10.0 MiB; needs 10.0 MiB):', '  - filesystem (ext4 "data", 2.00 MiB used of 10.0 MiB, used-blocks) at 0 B']);
});

test('restore --fit onto a smaller disk: a partition whose measured minimum allows it becomes a shrink-volume step (no volume step), written before the table; without a minimum it is refused with the rule', (t) => {
  const snapshot = gptDisk();
  const small = target(24 * MiB);
  const plan = planDiskLayout(snapshot, small, { fit: 'largest', minimums: new Map([[2, 9 * MiB]]) });
  const shrink = plan.steps.find((step) => step.kind === 'shrink-volume');
  t.like(shrink, { kind: 'shrink-volume', partition: 2, filesystem: 'ext4', fromBytes: 40960 * SECTOR, minimumBytes: 9 * MiB });
  t.true(shrink?.kind === 'shrink-volume' && shrink.sizeBytes >= 9 * MiB && shrink.sizeBytes < 40960 * SECTOR, shape(plan).join('; '));
  t.regex(shrink?.label ?? '', /^shrink the ext4 filesystem of partition 2 from 20\.0 MiB to .* \(its minimum 9\.00 MiB; 8\.00 MiB used\)/);
  t.false(plan.steps.some((step) => step.kind === 'volume' && step.volume === 1), 'the snapshot\'s 20 MiB volume is not written as it is');
  t.true(plan.steps.findIndex((step) => step.kind === 'shrink-volume') < plan.steps.findIndex((step) => step.kind === 'gpt'), 'the table is written last');
  t.is(plan.layout.partitions.find((partition) => partition.number === 2)?.change, 'shrink');
  const refused = rejects(t, () => planDiskLayout(snapshot, small, { fit: 'largest' }), 'LB_DEVICE_TARGET_BELOW_MINIMUM');
  t.regex(refused?.message ?? '', /2: 20\.0 MiB, the ext4 filesystem's minimum size is unknown: not shrunk/);
});
