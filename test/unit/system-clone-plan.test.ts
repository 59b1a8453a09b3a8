// `clone system`'s selection-to-layout step (core/clone/system-clone-plan.ts) on tables made by
// sgdisk and sfdisk, with the facts the selection reads inside each filesystem given by hand (as
// test/unit/system-selection.test.ts gives them): only the chosen partitions are laid out, in their
// order and with their numbers, packed from 1 MiB with the left-out partitions' gaps closed; the plan
// copies only them, names each left-out partition with its reason, and warns for each fstab line of
// the root that names a left-out partition (nofail or not). An MBR disk keeps its boot gap and a
// left-out logical partition renumbers the ones after it (the table sfdisk reads back says so).
// A disk with no system is refused with LB_INPUT_NO_SYSTEM.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeSystemClonePlan, leftOutOf, missingMountsOf, packedDiskBytes, planSystemClone, refuseWithoutSystem, systemLayoutOf } from '../../rescue/core/clone/system-clone-plan.ts';
import { withNofail } from '../../rescue/core/clone/fstab-nofail.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { mbrLayoutOf, sourceLayoutOf, type PartitionFacts } from '../../rescue/core/layout/layout-tables.ts';
import { planLayout } from '../../rescue/core/layout/plan-layout.ts';
import { encodeMbr, layoutMbr } from '../../rescue/core/partition-table/mbr.ts';
import { readPartitionTable, type PartitionTableInfo } from '../../rescue/core/partition-table/partition-table.ts';
import { selectSystemPartitions, type PartitionContents, type SystemSelectionInput } from '../../rescue/core/repository/system-selection.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';

const MiB = 1024 * 1024;
const EMPTY: PartitionContents = { hasWindowsSystem32: false, hasEfiFolder: false, hasBootManager: false, looksLikeLinuxRoot: false };
const fs = (type: string, uuid: string, label = ''): PartitionContents['filesystem'] => ({ type, kind: type === 'swap' ? 'swap' : 'filesystem', label, uuid });

let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-system-clone-plan-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tableOf(name: string, bytes: number, how: { sfdisk: string } | { sgdisk: string[] }): Promise<{ file: string; table: PartitionTableInfo }> {
  const file = path.join(dir, name);
  await execa('truncate', ['-s', String(bytes), file]);
  if ('sfdisk' in how) await execa('sfdisk', ['--quiet', file], { input: how.sfdisk });
  else await execa('sgdisk', [...how.sgdisk, file]);
  const source = await openByteSource(file);
  try {
    return { file, table: await readPartitionTable(source, 512) };
  } finally {
    await source.close();
  }
}

function selectionOf(table: PartitionTableInfo, contents: Record<number, PartitionContents>): SystemSelectionInput {
  return { tableKind: table.kind, tableId: table.id, sectorSize: 512, partitions: table.partitions, contents: new Map(Object.entries(contents).map(([number, entry]) => [Number(number), entry])) };
}

function factsOf(contents: Record<number, PartitionContents>): Map<number, PartitionFacts> {
  return new Map(Object.entries(contents).map(([number, entry]) => [Number(number), { filesystem: entry.filesystem?.type, usedBytes: undefined }]));
}

/** A Linux GPT disk whose data partition sits between the ESP and /boot, and a swap at the end. */
async function linuxGpt() {
  const { file, table } = await tableOf('linux.img', 256 * MiB, { sgdisk: ['-o', '-n', '1:2048:+32M', '-t', '1:EF00', '-n', '2:0:+64M', '-t', '2:8300', '-n', '3:0:+24M', '-t', '3:8300', '-n', '4:0:+40M', '-t', '4:8304', '-n', '5:0:+16M', '-t', '5:8200'] });
  const fstab = [
    'UUID=rooot / ext4 defaults 0 1',
    'UUID=boooot /boot ext4 defaults 0 2',
    'UUID=AAAA-BBBB /boot/efi vfat umask=0077 0 1',
    '# the photos',
    'LABEL=photos /srv/photos ext4 defaults 0 2',
    'UUID=swaap none swap sw,nofail 0 0',
  ].join('\n');
  const contents: Record<number, PartitionContents> = {
    1: { ...EMPTY, filesystem: fs('vfat', 'AAAA-BBBB'), hasEfiFolder: true },
    2: { ...EMPTY, filesystem: fs('ext4', 'daata', 'photos') },
    3: { ...EMPTY, filesystem: fs('ext4', 'boooot') },
    4: { ...EMPTY, filesystem: fs('ext4', 'rooot'), fstab, looksLikeLinuxRoot: true },
    5: { ...EMPTY, filesystem: fs('swap', 'swaap') },
  };
  return { file, table, contents, selection: selectionOf(table, contents) };
}

test('Linux on GPT: ESP, /boot and root are laid out packed from 1 MiB with their numbers; data and swap are left out with their reasons', async (t) => {
  const { table, contents, selection } = await linuxGpt();
  const choices = selectSystemPartitions(selection);
  const whole = sourceLayoutOf(table, factsOf(contents));
  const system = systemLayoutOf(whole, choices);
  t.deepEqual(system.partitions.map((partition) => partition.number), [1, 3, 4]);
  // 1 MiB head + 32 + 24 + 40 MiB, then the backup entries and header (33 sectors).
  t.is(packedDiskBytes(system), (1 + 32 + 24 + 40) * MiB + 33 * 512);
  const target = { sizeBytes: 128 * MiB, sectorSize: 512, description: 'small.img' };
  const layout = planLayout(system, { target, fit: 'largest' });
  const places = layout.partitions.map((partition) => [partition.number, partition.startLba / 2048, partition.from.startLba / 2048]);
  // The gap of partition 2 (64 MiB) is closed: /boot moves from 97 MiB to 33 MiB, root right after it.
  t.deepEqual(places.map(([number, start]) => [number, start]), [[1, 1], [3, 33], [4, 57]]);
  t.is(layout.partitions.find((partition) => partition.number === 3)?.moved, true);
  t.deepEqual(leftOutOf(whole, choices).map((entry) => [entry.partition, entry.role, entry.sizeBytes / MiB]), [[2, 'data', 64], [5, 'swap', 16]]);
  const plan = planSystemClone({
    source: { path: 'linux.img', sizeBytes: 256 * MiB, table }, filesystems: new Map([...factsOf(contents)].map(([number, facts]) => [number, facts.filesystem])),
    target: { description: 'small.img', sizeBytes: target.sizeBytes }, layout, sectorBySector: false, selection, choices, sourceLayout: whole,
  });
  t.is(plan.kind, 'system');
  t.deepEqual(plan.steps.filter((step) => step.kind === 'volume').map((step) => step.kind === 'volume' && step.volume.partition), [1, 3, 4]);
  const root = plan.steps.find((step) => step.kind === 'volume' && step.volume.partition === 4);
  t.is(root?.kind === 'volume' ? root.volume.sourceOffset : -1, (1 + 32 + 64 + 24) * MiB, 'root is read from its place on the source');
  t.is(root?.kind === 'volume' ? root.volume.targetOffset : -1, (1 + 32 + 24) * MiB, 'root lands right after /boot');
  t.deepEqual(plan.system.leftOut.map((entry) => entry.partition), [2, 5]);
  t.regex(plan.system.leftOut[0]?.reason ?? '', /Data partition/);
  // The fstab names both left-out partitions: /srv/photos without nofail, swap with it.
  t.deepEqual(plan.system.missingMounts.map((mount) => [mount.partition, mount.mountPoint, mount.nofail]), [[2, '/srv/photos', false], [5, 'none', true]]);
  t.regex(plan.system.missingMounts[0]?.warning ?? '', /has no nofail, so it gets nofail in the copy's \/etc\/fstab/);
  // The copy's fstab gets nofail on /srv/photos (swap has it already) in root (partition 4, an ext4) at its new place, before the table.
  const nofail = plan.steps.at(-2);
  t.is(plan.steps.at(-1)?.kind, 'table');
  t.deepEqual(nofail?.kind === 'fstab-nofail' ? [nofail.partition, nofail.offset / MiB, nofail.lines.map((line) => line.mountPoint)] : nofail, [4, 57, ['/srv/photos']]);
  const text = describeSystemClonePlan(plan).join('\n');
  t.regex(text, /^ +2 {2}left out {4}data /m);
  t.regex(text, /^ +4 {2}copied {6}linux-root /m);
  t.regex(text, /^Clone system linux\.img/m);
  t.regex(text, /^warning: partition 2 is left out, but the fstab of the Linux root \(partition 4\) mounts it on \/srv\/photos \(LABEL=photos\)/m);
  t.regex(text, /^note: Not on the copy \(left out\): partition 2 \(data, 64\.0 MiB\), partition 5 \(swap, 16\.0 MiB\)\.$/m);
  // JSON carries the same facts.
  const json = JSON.parse(JSON.stringify(plan)) as { system: { missingMounts: Array<{ nofail: boolean }> } };
  t.is(json.system.missingMounts[0]?.nofail, false);
});

test('the system partitions alone set how small the target may be: one byte too small is refused with the numbers, the packed size fits', async (t) => {
  const { table, contents, selection } = await linuxGpt();
  const system = systemLayoutOf(sourceLayoutOf(table, factsOf(contents)), selectSystemPartitions(selection));
  const fits = planLayout(system, { target: { sizeBytes: packedDiskBytes(system), sectorSize: 512, description: 'exact.img' }, fit: 'largest', cannotShrink: 'test' });
  t.is(fits.partitions.at(-1)?.change, 'same');
  const error = t.throws(() => planLayout(system, { target: { sizeBytes: packedDiskBytes(system) - 512, sectorSize: 512, description: 'short.img' }, fit: 'largest', cannotShrink: 'test' }), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_DEVICE_TARGET_BELOW_MINIMUM');
});

test('MBR: a left-out primary and logical close their gaps, the boot gap is copied, the logical after the left-out one becomes 5 (sfdisk reads the chain back)', async (t) => {
  const { table } = await tableOf('mbr.img', 200 * MiB, { sfdisk: 'label: dos\nlabel-id: 0x1b2c3d4e\nstart=2048, size=40M, type=83\nsize=20M, type=83, bootable\ntype=5\nsize=30M, type=83\nsize=50M, type=83\n' });
  t.deepEqual(table.partitions.map((partition) => `${partition.number}:${partition.kind}`), ['1:primary', '2:primary', '3:extended', '5:logical', '6:logical']);
  const contents: Record<number, PartitionContents> = {
    1: { ...EMPTY, filesystem: fs('ext4', 'daata') },
    2: { ...EMPTY, filesystem: fs('ext4', 'boooot') },
    5: { ...EMPTY, filesystem: fs('ext4', 'moore') },
    6: { ...EMPTY, filesystem: fs('ext4', 'rooot'), fstab: 'UUID=rooot / ext4 defaults 0 1\nPARTUUID=1b2c3d4e-02 /boot ext4 defaults 0 2\nUUID=daata /data ext4 defaults,nofail 0 2\n', looksLikeLinuxRoot: true },
  };
  const selection = selectionOf(table, contents);
  const choices = selectSystemPartitions(selection);
  t.deepEqual(choices.filter((choice) => choice.chosen).map((choice) => `${choice.partition}:${choice.role}`), ['2:linux-boot', '3:extended', '6:linux-root']);
  const whole = sourceLayoutOf(table, factsOf(contents));
  const system = systemLayoutOf(whole, choices);
  const layout = planLayout(system, { target: { sizeBytes: 100 * MiB, sectorSize: 512, description: 'small.img' }, fit: 'largest', cannotShrink: 'test' });
  const plan = planSystemClone({
    source: { path: 'mbr.img', sizeBytes: 200 * MiB, table }, filesystems: new Map([...factsOf(contents)].map(([number, facts]) => [number, facts.filesystem])),
    target: { description: 'small.img', sizeBytes: 100 * MiB }, layout, sectorBySector: false, selection, choices, sourceLayout: whole,
  });
  t.deepEqual(plan.steps.filter((step) => step.kind === 'volume').map((step) => step.kind === 'volume' && step.volume.partition), [2, 6]);
  const gap = plan.steps.find((step) => step.kind === 'boot-gap');
  t.is(gap?.kind === 'boot-gap' ? gap.length : 0, 2047 * 512, 'GRUB\'s core.img place after the MBR is copied as clone disk copies it');
  t.true(plan.notes.some((note) => /on the copy, 6 becomes 5/.test(note)), plan.notes.join('\n'));
  t.deepEqual(plan.system.missingMounts.map((mount) => [mount.partition, mount.nofail]), [[1, true]]);
  t.regex(plan.system.missingMounts[0]?.warning ?? '', /has nofail, so the copy boots without it/);
  // The table the clone writes: sfdisk finds partition 2 at 1 MiB, the extended one after it, and the root as logical 5 (grown from 50 to 78 MiB: the largest data partition fills the 100 MiB).
  const target = path.join(dir, 'mbr-target.img');
  await execa('truncate', ['-s', String(100 * MiB), target]);
  const sectors = encodeMbr(layoutMbr(mbrLayoutOf(layout, { diskSignature: 0x1b2c3d4e })));
  const handle = await open(target, 'r+');
  try {
    for (const { lba, bytes } of sectors) await handle.write(bytes, 0, bytes.length, lba * 512);
  } finally {
    await handle.close();
  }
  const dump = JSON.parse((await execa('sfdisk', ['--json', target])).stdout) as { partitiontable: { partitions: Array<{ node: string; start: number; size: number; type: string }> } };
  t.deepEqual(dump.partitiontable.partitions.map((partition) => [partition.node.replace(target, ''), partition.start, partition.size]), [['2', 2048, 20 * 2048], ['3', 21 * 2048, 79 * 2048], ['5', 22 * 2048, 78 * 2048]]);
  await execa('sfdisk', ['--verify', target]);
});

test('LB_INPUT_NO_SYSTEM: a disk of data partitions only is refused, naming each partition\'s role', async (t) => {
  const { table } = await tableOf('data.img', 64 * MiB, { sfdisk: 'label: gpt\nstart=2048, size=20M\nsize=20M\n' });
  const choices = selectSystemPartitions(selectionOf(table, { 1: { ...EMPTY, filesystem: fs('ext4', 'a') }, 2: { ...EMPTY, filesystem: fs('ntfs', 'b') } }));
  const error = t.throws(() => refuseWithoutSystem(choices, 'data.img'), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_INPUT_NO_SYSTEM');
  t.regex(error?.message ?? '', /No partition of data\.img .*\(1: data, 2: data\)/);
  const linux = selectSystemPartitions((await linuxGpt()).selection);
  t.notThrows(() => refuseWithoutSystem(linux, 'linux.img'));
  t.deepEqual(missingMountsOf(selectionOf(table, {}), choices), []);
});

test('withNofail adds nofail to the named lines only, with a comment above each; comments, other lines and lines with nofail stay as they are', (t) => {
  const text = [
    '# /etc/fstab',
    'UUID=r / ext4 defaults 0 1',
    'LABEL=photos /srv/photos ext4 rw,noatime 0 2 # the photos',
    '/dev/sdb1\t/mnt/My\\040Disk/\tntfs-3g',
    'UUID=s none swap sw,nofail 0 0',
    '#LABEL=photos /srv/photos ext4 defaults 0 2',
    '',
  ].join('\n');
  const lines = [{ spec: 'LABEL=photos', mountPoint: '/srv/photos', partition: 2 }, { spec: '/dev/sdb1', mountPoint: '/mnt/My Disk', partition: 7 }, { spec: 'UUID=s', mountPoint: 'none', partition: 5 }];
  const { text: out, changed } = withNofail(text, lines);
  t.is(changed, 2);
  t.is(out, [
    '# /etc/fstab',
    'UUID=r / ext4 defaults 0 1',
    '# lifeboat clone system: nofail added, partition 2 was left out of this copy',
    'LABEL=photos /srv/photos ext4 rw,noatime,nofail 0 2 # the photos',
    '# lifeboat clone system: nofail added, partition 7 was left out of this copy',
    '/dev/sdb1 /mnt/My\\040Disk/ ntfs-3g defaults,nofail',
    'UUID=s none swap sw,nofail 0 0',
    '#LABEL=photos /srv/photos ext4 defaults 0 2',
    '',
  ].join('\n'));
  t.deepEqual(withNofail(out, lines), { text: out, changed: 0 }, 'a second run changes nothing');
});
