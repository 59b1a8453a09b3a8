// `clone partition SOURCE DISK:free`: the copy lands in a new partition in the disk's largest free
// area (1 MiB aligned, the source's size in whole MiB), added to the table last, nothing else on the
// disk written. GPT (sgdisk-made): a seeded ext4 image becomes partition 2 (Linux filesystem type),
// then partition 1 of another GPT disk (type 8302, Linux /home) becomes partition 3 with that type;
// MBR (sfdisk-made): a seeded FAT32 image becomes primary 2 (type c, hidden sectors = its start).
// Refusals change no byte: no free area large enough (LB_DEVICE_TARGET_TOO_SMALL, the numbers) and an
// MBR whose four primary slots are used (LB_INPUT_USAGE).

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareVolumes, fsckVolume, hashRange, makeFilesystemImage } from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { describe, errorCode, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;

async function blankDisk(file: string, mib: number, table: string[] | string): Promise<void> {
  await writeFile(file, '');
  await truncate(file, mib * MiB);
  if (typeof table === 'string') await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], { input: table });
  else await execa('sgdisk', ['-o', ...table, file]);
}

interface Entry { node: string; start: number; size: number; type: string }

async function entries(file: string): Promise<Entry[]> {
  return (JSON.parse((await execa('sfdisk', ['-J', file])).stdout) as { partitiontable: { partitions: Entry[] } }).partitiontable.partitions;
}

let dir = '';
test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-free-area-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('GPT: an ext4 image and then a GPT partition (type 8302) land in new partitions 2 and 3 of the largest free area, partition 1 untouched', async (t) => {
  const disk = path.join(dir, 'gpt.img');
  await blankDisk(disk, 96, ['-n', '1:2048:+16M', '-t', '1:8300']);
  const partitionOne = await hashRange(disk, MiB, 16 * MiB);
  const image = await makeFilesystemImage('ext4', path.join(dir, 'ext4.img'), { sizeMiB: 24, seed: 81 });
  const before = await sha256File(image.file);
  const dry = await lifeboat(['clone', 'partition', image.file, `${disk}:free`, '--dry-run']);
  t.regex(dry.stdout, /New partition: .* partition 2 \(type 0FC63DAF-8483-4772-8E79-3D69D8477DE4\), 24\.0 MiB at sector 34816 in the largest free area/, describe(dry));
  const result = await lifeboat(['clone', 'partition', image.file, `${disk}:free`, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.is(await sha256File(image.file), before, 'the source is unchanged');
  let table = await entries(disk);
  t.deepEqual(table.map((entry) => [entry.start, entry.size, entry.type]), [[2048, 32768, '0FC63DAF-8483-4772-8E79-3D69D8477DE4'], [34816, 49152, '0FC63DAF-8483-4772-8E79-3D69D8477DE4']]);
  const copy = { ...image, file: disk, offset: 34816 * SECTOR };
  t.true((await fsckVolume(copy)).clean);
  t.deepEqual(await compareVolumes(image, copy, { facts: false }), []);

  // A partition of another disk keeps its type GUID (sgdisk 8302: Linux /home).
  const other = path.join(dir, 'other.img');
  await blankDisk(other, 32, ['-n', '1:2048:+12M', '-t', '1:8302']);
  await execa('mkfs.ext4', ['-q', '-F', '-E', `offset=${MiB}`, other, '12M']);
  const second = await lifeboat(['clone', 'partition', `${other}:1`, `${disk}:free`, '--yes']);
  t.is(second.exitCode, 0, describe(second));
  table = await entries(disk);
  t.deepEqual(table.at(-1) && [table.at(-1)?.start, table.at(-1)?.size, table.at(-1)?.type], [83968, 24576, '933AC7E1-2EB4-4F13-B844-0E14E2AEF915']);
  t.true((await fsckVolume({ kind: 'ext4', file: disk, offset: 83968 * SECTOR, sizeBytes: 12 * MiB })).clean);
  t.is(await hashRange(disk, MiB, 16 * MiB), partitionOne, 'partition 1 is unchanged');
  const verify = await execa('sgdisk', ['-v', disk]);
  t.regex(verify.stdout, /No problems found/);
});

test('MBR: a FAT32 image lands as primary 2 (type c) with its hidden sectors at its start', async (t) => {
  const disk = path.join(dir, 'mbr.img');
  await blankDisk(disk, 64, 'label: dos\nstart=2048, size=16384, type=83\n');
  const image = await makeFilesystemImage('fat32', path.join(dir, 'fat.img'), { sizeMiB: 33, seed: 82 });
  const result = await lifeboat(['clone', 'partition', image.file, `${disk}:free`, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  const table = await entries(disk);
  t.deepEqual(table.map((entry) => [entry.start, entry.size, entry.type]), [[2048, 16384, '83'], [18432, 67584, 'c']]);
  t.is((await readAt(disk, 18432 * SECTOR + 0x1c, 4)).readUInt32LE(0), 18432, 'hidden sectors = the new start');
  const copy = { ...image, file: disk, offset: 18432 * SECTOR };
  t.true((await fsckVolume(copy)).clean);
  t.deepEqual(await compareVolumes(image, copy, { facts: false }), []);
});

test('refusals leave the disk unchanged: LB_DEVICE_TARGET_TOO_SMALL with the numbers, LB_INPUT_USAGE when the MBR has no free primary slot', async (t) => {
  const source = await makeFilesystemImage('ext4', path.join(dir, 'refused.img'), { sizeMiB: 24, seed: 83 });
  const small = path.join(dir, 'small.img');
  await blankDisk(small, 32, ['-n', '1:2048:+16M']);
  const smallBefore = await sha256File(small);
  const tooSmall = await lifeboat(['clone', 'partition', source.file, `${small}:free`, '--yes', '--json']);
  t.is(errorCode(tooSmall), 'LB_DEVICE_TARGET_TOO_SMALL', describe(tooSmall));
  const details = (JSON.parse(tooSmall.stderr.trim().split('\n').at(-1) ?? '{}') as { error: { details: Record<string, number> } }).error.details;
  t.is(details.requiredBytes, 24 * MiB);
  t.true((details.freeBytes ?? 0) < 16 * MiB && (details.freeBytes ?? 0) > 14 * MiB, `free ${details.freeBytes}`);
  t.is(await sha256File(small), smallBefore);
  const full = path.join(dir, 'full.img');
  await blankDisk(full, 96, 'label: dos\nstart=2048, size=4096, type=83\nstart=8192, size=4096, type=83\nstart=12288, size=4096, type=83\nstart=16384, size=4096, type=83\n');
  const fullBefore = await sha256File(full);
  const noSlot = await lifeboat(['clone', 'partition', source.file, `${full}:free`, '--yes']);
  t.is(errorCode(noSlot), 'LB_INPUT_USAGE', describe(noSlot));
  t.regex(noSlot.stderr, /no free primary slot \(partitions 1, 2, 3, 4\)/);
  t.is(await sha256File(full), fullBefore);
});
