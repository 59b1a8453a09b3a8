// A Clonezilla image directory built the way ocs-sr names things (an MBR disk made by sfdisk, sfdisk -d,
// dd for the MBR and the hidden data after it, partclone piped into zstd/gzip/xz/nothing and split),
// read back: disks, tables, partitions, and each partition's used blocks written into a fresh sparse
// file byte-identical to what partclone.restore writes. Also the sfdisk dump parser on a GPT dump.

import test from 'ava';
import { execa } from 'execa';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { parseSfdiskDump } from '../../rescue/core/clonezilla/sfdisk-dump.ts';
import { openClonezillaImage, type ClonezillaPartition } from '../../rescue/io/clonezilla-image.ts';
import { writeClonezillaPartition } from '../../rescue/io/write-clonezilla-partition.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { MiB, newScratchRoot, P1, P2, P3, partcloneRestore, removeClonezillaTestDisks, saveLikeOcsSr, SECTOR, sharedClonezillaSourceDisk } from '../helpers/clonezilla.ts';

const buildDisk = sharedClonezillaSourceDisk;

test.after.always(removeClonezillaTestDisks);

const layouts = [
  { name: 'zst-gz', sda1: 'zst', sda2: 'gz', splitSda2: true },
  { name: 'xz-uncomp', sda1: 'xz', sda2: 'uncomp', splitSda2: false },
] as const;

for (const layout of layouts) {
  test(`image directory with ${layout.sda1} and ${layout.sda2} partitions reads back: tables, boot code, used blocks byte-identical`, async (t) => {
    t.timeout(90_000);
    const b = await buildDisk();
    const dir = await saveLikeOcsSr(b, layout.name, layout);
    const image = await openClonezillaImage(dir);
    const diskBytes = await readFile(b.disk);
    t.deepEqual(image.disks.map((d) => d.name), ['sda']);
    const [disk] = image.disks;
    t.deepEqual(Buffer.from(disk!.mbr!), diskBytes.subarray(0, 512));
    t.is(disk!.hiddenDataAfterMbrBytes, (P1.start - 1) * SECTOR);
    t.deepEqual(await readFile(disk!.files.hiddenDataAfterMbr!), diskBytes.subarray(512, P1.start * SECTOR));
    const table = disk!.partitionTable!;
    t.like(table, { label: 'dos', labelId: '0x1234abcd', device: '/dev/sda', unit: 'sectors', sectorSize: 512 });
    t.deepEqual(table.partitions.map((p) => [p.device, p.start, p.size, p.type, p.bootable]), [
      ['/dev/sda1', P1.start, P1.size, '83', true],
      ['/dev/sda2', P2.start, P2.size, 'c', false],
      ['/dev/sda3', P3.start, P3.size, '82', false],
    ]);
    t.is(image.infoFiles.length, 2);
    t.deepEqual(image.partitions.map((p) => [p.name, p.disk, p.kind, p.filesystem, p.compression, p.startBytes]), [
      ['sda1', 'sda', 'partclone', 'ext4', layout.sda1, P1.start * SECTOR],
      ['sda2', 'sda', 'partclone', 'vfat', layout.sda2, P2.start * SECTOR],
      ['sda3', 'sda', 'swap', 'swap', undefined, P3.start * SECTOR],
    ]);
    t.true(image.partitions[0]!.files.length > 1, 'sda1 is split into several parts');
    t.deepEqual(image.partitions[0]!.files.map((f) => f.slice(-2)), ['aa', 'ab', 'ac', 'ad', 'ae', 'af', 'ag', 'ah', 'ai'].slice(0, image.partitions[0]!.files.length));
    t.like(image.partitions[2]!.swap, { UUID: '11111111-2222-3333-4444-555555555555', LABEL: 'swappy' });

    const target = path.join(b.root, `${layout.name}-restored.img`);
    await sparseFile(target, diskBytes.length);
    for (const partition of image.partitions.slice(0, 2)) {
      const events: Array<[number, number]> = [];
      const result = await writeClonezillaPartition({ partition, target, targetOffset: partition.startBytes!, onProgress: (done, total) => events.push([done, total]) });
      t.truthy(result.header);
      t.deepEqual(events.at(-1), [result.bytesWritten, result.bytesWritten]);
      t.true(events.every(([done], i) => i === 0 || done > events[i - 1]![0]));
      const restored = (await readFile(target)).subarray(partition.startBytes!, partition.startBytes! + partition.sizeBytes!);
      const oracle = await partcloneRestore(b.ptcl[partition.name as 'sda1' | 'sda2'], partition.sizeBytes!, layout.name);
      t.true(restored.equals(oracle), `${partition.name} equals partclone.restore's output`);
    }
    const written = (await stat(target)).blocks * 512;
    t.true(written < 20 * MiB, `the restored file stays sparse (${written} bytes allocated)`);
    await t.throwsAsync(writeClonezillaPartition({ partition: image.partitions[2]!, target }), { instanceOf: LifeboatError, message: /no data image/ });
  });
}

test('damaged images: a flipped byte names its block, a cut or missing part is an error, not a hang', async (t) => {
  t.timeout(90_000);
  const b = await buildDisk();
  const dir = await saveLikeOcsSr(b, 'damage', { sda1: 'zst', sda2: 'uncomp', splitSda2: false });
  const target = path.join(b.root, 'damage-restored.img');
  await sparseFile(target, 64 * MiB);
  const find = async (name: string): Promise<ClonezillaPartition> => (await openClonezillaImage(dir)).partitions.find((p) => p.name === name)!;

  const sda2 = await find('sda2');
  const bytes = await readFile(sda2.files[0]!);
  const flipAt = bytes.length - 200_000;
  bytes[flipAt] = bytes[flipAt]! ^ 0x10;
  await writeFile(sda2.files[0]!, bytes);
  const flipped = await t.throwsAsync(writeClonezillaPartition({ partition: sda2, target, targetOffset: sda2.startBytes! }), { instanceOf: LifeboatError });
  t.is(flipped?.code, 'LB_INPUT_IMAGE_CORRUPT');
  t.regex(flipped?.message ?? '', /checksum mismatch at block \d+/);
  t.is(typeof flipped?.details.block, 'number');

  const sda1 = await find('sda1');
  const last = sda1.files.at(-1)!;
  await writeFile(last, (await readFile(last)).subarray(0, 1000));
  const cut = await t.throwsAsync(writeClonezillaPartition({ partition: sda1, target, targetOffset: sda1.startBytes! }), { instanceOf: LifeboatError });
  t.is(cut?.code, 'LB_INPUT_IMAGE_TRUNCATED');

  const lastPart = sda1.files.at(-1)!;
  await rename(lastPart, `${lastPart.slice(0, -2)}zz`);
  const gap = await t.throwsAsync(openClonezillaImage(dir), { instanceOf: LifeboatError });
  t.regex(gap?.message ?? '', /part \.ab is missing/);
});

test('sfdisk dump of a GPT disk parses: label, first/last LBA, types, UUIDs, names', async (t) => {
  const root = await newScratchRoot('sf');
  const disk = await sparseFile(path.join(root, 'gpt.img'), 32 * MiB);
  await execa('sfdisk', ['-q', disk], { input: 'label: gpt\nstart=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"\nstart=10240, size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root, data"\n' });
  const { stdout } = await execa('sfdisk', ['-d', disk]);
  const dump = parseSfdiskDump(stdout);
  t.is(dump.label, 'gpt');
  t.regex(dump.labelId ?? '', /^[0-9A-F-]{36}$/);
  t.is(dump.firstLba, 2048);
  t.is(dump.lastLba, 32 * 2048 - 34);
  t.is(dump.sectorSize, 512);
  t.deepEqual(dump.partitions.map((p) => [p.start, p.size, p.type, p.name]), [
    [2048, 8192, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'EFI system'],
    [10240, 20480, '0FC63DAF-8483-4772-8E79-3D69D8477DE4', 'root, data'],
  ]);
  t.true(dump.partitions.every((p) => /^[0-9A-F-]{36}$/.test(p.uuid ?? '')));
  t.is(parseSfdiskDump('label: gpt\n/dev/sda1 : start=34, size=10, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="a \\"b\\", c"\n').partitions[0]?.name, 'a "b", c');
  t.throws(() => parseSfdiskDump('label: dos\n/dev/sda1 : start=abc, size=10, type=83\n'), { instanceOf: LifeboatError, message: /line 2/ });
  t.throws(() => parseSfdiskDump('device: /dev/sda\n'), { message: /no "label:"/ });
});
