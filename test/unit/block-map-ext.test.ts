// The ext2/3/4 used-block map against the real tools: images made by mke2fs/mkfs.ext4 on sparse files,
// most filled through a loop mount (files written, every other one deleted), compared with partclone
// (`partclone.ext4 -c` then its v2 image header and bitmap, and `partclone.info`) block for block,
// and with dumpe2fs (free blocks, and every group's free ranges). Then seeded mutations of a small image.

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readExtUsedBlockMap } from '../../rescue/core/block-maps/ext.ts';
import type { UsedBlockMap, UsedExtent } from '../../rescue/core/block-maps/used-block-map.ts';
import { bufferSource, sliceSource } from '../../rescue/core/byte-source.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { prng } from '../helpers/mutation.ts';
import { extentsToBitmap, runPartclone } from '../helpers/partclone.ts';

const MiB = 1024 * 1024;
let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-extmap-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Variant {
  readonly name: string;
  readonly sizeMiB: number;
  readonly mkfs: readonly string[];
  /** Files to write through a loop mount (every other one is deleted); 0 leaves the image fresh. */
  readonly files: number;
  /** partclone 0.3.23 stops with "bitmap error at 0 group" on bigalloc. */
  readonly partcloneFails?: boolean;
}

const variants: readonly Variant[] = [
  { name: 'ext2', sizeMiB: 64, mkfs: ['mke2fs', '-t', 'ext2'], files: 120 },
  { name: 'ext3', sizeMiB: 128, mkfs: ['mke2fs', '-t', 'ext3'], files: 160 },
  { name: 'ext4 default', sizeMiB: 1024, mkfs: ['mkfs.ext4'], files: 300 },
  { name: 'ext4 fresh (BLOCK_UNINIT groups)', sizeMiB: 1024, mkfs: ['mkfs.ext4'], files: 0 },
  { name: 'ext4 -b 1024', sizeMiB: 256, mkfs: ['mkfs.ext4', '-b', '1024'], files: 200 },
  { name: 'ext4 -O ^flex_bg', sizeMiB: 512, mkfs: ['mkfs.ext4', '-O', '^flex_bg'], files: 200 },
  { name: 'ext4 -O 64bit,metadata_csum', sizeMiB: 768, mkfs: ['mkfs.ext4', '-O', '64bit,metadata_csum'], files: 200 },
  { name: 'ext4 -O ^64bit,^metadata_csum,uninit_bg', sizeMiB: 512, mkfs: ['mkfs.ext4', '-O', '^64bit,^metadata_csum,uninit_bg'], files: 200 },
  { name: 'ext4 -O meta_bg,^resize_inode', sizeMiB: 1024, mkfs: ['mkfs.ext4', '-O', 'meta_bg,^resize_inode'], files: 200 },
  { name: 'ext4 -O meta_bg,^resize_inode -b 1024 (fresh)', sizeMiB: 256, mkfs: ['mkfs.ext4', '-b', '1024', '-O', 'meta_bg,^resize_inode'], files: 0 },
  { name: 'ext4 -O sparse_super2 (32 MiB, fresh)', sizeMiB: 32, mkfs: ['mkfs.ext4', '-O', 'sparse_super2'], files: 0 },
  { name: 'ext2 -O ^sparse_super,^resize_inode', sizeMiB: 96, mkfs: ['mke2fs', '-t', 'ext2', '-O', '^sparse_super,^resize_inode'], files: 60 },
  { name: 'ext4 -O bigalloc,extent -C 16384', sizeMiB: 1024, mkfs: ['mkfs.ext4', '-O', 'bigalloc,extent', '-C', '16384'], files: 200, partcloneFails: true },
];

/** Writes files of assorted sizes (a few spanning several groups), deletes every other one, unmounts. */
async function fillThroughLoopMount(file: string, mountPoint: string, count: number, seed: number): Promise<void> {
  await mkdir(mountPoint, { recursive: true });
  await execa('mount', ['-o', 'loop', file, mountPoint]);
  try {
    const random = prng(seed);
    const next = (limit: number) => Math.floor(random() * limit);
    for (let i = 0; i < count; i++) {
      const size = i % 50 === 7 ? 4 * MiB + (next(MiB)) : 1 + (next(160 * 1024));
      await writeFile(path.join(mountPoint, `f${i}.bin`), randomBytes(size));
    }
    for (let i = 0; i < count; i += 2) await unlink(path.join(mountPoint, `f${i}.bin`));
  } finally {
    await execa('umount', [mountPoint]);
  }
}

async function makeImage(variant: Variant): Promise<string> {
  const slug = variant.name.replace(/\W+/g, '-');
  const file = await sparseFile(path.join(workDir, `${slug}.img`), variant.sizeMiB * MiB);
  const [mkfs, ...options] = variant.mkfs;
  await execa(mkfs!, ['-q', '-F', ...options, file]);
  if (variant.files > 0) await fillThroughLoopMount(file, path.join(workDir, `mnt-${slug}`), variant.files, variant.sizeMiB);
  return file;
}

async function readMap(file: string): Promise<UsedBlockMap> {
  const source = await openByteSource(file);
  try {
    const map = await readExtUsedBlockMap(source);
    if (!map) throw new Error(`${file}: not recognised as ext`);
    // Wrap the extents so they can be iterated after the source is closed: read them now.
    const extents: UsedExtent[] = [];
    for await (const extent of map.extents()) extents.push(extent);
    return { ...map, extents: async function* () { yield* extents; } };
  } finally {
    await source.close();
  }
}

/** dumpe2fs's per-group "Free blocks:" ranges as a bitmap of used allocation units. */
async function dumpe2fsUsedBitmap(image: string, map: UsedBlockMap, ratio: number): Promise<{ bitmap: Uint8Array; freeBlocks: number }> {
  const { stdout } = await execa('dumpe2fs', [image], { stderr: 'ignore' });
  const bitmap = new Uint8Array(Math.ceil(map.totalBlocks / 8)).fill(0xff);
  for (const line of stdout.split('\n')) {
    const match = /^\s+Free blocks: (.+)$/.exec(line);
    if (!match?.[1]) continue;
    for (const range of match[1].split(', ')) {
      const [from, to] = range.split('-').map(Number) as [number, number | undefined];
      for (let unit = Math.floor(from / ratio); unit <= Math.floor((to ?? from) / ratio); unit++) bitmap[unit >> 3]! &= ~(1 << (unit & 7));
    }
  }
  const freeBlocks = Number(/^Free blocks:\s+(\d+)/m.exec(stdout)?.[1]);
  return { bitmap, freeBlocks };
}

function firstDifferences(a: Uint8Array, b: Uint8Array, bitCount: number): { count: number; first: number[] } {
  let count = 0;
  const first: number[] = [];
  for (let bit = 0; bit < bitCount; bit++) {
    if (((a[bit >> 3]! ^ b[bit >> 3]!) >> (bit & 7)) & 1) {
      count++;
      if (first.length < 8) first.push(bit);
    }
  }
  return { count, first };
}

for (const variant of variants) {
  test(`${variant.name} (${variant.sizeMiB} MiB${variant.files ? ', filled' : ''}): counts and bitmap equal partclone's and dumpe2fs's`, async (t) => {
    const image = await makeImage(variant);
    const map = await readMap(image);
    const ratio = Math.round(map.blockSize / Number((await execa('dumpe2fs', ['-h', image], { stderr: 'ignore' })).stdout.match(/^Block size:\s+(\d+)/m)?.[1]));
    t.is(map.filesystem, 'ext');
    t.is(map.notice, undefined);
    t.is(map.sizeBytes, map.totalBlocks * map.blockSize);

    // dumpe2fs: free count and every group's free ranges.
    const dumped = await dumpe2fsUsedBitmap(image, map, ratio);
    t.is(map.totalBlocks - map.usedBlocks, dumped.freeBlocks / ratio, 'free allocation units as dumpe2fs -h');
    const ours = await extentsToBitmap(map, map.blockSize, map.totalBlocks);
    t.deepEqual(firstDifferences(ours, dumped.bitmap, map.totalBlocks), { count: 0, first: [] }, 'used units as dumpe2fs free ranges');

    // partclone: header counts, partclone.info, and its bitmap bit for bit.
    const out = path.join(workDir, `${path.basename(image)}.pc`);
    if (variant.partcloneFails) {
      const result = await execa('partclone.ext4', ['-c', '-q', '-s', image, '-O', out, '-L', '/dev/null'], { reject: false });
      t.not(result.exitCode, 0, 'partclone now handles bigalloc: compare with it here');
      return;
    }
    const pc = await runPartclone('ext4', image);
    t.is(map.blockSize, pc.blockSize, 'block size');
    t.is(map.totalBlocks, pc.totalBlocks, 'total blocks');
    t.is(map.usedBlocks, pc.usedBlocks, 'used blocks');
    t.regex(pc.info, new RegExp(`= ${map.usedBlocks} Blocks`), 'partclone.info used blocks');
    t.regex(pc.info, new RegExp(`= ${map.totalBlocks} Blocks`), 'partclone.info total blocks');
    t.deepEqual(firstDifferences(ours, pc.bitmap, pc.totalBlocks), { count: 0, first: [] }, 'bitmap bit for bit');
    t.log(`${variant.name}: ${map.usedBlocks}/${map.totalBlocks} blocks of ${map.blockSize} bytes used, same as partclone`);
  });
}

test('not ext: undefined; a filesystem longer than its source: LB_FILESYSTEM_TRUNCATED', async (t) => {
  t.is(await readExtUsedBlockMap(bufferSource(new Uint8Array(64 * 1024))), undefined);
  const image = await sparseFile(path.join(workDir, 'short.img'), 16 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', image]);
  const bytes = await readFile(image);
  const error = await t.throwsAsync(readExtUsedBlockMap(sliceSource(bufferSource(bytes), 0, 8 * MiB)), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_FILESYSTEM_TRUNCATED');
  t.is(typeof error?.details.offset, 'number');
});

/** Byte ranges worth mutating in a small image: superblock, descriptor blocks, block bitmaps. */
async function mutationTargets(image: string): Promise<Array<Array<[number, number]>>> {
  const { stdout } = await execa('dumpe2fs', [image], { stderr: 'ignore' });
  const blockSize = Number(/^Block size:\s+(\d+)/m.exec(stdout)?.[1]);
  const descriptors: Array<[number, number]> = [];
  for (const match of stdout.matchAll(/Group descriptors? at (\d+)(?:-(\d+))?/g)) {
    descriptors.push([Number(match[1]) * blockSize, (Number(match[2] ?? match[1]) - Number(match[1]) + 1) * blockSize]);
  }
  const bitmaps: Array<[number, number]> = [];
  for (const match of stdout.matchAll(/Block bitmap at (\d+)/g)) bitmaps.push([Number(match[1]) * blockSize, blockSize]);
  if (descriptors.length === 0 || bitmaps.length === 0) throw new Error('dumpe2fs output not understood');
  return [[[1024, 1024]], descriptors, bitmaps];
}

const MUTATION_TIMEOUT_MS = 5000;

for (const [name, options] of [
  ['uninit_bg, 1 KiB blocks', ['-b', '1024', '-O', '^metadata_csum,uninit_bg']],
  ['64bit, meta_bg, no checksums', ['-O', '64bit,meta_bg,^resize_inode,^metadata_csum', '-b', '1024']],
] as const) {
  test(`mutations (${name}): a map inside the filesystem or a LifeboatError with an offset, in time`, async (t) => {
    const image = await sparseFile(path.join(workDir, `mutate-${name.replace(/\W+/g, '-')}.img`), 8 * MiB);
    await execa('mkfs.ext4', ['-q', '-F', '-N', '512', ...options, image]);
    const pristine = await readFile(image);
    const targets = await mutationTargets(image);
    const uniform = prng(0x5eed + name.length);
    const random = (limit: number) => Math.floor(uniform() * limit);
    const outcomes = { map: 0, error: 0 };
    for (let round = 0; round < 300; round++) {
      const bytes = new Uint8Array(pristine);
      const category = targets[round % targets.length]!;
      const [start, length] = category[random(category.length)]!;
      const edits = 1 + random(8);
      for (let i = 0; i < edits; i++) {
        const at = start + random(length);
        if (random(2) === 0) bytes[at]! ^= 1 << random(8);
        else bytes[at] = random(256);
      }
      const attempt = (async () => {
        const map = await readExtUsedBlockMap(bufferSource(bytes));
        if (!map) return 'unrecognised';
        let previousEnd = -1;
        for await (const { offset, length: size } of map.extents()) {
          if (offset <= previousEnd || size <= 0 || offset + size > map.sizeBytes || map.sizeBytes > bytes.length) {
            throw new Error(`round ${round}: extent ${offset}+${size} after ${previousEnd} in ${map.sizeBytes} bytes`);
          }
          previousEnd = offset + size;
        }
        return 'map';
      })();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), MUTATION_TIMEOUT_MS)));
      try {
        const outcome = await Promise.race([attempt, timeout]);
        t.not(outcome, 'timeout', `round ${round} hung`);
        if (outcome === 'map') outcomes.map++;
      } catch (error) {
        if (!(error instanceof LifeboatError)) throw error;
        t.true(['LB_FILESYSTEM_CORRUPT', 'LB_FILESYSTEM_TRUNCATED'].includes(error.code), `round ${round}: ${error.code}`);
        t.true(Number.isSafeInteger(error.details.offset), `round ${round}: offset`);
        outcomes.error++;
      } finally {
        clearTimeout(timer);
      }
    }
    t.log(`${name}: ${outcomes.map} maps, ${outcomes.error} typed errors`);
    t.true(outcomes.map > 0 && outcomes.error > 0);
  });
}

for (const [name, options] of [
  ['metadata_csum, 64-byte descriptors', ['-O', '64bit,metadata_csum']],
  ['metadata_csum, metadata_csum_seed, UUID changed after mkfs', ['-O', '64bit,metadata_csum,metadata_csum_seed']],
  ['uninit_bg, 32-byte descriptors', ['-O', '^64bit,^metadata_csum,uninit_bg']],
  ['uninit_bg, 64-byte descriptors', ['-O', '64bit,^metadata_csum,uninit_bg']],
] as const) {
  test(`group descriptor checksums (${name}): intact maps, one flipped descriptor byte is LB_FILESYSTEM_CORRUPT bg_checksum as e2fsck says`, async (t) => {
    const image = await sparseFile(path.join(workDir, `bgcsum-${name.replace(/\W+/g, '-')}.img`), 64 * MiB);
    await execa('mkfs.ext4', ['-q', '-F', ...options, image]);
    if (name.includes('UUID changed')) await execa('tune2fs', ['-U', 'random', image]);
    t.truthy(await readMap(image), 'the untouched image maps');
    const { stdout } = await execa('dumpe2fs', [image], { stderr: 'ignore' });
    const blockSize = Number(/^Block size:\s+(\d+)/m.exec(stdout)?.[1]);
    const descSize = Number(/^Group descriptor size:\s+(\d+)/m.exec(stdout)?.[1] ?? 32);
    const tableBlock = Number(/Primary superblock at \d+, Group descriptors at (\d+)/.exec(stdout)?.[1]);
    const group = 1;
    const descriptor = tableBlock * blockSize + group * descSize;
    const bytes = await readFile(image);
    bytes[descriptor + 0x0c]! ^= 0x01; // bg_free_blocks_count_lo
    const broken = path.join(workDir, `bgcsum-broken-${name.replace(/\W+/g, '-')}.img`);
    await writeFile(broken, bytes);
    const error = await t.throwsAsync(readExtUsedBlockMap(bufferSource(bytes)), { instanceOf: LifeboatError });
    t.is(error?.code, 'LB_FILESYSTEM_CORRUPT');
    t.is(error?.details.field, 'bg_checksum');
    t.is(error?.details.offset, descriptor + 0x1e);
    const fsck = await execa('e2fsck', ['-fn', broken], { reject: false, all: true });
    t.not(fsck.exitCode, 0, 'e2fsck -fn fails too');
    t.regex(fsck.all ?? '', new RegExp(`descriptor ${group} checksum`, 'i'), fsck.all);
    await rm(broken);
  });
}
