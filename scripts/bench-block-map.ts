// Figure, not a test: time to compute the used-block map of a 64 GiB sparse ext4 image about half full,
// Lifeboat's reader (every extent iterated) side by side with partclone mapping the same bitmap
// (`partclone.ext4 -D`: its domain-log mode reads the bitmap and writes the used ranges, no data).
// The image is filled mostly with fallocate'd extents through a loop mount, so little data is written.
// Run as root: node scripts/bench-block-map.ts [--size-gib 64] [--keep]

import { execa } from 'execa';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readExtUsedBlockMap } from '../rescue/core/block-maps/ext.ts';
import { openByteSource } from '../rescue/io/file-source.ts';

const GiB = 1024 ** 3;
const args = process.argv.slice(2);
const sizeGiB = Number(args[args.indexOf('--size-gib') + 1] ?? 64) || 64;
const keep = args.includes('--keep');

async function makeImage(dir: string): Promise<string> {
  const image = path.join(dir, 'bench-ext4.img');
  await writeFile(image, '');
  await truncate(image, sizeGiB * GiB);
  await execa('mkfs.ext4', ['-q', '-F', image]);
  const mountPoint = path.join(dir, 'mnt');
  await mkdir(mountPoint);
  await execa('mount', ['-o', 'loop', image, mountPoint]);
  try {
    // About half the space: fallocate'd files of assorted sizes, a few real small files between them.
    const target = (sizeGiB * GiB) / 2;
    let allocated = 0;
    for (let i = 0; allocated < target; i++) {
      const bytes = Math.min(target - allocated, (256 + ((i * 7919) % 1792)) * 1024 * 1024);
      await execa('fallocate', ['-l', String(bytes), path.join(mountPoint, `big-${i}.bin`)]);
      await writeFile(path.join(mountPoint, `small-${i}.bin`), Buffer.alloc(4096 * (1 + (i % 16)), i));
      allocated += bytes;
    }
    for (let i = 1; i < 8; i += 2) await rm(path.join(mountPoint, `big-${i}.bin`), { force: true });
  } finally {
    await execa('umount', [mountPoint]);
  }
  return image;
}

async function timeLifeboat(image: string): Promise<{ ms: number; extents: number; usedBlocks: number; totalBlocks: number; blockSize: number }> {
  const source = await openByteSource(image);
  try {
    const started = performance.now();
    const map = await readExtUsedBlockMap(source);
    if (!map) throw new Error('not ext');
    let extents = 0;
    let bytes = 0;
    for await (const extent of map.extents()) {
      extents++;
      bytes += extent.length;
    }
    const ms = performance.now() - started;
    if (bytes > map.sizeBytes) throw new Error('extents exceed the filesystem');
    return { ms, extents, usedBlocks: map.usedBlocks, totalBlocks: map.totalBlocks, blockSize: map.blockSize };
  } finally {
    await source.close();
  }
}

async function timePartclone(image: string, dir: string): Promise<number> {
  const domain = path.join(dir, 'partclone.domain');
  await rm(domain, { force: true });
  const started = performance.now();
  await execa('partclone.ext4', ['-D', '-q', '-s', image, '-o', domain, '-L', '/dev/null']);
  return performance.now() - started;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-bench-map-'));
try {
  const image = await makeImage(dir);
  await execa('sync');
  // One warm-up each so both read the bitmaps from the page cache, then the best of three.
  await timeLifeboat(image);
  await timePartclone(image, dir);
  const ours = [];
  const theirs = [];
  for (let run = 0; run < 3; run++) {
    ours.push(await timeLifeboat(image));
    theirs.push(await timePartclone(image, dir));
  }
  const best = ours.reduce((a, b) => (a.ms <= b.ms ? a : b));
  const partcloneMs = Math.min(...theirs);
  console.log(`image: ${sizeGiB} GiB ext4, ${best.usedBlocks} of ${best.totalBlocks} blocks of ${best.blockSize} bytes used (${((100 * best.usedBlocks) / best.totalBlocks).toFixed(1)}%), ${best.extents} extents`);
  console.log(`lifeboat readExtUsedBlockMap + all extents: ${best.ms.toFixed(1)} ms (best of 3)`);
  console.log(`partclone.ext4 -D (bitmap to domain log):   ${partcloneMs.toFixed(1)} ms (best of 3)`);
  console.log(`ratio lifeboat / partclone: ${(best.ms / partcloneMs).toFixed(2)}`);
} finally {
  if (!keep) await rm(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
