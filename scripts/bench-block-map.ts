// Figure, not a test: time to compute the used-block map of a 64 GiB sparse image about half full,
// Lifeboat's reader (every extent iterated) side by side with partclone mapping the same bitmap
// (`partclone.<fs> -D`: its domain-log mode reads the bitmap and writes the used ranges, no data),
// for ext4 and NTFS. partclone's used-block count (the `+` ranges of its domain log) is checked
// against the map's usedBlocks.
// ext4 is filled with fallocate'd files through a loop mount. NTFS (mkfs.ntfs -Q) gets its files
// created through ntfs-3g, which has no fallocate, so the big ones are then allocated on the
// unmounted image with ntfsfallocate (real clusters in $Bitmap, no data written).
// Run as root: node scripts/bench-block-map.ts [--fs ext4|ntfs|all] [--size-gib 64] [--keep]

import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readExtUsedBlockMap } from '../rescue/core/block-maps/ext.ts';
import { readNtfsUsedBlockMap } from '../rescue/core/block-maps/ntfs.ts';
import type { UsedBlockMapReader } from '../rescue/core/block-maps/used-block-map.ts';
import { openByteSource } from '../rescue/io/file-source.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

interface Bench {
  readonly name: string;
  readonly unit: string;
  readonly reader: UsedBlockMapReader;
  readonly readerName: string;
  readonly partclone: string;
  /** Formats and fills `image` (already truncated to its size); returns a note on the result. */
  fill(image: string, mountPoint: string): Promise<string>;
}

const { values } = parseArgs({
  options: {
    fs: { type: 'string', default: 'all' },
    'size-gib': { type: 'string', default: '64' },
    keep: { type: 'boolean', default: false },
  },
});
const sizeGiB = Number(values['size-gib']) || 64;

/** About half the image: big files of assorted sizes (256 MiB to 2 GiB), in bytes. */
function halfFullPlan(): number[] {
  const target = (sizeGiB * GiB) / 2;
  const sizes = [];
  for (let allocated = 0, i = 0; allocated < target; i++) {
    const bytes = Math.min(target - allocated, (256 + ((i * 7919) % 1792)) * MiB);
    sizes.push(bytes);
    allocated += bytes;
  }
  return sizes;
}

/** A few real small files between the big ones. */
const smallFile = (i: number) => Buffer.alloc(4096 * (1 + (i % 16)), i);
/** The big files deleted afterwards, to leave holes in the bitmap. */
const DELETED = [1, 3, 5, 7];

const ext4: Bench = {
  name: 'ext4',
  unit: 'blocks',
  reader: readExtUsedBlockMap,
  readerName: 'readExtUsedBlockMap',
  partclone: 'partclone.ext4',
  async fill(image, mountPoint) {
    await execa('mkfs.ext4', ['-q', '-F', image]);
    await execa('mount', ['-o', 'loop', image, mountPoint]);
    try {
      for (const [i, bytes] of halfFullPlan().entries()) {
        await execa('fallocate', ['-l', String(bytes), path.join(mountPoint, `big-${i}.bin`)]);
        await writeFile(path.join(mountPoint, `small-${i}.bin`), smallFile(i));
      }
      for (const i of DELETED) await rm(path.join(mountPoint, `big-${i}.bin`), { force: true });
    } finally {
      await execa('umount', [mountPoint]);
    }
    return '';
  },
};

async function withNtfs3g(image: string, mountPoint: string, work: () => Promise<void>): Promise<void> {
  await execa('ntfs-3g', [image, mountPoint]);
  try {
    await work();
  } finally {
    await execa('umount', [mountPoint]);
  }
}

const ntfs: Bench = {
  name: 'ntfs',
  unit: 'clusters',
  reader: readNtfsUsedBlockMap,
  readerName: 'readNtfsUsedBlockMap',
  partclone: 'partclone.ntfs',
  async fill(image, mountPoint) {
    await execa('mkfs.ntfs', ['-Q', '-F', image]);
    const plan = halfFullPlan();
    await withNtfs3g(image, mountPoint, async () => {
      for (const i of plan.keys()) {
        await writeFile(path.join(mountPoint, `big-${i}.bin`), '');
        await writeFile(path.join(mountPoint, `small-${i}.bin`), smallFile(i));
      }
    });
    for (const [i, bytes] of plan.entries()) await execa('ntfsfallocate', ['-l', String(bytes), image, `big-${i}.bin`]);
    await withNtfs3g(image, mountPoint, async () => {
      for (const i of DELETED) await rm(path.join(mountPoint, `big-${i}.bin`), { force: true });
    });
    const { stdout } = await execa('ntfsinfo', ['-m', image]);
    const free = /Free Clusters:\s*(\d+)/.exec(stdout)?.[1];
    if (free === undefined) throw new Error(`ntfsinfo -m printed no free cluster count:\n${stdout}`);
    return `, ntfsinfo -m: ${free} free clusters`;
  },
};

const BENCHES: Readonly<Record<string, readonly Bench[]>> = { ext4: [ext4], ntfs: [ntfs], all: [ext4, ntfs] };

async function timeLifeboat(bench: Bench, image: string) {
  const source = await openByteSource(image);
  try {
    const started = performance.now();
    const map = await bench.reader(source);
    if (!map) throw new Error(`not ${bench.name}`);
    let extents = 0;
    let bytes = 0;
    for await (const extent of map.extents()) {
      extents++;
      bytes += extent.length;
    }
    const ms = performance.now() - started;
    if (bytes > map.sizeBytes) throw new Error('extents exceed the filesystem');
    return { ms, extents, bytes, usedBlocks: map.usedBlocks, totalBlocks: map.totalBlocks, blockSize: map.blockSize };
  } finally {
    await source.close();
  }
}

/**
 * partclone's wall time (its progress thread sleeps, so it never finishes in under about 2 s, whatever
 * the bitmap) and its CPU time, user + system, from the shell's `times` (millisecond resolution).
 */
async function timePartclone(bench: Bench, image: string, domain: string): Promise<{ ms: number; cpuMs: number }> {
  await rm(domain, { force: true });
  const started = performance.now();
  const { stdout } = await execa('bash', ['-c', '"$@" >&2 && times', 'bash', bench.partclone, '-D', '-q', '-s', image, '-o', domain, '-L', '/dev/null']);
  const ms = performance.now() - started;
  // `times` prints the shell's own user and system time, then its children's.
  const children = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(stdout);
  if (!children) throw new Error(`no CPU times from bash: ${stdout}`);
  const [user, system] = [[children[1], children[2]], [children[3], children[4]]].map(([m, s]) => (Number(m) * 60 + Number(s)) * 1000);
  return { ms, cpuMs: (user ?? 0) + (system ?? 0) };
}

/** Bytes in the `+` (used) ranges of a ddrescue domain log. */
async function domainUsedBytes(domain: string): Promise<number> {
  let used = 0;
  const lines = (await readFile(domain, 'utf8')).split('\n');
  // The first non-comment line is the current position; the ranges follow.
  for (const line of lines.filter((l) => l.trim() !== '' && !l.startsWith('#')).slice(1)) {
    const [pos, size, status] = line.trim().split(/\s+/);
    if (pos === undefined || size === undefined) throw new Error(`bad domain log line: ${line}`);
    if (status === '+') used += Number(size);
  }
  return used;
}

async function run(bench: Bench, dir: string): Promise<void> {
  const image = path.join(dir, `bench-${bench.name}.img`);
  const mountPoint = path.join(dir, `mnt-${bench.name}`);
  const domain = path.join(dir, `partclone-${bench.name}.domain`);
  await mkdir(mountPoint);
  await writeFile(image, '');
  await truncate(image, sizeGiB * GiB);
  try {
    const fillStarted = performance.now();
    const note = await bench.fill(image, mountPoint);
    await execa('sync');
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    // One warm-up each so both read the bitmaps from the page cache, then the best of three.
    await timeLifeboat(bench, image);
    await timePartclone(bench, image, domain);
    const ours = [];
    const theirs = [];
    for (let i = 0; i < 3; i++) {
      ours.push(await timeLifeboat(bench, image));
      theirs.push(await timePartclone(bench, image, domain));
    }
    const best = ours.reduce((a, b) => (a.ms <= b.ms ? a : b));
    const partcloneMs = Math.min(...theirs.map((t) => t.ms));
    const partcloneCpuMs = Math.min(...theirs.map((t) => t.cpuMs));
    const partcloneUsed = (await domainUsedBytes(domain)) / best.blockSize;
    const agree = partcloneUsed === best.usedBlocks && best.bytes === best.usedBlocks * best.blockSize ? 'agree' : 'DISAGREE';
    console.log(
      `${bench.name}: ${sizeGiB} GiB image (filled in ${fillSeconds.toFixed(0)} s${note}), ${best.usedBlocks} of ${best.totalBlocks} ${bench.unit} of ${best.blockSize} bytes used ` +
        `(${((100 * best.usedBlocks) / best.totalBlocks).toFixed(1)}%), ${best.extents} extents`,
    );
    console.log(
      `${bench.name}: lifeboat ${bench.readerName} + all extents ${best.ms.toFixed(1)} ms, ${bench.partclone} -D ${partcloneMs.toFixed(1)} ms wall ` +
        `(${partcloneCpuMs.toFixed(0)} ms CPU), best of 3; ratio lifeboat / partclone ${(best.ms / partcloneMs).toFixed(3)} wall, ` +
        `${(best.ms / partcloneCpuMs).toFixed(2)} CPU; used ${bench.unit}: lifeboat ${best.usedBlocks}, partclone ${partcloneUsed} (${agree})`,
    );
  } finally {
    if (!values.keep) await rm(image, { force: true });
  }
}

const benches = BENCHES[values.fs ?? 'all'];
if (!benches) throw new Error(`--fs must be one of ${Object.keys(BENCHES).join(', ')}`);
const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-bench-map-'));
try {
  for (const bench of benches) await run(bench, dir);
} finally {
  if (!values.keep) await rm(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
