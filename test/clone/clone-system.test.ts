// `lifeboat clone system` of a Windows-shaped GPT disk (test/helpers/windows-shaped-disk.ts: ESP,
// MSR, C:, recovery) with an extra NTFS data partition after the recovery one: onto an image file
// smaller than the source but larger than the system partitions, the copy holds ESP, MSR, C: and
// recovery only (types and sizes kept, C: grown), each NTFS checks clean with ntfsfix -n and
// has the source's tree, hidden sectors name each new start, the MSR is byte for byte the source's,
// the source is unchanged. And its refusals, each before anything is written (source and target
// bytes unchanged): a disk of data partitions only and a bare filesystem image (LB_INPUT_NO_SYSTEM),
// a target too small for the system partitions (LB_DEVICE_TARGET_BELOW_MINIMUM with the numbers).

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareVolumes, fsckVolume, hashRange, makeFilesystemImage, readPartitionTable, verifyGpt, type Volume } from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { describe, errorCode, jsonEvents, lifeboat, sha256File } from '../helpers/repository-harness.ts';
import { makeWindowsShapedDisk, windowsVolume, type WindowsShapedDisk } from '../helpers/windows-shaped-disk.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const DATA_TYPE = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';

let workDir = '';
test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-system-'));
});
test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The Windows-shaped disk (256 MiB) grown to 320 MiB with a fifth partition, an NTFS "Data" volume (mkntfs, a seeded tree through ntfs-3g). */
async function makeWindowsWithData(): Promise<{ disk: WindowsShapedDisk; data: Volume }> {
  const disk = await makeWindowsShapedDisk({ file: path.join(workDir, 'windows-data.img') });
  await truncate(disk.file, 320 * MiB);
  await execa('sgdisk', ['-e', '-n', '5:0:0', '-t', `5:${DATA_TYPE}`, '-c', '5:Data', disk.file]);
  const entry = (await readPartitionTable(disk.file)).partitions.find((partition) => partition.number === 5);
  if (!entry) throw new Error('sgdisk made no partition 5');
  const image = path.join(workDir, 'data-ntfs.img');
  await makeFilesystemImage('ntfs', image, { sizeMiB: (entry.size * SECTOR) / MiB, seed: 55, label: 'Data', hiddenSectors: entry.start });
  await execa('dd', [`if=${image}`, `of=${disk.file}`, 'bs=1M', `seek=${entry.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  await rm(image);
  return { disk: { ...disk, sizeBytes: 320 * MiB }, data: { kind: 'ntfs', file: disk.file, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR } };
}

let windows: Promise<{ disk: WindowsShapedDisk; data: Volume }> | undefined;
const windowsWithData = () => (windows ??= makeWindowsWithData());

async function filled(name: string, bytes: number): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, Buffer.alloc(64 * 1024, 0x77));
  await truncate(file, bytes);
  return file;
}

test('the Windows-shaped disk with a data partition onto a smaller image file: ESP, MSR, C: and recovery only, clean, with the source\'s trees', async (t) => {
  const { disk, data } = await windowsWithData();
  t.is((await fsckVolume(data)).clean, true, 'the data partition is a clean NTFS');
  const before = await sha256File(disk.file);
  const target = path.join(workDir, 'windows-copy.img');
  await writeFile(target, '');
  await truncate(target, 288 * MiB);
  const result = await lifeboat(['clone', 'system', disk.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /^ +5 {2}left out {4}data {2,}Data partition \(Microsoft basic data, ntfs "Data"\)/m);
  t.regex(result.stdout, /^ +3 {2}copied {6}windows /m);
  t.notRegex(result.stdout, /^warning:/m, 'no fstab names the data partition');
  t.is(await sha256File(disk.file), before, 'the source is unchanged');

  const source = await readPartitionTable(disk.file);
  const copy = await readPartitionTable(target);
  t.deepEqual(copy.partitions.map((entry) => entry.number), [1, 2, 3, 4], 'no data partition');
  for (const entry of copy.partitions) {
    const from = source.partitions.find((candidate) => candidate.number === entry.number);
    t.is(entry.type as string | undefined, from?.type, `partition ${entry.number}: its type`);
    if (entry.number !== 3) t.is(entry.size as number | undefined, from?.size, `partition ${entry.number} keeps its size`);
  }
  t.true((copy.partitions[2]?.size ?? 0) > (source.partitions[2]?.size ?? 0), 'C: grows into the rest');
  const verify = await verifyGpt(target);
  t.true(verify.clean, verify.output);
  const msr = disk.partitions.find((partition) => partition.role === 'msr');
  t.is(await hashRange(target, (copy.partitions[1]?.start ?? 0) * SECTOR, (msr?.sizeSectors ?? 0) * SECTOR), await hashRange(disk.file, (msr?.startSector ?? 0) * SECTOR, (msr?.sizeSectors ?? 0) * SECTOR), 'the MSR byte for byte');
  for (const role of ['esp', 'windows', 'recovery'] as const) {
    const number = disk.partitions.find((partition) => partition.role === role)?.number;
    const entry = copy.partitions.find((candidate) => candidate.number === number);
    const copied: Volume = { ...windowsVolume(disk, role, target), offset: (entry?.start ?? 0) * SECTOR, sizeBytes: (entry?.size ?? 0) * SECTOR };
    const fsck = await fsckVolume(copied);
    t.true(fsck.clean, `${role}: ${fsck.output}`);
    t.deepEqual(await compareVolumes(windowsVolume(disk, role), copied, { facts: false }), [], `${role}: the source's tree`);
    t.is((await readAt(target, copied.offset + 0x1c, 4)).readUInt32LE(0) as number | undefined, entry?.start, `${role}: hidden sectors = its new start`);
  }
});

test('LB_INPUT_NO_SYSTEM: a disk of data partitions only, and a filesystem image without a table; nothing written', async (t) => {
  const dataDisk = path.join(workDir, 'data-only.img');
  await writeFile(dataDisk, '');
  await truncate(dataDisk, 48 * MiB);
  await execa('sfdisk', ['-q', dataDisk], { input: 'label: gpt\nstart=2048, size=40M, type=linux\n' });
  const part = path.join(workDir, 'data-only-p1.img');
  await makeFilesystemImage('ext4', part, { sizeMiB: 40, seed: 12 });
  await execa('dd', [`if=${part}`, `of=${dataDisk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none']);
  for (const source of [dataDisk, part]) {
    const target = await filled('no-system-target.img', 64 * MiB);
    const [sourceBefore, targetBefore] = [await sha256File(source), await sha256File(target)];
    const result = await lifeboat(['clone', 'system', source, target, '--yes', '--json']);
    t.is(errorCode(result), 'LB_INPUT_NO_SYSTEM', describe(result));
    t.is(result.exitCode, 2, 'an input error');
    t.is(await sha256File(source), sourceBefore, 'the source is unchanged');
    t.is(await sha256File(target), targetBefore, 'the target is unchanged');
    t.deepEqual(jsonEvents(result.stdout).filter((event) => event.event === 'plan'), [], 'no plan was made');
  }
});

test('LB_DEVICE_TARGET_BELOW_MINIMUM: a target smaller than the system partitions need, with the numbers; nothing written', async (t) => {
  const { disk } = await windowsWithData();
  const target = await filled('too-small.img', 100 * MiB);
  const [sourceBefore, targetBefore] = [await sha256File(disk.file), await sha256File(target)];
  const result = await lifeboat(['clone', 'system', disk.file, target, '--yes']);
  t.is(errorCode(result), 'LB_DEVICE_TARGET_BELOW_MINIMUM', describe(result));
  t.regex(result.stderr, /too-small\.img holds 100 MiB .*the source's partitions need at least/);
  t.is(await sha256File(disk.file), sourceBefore, 'the source is unchanged');
  t.is(await sha256File(target), targetBefore, 'the target is unchanged');
});
