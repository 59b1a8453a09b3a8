// The one layout planner (rescue/core/layout/plan-layout.ts) over real tables: sources made by
// sfdisk and sgdisk on sparse images (MBR with logical partitions, a Windows-shaped GPT, a Linux
// GPT with BIOS boot, ESP, /boot, root, swap and an XFS data partition), planned onto smaller and
// larger targets; every plan's table is encoded, written onto a target image and checked by
// sfdisk --verify or sgdisk -v and read back. Property checks on every plan (also over seeded
// random layouts): 1 MiB alignment, no overlap, inside the usable range, every partition at or
// above its minimum, fixed-size roles unchanged, order and numbers kept. Each refusal with its
// code and numbers. Minimum sizes are given here; test/repository/filesystem-minimum.test.ts
// measures them on real filesystems.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError, type ErrorCode } from '../../rescue/core/errors.ts';
import { describeLayoutPlan } from '../../rescue/core/layout/describe-layout-plan.ts';
import { gptLayoutOf, mbrLayoutOf, sourceLayoutOf, type PartitionFacts } from '../../rescue/core/layout/layout-tables.ts';
import type { FitMode, LayoutPlan, SourceLayout, SourcePartition } from '../../rescue/core/layout/layout-types.ts';
import { planLayout } from '../../rescue/core/layout/plan-layout.ts';
import { encodeGpt } from '../../rescue/core/partition-table/gpt.ts';
import { encodeMbr, layoutMbr } from '../../rescue/core/partition-table/mbr.ts';
import { readPartitionTable, type PartitionTableInfo } from '../../rescue/core/partition-table/partition-table.ts';
import { describePartitionType } from '../../rescue/core/partition-table/partition-types.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { prng } from '../helpers/mutation.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const FIXED = new Set(['esp', 'microsoft-reserved', 'bios-boot', 'windows-recovery']);

async function scratch(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readTable(file: string): Promise<PartitionTableInfo> {
  const source = await openByteSource(file);
  try {
    return await readPartitionTable(source, 512);
  } finally {
    await source.close();
  }
}

/** A sparse image of `bytes` partitioned by sfdisk (script) or sgdisk (arguments). */
async function partitioned(dir: string, name: string, bytes: number, how: { sfdisk: string } | { sgdisk: string[] }): Promise<PartitionTableInfo> {
  const file = path.join(dir, name);
  await execa('truncate', ['-s', String(bytes), file]);
  if ('sfdisk' in how) await execa('sfdisk', ['--quiet', file], { input: how.sfdisk });
  else await execa('sgdisk', [...how.sgdisk, file]);
  return readTable(file);
}

/** Writes the plan's table onto a new sparse image of its disk size and has the table tool check it. */
async function landTable(dir: string, plan: LayoutPlan, source: PartitionTableInfo): Promise<PartitionTableInfo> {
  const file = path.join(dir, `target-${plan.diskSectors}.img`);
  await rm(file, { force: true });
  await execa('truncate', ['-s', String(plan.diskSectors * plan.sectorSize), file]);
  const sectors = plan.table === 'gpt'
    ? encodeGpt(gptLayoutOf(plan, { diskGuid: source.id ?? '', entryCount: source.gpt?.entryCount ?? 128 }))
    : encodeMbr(layoutMbr(mbrLayoutOf(plan, { diskSignature: 0x1234abcd })));
  const handle = await open(file, 'r+');
  try {
    for (const { lba, bytes } of sectors) await handle.write(bytes, 0, bytes.length, lba * plan.sectorSize);
  } finally {
    await handle.close();
  }
  if (plan.table === 'gpt') {
    const verify = await execa('sgdisk', ['-v', file], { reject: false });
    if (!/No problems found/.test(verify.stdout)) throw new Error(`sgdisk -v: ${verify.stdout}`);
  } else {
    const verify = await execa('sfdisk', ['--verify', file], { reject: false });
    if (verify.exitCode !== 0 || !/No errors detected/.test(verify.stdout)) throw new Error(`sfdisk --verify: ${verify.stdout}${verify.stderr}`);
  }
  return readTable(file);
}

/** Every property a plan must have, whatever the layout and target. */
function checkPlan(t: ExecutionContext, source: SourceLayout, plan: LayoutPlan, targetBytes: number, label: string): void {
  const align = MiB / plan.sectorSize;
  t.is(plan.diskSectors, Math.floor(targetBytes / plan.sectorSize), `${label}: disk size`);
  t.deepEqual(plan.partitions.map((partition) => partition.number).sort((a, b) => a - b), source.partitions.map((partition) => partition.number).sort((a, b) => a - b), `${label}: the same partitions`);
  const data = plan.partitions.filter((partition) => partition.kind !== 'extended');
  const sorted = [...data].sort((a, b) => a.startLba - b.startLba);
  const sourceOrder = [...source.partitions.filter((partition) => partition.kind !== 'extended')].sort((a, b) => a.startLba - b.startLba).map((partition) => partition.number);
  t.deepEqual(sorted.map((partition) => partition.number), sourceOrder, `${label}: disk order kept`);
  for (const partition of data) {
    const name = `${label}: partition ${partition.number}`;
    const source_ = source.partitions.find((entry) => entry.number === partition.number) as SourcePartition;
    if (plan.fit !== 'keep') t.is(partition.startLba % align, 0, `${name} starts on a 1 MiB boundary`);
    t.true(partition.startLba >= plan.firstUsableLba, `${name} starts in the usable range`);
    t.true(partition.startLba + partition.sectors - 1 <= plan.lastUsableLba, `${name} ends in the usable range (${partition.startLba}+${partition.sectors} > ${plan.lastUsableLba})`);
    t.true(partition.sectors >= partition.minimumSectors, `${name} at or above its minimum`);
    if (source_.minimumBytes !== undefined && partition.change === 'shrink' && partition.role !== 'linux-swap') t.true(partition.sectors * plan.sectorSize >= source_.minimumBytes, `${name} holds its filesystem's minimum`);
    if (FIXED.has(partition.role)) t.is(partition.sectors, source_.sectors, `${name} (${partition.role}) keeps its size`);
    if (source_.filesystem === 'xfs' || (source_.filesystem === undefined && partition.role !== 'linux-swap')) t.true(partition.sectors >= source_.sectors, `${name} (${source_.filesystem ?? 'unknown'}) never shrinks`);
    if (partition.kind === 'logical') {
      if (plan.fit !== 'keep') t.is(partition.ebrLba, partition.startLba - align, `${name}: its EBR 1 MiB before it`);
      else t.is(partition.ebrLba, source_.ebrLba, `${name}: its EBR where it was`);
      const extended = plan.partitions.find((entry) => entry.kind === 'extended');
      t.truthy(extended && partition.ebrLba !== undefined && partition.ebrLba >= extended.startLba && partition.startLba + partition.sectors <= extended.startLba + extended.sectors, `${name} inside the extended partition`);
    }
  }
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1];
    const after = sorted[i];
    if (before && after) t.true(before.startLba + before.sectors <= (after.ebrLba ?? after.startLba), `${label}: ${before.number} and ${after.number} do not overlap`);
  }
  if (plan.table === 'gpt') t.deepEqual(plan.gptBackup, { entriesLba: plan.diskSectors - 1 - 16384 / plan.sectorSize, headerLba: plan.diskSectors - 1 }, `${label}: GPT backup at the new end`);
  t.true(plan.minimumBytes <= targetBytes, `${label}: the minimum is at most the target`);
}

function refusal(t: ExecutionContext, run: () => unknown, code: ErrorCode): LifeboatError {
  const error = t.throws(run, { instanceOf: LifeboatError });
  t.is(error?.code, code);
  return error as LifeboatError;
}

const facts = (entries: Record<number, PartitionFacts>) => new Map(Object.entries(entries).map(([number, value]) => [Number(number), value]));

const MBR_LOGICALS = [
  'label: dos', 'start=2048, size=100M, type=83, bootable', 'size=300M, type=83', 'type=5',
  'size=200M, type=82', 'size=500M, type=83', 'size=300M, type=7',
].join('\n');
const MBR_FACTS = facts({ 1: { filesystem: 'ext4', usedBytes: 30 * MiB, minimumBytes: 40 * MiB }, 2: { filesystem: 'ext4', usedBytes: 90 * MiB, minimumBytes: 100 * MiB }, 5: { filesystem: 'swap' }, 6: { filesystem: 'ext4', usedBytes: 180 * MiB, minimumBytes: 200 * MiB }, 7: { filesystem: 'ntfs', usedBytes: 120 * MiB, minimumBytes: 150 * MiB } });

const WINDOWS = ['-n', '1:0:+100M', '-t', '1:ef00', '-n', '2:0:+16M', '-t', '2:0c01', '-n', '3:0:+2G', '-t', '3:0700', '-n', '4:0:+500M', '-t', '4:2700'];
const WINDOWS_FACTS = facts({ 1: { filesystem: 'vfat', usedBytes: 30 * MiB, minimumBytes: 34 * MiB }, 3: { filesystem: 'ntfs', usedBytes: 700 * MiB, minimumBytes: 760 * MiB }, 4: { filesystem: 'ntfs', usedBytes: 400 * MiB, minimumBytes: 420 * MiB } });

const LINUX = ['-n', '1:0:+1M', '-t', '1:ef02', '-n', '2:0:+256M', '-t', '2:ef00', '-n', '3:0:+512M', '-t', '3:8300', '-n', '4:0:+3G', '-t', '4:8300', '-n', '5:0:+1G', '-t', '5:8200', '-n', '6:0:+1G', '-t', '6:8300'];
const LINUX_FACTS = facts({ 2: { filesystem: 'vfat', minimumBytes: 20 * MiB }, 3: { filesystem: 'ext4', usedBytes: 80 * MiB, minimumBytes: 100 * MiB }, 4: { filesystem: 'ext4', usedBytes: 900 * MiB, minimumBytes: 1000 * MiB }, 5: { filesystem: 'swap' }, 6: { filesystem: 'xfs', usedBytes: 50 * MiB } });

async function sources(t: ExecutionContext) {
  const dir = await scratch(t);
  const mbr = await partitioned(dir, 'mbr.img', 2 * GiB, { sfdisk: MBR_LOGICALS });
  const windows = await partitioned(dir, 'windows.img', 4 * GiB, { sgdisk: WINDOWS });
  const linux = await partitioned(dir, 'linux.img', 8 * GiB, { sgdisk: LINUX });
  return { dir, layouts: [
    { name: 'MBR with logical partitions', table: mbr, layout: sourceLayoutOf(mbr, MBR_FACTS) },
    { name: 'Windows-shaped GPT', table: windows, layout: sourceLayoutOf(windows, WINDOWS_FACTS) },
    { name: 'Linux GPT', table: linux, layout: sourceLayoutOf(linux, LINUX_FACTS) },
  ] };
}

test('each layout lands on targets from its minimum to twice its size, every fit; the tables pass sfdisk --verify / sgdisk -v and read back as planned', async (t) => {
  const { dir, layouts } = await sources(t);
  t.is(layouts[0]?.layout.partitions.filter((partition) => partition.kind === 'logical').length, 3, 'the MBR source has three logical partitions');
  t.deepEqual(layouts[1]?.layout.partitions.map((partition) => partition.role), ['esp', 'microsoft-reserved', 'windows-system-candidate', 'windows-recovery']);
  t.deepEqual(layouts[2]?.layout.partitions.map((partition) => partition.role), ['bios-boot', 'esp', 'linux-root-candidate', 'linux-root-candidate', 'linux-swap', 'linux-root-candidate']);
  for (const { name, table, layout } of layouts) {
    const sourceBytes = layout.diskSectors * 512;
    for (const fit of ['largest', 'proportional'] as const) {
      const atMinimum = planLayout(layout, { target: { sizeBytes: sourceBytes, sectorSize: 512, description: 'target' }, fit }).minimumBytes;
      for (const targetBytes of [atMinimum, atMinimum + 3 * MiB + 512, Math.round((atMinimum + sourceBytes) / 2 / 512) * 512, sourceBytes, sourceBytes + 7 * MiB, 2 * sourceBytes]) {
        const label = `${name}, ${fit}, ${targetBytes} bytes`;
        const plan = planLayout(layout, { target: { sizeBytes: targetBytes, sectorSize: 512, description: 'target' }, fit });
        checkPlan(t, layout, plan, targetBytes, label);
        const landed = await landTable(dir, plan, table);
        t.deepEqual(landed.partitions.map(({ number, startLba, sectors, type }) => ({ number, startLba, sectors, type })), plan.partitions.map(({ number, startLba, sectors, type }) => ({ number, startLba, sectors, type })), `${label}: the table read back`);
      }
      const below = refusal(t, () => planLayout(layout, { target: { sizeBytes: atMinimum - 512, sectorSize: 512, description: 'the target' }, fit }), 'LB_DEVICE_TARGET_BELOW_MINIMUM');
      t.is(below.details.minimumBytes, atMinimum, `${name}, ${fit}: the refusal names the minimum the plans found`);
      t.is(below.details.targetBytes, atMinimum - 512);
    }
  }
});

test('largest: the largest data partition takes the difference, the others keep their size and place order; proportional shares it', async (t) => {
  const { layouts } = await sources(t);
  const windows = layouts[1]?.layout as SourceLayout;
  const smaller = planLayout(windows, { target: { sizeBytes: 2 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest' });
  const [esp, msr, system, recovery] = smaller.partitions;
  t.deepEqual([esp?.change, msr?.change, system?.change, recovery?.change], ['same', 'same', 'shrink', 'same']);
  t.is(recovery?.startLba, Math.ceil(((system?.startLba ?? 0) + (system?.sectors ?? 0)) / 2048) * 2048, 'recovery placed right after C: on the next MiB');
  t.true((system?.sectors ?? 0) * 512 < 2 * GiB - 616 * MiB && (system?.sectors ?? 0) * 512 > 2 * GiB - 620 * MiB - MiB, `C: takes what the others leave (${system?.sectors})`);
  const larger = planLayout(windows, { target: { sizeBytes: 16 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest' });
  t.is(larger.partitions[2]?.change, 'grow');
  t.is(larger.partitions[3]?.startLba, (larger.partitions[2]?.startLba ?? 0) + (larger.partitions[2]?.sectors ?? 0), 'recovery right after C: (aligned)');
  t.regex(describeLayoutPlan(larger).join('\n'), /3: ntfs, 2\.00 GiB -> 15\.\d+ GiB at 117 MiB, grows\n {2}4: ntfs, 500 MiB at 15\.\d GiB/);

  const mbr = layouts[0]?.layout as SourceLayout;
  const big = planLayout(mbr, { target: { sizeBytes: 4 * GiB, sectorSize: 512, description: 'target' }, fit: 'proportional' });
  const grows = big.partitions.filter((partition) => partition.kind !== 'extended' && partition.filesystem !== 'swap');
  t.true(grows.every((partition) => partition.change === 'grow'), 'every data partition grows');
  const ratios = grows.map((partition) => partition.sectors / partition.from.sectors);
  t.true(Math.max(...ratios) - Math.min(...ratios) < 0.02, `they grow in proportion (${ratios.map((ratio) => ratio.toFixed(3)).join(', ')})`);
  t.is(big.partitions.find((partition) => partition.filesystem === 'swap')?.change, 'same', 'swap keeps its size when there is room');
  const largest = planLayout(mbr, { target: { sizeBytes: 4 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest' });
  t.deepEqual(largest.partitions.filter((partition) => partition.change !== 'same' && partition.kind !== 'extended').map((partition) => partition.number), [6], 'only the largest (500 MiB, partition 6) grows');
  const text = describeLayoutPlan(largest).join('\n');
  t.regex(text, /3: extended, .* at 401 MiB/);
  t.regex(text, /6: ext4, 500 MiB -> 3\.\d+ GiB at .*grows/);
});

test('tight targets: swap shrinks before the other data partitions; the other data partitions share the rest; XFS and unknown contents never shrink', async (t) => {
  const { layouts } = await sources(t);
  const linux = layouts[2]?.layout as SourceLayout;
  const min = planLayout(linux, { target: { sizeBytes: 8 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest' }).minimumBytes;
  // 1 MiB BIOS boot + 256 MiB ESP + 100 MiB /boot + 1000 MiB root + 1 MiB swap + 1 GiB xfs + 1 MiB start + GPT tail.
  t.is(min, (1 + 1 + 256 + 100 + 1000 + 1 + 1024) * MiB + 33 * 512);
  const stage2 = planLayout(linux, { target: { sizeBytes: 3584 * MiB, sectorSize: 512, description: 'target' }, fit: 'largest' });
  const byNumber = (plan: LayoutPlan, number: number) => plan.partitions.find((partition) => partition.number === number);
  t.is(byNumber(stage2, 3)?.change, 'same', '/boot keeps its size');
  t.is(byNumber(stage2, 4)?.sectors, 1000 * 2048, 'root is at its minimum');
  t.is(byNumber(stage2, 5)?.change, 'shrink', 'swap shrinks');
  t.is(byNumber(stage2, 6)?.sectors, 1024 * 2048, 'XFS keeps its size');
  const stage3 = planLayout(linux, { target: { sizeBytes: min + 10 * MiB, sectorSize: 512, description: 'target' }, fit: 'largest' });
  t.is(byNumber(stage3, 5)?.sectors, 2048, 'swap at its 1 MiB minimum');
  t.true((byNumber(stage3, 3)?.sectors ?? 0) < 512 * 2048, '/boot shrinks too');

  const unknown: SourceLayout = { ...linux, partitions: linux.partitions.map((partition) => (partition.number === 4 ? { ...partition, filesystem: undefined, minimumBytes: 10 * MiB } : partition)) };
  const refused = refusal(t, () => planLayout(unknown, { target: { sizeBytes: 4 * GiB, sectorSize: 512, description: '/dev/sdz' }, fit: 'largest' }), 'LB_DEVICE_TARGET_BELOW_MINIMUM');
  t.regex(refused.message, /\/dev\/sdz holds 4\.00 GiB \(4294967296 bytes\); the source's partitions need at least 4\.\d+ GiB \(\d+ bytes\): their minimums add up to .*4: 3\.00 GiB, no known filesystem: never shrunk/);
  const parts = refused.details.partitions as Array<{ number: number; minimumBytes: number; rule: string }>;
  t.is(parts.reduce((sum, partition) => sum + partition.minimumBytes, 0), refused.details.sumOfMinimumsBytes as number);
  t.is(parts.find((partition) => partition.number === 6)?.rule, 'XFS cannot shrink');
  t.is(parts.find((partition) => partition.number === 2)?.rule, 'an EFI system partition keeps its size');
});

test('--size N=SIZE fixes a partition; below its minimum is LB_INPUT_SIZE_BELOW_MINIMUM; keep leaves the layout and refuses a disk that cuts a partition', async (t) => {
  const { dir, layouts } = await sources(t);
  const windows = layouts[1]?.layout as SourceLayout;
  const sized = planLayout(windows, { target: { sizeBytes: 8 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest', sizes: [{ partition: 4, bytes: GiB }] });
  t.is(sized.partitions[3]?.sectors, GiB / 512);
  t.is(sized.partitions[3]?.rule, '--size');
  const low = refusal(t, () => planLayout(windows, { target: { sizeBytes: 8 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest', sizes: [{ partition: 3, bytes: 700 * MiB }] }), 'LB_INPUT_SIZE_BELOW_MINIMUM');
  t.deepEqual([low.details.requestedBytes, low.details.minimumBytes], [700 * MiB, 760 * MiB]);
  const esp = refusal(t, () => planLayout(windows, { target: { sizeBytes: 8 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest', sizes: [{ partition: 1, bytes: 50 * MiB }] }), 'LB_INPUT_SIZE_BELOW_MINIMUM');
  t.regex(esp.message, /an EFI system partition keeps its size/);
  refusal(t, () => planLayout(windows, { target: { sizeBytes: 8 * GiB, sectorSize: 512, description: 'target' }, fit: 'largest', sizes: [{ partition: 9, bytes: GiB }] }), 'LB_INPUT_USAGE');
  const tooMuch = refusal(t, () => planLayout(windows, { target: { sizeBytes: 2560 * MiB, sectorSize: 512, description: 'target' }, fit: 'largest', sizes: [{ partition: 4, bytes: 2 * GiB }] }), 'LB_DEVICE_TARGET_BELOW_MINIMUM');
  t.is((tooMuch.details.partitions as Array<{ number: number; rule: string }>).find((partition) => partition.number === 4)?.rule, '--size');

  const mbr = layouts[0]?.layout as SourceLayout;
  const kept = planLayout(mbr, { target: { sizeBytes: 1600 * MiB, sectorSize: 512, description: 'target' }, fit: 'keep' });
  t.true(kept.partitions.filter((partition) => partition.kind !== 'extended').every((partition) => !partition.moved && partition.change === 'same'));
  t.is(kept.partitions.find((partition) => partition.kind === 'extended')?.change, 'shrink', 'the extended partition ends after its last logical one');
  const source = layouts[0]?.table as PartitionTableInfo;
  const landed = await landTable(dir, kept, source);
  t.deepEqual(landed.mbr?.logicals.map((logical) => logical.ebrLba), source.mbr?.logicals.map((logical) => logical.ebrLba), 'the EBRs stay where they were');
  t.deepEqual(landed.partitions.map(({ startLba, sectors }) => [startLba, sectors]).filter((_, index) => source.partitions[index]?.kind !== 'extended'), source.partitions.filter((partition) => partition.kind !== 'extended').map(({ startLba, sectors }) => [startLba, sectors]));
  // A keep plan that does not know the EBRs' places still makes a chain sfdisk reads: the first at the extended start.
  const unknownEbrs = planLayout({ ...mbr, partitions: mbr.partitions.map(({ ebrLba: _ebr, ...partition }) => partition) }, { target: { sizeBytes: 1600 * MiB, sectorSize: 512, description: 'target' }, fit: 'keep' });
  const chained = await landTable(dir, unknownEbrs, source);
  t.deepEqual(chained.partitions.filter((partition) => partition.kind === 'logical').map((partition) => partition.number), [5, 6, 7]);
  t.is(chained.mbr?.logicals[0]?.ebrLba, unknownEbrs.partitions.find((partition) => partition.kind === 'extended')?.startLba);
  const cut = refusal(t, () => planLayout(mbr, { target: { sizeBytes: 1200 * MiB, sectorSize: 512, description: 'target' }, fit: 'keep' }), 'LB_DEVICE_TARGET_TOO_SMALL');
  t.is(cut.details.requiredBytes, (2048 + (100 + 300 + 1 + 200 + 1 + 500 + 1 + 300) * 2048) * 512);
  refusal(t, () => planLayout(mbr, { target: { sizeBytes: 4 * GiB, sectorSize: 512, description: 'target' }, fit: 'keep', sizes: [{ partition: 1, bytes: GiB }] }), 'LB_INPUT_USAGE');
  const sectors = refusal(t, () => planLayout(mbr, { target: { sizeBytes: 4 * GiB, sectorSize: 4096, description: 'target' }, fit: 'largest' }), 'LB_DEVICE_SECTOR_SIZE_MISMATCH');
  t.deepEqual([sectors.details.source, sectors.details.target], [512, 4096]);
});

test('4096-byte sectors: 1 MiB is 256 sectors and the GPT entry array 4', (t) => {
  const layout: SourceLayout = { table: 'gpt', sectorSize: 4096, diskSectors: 262144, partitions: [
    { number: 1, kind: 'gpt', startLba: 256, sectors: 25600, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', role: 'esp', bootable: false, filesystem: 'vfat', minimumBytes: 40 * MiB },
    { number: 2, kind: 'gpt', startLba: 25856, sectors: 236032, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', role: 'linux-root-candidate', bootable: false, filesystem: 'ext4', minimumBytes: 300 * MiB },
  ] };
  const plan = planLayout(layout, { target: { sizeBytes: 500 * MiB, sectorSize: 4096, description: 'target' }, fit: 'largest' });
  checkPlan(t, layout, plan, 500 * MiB, '4Kn');
  t.is(plan.firstUsableLba, 6);
  t.deepEqual(plan.gptBackup, { entriesLba: plan.diskSectors - 5, headerLba: plan.diskSectors - 1 });
  t.is(plan.partitions[1]?.startLba, 25856);
  t.is((plan.partitions[1]?.startLba ?? 0) + (plan.partitions[1]?.sectors ?? 0), plan.lastUsableLba + 1, 'the root ends at the last usable sector');
});

/** A random layout of `count` partitions on an MBR (with logicals) or GPT disk. */
function randomLayout(random: () => number): SourceLayout {
  const gpt = random() < 0.5;
  const types = gpt
    ? [['C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'esp'], ['E3C9E316-0B5C-4DB8-817D-F92DF00215AE', 'microsoft-reserved'], ['21686148-6449-6E6F-744E-656564454649', 'bios-boot'], ['DE94BBA4-06D1-4D40-A16A-BFD50179D6AC', 'windows-recovery'], ['0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', 'linux-swap'], ['0FC63DAF-8483-4772-8E79-3D69D8477DE4', 'linux-root-candidate'], ['EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', 'windows-system-candidate']]
    : [['ef', 'esp'], ['27', 'windows-recovery'], ['82', 'linux-swap'], ['83', 'linux-root-candidate'], ['7', 'windows-system-candidate'], ['c', 'data']];
  const filesystems = [undefined, 'ext4', 'ntfs', 'vfat', 'exfat', 'xfs', 'btrfs'];
  const partitions: SourcePartition[] = [];
  let at = 63 + Math.floor(random() * 4096);
  const count = 1 + Math.floor(random() * 7);
  const logicalFrom = !gpt && count > 3 ? 3 : Infinity;
  let number = 1;
  let logicalNumber = 5;
  const make = (kind: SourcePartition['kind']): SourcePartition => {
    const [type, role] = types[Math.floor(random() * types.length)] as [string, string];
    const sectors = 1 + Math.floor(random() * random() * 4_000_000);
    const filesystem = role === 'linux-swap' ? 'swap' : filesystems[Math.floor(random() * filesystems.length)];
    const minimumBytes = random() < 0.8 ? Math.floor(sectors * 512 * random()) : undefined;
    const partition: SourcePartition = { number: kind === 'logical' ? logicalNumber++ : number++, kind, startLba: at, sectors, type, role: describePartitionType(type).role === role ? (role as SourcePartition['role']) : describePartitionType(type).role, bootable: false, filesystem, minimumBytes, ...(kind === 'logical' ? { ebrLba: at - 62 } : {}) };
    at += sectors + Math.floor(random() * 5000);
    return partition;
  };
  for (let i = 0; i < Math.min(count, logicalFrom); i++) partitions.push(make(gpt ? 'gpt' : 'primary'));
  if (count > logicalFrom) {
    const extended: SourcePartition = { number: number++, kind: 'extended', startLba: at, sectors: 0, type: '5', role: 'extended', bootable: false };
    at += 1;
    const logicals = Array.from({ length: count - logicalFrom }, () => {
      at += 62;
      return make('logical');
    });
    partitions.push({ ...extended, sectors: at - extended.startLba }, ...logicals);
  }
  return { table: gpt ? 'gpt' : 'mbr', sectorSize: 512, diskSectors: at + 100 + Math.floor(random() * 100000), partitions };
}

test('seeded random layouts: every plan keeps the properties; every refusal is below the minimum the same source reports', (t) => {
  const random = prng(20261207);
  let planned = 0;
  let refused = 0;
  for (let round = 0; round < 400; round++) {
    const layout = randomLayout(random);
    const fit: FitMode = (['largest', 'proportional', 'keep'] as const)[round % 3] ?? 'largest';
    const targetBytes = Math.floor((layout.diskSectors * (0.2 + random() * 1.8)) / 1) * 512;
    try {
      const plan = planLayout(layout, { target: { sizeBytes: targetBytes, sectorSize: 512, description: 'target' }, fit });
      checkPlan(t, layout, plan, targetBytes, `round ${round} (${layout.table}, ${fit})`);
      planned++;
    } catch (error) {
      t.true(error instanceof LifeboatError, String(error));
      const code = (error as LifeboatError).code;
      t.true(code === (fit === 'keep' ? 'LB_DEVICE_TARGET_TOO_SMALL' : 'LB_DEVICE_TARGET_BELOW_MINIMUM'), `round ${round}: ${code}`);
      const needed = ((error as LifeboatError).details.minimumBytes ?? (error as LifeboatError).details.requiredBytes) as number;
      t.true(needed > targetBytes - 512, `round ${round}: refused though ${needed} <= ${targetBytes}`);
      if (fit !== 'keep') {
        const roomy = planLayout(layout, { target: { sizeBytes: needed, sectorSize: 512, description: 'target' }, fit });
        checkPlan(t, layout, roomy, needed, `round ${round} at its minimum`);
      }
      refused++;
    }
  }
  t.true(planned > 100 && refused > 50, `${planned} planned, ${refused} refused`);
});
