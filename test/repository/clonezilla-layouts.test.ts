// Clonezilla images of the layouts beyond primary MBR partitions, saved the way ocs-sr saves them
// (test/helpers/clonezilla.ts: sfdisk made the tables, mkfs the filesystems, the real partclone the
// images): an MBR disk with an extended partition holding ext4, FAT32 and swap logicals (sda5..7),
// and a GPT disk (ESP FAT32, ext4, NTFS, whose backup boot sector partclone does not carry). `lifeboat restore DIR` rebuilds them byte for byte (the
// table by sfdisk -d and every EBR; each partition region; onto a larger disk the GPT's backup moves
// to the end and sgdisk -v finds no problem); `ls`/`get` read DIR:sda5 and DIR:sda1; `import
// clonezilla` gives a snapshot that restores to the same bytes and browses its logical partitions.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { assertImportRestoresDisk, assertPayloadBrowses, buildSpecDisk, GPT_TYPES, newScratchRoot, removeClonezillaTestDisks, saveSpecDiskLikeOcsSr, SECTOR, SPEC_SWAP, type BuiltSpecDisk, type DiskSpec } from '../helpers/clonezilla.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { describe, lifeboat } from '../helpers/repository-harness.ts';

test.after.always(removeClonezillaTestDisks);

const LOGICAL_DISK: DiskSpec = {
  label: 'dos',
  labelId: '0x4c6f6769',
  sectors: 153600,
  partitions: [
    { number: 1, start: 2048, size: 32768, type: '83', fs: 'ext4', bootable: true },
    { number: 2, start: 34816, size: 118784, type: '5' },
    { number: 5, start: 36864, size: 32768, type: '83', fs: 'ext4' },
    { number: 6, start: 71680, size: 69632, type: 'c', fs: 'vfat' },
    { number: 7, start: 143360, size: 8192, type: '82', fs: 'swap' },
  ],
};

const GPT_DISK: DiskSpec = {
  label: 'gpt',
  labelId: '9A1B2C3D-4E5F-4061-8273-94A5B6C7D8E9',
  sectors: 133120,
  partitions: [
    { number: 1, start: 2048, size: 69632, type: GPT_TYPES.esp, fs: 'vfat', name: 'EFI system partition' },
    { number: 2, start: 71680, size: 32768, type: GPT_TYPES.linux, fs: 'ext4', name: 'root' },
    { number: 3, start: 104448, size: 20480, type: GPT_TYPES.basicData, fs: 'ntfs', name: 'data' },
  ],
};

const sfdiskDump = async (file: string): Promise<string> => (await execa('sfdisk', ['-d', file])).stdout.replaceAll(file, 'DISK');

/** Bytes [start, start+size) sectors of a file. */
async function region(file: string, start: number, size: number): Promise<Buffer> {
  return (await readFile(file)).subarray(start * SECTOR, (start + size) * SECTOR);
}

async function build(spec: DiskSpec, tag: string): Promise<{ b: BuiltSpecDisk; dir: string }> {
  const root = await newScratchRoot(tag);
  const b = await buildSpecDisk(root, spec);
  return { b, dir: await saveSpecDiskLikeOcsSr(b, 'image') };
}

test.serial('MBR with an extended partition and ext4, FAT32 and swap logicals: restore is byte-identical, ls/get read DIR:sda5 and DIR:sda6, import keeps the logicals', async (t) => {
  t.timeout(300_000);
  const { b, dir } = await build(LOGICAL_DISK, 'ocs-logical');
  t.is((await readFile(path.join(dir, 'parts'), 'utf8')).trim(), 'sda1 sda5 sda6');
  const target = path.join(b.root, 'restored.img');
  const restored = await lifeboat(['restore', dir, target, '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /MBR partition table \(5 partitions with 3 logical partitions in a chain of EBRs/);
  t.regex(restored.stdout, /sda7: new swap area \(mkswap UUID 66666666/);
  t.is(await sfdiskDump(target), await sfdiskDump(b.disk), 'partition table (sfdisk -d)');
  for (const p of LOGICAL_DISK.partitions) {
    const ebr = p.number === 5 ? 34816 : p.start - 2048;
    if (p.number >= 5) t.true((await region(target, ebr, 1)).equals(await region(b.disk, ebr, 1)), `EBR of sda${p.number} at sector ${ebr}`);
    if (p.fs) t.true((await region(target, p.start, p.size)).equals(await region(b.disk, p.start, p.size)), `sda${p.number} (${p.fs}) region`);
  }
  t.true((await readFile(target)).equals(await readFile(b.disk)), 'the whole disk is byte-identical');
  const swap = await execa('blkid', ['-p', '-o', 'export', '-O', String(143360 * SECTOR), target]);
  t.regex(swap.stdout, new RegExp(`^UUID=${SPEC_SWAP.uuid}$`, 'm'));

  const dest = path.join(b.root, 'got');
  await mkdir(dest);
  await assertPayloadBrowses(t, [`${dir}:sda5`], 'sda5', b, path.join(dest, 'dir5'));
  await assertPayloadBrowses(t, [`${dir}:6`], 'sda6', b, path.join(dest, 'dir6'));

  const repo = await assertImportRestoresDisk(t, dir, b);
  await assertPayloadBrowses(t, ['-r', repo, 'latest:5'], 'sda5', b, path.join(dest, 'repo5'));
  await assertPayloadBrowses(t, ['-r', repo, 'latest:6'], 'sda6', b, path.join(dest, 'repo6'));
});

test.serial('GPT (ESP FAT32, ext4, NTFS): byte-identical onto a same-size file; onto a larger disk the backup GPT moves to the end, sgdisk -v is clean, partitions identical', async (t) => {
  t.timeout(300_000);
  const { b, dir } = await build(GPT_DISK, 'ocs-gpt');
  const files = (await execa('ls', [dir])).stdout.split('\n');
  for (const file of ['sda-pt.sf', 'sda-gpt-1st', 'sda-gpt-2nd', 'sda-gpt.gdisk', 'sda-gpt.sgdisk', 'sda-mbr', 'sda3.ntfs-ptcl-img.zst.aa']) t.true(files.includes(file), `${file} saved`);
  t.false(files.includes('sda-hidden-data-after-mbr'), 'ocs-sr saves no hidden data for GPT');

  const same = path.join(b.root, 'same.img');
  const restored = await lifeboat(['restore', dir, same, '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /GPT \(3 partitions, disk GUID 9A1B2C3D-4E5F-4061-8273-94A5B6C7D8E9\) with its backup at the end/);
  t.is((await stat(same)).size, GPT_DISK.sectors * SECTOR);
  t.true((await readFile(same)).equals(await readFile(b.disk)), 'the whole disk is byte-identical (protective MBR, both GPTs, partitions, the NTFS backup boot sector partclone does not carry)');

  const largerSectors = GPT_DISK.sectors + 40960;
  const larger = await sparseFile(path.join(b.root, 'larger.img'), largerSectors * SECTOR);
  const onto = await lifeboat(['restore', dir, larger, '--yes']);
  t.is(onto.exitCode, 0, describe(onto));
  const verify = await execa('sgdisk', ['-v', larger], { reject: false });
  t.is(verify.exitCode, 0, verify.stdout);
  t.regex(verify.stdout, /No problems found/);
  const [want, got] = [await sfdiskDump(b.disk), await sfdiskDump(larger)];
  t.is(got.replace(/^last-lba: \d+$/m, ''), want.replace(/^last-lba: \d+$/m, ''), 'same table but for the last usable LBA');
  t.regex(got, new RegExp(`^last-lba: ${largerSectors - 34}$`, 'm'));
  const backupHeader = await region(larger, largerSectors - 1, 1);
  t.is(backupHeader.subarray(0, 8).toString('latin1'), 'EFI PART', 'the backup header is in the last sector');
  t.true((await region(larger, 2, 32)).equals(await region(b.disk, 2, 32)), 'the entry array is identical');
  t.true((await region(larger, largerSectors - 33, 32)).equals(await region(b.disk, 2, 32)), 'the backup entry array is identical');
  for (const p of GPT_DISK.partitions) t.true((await region(larger, p.start, p.size)).equals(await region(b.disk, p.start, p.size)), `sda${p.number} (${p.fs}) region`);

  const dest = path.join(b.root, 'got');
  await mkdir(dest);
  await assertPayloadBrowses(t, [`${dir}:sda1`], 'sda1', b, path.join(dest, 'esp'));
  await assertPayloadBrowses(t, [`${dir}:sda2`], 'sda2', b, path.join(dest, 'root'));
  await assertPayloadBrowses(t, [`${dir}:sda3`], 'sda3', b, path.join(dest, 'data'));
});
