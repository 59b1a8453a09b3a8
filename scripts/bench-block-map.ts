// Figure, not a test: time to compute the used-block map of a 64 GiB sparse image about half full,
// Lifeboat's reader (every extent iterated) side by side with partclone mapping the same bitmap
// (`partclone.<fs> -D`: its domain-log mode reads the bitmap and writes the used ranges, no data),
// for ext4 and NTFS. Both sides run as fresh processes, each start included: Lifeboat's reader in
// scripts/bench-block-map-child.ts, bundled with esbuild first as the single executable carries the
// program, run by Node 24. The comparison is CPU time with CPU time (user + system, from bash's
// `times`): partclone's progress thread sleeps, so its wall time never falls under about 2 s whatever
// the bitmap. Node's own start (`node -e ''`) is printed beside them. One warm-up each (the bitmaps
// come from the page cache), then 3 runs each in turn, medians. partclone's used-block count (the `+`
// ranges of its domain log) is checked against the map's usedBlocks.
// ext4 is filled with fallocate'd files through a loop mount. NTFS (mkfs.ntfs -Q) gets its files
// created through ntfs-3g, which has no fallocate, so the big ones are then allocated on the
// unmounted image with ntfsfallocate (real clusters in $Bitmap, no data written).
// Run as root: node scripts/bench-block-map.ts [--fs ext4|ntfs|all] [--size-gib 64] [--runs 3] [--keep]

import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const NODE = path.join(import.meta.dirname, '..', 'node_modules', '.bin', 'node');
const CHILD_ENTRY = path.join(import.meta.dirname, 'bench-block-map-child.ts');

interface Bench {
  readonly name: string;
  readonly unit: string;
  readonly readerName: string;
  readonly partclone: string;
  /** Formats and fills `image` (already truncated to its size); returns a note on the result. */
  fill(image: string, mountPoint: string): Promise<string>;
}

const { values } = parseArgs({
  options: {
    fs: { type: 'string', default: 'all' },
    'size-gib': { type: 'string', default: '64' },
    runs: { type: 'string', default: '3' },
    keep: { type: 'boolean', default: false },
  },
});
const sizeGiB = Number(values['size-gib']) || 64;
const RUNS = Math.max(1, Number(values.runs) || 3);

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

interface Timed {
  /** Wall time from spawn to exit. */
  readonly ms: number;
  /** User + system CPU time of the process and its threads (bash's `times`, millisecond resolution). */
  readonly cpuMs: number;
  readonly stdout: string;
}

/** Runs a command as a fresh process under bash, its stdout into `outFile`; wall and CPU time. */
async function timeProcess(command: string, args: readonly string[], outFile: string): Promise<Timed> {
  const started = performance.now();
  const { stdout } = await execa('bash', ['-c', 'out=$1; shift; "$@" > "$out" && times', 'bash', outFile, command, ...args]);
  const ms = performance.now() - started;
  // `times` prints the shell's own user and system time, then its children's.
  const children = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(stdout);
  if (!children) throw new Error(`no CPU times from bash: ${stdout}`);
  const [user, system] = [[children[1], children[2]], [children[3], children[4]]].map(([m, sec]) => (Number(m) * 60 + Number(sec)) * 1000);
  return { ms, cpuMs: (user ?? 0) + (system ?? 0), stdout: await readFile(outFile, 'utf8') };
}

/** Bundles the Lifeboat side into one ES module (the program's modules in one file, as in the executable). */
async function bundleChild(dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = path.join(dir, 'bench-block-map-child.mjs');
  await esbuild.build({ entryPoints: [CHILD_ENTRY], outfile, bundle: true, platform: 'node', target: 'node24', format: 'esm', logLevel: 'silent' });
  return outfile;
}

interface LifeboatMap {
  readonly extents: number;
  readonly bytes: number;
  readonly usedBlocks: number;
  readonly totalBlocks: number;
  readonly blockSize: number;
}

async function timeLifeboat(bench: Bench, child: string, image: string, outFile: string): Promise<Timed & { map: LifeboatMap }> {
  const timed = await timeProcess(NODE, [child, bench.name, image], outFile);
  return { ...timed, map: JSON.parse(timed.stdout) as LifeboatMap };
}

async function timePartclone(bench: Bench, image: string, domain: string, outFile: string): Promise<Timed> {
  await rm(domain, { force: true });
  return timeProcess(bench.partclone, ['-D', '-q', '-s', image, '-o', domain, '-L', '/dev/null'], outFile);
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
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

async function run(bench: Bench, dir: string, child: string, nodeStart: Timed): Promise<void> {
  const image = path.join(dir, `bench-${bench.name}.img`);
  const mountPoint = path.join(dir, `mnt-${bench.name}`);
  const domain = path.join(dir, `partclone-${bench.name}.domain`);
  const outFile = path.join(dir, 'stdout.txt');
  await mkdir(mountPoint);
  await writeFile(image, '');
  await truncate(image, sizeGiB * GiB);
  try {
    const fillStarted = performance.now();
    const note = await bench.fill(image, mountPoint);
    await execa('sync');
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    // One warm-up each so both read the bitmaps from the page cache, then the runs, each side in turn first.
    await timeLifeboat(bench, child, image, outFile);
    await timePartclone(bench, image, domain, outFile);
    const ours: Array<Timed & { map: LifeboatMap }> = [];
    const theirs: Timed[] = [];
    for (let i = 0; i < RUNS; i++) {
      const pair = [async () => ours.push(await timeLifeboat(bench, child, image, outFile)), async () => theirs.push(await timePartclone(bench, image, domain, outFile))];
      for (const go of i % 2 === 0 ? pair : pair.reverse()) await go();
    }
    const map = ours[0]!.map;
    const [lifeboatMs, lifeboatCpuMs] = [median(ours.map((t) => t.ms)), median(ours.map((t) => t.cpuMs))];
    const [partcloneMs, partcloneCpuMs] = [median(theirs.map((t) => t.ms)), median(theirs.map((t) => t.cpuMs))];
    const partcloneUsed = (await domainUsedBytes(domain)) / map.blockSize;
    const agree = partcloneUsed === map.usedBlocks && map.bytes === map.usedBlocks * map.blockSize ? 'agree' : 'DISAGREE';
    console.log(
      `${bench.name}: ${sizeGiB} GiB image (filled in ${fillSeconds.toFixed(0)} s${note}), ${map.usedBlocks} of ${map.totalBlocks} ${bench.unit} of ${map.blockSize} bytes used ` +
        `(${((100 * map.usedBlocks) / map.totalBlocks).toFixed(1)}%), ${map.extents} extents`,
    );
    console.log(
      `${bench.name}: CPU lifeboat ${bench.readerName} + all extents ${lifeboatCpuMs.toFixed(0)} ms (a fresh Node process; node -e '' alone ${nodeStart.cpuMs.toFixed(0)} ms), ` +
        `${bench.partclone} -D ${partcloneCpuMs.toFixed(0)} ms; ratio lifeboat / partclone ${(lifeboatCpuMs / partcloneCpuMs).toFixed(2)} CPU ` +
        `(wall ${lifeboatMs.toFixed(0)} ms / ${partcloneMs.toFixed(0)} ms, partclone's sleeping progress thread included); median of ${RUNS}${RUNS < 3 ? ' (a smoke run: no figure to quote)' : ''}; ` +
        `used ${bench.unit}: lifeboat ${map.usedBlocks}, partclone ${partcloneUsed} (${agree})`,
    );
  } finally {
    if (!values.keep) await rm(image, { force: true });
  }
}

const benches = BENCHES[values.fs ?? 'all'];
if (!benches) throw new Error(`--fs must be one of ${Object.keys(BENCHES).join(', ')}`);
const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-bench-map-'));
try {
  const child = await bundleChild(dir);
  // Node's start alone (median of 3), for the reader to weigh the fresh process Lifeboat's side pays.
  const starts: Timed[] = [];
  for (let i = 0; i < 3; i++) starts.push(await timeProcess(NODE, ['-e', ''], path.join(dir, 'stdout.txt')));
  const nodeStart = { ...starts[0]!, cpuMs: median(starts.map((t) => t.cpuMs)), ms: median(starts.map((t) => t.ms)) };
  for (const bench of benches) await run(bench, dir, child, nodeStart);
} finally {
  if (!values.keep) await rm(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
