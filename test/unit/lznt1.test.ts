// decompressLznt1 against units ntfs-3g compressed: an NTFS image whose compressed folder holds a file,
// each compression unit's clusters (runlist from ntfsinfo) decompressed and compared with ntfscat.
// Plus the format's corner cases built by hand, and damaged input: always LB_FILESYSTEM_CORRUPT.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { decompressLznt1 } from '../../rescue/core/file-trees/lznt1.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';

const UNIT_BYTES = 16 * 4096;
let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-lznt1-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('each compression unit ntfs-3g wrote decompresses to what ntfscat reads', async (t) => {
  const image = await sparseFile(path.join(workDir, 'compressed.img'), 16 * 1024 * 1024);
  await execa('mkntfs', ['-F', '-f', '-Q', '-c', '4096', image]);
  const mountPoint = path.join(workDir, 'mnt');
  await mkdir(mountPoint);
  const daemon = execa('ntfs-3g', ['-o', 'no_detach,compression', image, mountPoint], { reject: false });
  let notMarked = 'ntfs-3g did not mount';
  try {
    for (let tries = 0; (await execa('findmnt', ['-n', mountPoint], { reject: false })).stdout.trim() === ''; tries++) {
      if (tries > 100) throw new Error('ntfs-3g did not mount');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await mkdir(path.join(mountPoint, 'c'));
    // FILE_ATTRIBUTE_COMPRESSED on the folder (big-endian): ntfs-3g compresses what is written into it.
    const mark = await execa('setfattr', ['-n', 'system.ntfs_attrib_be', '-v', '0x00000800', path.join(mountPoint, 'c')], { reject: false });
    notMarked = mark.failed ? (mark as unknown as Error).message : '';
    const text = Array.from({ length: 30000 }, (_, i) => `line ${i % 977} of a compressible file\n`).join('');
    await writeFile(path.join(mountPoint, 'c', 'file.txt'), text);
  } finally {
    await execa('umount', [mountPoint], { reject: false });
    await daemon;
  }
  // Without the attribute nothing is compressed and the test would check nothing.
  if (notMarked !== '') {
    t.fail(`setfattr (Debian package attr) could not mark the folder compressed: ${notMarked}`);
    return;
  }
  const plain = Buffer.from((await execa('ntfscat', [image, '/c/file.txt'], { encoding: 'buffer', stripFinalNewline: false })).stdout);
  const info = (await execa('ntfsinfo', ['-v', '-F', '/c/file.txt', image])).stdout;
  t.regex(info, /Compression unit:\s+4 /);
  const runs = [...info.matchAll(/^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+|<HOLE>)\s+(0x[0-9a-f]+)\s*$/gm)].map((match) => ({
    vcn: Number(match[1]), lcn: match[2] === '<HOLE>' ? undefined : Number(match[2]), clusters: Number(match[3]),
  }));
  const disk = await readFile(image);
  let compressedUnits = 0;
  for (let unit = 0; unit * UNIT_BYTES < plain.length; unit++) {
    // The unit's allocated clusters, in VCN order.
    const clusters: Buffer[] = [];
    for (let vcn = unit * 16; vcn < unit * 16 + 16; vcn++) {
      const run = runs.find((candidate) => vcn >= candidate.vcn && vcn < candidate.vcn + candidate.clusters);
      if (run?.lcn !== undefined) clusters.push(disk.subarray((run.lcn + vcn - run.vcn) * 4096, (run.lcn + vcn - run.vcn + 1) * 4096));
    }
    if (clusters.length === 16 || clusters.length === 0) continue;
    compressedUnits++;
    const out = decompressLznt1(Buffer.concat(clusters), UNIT_BYTES);
    const expected = plain.subarray(unit * UNIT_BYTES, (unit + 1) * UNIT_BYTES);
    t.true(Buffer.compare(Buffer.from(out.subarray(0, expected.length)), expected) === 0, `unit ${unit}`);
  }
  t.true(compressedUnits > 3, `${compressedUnits} compressed units`);
});

test('a compressed chunk with a back-reference, a stored chunk, and zeros after the end marker', (t) => {
  // "abc" then a reference 3 back, 6 long: token ((3 - 1) << 12) | (6 - 3); header 0xB000 | (8 - 3).
  const compressedChunk = Buffer.from([0x05, 0xb0, 0x08, 0x61, 0x62, 0x63, 0x03, 0x20]);
  const storedChunk = Buffer.concat([Buffer.from([0xff, 0x3f]), Buffer.alloc(4096, 0x5a)]);
  const out = decompressLznt1(Buffer.concat([compressedChunk, storedChunk, Buffer.from([0, 0])]), 3 * 4096);
  t.is(Buffer.from(out.subarray(0, 9)).toString(), 'abcabcabc');
  t.true(out.subarray(9, 4096).every((byte) => byte === 0), 'a short block is padded with zeros');
  t.true(out.subarray(4096, 8192).every((byte) => byte === 0x5a), 'stored chunk');
  t.true(out.subarray(8192).every((byte) => byte === 0), 'zeros after the end marker');
});

test('damaged input: a reference before the block, a chunk past the input, random bytes: LB_FILESYSTEM_CORRUPT or output, never another error', (t) => {
  const backTooFar = Buffer.from([0x05, 0xb0, 0x01, 0x03, 0x20, 0x00, 0x00, 0x00]);
  t.is(t.throws(() => decompressLznt1(backTooFar, 4096), { instanceOf: LifeboatError })?.code, 'LB_FILESYSTEM_CORRUPT');
  const tooLong = Buffer.from([0xff, 0xbf, 0x00, 0x61]);
  t.is(t.throws(() => decompressLznt1(tooLong, 4096), { instanceOf: LifeboatError })?.code, 'LB_FILESYSTEM_CORRUPT');
  let state = 12345;
  for (let round = 0; round < 300; round++) {
    const input = Buffer.alloc(64 + (round % 200) * 20);
    for (let i = 0; i < input.length; i++) input[i] = (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
    input[1] = 0xb0 | ((input[1] ?? 0) & 0x0f);
    try {
      t.is(decompressLznt1(input, 65536).length, 65536);
    } catch (error) {
      t.true(error instanceof LifeboatError && error.code === 'LB_FILESYSTEM_CORRUPT', String(error));
    }
  }
});
