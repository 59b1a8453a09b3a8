// `lifeboat clone disk` onto targets of the same size and larger, as image files and as loop
// devices: an MBR disk (GRUB-style boot code and gap, ext4, FAT32, an extended partition with a
// logical NTFS) and a Windows-shaped GPT disk (ESP FAT32 filled with mtools, MSR, a half-full NTFS
// "C:" written with ntfs-3g, an NTFS recovery partition; table by sgdisk). Judged by the formats'
// own tools: every filesystem checks clean (e2fsck -fn, fsck.fat -n, ntfsfix -n) with the source's
// tree, the boot sectors of moved NTFS and FAT volumes name their new start (hidden sectors), the
// grown filesystem fills its partition, boot code and boot gap are the source's, the table passes
// sfdisk --verify / sgdisk -v, and the source's bytes never change.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareDisks, compareVolumes, filesystemSizeBytes, hashRange, makeGptDisk, makeMbrDisk, partitionVolume, readPartitionTable, verifyGpt, type DiskFixture, type Volume } from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { describe, lifeboat, sha256File } from '../helpers/repository-harness.ts';
import { makeWindowsShapedDisk } from '../helpers/windows-shaped-disk.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The shared Windows-shaped disk (test/helpers/windows-shaped-disk.ts) as a disk fixture: the MSR, which holds no filesystem, is compared byte for byte as the BIOS boot partition is. */
async function makeWindowsDisk(dir: string): Promise<DiskFixture> {
  const disk = await makeWindowsShapedDisk({ file: path.join(dir, 'windows.img') });
  const content = { esp: 'fat32', msr: 'bios-boot', windows: 'ntfs', recovery: 'ntfs' } as const;
  const partitions = disk.partitions.map((partition) => ({ number: partition.number, offset: partition.startSector * SECTOR, sizeBytes: partition.sizeSectors * SECTOR, content: content[partition.role] }));
  return { file: disk.file, sizeBytes: disk.sizeBytes, label: 'gpt', script: '', partitions };
}

/** A sparse file of `bytes`, holding random bytes at its start and end (old contents a clone must not leave as a table). */
async function makeTarget(name: string, bytes: number): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, '');
  await truncate(file, bytes);
  const handle = await open(file, 'r+');
  try {
    const junk = Buffer.alloc(MiB, 0x5a);
    await handle.write(junk, 0, MiB, 0);
    await handle.write(junk, 0, MiB, bytes - MiB);
  } finally {
    await handle.close();
  }
  return file;
}


/** Loop device over `file` with its partitions (losetup, then partx -a), detached after `use`. */
async function withPartitionedLoop<T>(file: string, use: (device: string) => Promise<T>): Promise<T> {
  const device = (await execa('losetup', ['--find', '--show', file])).stdout.trim();
  try {
    await execa('partx', ['-a', device], { reject: false });
    return await use(device);
  } finally {
    await execa('partx', ['-d', device], { reject: false });
    await execa('losetup', ['-d', device], { reject: false });
  }
}

/**
 * Every filesystem of `source` on `targetFile` (found by number in the target's table): clean, same
 * tree; NTFS and FAT boot sectors (and NTFS's backup after the volume) name the partition's start;
 * `grown` partitions' filesystems fill them. Also the boot code and the table's own check.
 */
async function checkClone(t: ExecutionContext, source: DiskFixture, targetFile: string, grown: readonly number[]): Promise<void> {
  const table = await readPartitionTable(targetFile);
  for (const partition of source.partitions) {
    if (partition.content === 'bios-boot') {
      const entry = table.partitions.find((candidate) => candidate.number === partition.number);
      t.is(await hashRange(targetFile, (entry?.start ?? 0) * SECTOR, partition.sizeBytes), await hashRange(source.file, partition.offset, partition.sizeBytes), `BIOS boot partition ${partition.number} copied as it is`);
    }
    if (partition.content === 'extended' || partition.content === 'bios-boot') continue;
    const entry = table.partitions.find((candidate) => candidate.number === partition.number);
    if (!entry) {
      t.fail(`partition ${partition.number} is missing from the copy's table`);
      continue;
    }
    const copy: Volume = { kind: partition.content, file: targetFile, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR };
    t.deepEqual(await compareVolumes(partitionVolume(partition, source.file), copy, { facts: false }), [], `partition ${partition.number} (${partition.content})`);
    if (partition.content === 'ntfs' || partition.content === 'fat32') t.is((await readAt(targetFile, copy.offset + 0x1c, 4)).readUInt32LE(0), entry.start, `partition ${partition.number}: hidden sectors = its start`);
    if (partition.content === 'ntfs') {
      const end = copy.offset + Number((await readAt(targetFile, copy.offset + 0x28, 8)).readBigUInt64LE(0)) * SECTOR;
      t.is(await hashRange(targetFile, end, SECTOR), await hashRange(targetFile, copy.offset, SECTOR), `partition ${partition.number}: the backup boot sector after the volume equals the boot sector`);
    }
    if (grown.includes(partition.number)) t.true((await filesystemSizeBytes(copy)) >= copy.sizeBytes - MiB, `partition ${partition.number}: the filesystem fills its grown partition`);
  }
  t.is(await hashRange(targetFile, 0, 440), await hashRange(source.file, 0, 440), 'boot code');
  if (source.label === 'gpt') {
    const verified = await verifyGpt(targetFile);
    t.true(verified.clean, verified.output);
  } else {
    const first = Math.min(...source.partitions.map((partition) => partition.offset));
    t.is(await hashRange(targetFile, SECTOR, first - SECTOR), await hashRange(source.file, SECTOR, first - SECTOR), 'boot gap (GRUB core.img) copied as it is');
    const verify = await execa('sfdisk', ['--verify', targetFile], { reject: false });
    t.is(verify.exitCode, 0, verify.stdout + verify.stderr);
  }
}

let mbr: Promise<DiskFixture> | undefined;
const mbrDisk = () => (mbr ??= makeMbrDisk(workDir, 41));
let windows: Promise<DiskFixture> | undefined;
const windowsDisk = () => (windows ??= makeWindowsDisk(workDir));

test('an MBR disk onto an image file of the same size with --fit keep: the same table, gap, boot code and volumes', async (t) => {
  const source = await mbrDisk();
  const before = await sha256File(source.file);
  const target = await makeTarget('mbr-same.img', source.sizeBytes);
  const result = await lifeboat(['clone', 'disk', source.file, target, '--fit', 'keep', '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.deepEqual(await compareDisks(source, target), []);
  t.is(await sha256File(source.file), before, 'the source is unchanged');
});

test('an MBR disk onto a larger image file: the largest data partition (ext4) grows, FAT32 and the logical NTFS move with their hidden sectors', async (t) => {
  const source = await mbrDisk();
  const before = await sha256File(source.file);
  const target = await makeTarget('mbr-larger.img', 300 * MiB);
  const result = await lifeboat(['clone', 'disk', source.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /1: ext4, 64\.0 MiB -> \d+ MiB at 1 MiB, grows/);
  const table = await readPartitionTable(target);
  t.true((table.partitions.find((entry) => entry.number === 2)?.start ?? 0) > source.partitions[1]!.offset / SECTOR, 'partition 2 moved');
  await checkClone(t, source, target, [1]);
  t.is(await sha256File(source.file), before, 'the source is unchanged');
});

test('a Windows-shaped GPT disk from a loop device onto a larger loop device: C: grows, recovery moves, ESP and MSR keep their size, backup GPT at the new end', async (t) => {
  const source = await windowsDisk();
  const before = await sha256File(source.file);
  const targetFile = await makeTarget('windows-larger.img', 400 * MiB);
  const result = await withPartitionedLoop(source.file, (from) => withPartitionedLoop(targetFile, (to) => lifeboat(['clone', 'disk', from, to, '--yes'])));
  t.is(result.exitCode, 0, describe(result));
  const table = await readPartitionTable(targetFile);
  const size = (number: number) => table.partitions.find((entry) => entry.number === number)?.size;
  const sourceSize = (number: number) => (source.partitions.find((partition) => partition.number === number)?.sizeBytes ?? 0) / SECTOR;
  t.is(size(1), sourceSize(1), 'ESP keeps its size');
  t.is(size(2), sourceSize(2), 'MSR keeps its size');
  t.is(size(4), sourceSize(4), 'recovery keeps its size');
  t.true((size(3) ?? 0) > sourceSize(3), 'C: grows');
  await checkClone(t, source, targetFile, [3]);
  const { stdout } = await execa('sgdisk', ['-i', '4', targetFile]);
  t.regex(stdout, /Attribute flags: 8000000000000001/, 'the recovery partition keeps its attributes');
  t.is(await sha256File(source.file), before, 'the source is unchanged');
});

test('a Windows-shaped GPT disk onto an image file of the same size: clean, same trees, sgdisk -v clean', async (t) => {
  const source = await windowsDisk();
  const before = await sha256File(source.file);
  const target = await makeTarget('windows-same.img', source.sizeBytes);
  const result = await lifeboat(['clone', 'disk', source.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  await checkClone(t, source, target, []);
  t.is(await sha256File(source.file), before, 'the source is unchanged');
});

let mixed: Promise<DiskFixture> | undefined;
const mixedGptDisk = () => (mixed ??= makeGptDisk(workDir, 53));

test('a GPT disk with a BIOS boot partition, ESP, NTFS, exFAT and ext4 onto an image file of the same size with --fit keep: identical tables, boot code and volumes', async (t) => {
  const source = await mixedGptDisk();
  const target = await makeTarget('mixed-same.img', source.sizeBytes);
  const result = await lifeboat(['clone', 'disk', source.file, target, '--fit', 'keep', '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.deepEqual(await compareDisks(source, target), []);
});

test('a GPT disk with a BIOS boot partition, ESP, NTFS, exFAT and ext4 onto a larger image file: NTFS grows, exFAT and ext4 move, the BIOS boot partition stays as it is', async (t) => {
  const source = await mixedGptDisk();
  const before = await sha256File(source.file);
  const target = await makeTarget('mixed-larger.img', 300 * MiB);
  const result = await lifeboat(['clone', 'disk', source.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  const table = await readPartitionTable(target);
  const ntfs = source.partitions.find((partition) => partition.content === 'ntfs');
  t.true((table.partitions.find((entry) => entry.number === ntfs?.number)?.size ?? 0) * SECTOR > (ntfs?.sizeBytes ?? 0), 'NTFS grows');
  await checkClone(t, source, target, [ntfs?.number ?? 0]);
  t.is(await sha256File(source.file), before, 'the source is unchanged');
});
