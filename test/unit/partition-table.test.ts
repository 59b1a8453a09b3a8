// Partition tables read and written by Lifeboat against the real tools: tables made by sfdisk
// and sgdisk on image files (and 4096-byte-sector loop devices), compared with sfdisk --json and
// sgdisk -p; encoders must reproduce the tools' bytes exactly; damage is reported, never trusted.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bufferSource } from '../../rescue/core/byte-source.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { makePatches, mutatedSource, prng, withTimeout } from '../helpers/mutation.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { encodeGpt } from '../../rescue/core/partition-table/gpt.ts';
import { encodeMbr, layoutMbr } from '../../rescue/core/partition-table/mbr.ts';
import { BIOS_BOOT_GUID, readPartitionTable, type PartitionTableInfo } from '../../rescue/core/partition-table/partition-table.ts';

const MiB = 1024 * 1024;

async function scratch(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-pt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readTable(file: string, sectorSize = 512): Promise<PartitionTableInfo> {
  const source = await openByteSource(file);
  try {
    return await readPartitionTable(source, sectorSize);
  } finally {
    await source.close();
  }
}

interface SfdiskJson {
  partitiontable: {
    label: string;
    id: string;
    firstlba?: number;
    lastlba?: number;
    sectorsize: number;
    partitions: Array<{ start: number; size: number; type: string; uuid?: string; name?: string; bootable?: boolean; attrs?: string }>;
  };
}

async function sfdiskJson(device: string): Promise<SfdiskJson['partitiontable']> {
  return (JSON.parse((await execa('sfdisk', ['--json', device])).stdout) as SfdiskJson).partitiontable;
}

async function bytesAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  } finally {
    await handle.close();
  }
}

function assertSameAsSfdisk(t: import('ava').ExecutionContext, ours: PartitionTableInfo, theirs: SfdiskJson['partitiontable']): void {
  t.is(ours.kind as string, theirs.label === 'dos' ? 'mbr' : theirs.label);
  t.is(ours.sectorSize, theirs.sectorsize);
  t.is(ours.id?.toLowerCase(), theirs.id.toLowerCase());
  if (theirs.firstlba !== undefined) t.is(ours.firstUsableLba, theirs.firstlba);
  if (theirs.lastlba !== undefined) t.is(ours.lastUsableLba, theirs.lastlba);
  t.deepEqual(
    // GPT has no boot flag of its own (sfdisk shows attrs instead); MBR has.
    ours.partitions.map((p) => ({ start: p.startLba, size: p.sectors, type: p.type.toUpperCase(), uuid: p.uuid, name: p.name || undefined, bootable: (ours.kind === 'mbr' && p.bootable) || undefined })),
    theirs.partitions.map((p) => ({ start: p.start, size: p.size, type: p.type.toUpperCase(), uuid: p.uuid, name: p.name, bootable: p.bootable })),
  );
}

test('MBR with primaries, an extended partition and logicals equals sfdisk, and layoutMbr writes sfdisk\'s bytes', async (t) => {
  const dir = await scratch(t);
  const image = path.join(dir, 'mbr.img');
  await execa('truncate', ['-s', '10G', image]);
  await execa('sfdisk', ['--quiet', image], { input: 'label: dos\nlabel-id: 0x12345678\n,100MiB,83,*\n,200MiB,7\n,,E\n,50MiB,83\n,60MiB,b\n,,82\n' });
  const ours = await readTable(image);
  assertSameAsSfdisk(t, ours, await sfdiskJson(image));
  t.deepEqual(ours.bootGap, { startLba: 1, sectors: 2047 }, 'the gap where GRUB core.img lives');
  t.deepEqual(ours.partitions.map((p) => p.kind), ['primary', 'primary', 'extended', 'logical', 'logical', 'logical']);
  // Round trip: the parsed table encodes to the same sectors.
  const mbr = ours.mbr;
  if (!mbr) return t.fail('no MBR model');
  for (const sector of encodeMbr(mbr)) t.deepEqual(Buffer.from(sector.bytes), await bytesAt(image, sector.lba * 512, 512), `LBA ${sector.lba}`);
  // A fresh layout with the same partitions encodes to exactly what sfdisk wrote.
  const logicals = ours.partitions.filter((p) => p.kind === 'logical');
  const fresh = layoutMbr({
    diskSignature: 0x12345678,
    primaries: ours.partitions.filter((p) => p.kind !== 'logical').map((p) => ({ type: parseInt(p.type, 16), start: p.startLba, sectors: p.sectors, bootable: p.bootable })),
    logicals: logicals.map((p, i) => ({ type: parseInt(p.type, 16), start: p.startLba, sectors: p.sectors, ebrLba: mbr.logicals[i]?.ebrLba ?? 0 })),
  });
  for (const sector of encodeMbr(fresh)) t.deepEqual(Buffer.from(sector.bytes), await bytesAt(image, sector.lba * 512, 512), `fresh LBA ${sector.lba}`);
});

test('GPT with many named partitions equals sfdisk --json, and encodeGpt writes sfdisk\'s bytes', async (t) => {
  const dir = await scratch(t);
  const image = path.join(dir, 'gpt.img');
  await execa('truncate', ['-s', String(512 * MiB + 7 * 512), image]);
  const lines = ['label: gpt', 'label-id: 2D4D5E28-2444-C248-A337-919C9996E27A'];
  for (let i = 1; i <= 20; i += 1) {
    const attrs = i === 4 ? ', attrs="RequiredPartition LegacyBIOSBootable GUID:60"' : '';
    lines.push(`size=${i % 3 === 0 ? 3 : 8}MiB, type=${['L', 'U', 'S', 'H', 'R'][i % 5]}, name="part ${i} ünïcode"${attrs}`);
  }
  await execa('sfdisk', ['--quiet', image], { input: `${lines.join('\n')}\n` });
  const ours = await readTable(image);
  const theirs = await sfdiskJson(image);
  assertSameAsSfdisk(t, ours, theirs);
  t.deepEqual(ours.warnings, []);
  t.is(ours.partitions.find((p) => p.number === 4)?.attributes, ((1n << 60n) | 4n | 1n).toString());
  const gpt = ours.gpt;
  if (!gpt) return t.fail('no GPT model');
  const sectors = encodeGpt({ sectorSize: 512, diskSectors: ours.diskSectors, diskGuid: gpt.diskGuid, firstUsableLba: gpt.firstUsableLba, entries: gpt.entries });
  for (const sector of sectors) t.deepEqual(Buffer.from(sector.bytes), await bytesAt(image, sector.lba * 512, sector.bytes.length), `LBA ${sector.lba}`);
});

test('GPT on a 4096-byte-sector disk made by sgdisk (BIOS boot, ESP, root) equals sgdisk -p, and encodes to sgdisk\'s bytes', async (t) => {
  const dir = await scratch(t);
  const image = path.join(dir, 'gpt4k.img');
  await execa('truncate', ['-s', String(64 * MiB), image]);
  const { stdout: loop } = await execa('losetup', ['--sector-size', '4096', '--find', '--show', image]);
  try {
    await execa('sgdisk', ['-n', '1:0:+1M', '-t', '1:EF02', '-c', '1:BIOS boot partition', '-n', '2:0:+16M', '-t', '2:EF00', '-c', '2:EFI system', '-n', '3:0:0', '-t', '3:8300', '-c', '3:root', loop]);
    const printed = (await execa('sgdisk', ['-p', loop])).stdout;
    const ours = await readTable(image, 4096);
    t.is(ours.kind, 'gpt');
    t.is(ours.id, /Disk identifier \(GUID\): (\S+)/.exec(printed)?.[1]);
    t.is(ours.firstUsableLba, Number(/First usable sector is (\d+)/.exec(printed)?.[1]));
    t.is(ours.lastUsableLba, Number(/last usable sector is (\d+)/.exec(printed)?.[1]));
    const rows = [...printed.matchAll(/^\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+ \S+\s+(\w{4})\s+(.*)$/gm)].map((m) => ({ number: Number(m[1]), start: Number(m[2]), end: Number(m[3]), name: m[5] }));
    t.deepEqual(ours.partitions.map((p) => ({ number: p.number, start: p.startLba, end: p.startLba + p.sectors - 1, name: p.name })), rows);
    t.is(ours.partitions[0]?.type, BIOS_BOOT_GUID);
    t.deepEqual(ours.bootGap, { startLba: 6, sectors: 250 });
    assertSameAsSfdisk(t, ours, await sfdiskJson(loop));
    const gpt = ours.gpt;
    if (!gpt) return t.fail('no GPT model');
    const layout = { sectorSize: 4096, diskSectors: ours.diskSectors, diskGuid: gpt.diskGuid, firstUsableLba: gpt.firstUsableLba, entries: gpt.entries };
    for (const sector of encodeGpt(layout, { protectiveStyle: 'gptfdisk' })) {
      t.deepEqual(Buffer.from(sector.bytes), await bytesAt(image, sector.lba * 4096, sector.bytes.length), `LBA ${sector.lba}`);
    }
  } finally {
    await execa('losetup', ['-d', loop], { reject: false });
  }
});

test('a damaged primary GPT is read from the backup with a warning; a backup not at the end is reported', async (t) => {
  const dir = await scratch(t);
  const image = path.join(dir, 'gpt.img');
  await execa('truncate', ['-s', String(32 * MiB), image]);
  await execa('sfdisk', ['--quiet', image], { input: 'label: gpt\n,4MiB,L\n,,L\n' });
  const good = await readTable(image);
  const bytes = await readFile(image);
  bytes[512 + 24] = (bytes[512 + 24] ?? 0) ^ 0xff; // primary header: current LBA field, CRC now wrong
  const damaged = path.join(dir, 'damaged.img');
  await writeFile(damaged, bytes);
  const fromBackup = await readTable(damaged);
  t.deepEqual(fromBackup.partitions, good.partitions);
  t.regex(fromBackup.warnings.join(' '), /primary GPT is damaged.*read from the backup/);
  await execa('truncate', ['-s', String(40 * MiB), image]);
  const grown = await readTable(image);
  t.regex(grown.warnings.join(' '), /backup GPT header is at LBA 65535, not at the disk's last LBA 81919/);
  const both = Buffer.from(bytes);
  both[both.length - 512 + 24] = (both[both.length - 512 + 24] ?? 0) ^ 0xff;
  const error = await t.throwsAsync(readPartitionTable(bufferSource(both), 512), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_DEVICE_GPT_INVALID');
  t.is(typeof error?.details.offset, 'number');
});

test('a filesystem on the whole disk is "no table"', async (t) => {
  const dir = await scratch(t);
  for (const [name, mkfs] of [['fat', ['mkfs.vfat', '-F', '32']], ['ext4', ['mkfs.ext4', '-q', '-F']], ['exfat', ['mkfs.exfat']]] as const) {
    const image = path.join(dir, `${name}.img`);
    await execa('truncate', ['-s', String(64 * MiB), image]);
    await execa(mkfs[0], [...mkfs.slice(1), image]);
    const table = await readTable(image);
    t.is(table.kind, 'none', name);
    t.deepEqual(table.partitions, []);
  }
});

test('broken MBRs are coded errors with the byte offset: loops, overlaps, partitions past the end', async (t) => {
  const dir = await scratch(t);
  const image = path.join(dir, 'mbr.img');
  await execa('truncate', ['-s', String(64 * MiB), image]);
  await execa('sfdisk', ['--quiet', image], { input: 'label: dos\n,8MiB,83\n,,E\n,8MiB,83\n,8MiB,83\n' });
  const original = await readFile(image);
  const table = await readTable(image);
  const extended = table.partitions.find((p) => p.kind === 'extended');
  const secondEbr = table.mbr?.logicals[1]?.ebrLba ?? 0;
  const cases: Array<[string, (bytes: Buffer) => void]> = [
    ['EBR chain loop', (bytes) => bytes.writeUInt32LE(secondEbr - (extended?.startLba ?? 0), secondEbr * 512 + 446 + 16 + 8)],
    ['overlapping primaries', (bytes) => bytes.writeUInt32LE(4096, 446 + 16 + 8)],
    ['partition past the end', (bytes) => bytes.writeUInt32LE(0x00ffffff, 446 + 12)],
    ['EBR without signature', (bytes) => bytes.writeUInt16LE(0, (extended?.startLba ?? 0) * 512 + 510)],
  ];
  for (const [name, damage] of cases) {
    const bytes = Buffer.from(original);
    damage(bytes);
    const error = await t.throwsAsync(readPartitionTable(bufferSource(bytes), 512), { instanceOf: LifeboatError }, name);
    t.is(error?.code, 'LB_DEVICE_MBR_INVALID', name);
    t.true(Number.isInteger(error?.details.offset), name);
  }
});

test('mutation: flipped, randomised and truncated tables never crash or hang (3000 cases)', async (t) => {
  const dir = await scratch(t);
  const images: Array<[string, Buffer]> = [];
  for (const [name, script] of [['mbr', 'label: dos\n,4MiB,83,*\n,,E\n,4MiB,83\n,4MiB,7\n,,82\n'], ['gpt', 'label: gpt\n,1MiB,21686148-6449-6E6F-744E-656564454649\n,4MiB,U\n,,L\n']] as const) {
    const image = path.join(dir, `${name}.img`);
    await execa('truncate', ['-s', String(32 * MiB), image]);
    await execa('sfdisk', ['--quiet', image], { input: script });
    images.push([name, await readFile(image)]);
  }
  const random = prng(20261129);
  let errors = 0;
  let parsed = 0;
  for (let i = 0; i < 3000; i += 1) {
    const [name, original] = images[i % images.length] ?? images[0]!;
    const base = bufferSource(original);
    const hot: Array<[number, number]> = [[0, 1024], [original.length - 16896, 16896], [4 * MiB, 1024], [9 * MiB, 1024], [14 * MiB, 1024]];
    const truncate = i % 3 === 2;
    const size = truncate ? Math.floor(random() * original.length) : original.length;
    const source = mutatedSource(base, truncate ? [] : makePatches(random, hot, size), size);
    try {
      const table = await withTimeout(readPartitionTable(source, 512), 2000, `${name} case ${i}`);
      for (const partition of table.partitions) t.true(partition.startLba + partition.sectors <= table.diskSectors, `${name} case ${i}`);
      parsed += 1;
    } catch (error) {
      if (!(error instanceof LifeboatError)) return t.fail(`${name} case ${i}: ${String(error)}`);
      t.is(typeof error.details.offset, 'number', `${name} case ${i}: ${error.code} has an offset`);
      errors += 1;
    }
  }
  t.log(`${parsed} parsed, ${errors} coded errors`);
  t.true(errors > 100 && parsed > 100);
});
