// The partclone image reader against the real partclone 0.3.23: images of an ext4 and a FAT32
// filesystem in every checksum variant it writes, reconstructed and compared with the source and with
// what partclone.restore writes; damaged and cut images. partclone 0.3.23 no longer writes version
// 0001, so that one is BUILT HERE from PARTCLONE-FORMAT.md (and partclone.restore reads it back too).

import test from 'ava';
import { execa } from 'execa';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { openPartcloneImage, type PartcloneImageReader } from '../../rescue/core/clonezilla/partclone-image.ts';
import { fillWithKernelMount, sparseFile } from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;

interface Fixture {
  readonly dir: string;
  readonly ext4: string;
  readonly fat: string;
}

let fixture: Promise<Fixture> | undefined;
const dirs: string[] = [];

/** One ext4 and one FAT32 source image, made once for all tests of this file. */
function sources(): Promise<Fixture> {
  fixture ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-ptcl-'));
    dirs.push(dir);
    const ext4 = await sparseFile(path.join(dir, 'ext4.img'), 24 * MiB);
    await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', ext4]);
    await fillWithKernelMount(ext4, path.join(dir, 'mnt'), 30);
    const fat = await sparseFile(path.join(dir, 'fat.img'), 34 * MiB);
    await execa('mkfs.fat', ['-F', '32', '-s', '1', fat]);
    const files: string[] = [];
    for (let i = 0; i < 8; i++) {
      const file = path.join(dir, `f${i}.bin`);
      await writeFile(file, Buffer.alloc(70_000 + i * 9000, i * 37 + 1));
      files.push(file);
    }
    await execa('mcopy', ['-i', fat, ...files, '::/']);
    return { dir, ext4, fat };
  })();
  return fixture;
}

test.after.always(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function partclone(fs: string, source: string, out: string, args: string[] = []): Promise<string> {
  await execa(`partclone.${fs}`, ['-c', '-q', ...args, '-L', `${out}.log`, '-s', source, '-O', out], { stdin: 'ignore' });
  return out;
}

/** What partclone.restore writes into a fresh sparse file of the device's size. */
async function partcloneRestore(image: string, size: number): Promise<Buffer> {
  const out = `${image}.restored`;
  await sparseFile(out, size);
  await execa('partclone.restore', ['-C', '-q', '-L', `${out}.log`, '-s', image, '-O', out], { stdin: 'ignore' });
  const bytes = await readFile(out);
  await rm(out);
  return bytes;
}

/** Our reconstruction: zeros with every run put in place; also checks the runs are ordered, aligned, bounded. */
async function reconstruct(t: { true(value: boolean, message?: string): void }, reader: PartcloneImageReader): Promise<{ bytes: Buffer; blocks: number }> {
  const { header } = reader;
  const bytes = Buffer.alloc(header.deviceSizeBytes);
  let end = 0;
  let blocks = 0;
  for await (const run of reader.runs()) {
    t.true(run.offset >= end && run.offset % header.blockSize === 0 && run.bytes.length % header.blockSize === 0 && run.bytes.length <= 4 * MiB, `run ${run.offset}+${run.bytes.length}`);
    bytes.set(run.bytes, run.offset);
    end = run.offset + run.bytes.length;
    blocks += run.bytes.length / header.blockSize;
  }
  return { bytes, blocks };
}

const variants: Array<[string, 'ext4' | 'fat', string, string[]]> = [
  ['ext4, default (CRC32, one checksum per 1 MiB of blocks)', 'ext4', 'ext4', []],
  ['ext4, no checksum (-a0)', 'ext4', 'ext4', ['-a0']],
  ['ext4, a checksum every 7 blocks (-k 7)', 'ext4', 'ext4', ['-k', '7']],
  ['ext4, every 5 blocks without reseeding (-k 5 -K)', 'ext4', 'ext4', ['-k', '5', '-K']],
  ['FAT32, default', 'fat', 'fat32', []],
  ['FAT32, a checksum every block (-k 1)', 'fat', 'fat32', ['-k', '1']],
];

for (const [title, source, tool, args] of variants) {
  test(`v2 image: ${title} reads back as the source and as partclone.restore writes it`, async (t) => {
    const fx = await sources();
    const image = await partclone(tool, fx[source], path.join(fx.dir, `${source}${args.join('')}.ptcl`), args);
    const reader = await openPartcloneImage(createReadStream(image));
    const { header } = reader;
    const original = await readFile(fx[source]);
    t.is(header.imageVersion, 2);
    t.is(header.deviceSizeBytes, original.length);
    t.is(header.totalBlocks * header.blockSize, source === 'ext4' ? original.length : header.totalBlocks * header.blockSize);
    t.is(header.checksum, args.includes('-a0') ? 'none' : 'crc32');
    if (args.includes('-k')) t.is(header.blocksPerChecksum, Number(args[args.indexOf('-k') + 1]));
    t.is(header.reseedChecksum, !args.includes('-K'));
    const info = await execa('partclone.info', [image], { reject: false });
    t.regex(`${info.stdout}\n${info.stderr}`, new RegExp(`${reader.usedBlocks} Blocks`));
    const { bytes, blocks } = await reconstruct(t, reader);
    t.is(blocks, reader.usedBlocks);
    t.true(bytes.equals(await partcloneRestore(image, original.length)), 'same bytes as partclone.restore');
    // On used blocks our bytes are the source's (unused blocks are zero in ours).
    let mismatches = 0;
    for (let offset = 0; offset < bytes.length; offset += header.blockSize) {
      const ours = bytes.subarray(offset, offset + header.blockSize);
      if (ours.some((b) => b !== 0) && !ours.equals(original.subarray(offset, offset + header.blockSize))) mismatches++;
    }
    t.is(mismatches, 0);
    await rm(image);
  });
}

test('a flipped byte in a data block is a checksum error naming that block; truncation is an error, not a hang', async (t) => {
  t.timeout(60_000);
  const fx = await sources();
  for (const perChecksum of ['1', '16']) {
    const image = await partclone('ext4', fx.ext4, path.join(fx.dir, `damage-${perChecksum}.ptcl`), ['-k', perChecksum]);
    const bytes = await readFile(image);
    const probe = await openPartcloneImage(createReadStream(image));
    const { blockSize, bitmapBytes, blocksPerChecksum } = probe.header;
    await probe.close();
    const bitmap = bytes.subarray(110, 110 + bitmapBytes);
    const usedList: number[] = [];
    for (let block = 0; block < probe.header.totalBlocks; block++) if ((bitmap[block >> 3]! >> (block & 7)) & 1) usedList.push(block);
    const usedIndex = Math.floor(usedList.length * 0.6);
    const position = 110 + bitmapBytes + 4 + usedIndex * blockSize + Math.floor(usedIndex / blocksPerChecksum) * 4 + 123;
    const damaged = Buffer.from(bytes);
    damaged[position] = damaged[position]! ^ 0x40;
    const error = await t.throwsAsync(drain(damaged), { instanceOf: LifeboatError });
    t.is(error?.code, 'LB_INPUT_IMAGE_CORRUPT');
    const damagedBlock = usedList[usedIndex]!;
    t.true((error?.details.firstBlock as number) <= damagedBlock && damagedBlock <= (error?.details.block as number), `${damagedBlock} in ${String(error?.details.firstBlock)}..${String(error?.details.block)}`);
    if (perChecksum === '1') t.is(error?.details.block, damagedBlock);
    t.regex(error?.message ?? '', new RegExp(`block ${String(error?.details.block)}`));

    for (const cut of [bytes.length - 2, Math.floor(bytes.length / 2), 110 + 10, 60]) {
      const truncated = await t.throwsAsync(drain(bytes.subarray(0, cut)), { instanceOf: LifeboatError }, `cut at ${cut}`);
      t.is(truncated?.code, 'LB_INPUT_IMAGE_TRUNCATED');
      t.regex(truncated?.message ?? '', /truncated/);
    }
  }
});

test('damaged header and bitmap, and header fields out of range, are refused before any block is read', async (t) => {
  const fx = await sources();
  const image = await partclone('ext4', fx.ext4, path.join(fx.dir, 'header.ptcl'));
  const bytes = await readFile(image);
  const cases: Array<[string, (copy: Buffer) => void, RegExp]> = [
    ['magic', (copy) => copy.write('partclone-imagX', 0, 'latin1'), /magic/],
    ['version', (copy) => copy.write('0003', 30, 'latin1'), /version/],
    ['header CRC', (copy) => { copy[60] = copy[60]! ^ 1; }, /header CRC/],
    ['bitmap CRC', (copy) => { copy[115] = copy[115]! ^ 1; }, /bitmap CRC/],
    ['block size 3000', (copy) => resign(copy, (c) => c.writeUInt32LE(3000, 84)), /block size 3000/],
    ['block size 128 KiB', (copy) => resign(copy, (c) => c.writeUInt32LE(128 * 1024, 84)), /block size/],
    ['device too small', (copy) => resign(copy, (c) => c.writeBigUInt64LE(4096n, 52)), /do not fit/],
    ['used over total', (copy) => resign(copy, (c) => c.writeBigUInt64LE(c.readBigUInt64LE(60) + 1n, 76)), /exceed total/],
    ['used count not the bitmap', (copy) => resign(copy, (c) => c.writeBigUInt64LE(c.readBigUInt64LE(76) - 1n, 76)), /bitmap marks/],
    ['total blocks over the limit', (copy) => resign(copy, (c) => c.writeBigUInt64LE(2n ** 40n, 60)), /over the limit/],
    ['checksum mode XXH64', (copy) => resign(copy, (c) => c.writeUInt16LE(0x30, 96)), /checksum mode/],
    ['checksum size', (copy) => resign(copy, (c) => c.writeUInt16LE(8, 98)), /checksum size/],
    ['blocks per checksum 0', (copy) => resign(copy, (c) => c.writeUInt32LE(0, 100)), /blocks_per_checksum/],
  ];
  for (const [name, damage, message] of cases) {
    const copy = Buffer.from(bytes);
    damage(copy);
    const error = await t.throwsAsync(drain(copy), { instanceOf: LifeboatError }, name);
    t.is(error?.code, ['version', 'checksum mode XXH64'].includes(name) ? 'LB_INPUT_IMAGE_UNSUPPORTED' : 'LB_INPUT_IMAGE_CORRUPT', name);
    t.regex(error?.message ?? '', message, name);
  }
});

test('version 0001 (built here from PARTCLONE-FORMAT.md; partclone 0.3.23 cannot write it) reads back, and partclone.restore agrees', async (t) => {
  const fx = await sources();
  const v2Path = await partclone('ext4', fx.ext4, path.join(fx.dir, 'for-v1.ptcl'), ['-a0']);
  const v2 = await readFile(v2Path);
  const blockSize = v2.readUInt32LE(84);
  const totalBlocks = Number(v2.readBigUInt64LE(60));
  const usedBlocks = Number(v2.readBigUInt64LE(76));
  const bitmapBits = v2.subarray(110, 110 + Math.ceil(totalBlocks / 8));
  const header = Buffer.alloc(4160);
  header.write('partclone-image', 0, 'latin1');
  header.write('EXTFS', 15, 'latin1');
  header.write('0001', 30, 'latin1');
  header.writeInt32LE(blockSize, 36);
  header.writeBigUInt64LE(v2.readBigUInt64LE(52), 40);
  header.writeBigUInt64LE(BigInt(totalBlocks), 48);
  header.writeBigUInt64LE(BigInt(usedBlocks), 56);
  const bitmapBytes = Buffer.alloc(totalBlocks);
  for (let block = 0; block < totalBlocks; block++) bitmapBytes[block] = (bitmapBits[block >> 3]! >> (block & 7)) & 1;
  // Blocks, each followed by crc32_0001 (first byte of the block hashed block_size times), never reseeded.
  const data = v2.subarray(110 + bitmapBits.length + 4);
  t.is(data.length, usedBlocks * blockSize);
  const parts: Buffer[] = [header, bitmapBytes, Buffer.from('BiTmAgIc', 'latin1')];
  let crc = 0xffffffff;
  for (let i = 0; i < usedBlocks; i++) {
    const block = data.subarray(i * blockSize, (i + 1) * blockSize);
    for (let n = 0; n < blockSize; n++) crc = crcByte(crc, block[0]!);
    const stored = Buffer.alloc(4);
    stored.writeUInt32LE(crc >>> 0);
    parts.push(block, stored);
  }
  const v1 = Buffer.concat(parts);
  const v1Path = path.join(fx.dir, 'built-v1.ptcl');
  await writeFile(v1Path, v1);
  const reader = await openPartcloneImage(chunksOf(v1, 65_537));
  t.is(reader.header.imageVersion, 1);
  t.is(reader.header.filesystem, 'EXTFS');
  t.is(reader.usedBlocks, usedBlocks);
  const { bytes } = await reconstruct(t, reader);
  const original = await readFile(fx.ext4);
  t.true(bytes.equals(await partcloneRestore(v1Path, original.length)), 'partclone.restore reads the built v1 image the same way');
  // The v1 checksum sees the first byte of a block: change it and the block is named.
  const firstUsed = [...bitmapBytes].indexOf(1);
  const damaged = Buffer.from(v1);
  damaged[4160 + totalBlocks + 8] = damaged[4160 + totalBlocks + 8]! ^ 1;
  const error = await t.throwsAsync(drain(damaged), { instanceOf: LifeboatError });
  t.is(error?.details.block, firstUsed);
  const noMagic = Buffer.from(v1);
  noMagic.write('BiTmAgIx', 4160 + totalBlocks, 'latin1');
  await t.throwsAsync(drain(noMagic), { message: /BiTmAgIc/ });
});

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crcByte(crc: number, byte: number): number {
  return (CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)) >>> 0;
}

/** Rewrites the v2 header CRC after `change` (so the field checks, not the CRC, must catch it). */
function resign(copy: Buffer, change: (copy: Buffer) => void): void {
  change(copy);
  let crc = 0xffffffff;
  for (let i = 0; i < 106; i++) crc = crcByte(crc, copy[i]!);
  copy.writeUInt32LE(crc, 106);
}

async function* chunksOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

async function drain(bytes: Uint8Array): Promise<void> {
  const reader = await openPartcloneImage(chunksOf(bytes, 100_003));
  for await (const run of reader.runs()) void run;
}
