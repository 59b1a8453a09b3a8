// An sfdisk `dos` dump turned back into MBR sectors (rescue/core/clonezilla/sfdisk-mbr-table.ts) gives
// exactly the sectors sfdisk itself writes for that table: the boot sector and every EBR of the
// chain, on layouts sfdisk made (one logical, several, packed ones, a bootable logical, a 0x0f
// extended partition); the saved first EBR's code and link are honoured; dumps an MBR cannot hold are
// refused with LB_DEVICE_MBR_INVALID.

import test from 'ava';
import { execa } from 'execa';
import { readFile, rm } from 'node:fs/promises';
import { parseSfdiskDump } from '../../rescue/core/clonezilla/sfdisk-dump.ts';
import { mbrTableFromSfdisk } from '../../rescue/core/clonezilla/sfdisk-mbr-table.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { encodeMbr } from '../../rescue/core/partition-table/mbr.ts';
import { newScratchRoot, removeClonezillaTestDisks } from '../helpers/clonezilla.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';

test.after.always(removeClonezillaTestDisks);

const layouts = {
  'one logical': 'start=2048, size=4096, type=83, bootable\nstart=6144, type=5\nstart=8192, size=4096, type=83\n',
  'three logicals and a primary after the extended one': 'start=2048, size=2048, type=c\nstart=4096, size=40960, type=f\nstart=6144, size=4096, type=83\nstart=12288, size=8192, type=7\nstart=22528, size=2048, type=82\nstart=45056, size=4096, type=83\n',
  'packed logicals (EBR right before each)': 'start=2048, size=2048, type=83\nstart=4096, size=20000, type=5\nstart=4097, size=1000, type=83\nstart=5098, size=1000, type=83, bootable\nstart=6099, size=1000, type=83\n',
};

for (const [name, script] of Object.entries(layouts)) {
  test(`${name}: the boot sector and every EBR equal what sfdisk wrote`, async (t) => {
    const root = await newScratchRoot('sfmbr');
    const disk = await sparseFile(`${root}/disk.img`, 64 * 1024 * 1024);
    await execa('sfdisk', ['-q', '--no-reread', disk], { input: `label: dos\nlabel-id: 0x0badcafe\n${script}` });
    const bytes = await readFile(disk);
    const dump = parseSfdiskDump((await execa('sfdisk', ['-d', disk])).stdout);
    const { table, logicalCount } = mbrTableFromSfdisk(dump, { diskName: 'sda', bootSector: bytes.subarray(0, 512), savedEbrs: {} });
    t.is(logicalCount, dump.partitions.filter((p) => Number(/\d+$/.exec(p.device)![0]) >= 5).length);
    const sectors = encodeMbr(table);
    t.is(sectors.length, 1 + logicalCount);
    for (const { lba, bytes: sector } of sectors) t.deepEqual(Buffer.from(sector), bytes.subarray(lba * 512, lba * 512 + 512), `sector ${lba}`);
    await rm(root, { recursive: true, force: true });
  });
}

test('the saved first EBR: its code is kept and its link places the second EBR', (t) => {
  const dump = parseSfdiskDump('label: dos\nlabel-id: 0x1\n/dev/sda1 : start=2048, size=2048, type=83\n/dev/sda2 : start=4096, size=20000, type=5\n/dev/sda5 : start=6144, size=2048, type=83\n/dev/sda6 : start=12288, size=2048, type=83\n');
  const saved = new Uint8Array(512);
  saved.fill(0xab, 0, 446);
  saved[510] = 0x55;
  saved[511] = 0xaa;
  const view = new DataView(saved.buffer);
  view.setUint8(462 + 4, 0x05);
  view.setUint32(462 + 8, 9000 - 4096, true);
  const { table } = mbrTableFromSfdisk(dump, { diskName: 'sda', bootSector: undefined, savedEbrs: { sda2: saved } });
  t.deepEqual(table.logicals.map((l) => l.ebrLba), [4096, 9000]);
  const [first, second] = encodeMbr(table).slice(1);
  t.deepEqual([...first!.bytes.subarray(0, 446)], new Array(446).fill(0xab));
  t.deepEqual([...second!.bytes.subarray(0, 446)], new Array(446).fill(0));
  // A link that points into the previous logical partition is not trusted: sfdisk's place instead.
  view.setUint32(462 + 8, 6144 + 100 - 4096, true);
  t.deepEqual(mbrTableFromSfdisk(dump, { diskName: 'sda', bootSector: undefined, savedEbrs: { sda2: saved } }).table.logicals.map((l) => l.ebrLba), [4096, 12288 - 2048]);
});

test('dumps an MBR cannot hold are refused with LB_DEVICE_MBR_INVALID', (t) => {
  const refuse = (body: string, message: RegExp) => {
    const error = t.throws(() => mbrTableFromSfdisk(parseSfdiskDump(`label: dos\n${body}`), { diskName: 'sda', bootSector: undefined, savedEbrs: {} }), { instanceOf: LifeboatError, message });
    t.is(error?.code, 'LB_DEVICE_MBR_INVALID');
  };
  refuse('/dev/sda5 : start=4096, size=100, type=83\n', /lists no extended partition/);
  refuse('/dev/sda1 : start=2048, size=9000, type=5\n/dev/sda2 : start=12000, size=9000, type=f\n', /second extended partition/);
  refuse('/dev/sda1 : start=2048, size=9000, type=5\n/dev/sda6 : start=4096, size=100, type=83\n', /numbered 6, not 5/);
  refuse('/dev/sda1 : start=2048, size=9000, type=5\n/dev/sda5 : start=10000, size=2000, type=83\n', /inside the extended partition/);
  refuse('/dev/sda1 : start=2048, size=9000, type=5\n/dev/sda5 : start=2048, size=100, type=83\n', /no free sector for the EBR/);
  refuse('/dev/sda1 : start=2048, size=9000, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n', /not an MBR type/);
});
