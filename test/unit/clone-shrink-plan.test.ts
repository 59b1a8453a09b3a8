// The clone plan on a target that needs shrinking (core/clone/clone-plan.ts), from a real MBR table
// (sfdisk: an ext4-typed partition of 150 MiB and a 48 MiB swap partition) and the facts the CLI
// probes: a clean ext4 gets a shrink step that names its sizes and minimum; swap that must shrink
// is made again with its UUID and label; a dirty ext4 (LB_DEVICE_SOURCE_DIRTY), a hibernated NTFS
// or swap (LB_DEVICE_SOURCE_HIBERNATED) are refused; partition clones below the minimum
// (LB_DEVICE_TARGET_BELOW_MINIMUM) or of a filesystem a clone does not shrink (LB_DEVICE_TARGET_TOO_SMALL)
// too. The programs the plan needs include the shrink's and mkswap.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { planDiskClone, planPartitionClone, type ClonePlan, type CloneSourceVolume } from '../../rescue/core/clone/clone-plan.ts';
import { describeClonePlan } from '../../rescue/core/clone/describe-clone-plan.ts';
import { LifeboatError, type ErrorCode } from '../../rescue/core/errors.ts';
import { sourceLayoutOf, type PartitionFacts } from '../../rescue/core/layout/layout-tables.ts';
import { planLayout } from '../../rescue/core/layout/plan-layout.ts';
import { readPartitionTable, type PartitionTableInfo } from '../../rescue/core/partition-table/partition-table.ts';
import { programsForClonePlan } from '../../rescue/core/plan-programs.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';

const MiB = 1024 * 1024;
let table: PartitionTableInfo;
let ntfsTable: PartitionTableInfo;
let dir = '';

async function tableOf(name: string, script: string): Promise<PartitionTableInfo> {
  const file = path.join(dir, name);
  await writeFile(file, '');
  await truncate(file, 200 * MiB);
  await execa('sfdisk', ['-q', file], { input: script });
  const source = await openByteSource(file);
  try {
    return await readPartitionTable(source, 512);
  } finally {
    await source.close();
  }
}

test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-shrink-plan-'));
  table = await tableOf('mbr.img', 'label: dos\nstart=2048, size=307200, type=83\nstart=309248, size=98304, type=82\n');
  ntfsTable = await tableOf('ntfs.img', 'label: dos\nstart=2048, size=307200, type=7\n');
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Facts = PartitionFacts & CloneSourceVolume;

function plan(from: PartitionTableInfo, facts: ReadonlyMap<number, Facts>, targetBytes: number): ClonePlan {
  const layout = planLayout(sourceLayoutOf(from, new Map([...facts].map(([number, { filesystem, usedBytes, minimumBytes }]) => [number, { filesystem, usedBytes, minimumBytes }]))), { target: { sizeBytes: targetBytes, sectorSize: 512, description: 'target.img' }, fit: 'largest' });
  return planDiskClone({ source: { path: 'source.img', sizeBytes: 200 * MiB, table: from }, filesystems: new Map([...facts].map(([number, entry]) => [number, entry.filesystem])), volumes: facts, target: { description: 'target.img', sizeBytes: targetBytes }, layout, sectorBySector: false });
}

const ext = (state: Facts['state']): Facts => ({ filesystem: 'ext4', usedBytes: 30 * MiB, minimumBytes: 40 * MiB, state });
const swap = (state: Facts['state'] = 'clean'): Facts => ({ filesystem: 'swap', state, uuid: '0b5c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3', label: 'SWAPPY' });

function refused(t: ExecutionContext, run: () => unknown, code: ErrorCode): LifeboatError {
  const error = t.throws(run, { instanceOf: LifeboatError });
  t.is(error?.code, code, error?.message);
  return error as LifeboatError;
}

test('a clean ext4 that must shrink gets a shrink step with its sizes and minimum; the table is still last', (t) => {
  const result = plan(table, new Map([[1, ext('clean')], [2, swap()]]), 120 * MiB);
  t.deepEqual(result.steps.map((step) => step.kind), ['wipe', 'shrink-filesystem', 'volume', 'boot-gap', 'table']);
  const shrink = result.steps.find((step) => step.kind === 'shrink-filesystem');
  t.true(shrink?.kind === 'shrink-filesystem' && shrink.newSizeBytes % 4096 === 0 && shrink.newSizeBytes < 150 * MiB && shrink.minimumBytes === 40 * MiB);
  const text = describeClonePlan(result).join('\n');
  t.regex(text, /shrink partition 1 from 150 MiB to \d+\.\d MiB \(its minimum 40\.0 MiB\) on a copy-on-write view of the source/);
  const programs = programsForClonePlan(result).map((program) => program.name);
  for (const name of ['qemu-storage-daemon', 'e2fsck', 'resize2fs']) t.true(programs.includes(name), `${name} in ${programs.join(', ')}`);
});

test('swap that must shrink is made again with its UUID and label (mkswap)', (t) => {
  const result = plan(table, new Map([[1, ext('clean')], [2, swap()]]), 50 * MiB);
  const step = result.steps.find((entry) => entry.kind === 'swap');
  t.true(step?.kind === 'swap' && step.uuid === '0b5c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3' && step.swapLabel === 'SWAPPY' && step.sizeBytes < 48 * MiB, JSON.stringify(step));
  t.regex(describeClonePlan(result).join('\n'), /make partition 2's swap area again at .* \(was 48\.0 MiB; mkswap UUID 0b5c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3 label "SWAPPY"\)/);
  t.true(programsForClonePlan(result).some((program) => program.name === 'mkswap'));
});

test('LB_DEVICE_SOURCE_DIRTY: an ext4 not cleanly unmounted that must shrink; the same keeps its size on a larger target', (t) => {
  const error = refused(t, () => plan(table, new Map([[1, ext('needs-check')], [2, swap()]]), 120 * MiB), 'LB_DEVICE_SOURCE_DIRTY');
  t.regex(String(error.details.detail), /partition 1 must shrink, and its ext4 filesystem was not unmounted cleanly/);
  t.notThrows(() => plan(table, new Map([[1, ext('needs-check')], [2, swap()]]), 200 * MiB));
});

test('LB_DEVICE_SOURCE_HIBERNATED: a hibernated NTFS, or swap holding a hibernation image, that must shrink', (t) => {
  const error = refused(t, () => plan(ntfsTable, new Map([[1, { filesystem: 'ntfs', usedBytes: 30 * MiB, minimumBytes: 40 * MiB, state: 'hibernated' }]]), 100 * MiB), 'LB_DEVICE_SOURCE_HIBERNATED');
  t.regex(String(error.details.detail), /hiberfil\.sys/);
  refused(t, () => plan(table, new Map([[1, ext('clean')], [2, swap('hibernated')]]), 50 * MiB), 'LB_DEVICE_SOURCE_HIBERNATED');
  refused(t, () => plan(ntfsTable, new Map([[1, { filesystem: 'ntfs', usedBytes: 30 * MiB, minimumBytes: 40 * MiB, state: 'needs-check' }]]), 100 * MiB), 'LB_DEVICE_SOURCE_DIRTY');
});

test('partition clone onto a smaller partition: a shrink down to the minimum, refused below it or for filesystems a clone does not shrink', (t) => {
  const target = (sizeBytes: number) => ({ description: 'part.img', sizeBytes, startLba: 2048 });
  const ok = planPartitionClone({ source: { path: 'p1', sizeBytes: 100 * MiB, filesystem: 'ntfs', minimumBytes: 30 * MiB, volume: { state: 'clean' } }, target: target(40 * MiB), sectorBySector: false });
  t.deepEqual(ok.steps.map((step) => step.kind), ['shrink-filesystem']);
  t.regex(describeClonePlan(ok).join('\n'), /hidden sectors set to 2048, its backup at the new end/);
  const below = refused(t, () => planPartitionClone({ source: { path: 'p1', sizeBytes: 100 * MiB, filesystem: 'ext4', minimumBytes: 50 * MiB, volume: { state: 'clean' } }, target: target(40 * MiB), sectorBySector: false }), 'LB_DEVICE_TARGET_BELOW_MINIMUM');
  t.like(below.details, { targetBytes: 40 * MiB, minimumBytes: 50 * MiB });
  refused(t, () => planPartitionClone({ source: { path: 'p1', sizeBytes: 100 * MiB, filesystem: 'xfs', volume: { state: 'clean' } }, target: target(40 * MiB), sectorBySector: false }), 'LB_DEVICE_TARGET_TOO_SMALL');
  refused(t, () => planPartitionClone({ source: { path: 'p1', sizeBytes: 100 * MiB, filesystem: 'ext4', minimumBytes: 20 * MiB, volume: { state: 'needs-check' } }, target: target(40 * MiB), sectorBySector: false }), 'LB_DEVICE_SOURCE_DIRTY');
});
