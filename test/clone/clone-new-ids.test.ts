// `clone --new-ids` without a boot: the Windows-shaped disk (test/helpers/windows-shaped-disk.ts)
// cloned onto a same-size image file gets a new GPT disk GUID and partition GUIDs (types kept), new
// NTFS serials for C: and recovery (boot sector and backup boot sector alike), a new FAT volume id
// for the ESP (FAT32: also its backup boot sector); ntfsfix -n and fsck.fat are clean, the trees
// equal the source's, the source is unchanged. And `clone partition --new-ids` of an ext4 image
// (metadata_csum, as mkfs.ext4 makes it) gives the copy a new UUID through tune2fs, e2fsck clean.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareVolumes, fsckVolume, makeFilesystemImage, readPartitionTable, readTree } from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { describe, lifeboat, sha256File } from '../helpers/repository-harness.ts';
import { makeWindowsShapedDisk, windowsVolume } from '../helpers/windows-shaped-disk.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;

interface GptFacts {
  readonly id: string;
  readonly partitions: ReadonlyArray<{ readonly node: string; readonly type: string; readonly uuid: string }>;
}

async function gptFacts(file: string): Promise<GptFacts> {
  const { stdout } = await execa('sfdisk', ['-J', file]);
  return (JSON.parse(stdout) as { partitiontable: GptFacts }).partitiontable;
}

test('the Windows-shaped disk with --new-ids: new disk and partition GUIDs (types kept), new NTFS serials in both boot sectors, a new FAT32 volume id in both, all clean, the source unchanged', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-new-ids-windows-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = await makeWindowsShapedDisk({ file: path.join(dir, 'source.img') });
  const before = await sha256File(source.file);
  const target = path.join(dir, 'copy.img');
  await writeFile(target, '');
  await truncate(target, source.sizeBytes);
  const result = await lifeboat(['clone', 'disk', source.file, target, '--new-ids', '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /note: Windows names its partitions by disk and partition id in its boot configuration \(BCD\)/);
  t.is(await sha256File(source.file), before, 'the source is unchanged');
  const [from, to] = [await gptFacts(source.file), await gptFacts(target)];
  t.not(to.id, from.id, 'the disk GUID');
  t.deepEqual(to.partitions.map((entry) => entry.type), from.partitions.map((entry) => entry.type), 'type GUIDs kept');
  for (const [index, entry] of to.partitions.entries()) t.not(entry.uuid, from.partitions[index]?.uuid, `${entry.node}: a new partition GUID`);
  t.is(new Set(to.partitions.map((entry) => entry.uuid)).size, to.partitions.length, 'partition GUIDs unique');
  const table = await readPartitionTable(target);
  for (const partition of source.partitions) {
    if (partition.filesystem === 'none') continue;
    const role = partition.role as 'esp' | 'windows' | 'recovery';
    const start = table.partitions.find((entry) => entry.number === partition.number)?.start ?? -1;
    const offset = start * SECTOR;
    const uuid = (await execa('blkid', ['-p', '-O', String(offset), '-s', 'UUID', '-o', 'value', target])).stdout.trim();
    t.not(uuid, partition.uuid, `${role}: a new id (was ${partition.uuid})`);
    const boot = await readAt(target, offset, SECTOR);
    if (partition.filesystem === 'ntfs') {
      t.is(Buffer.from(boot.subarray(0x48, 0x50)).reverse().toString('hex').toUpperCase(), uuid);
      const backupAt = offset + Number(boot.readBigUInt64LE(0x28)) * SECTOR;
      t.deepEqual(await readAt(target, backupAt, SECTOR), boot, `${role}: the backup boot sector carries the new serial`);
    } else {
      t.is(boot.readUInt32LE(0x43).toString(16).toUpperCase().padStart(8, '0'), uuid.replace('-', ''));
      const backup = await readAt(target, offset + boot.readUInt16LE(0x32) * SECTOR, SECTOR);
      t.is(backup.readUInt32LE(0x43), boot.readUInt32LE(0x43), 'the FAT32 backup boot sector carries the new id');
    }
    const fsck = await fsckVolume({ ...windowsVolume(source, role, target), offset, sizeBytes: (table.partitions.find((entry) => entry.number === partition.number)?.size ?? 0) * SECTOR });
    t.true(fsck.clean, `${role}: ${fsck.output}`);
    const [sourceTree, copyTree] = await Promise.all([readTree(windowsVolume(source, role)), readTree({ ...windowsVolume(source, role, target), offset })]);
    const withoutSerial = (tree: ReadonlyMap<string, string>) => new Map([...tree].map(([name, line]) => [name, line.replace(/Volume Serial Number is [0-9A-F-]+/, 'Volume Serial Number is (new)')]));
    t.deepEqual(withoutSerial(copyTree), withoutSerial(sourceTree), `${role}: the source's tree (mdir's serial line aside)`);
  }
});

test('clone partition --new-ids of an ext4 image (metadata_csum): a new UUID by tune2fs, e2fsck clean, the tree and the source unchanged', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-new-ids-ext4-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = path.join(dir, 'source.img');
  const fixture = await makeFilesystemImage('ext4', source, { sizeMiB: 24, seed: 71 });
  const before = await sha256File(source);
  const target = path.join(dir, 'copy.img');
  await writeFile(target, '');
  await truncate(target, 32 * MiB);
  const result = await lifeboat(['clone', 'partition', source, target, '--new-ids', '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.is(await sha256File(source), before, 'the source is unchanged');
  const features = (await execa('dumpe2fs', ['-h', target], { stderr: 'ignore' })).stdout;
  t.regex(features, /metadata_csum/);
  const [old, renewed] = [await execa('blkid', ['-p', '-s', 'UUID', '-o', 'value', source]), await execa('blkid', ['-p', '-s', 'UUID', '-o', 'value', target])].map((run) => run.stdout.trim());
  t.not(renewed, old);
  t.regex(result.stdout, new RegExp(`the filesystem ext4 UUID: ${old} -> ${renewed}`));
  const copy = { ...fixture, file: target, sizeBytes: 32 * MiB };
  const fsck = await fsckVolume(copy);
  t.true(fsck.clean, fsck.output);
  t.deepEqual(await compareVolumes(fixture, copy, { facts: false }), []);
});
