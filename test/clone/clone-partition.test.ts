// `lifeboat clone partition SOURCE TARGET` onto an existing, larger partition at another start:
// partition 5 (a logical NTFS) of the MBR fixture onto partition 2 of another disk image (FILE:N),
// and its ext4 partition 1 from a loop device's partition onto a loop device's partition (losetup,
// partx -a). The copy checks clean with the source's tree, fills its partition (ntfsresize,
// resize2fs), an NTFS boot sector and its backup name the new start; the target disk's other
// partition and table are untouched, the source unchanged. A partition cloned onto itself is refused.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareVolumes, filesystemSizeBytes, hashRange, makeFilesystemImage, makeMbrDisk, partitionVolume, readPartitionTable, withMountedVolume, type DiskFixture, type Volume } from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { describe, errorCode, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;

let workDir = '';
let fixture: Promise<DiskFixture> | undefined;
const mbrDisk = () => (fixture ??= makeMbrDisk(workDir, 47));

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-partition-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A 200 MiB MBR disk image: partition 1 of 20 MiB at 1 MiB holding random bytes, partition 2 of 120 MiB at 30 MiB. */
async function makeTargetDisk(name: string): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, '');
  await truncate(file, 200 * MiB);
  await execa('sfdisk', ['-q', file], { input: `label: dos\nstart=2048, size=${20 * 2048}, type=83\nstart=${30 * 2048}, size=${120 * 2048}, type=7\n` });
  const handle = await open(file, 'r+');
  try {
    await handle.write(Buffer.alloc(20 * MiB, 0x3c), 0, 20 * MiB, MiB);
  } finally {
    await handle.close();
  }
  return file;
}

async function u32At(file: string, offset: number): Promise<number> {
  return Buffer.from(await readAt(file, offset, 4)).readUInt32LE(0);
}


test('a logical NTFS partition onto a larger partition of another disk image (FILE:N): clean, same tree, grown, hidden sectors = the new start', async (t) => {
  const source = await mbrDisk();
  const ntfs = source.partitions.find((partition) => partition.content === 'ntfs');
  if (!ntfs) return void t.fail('the fixture has no NTFS');
  const before = await sha256File(source.file);
  const target = await makeTargetDisk('ntfs-target.img');
  const [table, other] = [await execa('sfdisk', ['-d', target]), await hashRange(target, MiB, 20 * MiB)];
  const result = await lifeboat(['clone', 'partition', `${source.file}:${ntfs.number}`, `${target}:2`, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /hidden sectors set to 61440/);
  const copy: Volume = { kind: 'ntfs', file: target, offset: 30 * MiB, sizeBytes: 120 * MiB };
  t.deepEqual(await compareVolumes(partitionVolume(ntfs, source.file), copy, { facts: false }), []);
  t.is(await u32At(target, copy.offset + 0x1c), 30 * 2048, 'hidden sectors = the new start');
  t.true((await filesystemSizeBytes(copy)) >= copy.sizeBytes - MiB, 'NTFS fills its partition');
  t.is(await hashRange(target, copy.offset + copy.sizeBytes - SECTOR, SECTOR), await hashRange(target, copy.offset, SECTOR), 'the backup boot sector in the partition\'s last sector');
  t.is((await execa('sfdisk', ['-d', target])).stdout, table.stdout, 'the target disk\'s table is untouched');
  t.is(await hashRange(target, MiB, 20 * MiB), other, 'partition 1 of the target disk is untouched');
  t.is(await sha256File(source.file), before, 'the source is unchanged');
});

test('an ext4 partition from a loop device onto a larger loop device partition: clean, same tree, grown; onto itself refused (LB_DEVICE_TARGET_IS_SOURCE)', async (t) => {
  const source = await mbrDisk();
  const ext4 = source.partitions.find((partition) => partition.content === 'ext4');
  if (!ext4) return void t.fail('the fixture has no ext4');
  const before = await sha256File(source.file);
  const target = await makeTargetDisk('ext4-target.img');
  const attach = async (file: string) => {
    const device = (await execa('losetup', ['--find', '--show', file])).stdout.trim();
    await execa('partx', ['-a', device], { reject: false });
    return device;
  };
  const [from, to] = [await attach(source.file), await attach(target)];
  try {
    const itself = await lifeboat(['clone', 'partition', `${from}p${ext4.number}`, `${from}p${ext4.number}`, '--yes']);
    t.is(errorCode(itself), 'LB_DEVICE_TARGET_IS_SOURCE', describe(itself));
    const result = await lifeboat(['clone', 'partition', `${from}p${ext4.number}`, `${to}p2`, '--yes']);
    t.is(result.exitCode, 0, describe(result));
    t.notRegex(result.stderr, /did not read the new partition table/, 'a partition device has no table of its own to read again');
  } finally {
    for (const device of [from, to]) {
      await execa('partx', ['-d', device], { reject: false });
      await execa('losetup', ['-d', device], { reject: false });
    }
  }
  const copy: Volume = { kind: 'ext4', file: target, offset: 30 * MiB, sizeBytes: 120 * MiB };
  t.deepEqual(await compareVolumes(partitionVolume(ext4, source.file), copy, { facts: false }), []);
  t.is(await filesystemSizeBytes(copy), copy.sizeBytes, 'ext4 fills its partition');
  t.is(await sha256File(source.file), before, 'the source is unchanged');
  t.deepEqual((await readPartitionTable(target)).partitions.map((entry) => entry.start), [2048, 30 * 2048]);
});

test('a filesystem image onto new image files: used blocks only by default, every sector with --sector-by-sector (byte-identical); --then reboot follows success only', async (t) => {
  const source = path.join(workDir, 'ext4-volume.img');
  await makeFilesystemImage('ext4', source, { sizeMiB: 24, seed: 61 });
  // Bytes in free blocks: a file written and deleted leaves them behind.
  await withMountedVolume({ kind: 'ext4', file: source, offset: 0, sizeBytes: 24 * MiB }, 'rw', async (root) => {
    await writeFile(path.join(root, 'gone.bin'), Buffer.alloc(4 * MiB, 0xa5));
    await execa('sync');
    await rm(path.join(root, 'gone.bin'));
  });
  const before = await sha256File(source);
  const power = path.join(workDir, 'power-actions');
  const env = { LIFEBOAT_TEST_POWER_ACTION_FILE: power };
  const used = await lifeboat(['clone', 'partition', source, path.join(workDir, 'used.img'), '--then', 'reboot'], { env });
  t.is(used.exitCode, 0, describe(used));
  const whole = await lifeboat(['clone', 'partition', source, path.join(workDir, 'whole.img'), '--sector-by-sector'], { env });
  t.is(whole.exitCode, 0, describe(whole));
  t.regex(whole.stdout, /every sector/);
  const refused = await lifeboat(['clone', 'partition', source, source, '--then', 'poweroff'], { env });
  t.is(errorCode(refused), 'LB_DEVICE_TARGET_IS_SOURCE', describe(refused));
  t.is(await readFile(power, 'utf8'), 'reboot\n', 'one reboot, after the clone that succeeded and asked for it');
  const volume = (file: string): Volume => ({ kind: 'ext4', file, offset: 0, sizeBytes: 24 * MiB });
  t.deepEqual(await compareVolumes(volume(source), volume(path.join(workDir, 'used.img'))), [], 'used blocks: clean, same tree and header');
  t.not(await sha256File(path.join(workDir, 'used.img')), before, 'the deleted file\'s blocks were not read');
  t.is(await sha256File(path.join(workDir, 'whole.img')), before, '--sector-by-sector: byte-identical');
  t.is(await sha256File(source), before, 'the source is unchanged');
});
