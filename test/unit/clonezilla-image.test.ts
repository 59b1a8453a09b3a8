// A Clonezilla image directory built the way ocs-sr names things (an MBR disk made by sfdisk, sfdisk -d,
// dd for the MBR and the hidden data after it, partclone piped into zstd/gzip/xz/nothing and split),
// read back: disks, tables, partitions, and each partition's used blocks written into a fresh sparse
// file byte-identical to what partclone.restore writes. Also the sfdisk dump parser on a GPT dump.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { parseSfdiskDump } from '../../rescue/core/clonezilla/sfdisk-dump.ts';
import { openClonezillaImage, type ClonezillaPartition } from '../../rescue/io/clonezilla-image.ts';
import { writeClonezillaPartition } from '../../rescue/io/write-clonezilla-partition.ts';
import { fillWithKernelMount, sparseFile } from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const P1 = { start: 2048, size: 24 * 2048 };
const P2 = { start: 2048 + 24 * 2048, size: 34 * 2048 };
const P3 = { start: P2.start + P2.size, size: 4 * 2048 };

interface Built {
  readonly root: string;
  readonly disk: string;
  /** Uncompressed partclone images, the oracle for partclone.restore. */
  readonly ptcl: Readonly<Record<'sda1' | 'sda2', string>>;
}

let built: Promise<Built> | undefined;
const roots: string[] = [];

function buildDisk(): Promise<Built> {
  built ??= (async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-ocs-'));
    roots.push(root);
    const ext4 = await sparseFile(path.join(root, 'p1.img'), P1.size * SECTOR);
    await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', ext4]);
    await fillWithKernelMount(ext4, path.join(root, 'mnt'), 25);
    const fat = await sparseFile(path.join(root, 'p2.img'), P2.size * SECTOR);
    await execa('mkfs.fat', ['-F', '32', '-s', '1', fat]);
    const file = path.join(root, 'payload.bin');
    await writeFile(file, Buffer.from(Array.from({ length: 900_000 }, (_, i) => (i * 7919) & 0xff)));
    await execa('mcopy', ['-i', fat, file, '::/payload.bin']);
    const disk = await sparseFile(path.join(root, 'disk.img'), (P3.start + P3.size + 2048) * SECTOR);
    await execa('sfdisk', ['-q', disk], {
      input: `label: dos\nlabel-id: 0x1234abcd\n${P1.start},${P1.size},83,*\n${P2.start},${P2.size},c\n${P3.start},${P3.size},82\n`,
    });
    // Boot code and a fake boot loader stage in the gap, so sda-mbr and the hidden data are not empty.
    await execa('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=440', 'count=1', 'conv=notrunc'], { stderr: 'ignore' });
    await execa('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=512', 'seek=1', 'count=60', 'conv=notrunc'], { stderr: 'ignore' });
    await execa('dd', [`if=${ext4}`, `of=${disk}`, 'bs=1M', `seek=${P1.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse'], { stderr: 'ignore' });
    await execa('dd', [`if=${fat}`, `of=${disk}`, 'bs=1M', `seek=${P2.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse'], { stderr: 'ignore' });
    await execa('mkswap', ['-q', '-U', '11111111-2222-3333-4444-555555555555', '-L', 'swappy', '--offset', String(P3.start * SECTOR), disk, String((P3.size * SECTOR) / 1024)]).catch(() => undefined);
    const ptcl = {
      sda1: path.join(root, 'sda1.ptcl'),
      sda2: path.join(root, 'sda2.ptcl'),
    };
    await execa('partclone.ext4', ['-c', '-q', '-L', `${ptcl.sda1}.log`, '-s', ext4, '-O', ptcl.sda1], { stdin: 'ignore' });
    await execa('partclone.vfat', ['-c', '-q', '-L', `${ptcl.sda2}.log`, '-s', fat, '-O', ptcl.sda2], { stdin: 'ignore' });
    return { root, disk, ptcl };
  })();
  return built;
}

test.after.always(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

const COMPRESSORS = { zst: 'zstd -q -c', gz: 'gzip -c', xz: 'xz -c -T1', uncomp: 'cat' } as const;

/** An image directory as ocs-sr writes it; partition images compressed with `sda1`/`sda2`'s choice. */
async function saveLikeOcsSr(b: Built, name: string, choice: { sda1: keyof typeof COMPRESSORS; sda2: keyof typeof COMPRESSORS; splitSda2: boolean }): Promise<string> {
  const dir = path.join(b.root, name);
  await mkdir(dir);
  await writeFile(path.join(dir, 'disk'), 'sda\n');
  await writeFile(path.join(dir, 'parts'), 'sda1 sda2 sda3\n');
  await writeFile(path.join(dir, 'clonezilla-img'), 'This is an image made by Lifeboat tests, named as Clonezilla does.\n');
  await writeFile(path.join(dir, 'Info-packages.txt'), 'partclone 0.3.23\n');
  const { stdout } = await execa('sfdisk', ['-d', b.disk]);
  await writeFile(path.join(dir, 'sda-pt.sf'), `${stdout.replaceAll(b.disk, '/dev/sda')}\n`);
  await execa('dd', [`if=${b.disk}`, `of=${path.join(dir, 'sda-mbr')}`, 'bs=512', 'count=1'], { stderr: 'ignore' });
  await execa('dd', [`if=${b.disk}`, `of=${path.join(dir, 'sda-hidden-data-after-mbr')}`, 'bs=512', 'skip=1', `count=${P1.start - 1}`], { stderr: 'ignore' });
  await writeFile(path.join(dir, 'sda3.swap-info'), 'UUID="11111111-2222-3333-4444-555555555555"\nLABEL="swappy"\n');
  const save = async (part: 'sda1' | 'sda2', fs: string, compression: keyof typeof COMPRESSORS, split: boolean) => {
    const prefix = path.join(dir, `${part}.${fs}-ptcl-img.${compression}`);
    const sink = split ? `split -b 1M -a 2 - '${prefix}.'` : `cat > '${prefix}'`;
    await execa('sh', ['-c', `${COMPRESSORS[compression]} < '${b.ptcl[part]}' | ${sink}`]);
  };
  await save('sda1', 'ext4', choice.sda1, true);
  await save('sda2', 'vfat', choice.sda2, choice.splitSda2);
  return dir;
}

/** What partclone.restore writes for a partition into a fresh sparse file. */
async function partcloneRestore(image: string, size: number, tag: string): Promise<Buffer> {
  const out = `${image}.${tag}.restored`;
  await sparseFile(out, size);
  await execa('partclone.restore', ['-C', '-q', '-L', `${out}.log`, '-s', image, '-O', out], { stdin: 'ignore' });
  const bytes = await readFile(out);
  await rm(out);
  return bytes;
}

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
  t.is(flipped?.code, 'LB_FILESYSTEM_CORRUPT');
  t.regex(flipped?.message ?? '', /checksum mismatch at block \d+/);
  t.is(typeof flipped?.details.block, 'number');

  const sda1 = await find('sda1');
  const last = sda1.files.at(-1)!;
  await writeFile(last, (await readFile(last)).subarray(0, 1000));
  const cut = await t.throwsAsync(writeClonezillaPartition({ partition: sda1, target, targetOffset: sda1.startBytes! }), { instanceOf: LifeboatError });
  t.is(cut?.code, 'LB_FILESYSTEM_CORRUPT');

  const lastPart = sda1.files.at(-1)!;
  await rename(lastPart, `${lastPart.slice(0, -2)}zz`);
  const gap = await t.throwsAsync(openClonezillaImage(dir), { instanceOf: LifeboatError });
  t.regex(gap?.message ?? '', /part \.ab is missing/);
});

test('sfdisk dump of a GPT disk parses: label, first/last LBA, types, UUIDs, names', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-sf-'));
  roots.push(root);
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
