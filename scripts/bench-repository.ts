// npm run bench:repository: the repository figures of issues 4 and 15, Lifeboat side by side with
// Clonezilla's pipeline in one run, on a 4 GiB ext4 and a 4 GiB NTFS filesystem image each about half
// full, once per data shape (--shapes: text, random, small files by default; mixed is issue 4's), each
// shape's figures printed on their own. Goals (issue 15): backup and restore at most 0.5x the peer's
// time, stored bytes at most 1.0x, peak RSS of a restore at most 200 MiB.
// Caches (--cache cold, the default): `sync` and drop_caches before every timed step of either side,
// so each reads its source and its repository or image from the device; each timed command syncs
// what it wrote before it ends (the peer's pipelines end with `sync FILE`; Lifeboat syncs its
// packs and its restore target itself).
//  - backup: `partclone.<fs> -c | zstd -T0 -3` vs `lifeboat backup partition IMG -r REPO` (fresh REPO);
//  - stored bytes: the .pcl.zst image vs the repository folder;
//  - restore: `zstd -dc | partclone.<fs> -r` vs `lifeboat restore -r REPO latest OUT`, into a fresh
//    sparse file each, followed by `e2fsck -fn` / `ntfsfix -n` on the result (must be clean);
//  - encrypted (--tools ...,encrypted, on by default): the same source backed up into a fresh
//    encrypted repository (`init --encrypt`, the password from LIFEBOAT_PASSWORD) and restored from
//    it, beside the plain repository's figures: time, CPU time and peak RSS (issue 15's memory goal
//    holds for encrypted repositories too), the restored image compared with the source;
//  - second backup: 1% of the files rewritten in place (same size, seeded choice), backed up into the
//    same repository: its wall time against the first backup's and the bytes it stored (stats.newBytes)
//    against the first backup's;
//  - peak RSS of each command's whole process tree (sum of VmRSS polled every 200 ms, or the largest
//    single VmHWM if higher);
//  - CPU time (user + system) of each command's process tree, printed beside the wall times: on this
//    shared machine it varies less with other load than wall time does (no goal is set on it).
// Two media, each reported on its own: the image file itself (read through the page cache, as Lifeboat
// reads image files) and a loop device over it (the path a rescue really takes: Lifeboat reads and
// writes a block device with O_DIRECT, partclone through the device's own cache; a fresh loop device
// per step, the source read-only; the restore goes onto a loop device over a fresh sparse file).
// With --cache warm (issue 4's rule) the image file's page cache is warm for both media (the source is
// read once before each timed step, `sync` before each), so the two media differ in the path, not in the storage. Tools interleaved, in
// turn first: peer then lifeboat in odd runs, lifeboat then peer in even runs (use an even --runs of
// at least 4: the figures are medians, and fewer than 3 runs are marked as a smoke run). The side that runs second starts in the wake of the other's 4 GiB restore: on this
// virtual machine the host then takes CPU time from the guest for many seconds (steal time during
// lifeboat's NTFS backup: 115-158 ticks right after the peer's restore, 42-52 after 15 s of waiting,
// ~11 with nothing before; the backup took 10.6-10.8 s, 9.6-10.3 s and 8.8-9.7 s). With a fixed
// order that wake always fell on lifeboat's first backup. The median of the runs is reported.
// The images are generated once, deterministically (seeded; the system files are a seeded sample of
// this machine's /usr), in the work folder and reused while their stamp file matches; --fresh
// regenerates them. Mixed content: system files (~700 MiB), log and CSV text (~500 MiB), random data
// (~500 MiB), zero-filled files (~250 MiB), thousands of small files and some large ones.
// Run as root: node scripts/bench-repository.ts [--fs ext4|ntfs|all] [--media file,device] [--runs 4] [--work /var/tmp/lifeboat-bench]
//   [--program sea|checkout] [--fresh] [--json] [--tools peer,lifeboat,encrypted] [--size-gib 4 (the content scales with it)] [--seed 4]
//   [--shapes text,random,small,mixed] [--cache cold|warm]
//   [--generate-only] (make or reuse the images and print their paths as JSON: bench-clone.ts's data)

import { execa } from 'execa';
import { createCipheriv, createHash } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { prng } from '../test/helpers/mutation.ts';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const LIFEBOAT = path.join(ROOT, 'rescue/bin/lifeboat.mjs');
const ENV = { PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
/** Bump when the generated content changes, so old images are not reused. */
const DATA_VERSION = 1;

const { values } = parseArgs({
  options: {
    fs: { type: 'string', default: 'all' },
    runs: { type: 'string', default: '4' },
    media: { type: 'string', default: 'file,device' },
    work: { type: 'string', default: '/var/tmp/lifeboat-bench' },
    fresh: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    tools: { type: 'string', default: 'peer,lifeboat,encrypted' },
    program: { type: 'string', default: 'sea' },
    'size-gib': { type: 'string', default: '4' },
    seed: { type: 'string', default: '4' },
    shapes: { type: 'string', default: 'text,random,small' },
    cache: { type: 'string', default: 'cold' },
    'generate-only': { type: 'boolean', default: false },
  },
});
/**
 * What the filesystems hold (issue 15: every shape on its own): 'text' (log and CSV text, compresses
 * well), 'random' (incompressible), 'small' (tens of thousands of small files, text and random),
 * 'mixed' (issue 4's content: system files, text, random data, zero files).
 */
type Shape = 'mixed' | 'text' | 'random' | 'small';
const SHAPES = (values.shapes ?? '').split(',').filter((name): name is Shape => ['mixed', 'text', 'random', 'small'].includes(name));
/**
 * 'cold' (default): `sync` and drop_caches before every timed step of either side, so each reads its
 * source and its repository or image from the device, as after a boot; 'warm': the source image
 * read into the page cache first (issue 4's rule).
 */
const COLD = values.cache !== 'warm';
const RUNS = Math.max(1, Number(values.runs) || 4);
/** Medians of fewer runs than this are not figures to quote. */
const MIN_QUOTED_RUNS = 3;
const SIZE_GIB = Number(values['size-gib']) || 4;
const SEED = Number(values.seed) >>> 0;
const SCALE = SIZE_GIB / 4;
const TOOLS = new Set((values.tools ?? '').split(','));
/** Where the source is read and the restore written: the image file, or a loop device over it. */
type Media = 'file' | 'device';
const MEDIA_NAMES: Readonly<Record<Media, string>> = {
  file: 'image file (page cache)',
  device: 'loop device (Lifeboat O_DIRECT)',
};
const MEDIA = (values.media ?? '').split(',').filter((name): name is Media => name === 'file' || name === 'device');
const WORK = path.resolve(values.work ?? '/var/tmp/lifeboat-bench');
/**
 * What is measured: 'sea' (default), the single executable users run, built from this checkout
 * into the work folder first; or 'checkout', rescue/bin/lifeboat.mjs under Node's type stripping,
 * which spends ~0.4 s more per command loading the TypeScript modules.
 */
const PROGRAM = values.program === 'checkout' ? 'checkout' : 'sea';
const SEA = path.join(WORK, 'lifeboat');
const lifeboat = (...args: string[]): [string, string[]] => (PROGRAM === 'sea' ? [SEA, args] : [NODE, [LIFEBOAT, ...args]]);

/** Progress goes to stderr, so that --json leaves stdout to the summary. */
const log = (message: string) => process.stderr.write(`bench-repository: ${message}\n`);

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const between = (random: () => number, low: number, high: number) => low + Math.floor(random() * (high - low + 1));

// ---------------------------------------------------------------------------------------------
// Content

type Kind = 'system' | 'log' | 'csv' | 'random' | 'zero';

interface PlannedFile {
  /** Path inside the filesystem. */
  readonly rel: string;
  readonly kind: Kind;
  readonly bytes: number;
  /** Seed of the generated content; for system files the source path. */
  readonly seed: number;
  readonly source?: string;
}

/** A seeded sample of this machine's /usr/bin, /usr/lib and /usr/share, up to `budget` bytes. */
async function planSystemFiles(budget: number, random: () => number): Promise<PlannedFile[]> {
  const candidates: string[] = [];
  for (const top of ['/usr/bin', '/usr/lib', '/usr/share']) {
    const entries = await readdir(top, { recursive: true, withFileTypes: true });
    for (const entry of entries) if (entry.isFile()) candidates.push(path.join(entry.parentPath, entry.name));
  }
  candidates.sort();
  const files: PlannedFile[] = [];
  let total = 0;
  for (const source of shuffle(candidates, random)) {
    if (total >= budget - 64 * KiB) break;
    const { size } = await stat(source);
    if (size === 0 || size > 48 * MiB || total + size > budget) continue;
    files.push({ rel: path.join('system', source), kind: 'system', bytes: size, seed: 0, source });
    total += size;
  }
  return files;
}

/**
 * The generated files of one kind: `smallCount` small ones (sizes in [smallMin, smallMax]) spread
 * over 40 folders, then large ones (sizes in [largeMin, largeMax]) up to `budget` bytes in all.
 */
function planGenerated(kinds: readonly Kind[], folder: string, budget: number, smallCount: number, small: [number, number], large: [number, number], random: () => number): PlannedFile[] {
  const files: PlannedFile[] = [];
  let total = 0;
  const extension = (kind: Kind) => (kind === 'log' ? 'log' : kind === 'csv' ? 'csv' : kind === 'zero' ? 'img' : 'bin');
  for (let i = 0; i < smallCount && total < budget; i++) {
    const kind = kinds[i % kinds.length] as Kind;
    const bytes = Math.min(budget - total, between(random, small[0], small[1]));
    files.push({ rel: `${folder}/d${String(i % 40).padStart(2, '0')}/f${String(i).padStart(5, '0')}.${extension(kind)}`, kind, bytes, seed: Math.floor(random() * 2 ** 32) });
    total += bytes;
  }
  for (let i = 0; total < budget; i++) {
    const kind = kinds[i % kinds.length] as Kind;
    const bytes = Math.min(budget - total, between(random, large[0], large[1]));
    files.push({ rel: `${folder}/large/big${String(i).padStart(3, '0')}.${extension(kind)}`, kind, bytes, seed: Math.floor(random() * 2 ** 32) });
    total += bytes;
  }
  return files;
}

async function planContent(shape: Shape): Promise<PlannedFile[]> {
  const random = prng(SEED);
  const budget = (mib: number) => Math.round(mib * SCALE * MiB);
  const count = (n: number) => Math.max(1, Math.round(n * SCALE));
  if (shape === 'text') return planGenerated(['log', 'log', 'csv'], 'text', budget(1900), count(3000), [200, 64 * KiB], [8 * MiB, 64 * MiB], random);
  if (shape === 'random') return planGenerated(['random'], 'blobs', budget(1900), count(1500), [4 * KiB, 256 * KiB], [8 * MiB, 96 * MiB], random);
  if (shape === 'small') {
    // Every file small: ~60,000 at 4 GiB, two in three text, sizes 200 B to 48 KiB.
    return planGenerated(['log', 'random', 'csv'], 'small', budget(1400), count(1_000_000), [200, 48 * KiB], [200, 48 * KiB], random);
  }
  return [
    ...(await planSystemFiles(budget(700), random)),
    ...planGenerated(['log', 'log', 'csv'], 'text', budget(500), count(3000), [200, 64 * KiB], [8 * MiB, 64 * MiB], random),
    ...planGenerated(['random'], 'blobs', budget(500), count(1500), [4 * KiB, 256 * KiB], [8 * MiB, 96 * MiB], random),
    ...planGenerated(['zero'], 'zeros', budget(250), count(200), [4 * KiB, 512 * KiB], [8 * MiB, 48 * MiB], random),
  ];
}

const CHUNK = 1 * MiB;

/** Incompressible bytes: an AES-256-CTR keystream keyed by the seed, produced chunk by chunk. */
function* randomChunks(bytes: number, seed: number): Generator<Buffer> {
  const key = createHash('sha256').update(`lifeboat-bench-${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let done = 0; done < bytes; done += CHUNK) yield cipher.update(zeros.subarray(0, Math.min(CHUNK, bytes - done)));
}

function* zeroChunks(bytes: number): Generator<Buffer> {
  const zeros = Buffer.alloc(CHUNK);
  for (let done = 0; done < bytes; done += CHUNK) yield zeros.subarray(0, Math.min(CHUNK, bytes - done));
}

const HOSTS = ['web-01', 'web-02', 'db-01', 'cache-03', 'batch-07'];
const SERVICES = ['nginx', 'sshd', 'cron', 'kernel', 'postgres', 'app-api', 'app-worker', 'systemd'];
const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARN', 'ERROR'];
const PATHS = ['/api/v1/items', '/api/v1/users', '/api/v2/orders', '/static/app.js', '/health', '/login', '/search'];
const SENSORS = ['temp', 'humidity', 'pressure', 'voltage', 'current', 'rpm'];
const UNITS = ['C', '%', 'hPa', 'V', 'A', 'rpm'];

/** Log-like or CSV text, about CHUNK bytes per piece, exactly `bytes` in all. */
function* textChunks(bytes: number, seed: number, kind: 'log' | 'csv'): Generator<Buffer> {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  let time = Date.UTC(2024, 0, 1) + Math.floor(random() * 300 * 86_400_000);
  let id = Math.floor(random() * 1_000_000);
  let done = 0;
  let first = kind === 'csv';
  while (done < bytes) {
    const lines: string[] = first ? ['id,timestamp,host,sensor,value,unit,flag\n'] : [];
    first = false;
    let length = lines[0]?.length ?? 0;
    // Up to a piece, or what the file still needs (a small file does not make a whole piece of text).
    while (length < Math.min(CHUNK, bytes - done)) {
      time += Math.floor(random() * 2000);
      id++;
      const stamp = new Date(time).toISOString();
      let line: string;
      if (kind === 'csv') {
        const sensor = Math.floor(random() * SENSORS.length);
        line = `${id},${stamp},${pick(HOSTS)},${SENSORS[sensor]}-${Math.floor(random() * 16)},${(random() * 1000).toFixed(3)},${UNITS[sensor]},${random() < 0.02 ? 'ALARM' : 'ok'}\n`;
      } else {
        const service = pick(SERVICES);
        const level = pick(LEVELS);
        line =
          random() < 0.7
            ? `${stamp} ${pick(HOSTS)} ${service}[${1000 + Math.floor(random() * 30000)}]: ${level} request id=${id.toString(16)} method=${random() < 0.8 ? 'GET' : 'POST'} path=${pick(PATHS)}/${Math.floor(random() * 100000)} status=${random() < 0.95 ? 200 : 500} duration_ms=${(random() * 250).toFixed(1)}\n`
            : `${stamp} ${pick(HOSTS)} ${service}[${1000 + Math.floor(random() * 30000)}]: ${level} session ${Math.floor(random() * 1e9)} for user u${Math.floor(random() * 5000)} ${random() < 0.5 ? 'opened' : 'closed'} from 10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}\n`;
      }
      lines.push(line);
      length += line.length;
    }
    const chunk = Buffer.from(lines.join(''));
    const piece = chunk.subarray(0, Math.min(chunk.length, bytes - done));
    done += piece.length;
    yield piece;
  }
}

function contentChunks(kind: Kind, bytes: number, seed: number): Generator<Buffer> {
  if (kind === 'log' || kind === 'csv') return textChunks(bytes, seed, kind);
  if (kind === 'zero') return zeroChunks(bytes);
  return randomChunks(bytes, seed);
}

/** Writes `chunks` into `file` from offset 0: a new file, or (flags r+) the old one's bytes in place. */
async function writeChunks(file: string, chunks: Iterable<Buffer>, flags: 'w' | 'r+'): Promise<void> {
  const handle = await open(file, flags);
  try {
    let position = 0;
    for (const chunk of chunks) {
      await handle.write(chunk, 0, chunk.length, position);
      position += chunk.length;
    }
  } finally {
    await handle.close();
  }
}

async function populate(root: string, files: readonly PlannedFile[]): Promise<void> {
  const folders = new Set<string>();
  for (const [i, file] of files.entries()) {
    const target = path.join(root, file.rel);
    const folder = path.dirname(target);
    if (!folders.has(folder)) {
      await mkdir(folder, { recursive: true });
      folders.add(folder);
    }
    if (file.source !== undefined) await copyFile(file.source, target);
    else await writeChunks(target, contentChunks(file.kind, file.bytes, file.seed), 'w');
    if (i % 5000 === 4999) log(`  ${i + 1} of ${files.length} files written`);
  }
}

/** 1% of the files (seeded), each rewritten in place with new content of the same size. */
function planModification(files: readonly PlannedFile[]): PlannedFile[] {
  const random = prng(SEED ^ 0x5eed1);
  const chosen = shuffle([...files.keys()], random).slice(0, Math.ceil(files.length / 100));
  return chosen
    .sort((a, b) => a - b)
    .map((i) => files[i] as PlannedFile)
    .map((file) => ({ rel: file.rel, bytes: file.bytes, kind: file.kind === 'log' || file.kind === 'csv' ? file.kind : 'random', seed: Math.floor(random() * 2 ** 32) }));
}

async function modify(root: string, changes: readonly PlannedFile[]): Promise<void> {
  for (const change of changes) await writeChunks(path.join(root, change.rel), contentChunks(change.kind, change.bytes, change.seed), 'r+');
}

// ---------------------------------------------------------------------------------------------
// Filesystems

interface CheckResult {
  readonly problem?: string;
  readonly note?: string;
}

interface Filesystem {
  readonly name: 'ext4' | 'ntfs';
  readonly partclone: string;
  format(image: string): Promise<void>;
  /** Mounts `image` on `mountPoint` while `work` runs, and unmounts it cleanly (the image complete on return). */
  mounted(image: string, mountPoint: string, work: () => Promise<void>): Promise<void>;
  /** Checks a restored image: a problem when the checker finds one, a note for a known, harmless difference. */
  check(image: string): Promise<CheckResult>;
}

const tail = (text: string, lines = 12) => text.trim().split('\n').slice(-lines).join('\n');

const ext4: Filesystem = {
  name: 'ext4',
  partclone: 'partclone.ext4',
  async format(image) {
    await execa('mkfs.ext4', ['-q', '-F', '-L', 'bench', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
  },
  async mounted(image, mountPoint, work) {
    await execa('mount', ['-o', 'loop', image, mountPoint]);
    try {
      await work();
    } finally {
      await execa('umount', [mountPoint]);
    }
  },
  async check(image) {
    const result = await execa('e2fsck', ['-fn', image], { reject: false, all: true });
    return result.exitCode === 0 ? {} : { problem: `e2fsck -fn exit ${result.exitCode}:\n${tail(result.all ?? '')}` };
  },
};

async function isMountPoint(folder: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[1] === folder);
}

/** undefined when `ntfsfix -n` finds the volume clean, else its report. */
async function ntfsfixReport(image: string): Promise<string | undefined> {
  const result = await execa('ntfsfix', ['-n', image], { reject: false, all: true });
  const output = result.all ?? '';
  const clean = result.exitCode === 0 && /processed successfully/.test(output) && !/(error|corrupt|inconsisten|BAD)/i.test(output);
  return clean ? undefined : `ntfsfix -n exit ${result.exitCode}:\n${tail(output)}`;
}

/** Writes the NTFS boot sector again at its alternate place: the sector after the volume's last one. */
async function copyAlternateBootSector(image: string): Promise<void> {
  const handle = await open(image, 'r+');
  try {
    const boot = Buffer.alloc(512);
    await handle.read(boot, 0, 512, 0);
    const bytesPerSector = boot.readUInt16LE(0x0b);
    const sectors = Number(boot.readBigUInt64LE(0x28));
    const sector = Buffer.alloc(bytesPerSector);
    await handle.read(sector, 0, bytesPerSector, 0);
    await handle.write(sector, 0, bytesPerSector, sectors * bytesPerSector);
  } finally {
    await handle.close();
  }
}

const ntfs: Filesystem = {
  name: 'ntfs',
  partclone: 'partclone.ntfs',
  async format(image) {
    await execa('mkntfs', ['-Q', '-F', '-q', '-L', 'bench', image]);
  },
  async mounted(image, mountPoint, work) {
    // In the foreground (no_detach), so that its exit after the unmount says the image is complete.
    const daemon = execa('ntfs-3g', ['-o', 'no_detach', image, mountPoint], { reject: false, all: true, buffer: { all: false } });
    const exited = daemon.then((result) => result);
    for (let waited = 0; !(await isMountPoint(mountPoint)); waited += 50) {
      if (waited > 20_000 || daemon.exitCode !== null) {
        daemon.kill();
        throw new Error(`ntfs-3g did not mount ${image} (exit ${(await exited).exitCode})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      await work();
    } finally {
      await execa('umount', [mountPoint]);
      const result = await exited;
      if (result.exitCode !== 0) throw new Error(`ntfs-3g exited ${result.exitCode} after the unmount of ${image}`);
    }
  },
  async check(image) {
    const first = await ntfsfixReport(image);
    if (first === undefined) return {};
    // partclone.ntfs copies the volume's clusters only, not the alternate boot sector that follows them:
    // ntfsfix stops there. Put it in place (a copy of the boot sector) and check the rest.
    if (!/alternate boot sector\.\.\. BAD/.test(first)) return { problem: first };
    await copyAlternateBootSector(image);
    const second = await ntfsfixReport(image);
    return second === undefined
      ? { note: 'ntfsfix -n: "alternate boot sector BAD" (the sector after the last cluster was not restored); clean once it was copied from the boot sector' }
      : { problem: second };
  },
};

const FILESYSTEMS: Readonly<Record<string, readonly Filesystem[]>> = { ext4: [ext4], ntfs: [ntfs], all: [ext4, ntfs] };

interface Stamp {
  readonly version: number;
  readonly shape?: Shape;
  readonly seed: number;
  readonly sizeBytes: number;
  readonly files: number;
  readonly bytes: number;
  readonly modifiedFiles: number;
  readonly modifiedBytes: number;
  readonly generatedSeconds: number;
}

/** The pristine image and its 1%-modified copy, generated unless a matching stamp says they are complete. */
async function prepareImages(fs: Filesystem, dir: string, shape: Shape): Promise<{ pristine: string; modified: string; stamp: Stamp }> {
  const pristine = path.join(dir, 'pristine.img');
  const modified = path.join(dir, 'modified.img');
  const stampFile = path.join(dir, 'stamp.json');
  const sizeBytes = Math.round(SIZE_GIB * GiB);
  if (!values.fresh) {
    try {
      const stamp = JSON.parse(await readFile(stampFile, 'utf8')) as Stamp;
      if (stamp.version === DATA_VERSION && (stamp.shape ?? 'mixed') === shape && stamp.seed === SEED && stamp.sizeBytes === sizeBytes) {
        log(`${fs.name}: reusing ${pristine} (${stamp.files} files, ${(stamp.bytes / MiB).toFixed(0)} MiB; --fresh regenerates)`);
        return { pristine, modified, stamp };
      }
    } catch {
      // no stamp: generate
    }
  }
  const started = performance.now();
  await rm(dir, { recursive: true, force: true });
  const mountPoint = path.join(dir, 'mnt');
  await mkdir(mountPoint, { recursive: true });
  const files = await planContent(shape);
  const bytes = files.reduce((sum, file) => sum + file.bytes, 0);
  log(`${fs.name}: generating ${pristine}: ${SIZE_GIB} GiB, ${files.length} files, ${(bytes / MiB).toFixed(0)} MiB`);
  await execa('truncate', ['-s', String(sizeBytes), pristine]);
  await fs.format(pristine);
  await fs.mounted(pristine, mountPoint, () => populate(mountPoint, files));
  const changes = planModification(files);
  const modifiedBytes = changes.reduce((sum, file) => sum + file.bytes, 0);
  log(`${fs.name}: ${modified}: ${changes.length} files (${(modifiedBytes / MiB).toFixed(1)} MiB) rewritten in place`);
  await execa('cp', ['--sparse=always', pristine, modified]);
  await fs.mounted(modified, mountPoint, () => modify(mountPoint, changes));
  await execa('sync');
  for (const image of [pristine, modified]) {
    const { problem, note } = await fs.check(image);
    if (problem !== undefined || note !== undefined) throw new Error(`generated ${image} does not check clean: ${problem ?? note}`);
  }
  const stamp: Stamp = {
    version: DATA_VERSION,
    shape,
    seed: SEED,
    sizeBytes,
    files: files.length,
    bytes,
    modifiedFiles: changes.length,
    modifiedBytes,
    generatedSeconds: (performance.now() - started) / 1000,
  };
  await writeFile(stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
  return { pristine, modified, stamp };
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Measured {
  readonly seconds: number;
  /** User plus system CPU time of the command and every process it waited for (bash's `times`). */
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** pid -> parent pid of every process now. */
async function processParents(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Field 4, after the parenthesised command name (which may hold spaces or parentheses).
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  return parents;
}

async function statusKiB(pid: number): Promise<{ rss: number; hwm: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Runs a command, timing it from spawn to exit and polling its process tree's memory every 200 ms
 * (each process's VmHWM keeps its own peak between polls; polling every 50 ms cost the machine
 * ~1400 /proc reads a second, taken from whichever tool used both cores).
 */
async function measure(file: string, args: readonly string[], env: Record<string, string> = {}): Promise<Measured> {
  // A bash wrapper reports the CPU time of the command's whole process tree (its own few MiB are
  // left out of the memory figures below).
  const timesFile = path.join(WORK, `.times-${process.pid}`);
  const wrapper = 'f=$1; shift; "$@"; s=$?; times > "$f"; exit $s';
  const started = performance.now();
  const child = execa('bash', ['-c', wrapper, 'bash', timesFile, file, ...args], { reject: false, env: { ...ENV, ...env }, stdin: 'ignore', maxBuffer: 256 * MiB });
  const root = child.pid;
  let peakKiB = 0;
  let done = false;
  const poller = (async () => {
    while (!done && root !== undefined) {
      const parents = await processParents();
      const tree = new Set([root]);
      for (let grew = true; grew; ) {
        grew = false;
        for (const [pid, ppid] of parents) {
          if (!tree.has(pid) && tree.has(ppid)) {
            tree.add(pid);
            grew = true;
          }
        }
      }
      let sum = 0;
      for (const pid of tree) {
        if (pid === root) continue; // the wrapper
        const status = await statusKiB(pid);
        if (!status) continue;
        sum += status.rss;
        peakKiB = Math.max(peakKiB, status.hwm);
      }
      peakKiB = Math.max(peakKiB, sum);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  const result = await child;
  const seconds = (performance.now() - started) / 1000;
  done = true;
  await poller;
  const cpuSeconds = await childCpuSeconds(timesFile);
  return { seconds, cpuSeconds, peakRssBytes: peakKiB * KiB, exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** The children's line of bash's `times` output ("0m17.940s 0m2.490s"): user + system seconds. */
async function childCpuSeconds(timesFile: string): Promise<number> {
  const text = await readFile(timesFile, 'utf8').catch(() => '');
  await rm(timesFile, { force: true });
  const line = text.trim().split('\n')[1] ?? '';
  const seconds = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((match) => Number(match[1]) * 60 + Number(match[2]));
  return seconds.length === 2 ? seconds[0]! + seconds[1]! : NaN;
}

/**
 * Before a timed step: with --cache cold (the default), dirty pages flushed and every clean one
 * dropped, so that the step reads its input from the device; with --cache warm, the source image read
 * whole into the page cache instead.
 */
async function settle(image?: string): Promise<void> {
  if (!COLD) return image === undefined ? void (await execa('sync')) : warm(image);
  await execa('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

/** Reads the whole image so that the timed step finds it in the page cache, and flushes dirty pages. */
async function warm(image: string): Promise<void> {
  await execa('dd', [`if=${image}`, 'of=/dev/null', 'bs=16M', 'status=none']);
  await execa('sync');
}

async function folderBytes(folder: string): Promise<number> {
  const { stdout } = await execa('du', ['--apparent-size', '--bytes', '--summarize', folder]);
  return Number(stdout.split('\t')[0]);
}

async function freshTarget(file: string, sizeBytes: number): Promise<void> {
  await rm(file, { force: true });
  await execa('truncate', ['-s', String(sizeBytes), file]);
  await execa('sync');
}

/**
 * Runs `use` on the image itself, or on a new loop device over it (read-only for a source), detached
 * afterwards: a fresh device has no cached pages of its own, and a rewritten image is seen whole.
 */
async function onMedia<T>(media: Media, image: string, access: 'ro' | 'rw', use: (target: string) => Promise<T>): Promise<T> {
  if (media === 'file') return use(image);
  const args = ['--find', '--show', ...(access === 'ro' ? ['--read-only'] : []), image];
  let device = '';
  for (let attempt = 1; device === ''; attempt++) {
    // Other programs attach loop devices too: --find can lose the race for a free one.
    const result = await execa('losetup', args, { reject: false });
    if (result.exitCode === 0) device = result.stdout.trim();
    else if (attempt >= 5) throw new Error(`losetup ${args.join(' ')}: ${result.stderr}`);
    else await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

interface SideRun {
  backupSeconds: number;
  backupCpuSeconds: number;
  restoreCpuSeconds: number;
  secondBackupCpuSeconds?: number;
  backupPeakRssBytes: number;
  storedBytes: number;
  restoreSeconds: number;
  restorePeakRssBytes: number;
  /** undefined: clean. */
  checkProblem: string | undefined;
  checkNote: string | undefined;
  /** The restored image equals the source image byte for byte (as restored, before any repair by the check). */
  identical: boolean;
  secondBackupSeconds?: number;
  secondBackupPeakRssBytes?: number;
  firstNewBytes?: number;
  secondNewBytes?: number;
  /** Lifeboat with an encrypted repository (--tools ...,encrypted). */
  encrypted?: EncryptedRun;
}

/** An encrypted repository's backup and restore of the same source. */
interface EncryptedRun {
  backupSeconds: number;
  backupCpuSeconds: number;
  backupPeakRssBytes: number;
  restoreSeconds: number;
  restoreCpuSeconds: number;
  restorePeakRssBytes: number;
  identical: boolean;
}

class StepFailure extends Error {}

function failIfBad(what: string, measured: Measured): void {
  if (measured.exitCode !== 0) throw new StepFailure(`${what} exited ${measured.exitCode}:\n${tail(measured.stderr || measured.stdout)}`);
}

/** The restored image compared with the source image, then checked by the filesystem's checker. */
async function verify(fs: Filesystem, restored: string, pristine: string): Promise<Pick<SideRun, 'checkProblem' | 'checkNote' | 'identical'>> {
  const { exitCode } = await execa('cmp', ['-s', pristine, restored], { reject: false });
  const { problem, note } = await fs.check(restored);
  return { checkProblem: problem, checkNote: note, identical: exitCode === 0 };
}

async function runPeer(fs: Filesystem, media: Media, source: string, pristine: string, dir: string, sizeBytes: number): Promise<SideRun> {
  const image = path.join(dir, 'peer.pcl.zst');
  const restored = path.join(dir, 'peer-restored.img');
  await rm(image, { force: true });
  await settle(source);
  const backup = await onMedia(media, source, 'ro', (input) =>
    measure('bash', ['-c', `set -o pipefail; ${fs.partclone} -c -q -L /dev/null -s "$1" -o - | zstd -q -T0 -3 -c > "$2" && sync "$2"`, 'bash', input, image]));
  failIfBad(`${fs.partclone} -c | zstd`, backup);
  const storedBytes = (await stat(image)).size;
  await freshTarget(restored, sizeBytes);
  await settle();
  // Its writes synced inside the timed command, as Lifeboat syncs its target before it exits.
  const restore = await onMedia(media, restored, 'rw', (output) =>
    measure('bash', ['-c', `set -o pipefail; zstd -q -dc "$1" | ${fs.partclone} -r -q -C -L /dev/null -s - -O "$2" && sync "$2"`, 'bash', image, output]));
  failIfBad(`zstd -dc | ${fs.partclone} -r`, restore);
  const verdict = await verify(fs, restored, pristine);
  await rm(restored, { force: true });
  await rm(image, { force: true });
  return { backupSeconds: backup.seconds, backupCpuSeconds: backup.cpuSeconds, backupPeakRssBytes: backup.peakRssBytes, storedBytes, restoreSeconds: restore.seconds, restoreCpuSeconds: restore.cpuSeconds, restorePeakRssBytes: restore.peakRssBytes, ...verdict };
}

interface DoneEvent {
  event: 'done';
  stats: { newBytes: number; logicalBytes?: number; readBytes?: number };
}

function doneEvent(what: string, stdout: string): DoneEvent {
  for (const line of stdout.split('\n').reverse()) {
    if (!line.trim().startsWith('{')) continue;
    try {
      const event = JSON.parse(line) as { event?: string; stats?: { newBytes?: unknown } };
      if (event.event === 'done' && typeof event.stats?.newBytes === 'number') return event as DoneEvent;
    } catch {
      // not JSON
    }
  }
  throw new StepFailure(`${what} printed no done event with stats.newBytes:\n${tail(stdout)}`);
}

/** The figures mean nothing if a backup fell back to copying sector by sector: that fails the step. */
function failIfSectorBySector(what: string, stdout: string): void {
  const notice = stdout.split('\n').find((line) => line.includes('"event":"notice"') && /sector by sector/.test(line));
  if (notice) throw new StepFailure(`${what} copied sector by sector instead of the used blocks:\n${notice}`);
}

async function runLifeboat(fs: Filesystem, media: Media, source: string, pristine: string, modified: string, dir: string, sizeBytes: number): Promise<SideRun> {
  const repo = path.join(dir, 'repo');
  const restored = path.join(dir, 'lifeboat-restored.img');
  await rm(repo, { recursive: true, force: true });
  await settle(source);
  const backup = await onMedia(media, source, 'ro', (input) => measure(...lifeboat('backup', 'partition', input, '-r', repo, '--json')));
  failIfBad('lifeboat backup partition', backup);
  const first = doneEvent('lifeboat backup partition', backup.stdout);
  failIfSectorBySector('lifeboat backup partition', backup.stdout);
  const storedBytes = await folderBytes(repo);
  // Onto an image file Lifeboat makes the file; onto a device, the device is there first.
  if (media === 'device') await freshTarget(restored, sizeBytes);
  else await rm(restored, { force: true });
  await settle();
  const restore = await onMedia(media, restored, 'rw', (output) => measure(...lifeboat('restore', '-r', repo, 'latest', output, '--yes')));
  failIfBad('lifeboat restore', restore);
  const verdict = await verify(fs, restored, pristine);
  await rm(restored, { force: true });
  const encrypted = TOOLS.has('encrypted') ? await runLifeboatEncrypted(media, source, pristine, dir, sizeBytes) : undefined;
  // The same source path, now with 1% of its files rewritten.
  await execa('cp', ['--sparse=always', modified, source]);
  await settle(source);
  const second = await onMedia(media, source, 'ro', (input) => measure(...lifeboat('backup', 'partition', input, '-r', repo, '--json')));
  failIfBad('second lifeboat backup partition', second);
  const secondDone = doneEvent('second lifeboat backup partition', second.stdout);
  failIfSectorBySector('second lifeboat backup partition', second.stdout);
  await rm(repo, { recursive: true, force: true });
  return {
    backupSeconds: backup.seconds,
    backupCpuSeconds: backup.cpuSeconds,
    restoreCpuSeconds: restore.cpuSeconds,
    secondBackupCpuSeconds: second.cpuSeconds,
    backupPeakRssBytes: backup.peakRssBytes,
    storedBytes,
    restoreSeconds: restore.seconds,
    restorePeakRssBytes: restore.peakRssBytes,
    ...verdict,
    secondBackupSeconds: second.seconds,
    secondBackupPeakRssBytes: second.peakRssBytes,
    firstNewBytes: first.stats.newBytes,
    secondNewBytes: secondDone.stats.newBytes,
    ...(encrypted ? { encrypted } : {}),
  };
}

/** The bench's password for its encrypted repositories (not a secret: the repository is removed after). */
const ENCRYPTED_ENV = { LIFEBOAT_PASSWORD: 'bench-repository' };

/** The same source backed up into a fresh encrypted repository and restored from it (the source must be pristine). */
async function runLifeboatEncrypted(media: Media, source: string, pristine: string, dir: string, sizeBytes: number): Promise<EncryptedRun> {
  const repo = path.join(dir, 'repo-encrypted');
  const restored = path.join(dir, 'lifeboat-encrypted-restored.img');
  await rm(repo, { recursive: true, force: true });
  const init = await execa(...lifeboat('init', '-r', repo, '--encrypt'), { reject: false, env: { ...ENV, ...ENCRYPTED_ENV }, stdin: 'ignore' });
  if (init.exitCode !== 0) throw new StepFailure(`lifeboat init --encrypt exited ${init.exitCode}:\n${tail(init.stderr || init.stdout)}`);
  await settle(source);
  const backup = await onMedia(media, source, 'ro', (input) => measure(...lifeboat('backup', 'partition', input, '-r', repo, '--json'), ENCRYPTED_ENV));
  failIfBad('lifeboat backup partition (encrypted)', backup);
  failIfSectorBySector('lifeboat backup partition (encrypted)', backup.stdout);
  if (media === 'device') await freshTarget(restored, sizeBytes);
  else await rm(restored, { force: true });
  await settle();
  const restore = await onMedia(media, restored, 'rw', (output) => measure(...lifeboat('restore', '-r', repo, 'latest', output, '--yes'), ENCRYPTED_ENV));
  failIfBad('lifeboat restore (encrypted)', restore);
  const { exitCode } = await execa('cmp', ['-s', pristine, restored], { reject: false });
  await rm(restored, { force: true });
  await rm(repo, { recursive: true, force: true });
  return {
    backupSeconds: backup.seconds,
    backupCpuSeconds: backup.cpuSeconds,
    backupPeakRssBytes: backup.peakRssBytes,
    restoreSeconds: restore.seconds,
    restoreCpuSeconds: restore.cpuSeconds,
    restorePeakRssBytes: restore.peakRssBytes,
    identical: exitCode === 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Side {
  runs: number;
  failures: string[];
  backupSeconds: number;
  backupCpuSeconds: number;
  restoreCpuSeconds: number;
  secondBackupCpuSeconds?: number;
  restoreSeconds: number;
  storedBytes: number;
  backupPeakRssMiB: number;
  restorePeakRssMiB: number;
  /** Per run: 'clean' or the checker's report. */
  checks: string[];
  notes: string[];
  /** Per run: the restored image equals the source byte for byte. */
  identical: boolean[];
  secondBackupSeconds?: number;
  secondBackupPeakRssMiB?: number;
  firstNewBytes?: number;
  secondNewBytes?: number;
  /** Medians (peak RSS: the largest) of the encrypted repository's runs, and per run whether its restore equals the source. */
  encrypted?: { backupSeconds: number; backupCpuSeconds: number; backupPeakRssMiB: number; restoreSeconds: number; restoreCpuSeconds: number; restorePeakRssMiB: number; identical: boolean[] };
}

interface Goal {
  name: string;
  value: number;
  goal: number;
  unit: string;
  met: boolean;
}

interface FsReport {
  fs: string;
  shape: Shape;
  media: Media;
  sizeBytes: number;
  files: number;
  dataBytes: number;
  modifiedFiles: number;
  modifiedBytes: number;
  runs: number;
  /** The 1-minute load average before each run: other work on the machine makes the times noisy. */
  loadAverages: number[];
  peer?: Side;
  lifeboat?: Side;
  goals: Goal[];
}

function summarise(results: readonly SideRun[], failures: string[]): Side {
  const mid = (pick: (run: SideRun) => number | undefined) => median(results.map(pick).filter((value): value is number => value !== undefined));
  const peak = (pick: (run: SideRun) => number) => (results.length === 0 ? NaN : Math.max(...results.map(pick)) / MiB);
  const side: Side = {
    runs: results.length,
    failures,
    backupSeconds: mid((run) => run.backupSeconds),
    backupCpuSeconds: mid((run) => run.backupCpuSeconds),
    restoreCpuSeconds: mid((run) => run.restoreCpuSeconds),
    restoreSeconds: mid((run) => run.restoreSeconds),
    storedBytes: mid((run) => run.storedBytes),
    backupPeakRssMiB: peak((run) => run.backupPeakRssBytes),
    restorePeakRssMiB: peak((run) => run.restorePeakRssBytes),
    checks: results.map((run) => run.checkProblem ?? 'clean'),
    notes: [...new Set(results.flatMap((run) => (run.checkNote === undefined ? [] : [run.checkNote])))],
    identical: results.map((run) => run.identical),
  };
  if (results.some((run) => run.secondBackupSeconds !== undefined)) {
    side.secondBackupSeconds = mid((run) => run.secondBackupSeconds);
    side.secondBackupCpuSeconds = mid((run) => run.secondBackupCpuSeconds);
    side.secondBackupPeakRssMiB = peak((run) => run.secondBackupPeakRssBytes ?? 0);
    side.firstNewBytes = mid((run) => run.firstNewBytes);
    side.secondNewBytes = mid((run) => run.secondNewBytes);
  }
  const encrypted = results.flatMap((run) => (run.encrypted ? [run.encrypted] : []));
  if (encrypted.length > 0) {
    const emid = (pick: (run: EncryptedRun) => number) => median(encrypted.map(pick));
    const epeak = (pick: (run: EncryptedRun) => number) => Math.max(...encrypted.map(pick)) / MiB;
    side.encrypted = {
      backupSeconds: emid((run) => run.backupSeconds),
      backupCpuSeconds: emid((run) => run.backupCpuSeconds),
      backupPeakRssMiB: epeak((run) => run.backupPeakRssBytes),
      restoreSeconds: emid((run) => run.restoreSeconds),
      restoreCpuSeconds: emid((run) => run.restoreCpuSeconds),
      restorePeakRssMiB: epeak((run) => run.restorePeakRssBytes),
      identical: encrypted.map((run) => run.identical),
    };
  }
  return side;
}

function goals(peer: Side | undefined, lifeboat: Side | undefined): Goal[] {
  const list: Goal[] = [];
  const add = (name: string, value: number, goal: number, unit: string) => list.push({ name, value, goal, unit, met: Number.isFinite(value) && value <= goal });
  if (lifeboat && lifeboat.runs > 0) {
    if (peer && peer.runs > 0) {
      add('backup time lifeboat / peer', lifeboat.backupSeconds / peer.backupSeconds, 0.5, '');
      add('stored bytes lifeboat / peer', lifeboat.storedBytes / peer.storedBytes, 1.0, '');
      add('restore time lifeboat / peer', lifeboat.restoreSeconds / peer.restoreSeconds, 0.5, '');
    }
    add('second backup time / first', (lifeboat.secondBackupSeconds ?? NaN) / lifeboat.backupSeconds, 0.3, '');
    add('second backup new bytes / first', (100 * (lifeboat.secondNewBytes ?? NaN)) / (lifeboat.firstNewBytes ?? NaN), 5, '%');
    add('lifeboat peak RSS', Math.max(lifeboat.backupPeakRssMiB, lifeboat.restorePeakRssMiB, lifeboat.secondBackupPeakRssMiB ?? 0), 300, ' MiB');
    add('lifeboat peak RSS of the restore', lifeboat.restorePeakRssMiB, 200, ' MiB');
    if (lifeboat.encrypted) add('peak RSS of the encrypted restore', lifeboat.encrypted.restorePeakRssMiB, 200, ' MiB');
  }
  return list;
}

function printReport(report: FsReport): void {
  const { peer, lifeboat } = report;
  const cell = (side: Side | undefined, show: (side: Side) => string) => (side === undefined ? '-' : side.runs === 0 ? 'failed' : show(side));
  const s = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '-' : `${value.toFixed(1)} s`);
  const mib = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '-' : `${(value / MiB).toFixed(1)} MiB`);
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !(a > 0) || !(b > 0) ? '-' : (a / b).toFixed(2));
  const row = (label: string, a: string, b: string, r: string) => console.log(`  ${label.padEnd(30)} ${a.padStart(14)} ${b.padStart(14)} ${r.padStart(8)}`);
  console.log(
    `\n${report.fs}, ${report.shape} content, ${COLD ? 'caches dropped before each step' : 'source image in the page cache'}, on the ${MEDIA_NAMES[report.media]}${report.runs < MIN_QUOTED_RUNS ? ` (a smoke run: fewer than ${MIN_QUOTED_RUNS} runs, no figure to quote)` : ''}: ${+(report.sizeBytes / GiB).toFixed(2)} GiB image, ${(report.dataBytes / MiB).toFixed(0)} MiB in ${report.files} files; ` +
      `second backup after ${report.modifiedFiles} files (${(report.modifiedBytes / MiB).toFixed(1)} MiB) rewritten; median of ${report.runs} run(s), each side first in turn (peer first in odd runs); ` +
      `load average before each run ${report.loadAverages.join(', ')} on ${os.availableParallelism()} CPUs`,
  );
  row('', 'partclone+zstd', 'lifeboat', 'ratio');
  const live = (side: Side | undefined) => (side && side.runs > 0 ? side : undefined);
  row('backup', cell(peer, (x) => s(x.backupSeconds)), cell(lifeboat, (x) => s(x.backupSeconds)), ratio(live(lifeboat)?.backupSeconds, live(peer)?.backupSeconds));
  row('stored bytes', cell(peer, (x) => mib(x.storedBytes)), cell(lifeboat, (x) => mib(x.storedBytes)), ratio(live(lifeboat)?.storedBytes, live(peer)?.storedBytes));
  row('restore', cell(peer, (x) => s(x.restoreSeconds)), cell(lifeboat, (x) => s(x.restoreSeconds)), ratio(live(lifeboat)?.restoreSeconds, live(peer)?.restoreSeconds));
  // CPU time (user + system, all processes and threads) depends less on other load than wall time.
  row('backup CPU time', cell(peer, (x) => s(x.backupCpuSeconds)), cell(lifeboat, (x) => s(x.backupCpuSeconds)), ratio(live(lifeboat)?.backupCpuSeconds, live(peer)?.backupCpuSeconds));
  row('restore CPU time', cell(peer, (x) => s(x.restoreCpuSeconds)), cell(lifeboat, (x) => s(x.restoreCpuSeconds)), ratio(live(lifeboat)?.restoreCpuSeconds, live(peer)?.restoreCpuSeconds));
  row('peak RSS backup', cell(peer, (x) => mib(x.backupPeakRssMiB * MiB)), cell(lifeboat, (x) => mib(x.backupPeakRssMiB * MiB)), '');
  row('peak RSS restore', cell(peer, (x) => mib(x.restorePeakRssMiB * MiB)), cell(lifeboat, (x) => mib(x.restorePeakRssMiB * MiB)), '');
  row('second backup', '', cell(lifeboat, (x) => s(x.secondBackupSeconds)), ratio(live(lifeboat)?.secondBackupSeconds, live(lifeboat)?.backupSeconds));
  row('second backup CPU time', '', cell(lifeboat, (x) => s(x.secondBackupCpuSeconds)), ratio(live(lifeboat)?.secondBackupCpuSeconds, live(lifeboat)?.backupCpuSeconds));
  row('new bytes, first / second', '', cell(lifeboat, (x) => `${mib(x.firstNewBytes)} / ${mib(x.secondNewBytes)}`), '');
  const checked = (x: Side) => (x.checks.every((c) => c === 'clean') ? (x.notes.length > 0 ? 'not clean*' : 'clean') : 'NOT CLEAN');
  const same = (x: Side) => (x.identical.every(Boolean) ? 'yes' : x.identical.some(Boolean) ? 'some runs' : 'no');
  row(`${report.fs === 'ext4' ? 'e2fsck -fn' : 'ntfsfix -n'} after restore`, cell(peer, checked), cell(lifeboat, checked), '');
  row('restored image = source', cell(peer, same), cell(lifeboat, same), '');
  // An encrypted repository of the same source: its ratio is against the plain repository's figure.
  const encrypted = live(lifeboat)?.encrypted;
  if (encrypted) {
    row('encrypted: backup', '', s(encrypted.backupSeconds), ratio(encrypted.backupSeconds, lifeboat?.backupSeconds));
    row('encrypted: restore', '', s(encrypted.restoreSeconds), ratio(encrypted.restoreSeconds, lifeboat?.restoreSeconds));
    row('encrypted: restore CPU time', '', s(encrypted.restoreCpuSeconds), ratio(encrypted.restoreCpuSeconds, lifeboat?.restoreCpuSeconds));
    row('encrypted: peak RSS backup', '', mib(encrypted.backupPeakRssMiB * MiB), ratio(encrypted.backupPeakRssMiB, lifeboat?.backupPeakRssMiB));
    row('encrypted: peak RSS restore', '', mib(encrypted.restorePeakRssMiB * MiB), ratio(encrypted.restorePeakRssMiB, lifeboat?.restorePeakRssMiB));
    row('encrypted: restored = source', '', encrypted.identical.every(Boolean) ? 'yes' : encrypted.identical.some(Boolean) ? 'some runs' : 'no', '');
  }
  for (const goal of report.goals) {
    const value = goal.unit === '%' ? `${goal.value.toFixed(2)}%` : goal.unit === '' ? goal.value.toFixed(2) : `${goal.value.toFixed(0)}${goal.unit}`;
    console.log(`  goal ${goal.name.padEnd(34)} ${value.padStart(9)} (<= ${goal.goal}${goal.unit})  ${goal.met ? 'met' : 'MISSED'}`);
  }
  for (const [name, side] of [['peer', peer], ['lifeboat', lifeboat]] as const) {
    for (const failure of side?.failures ?? []) console.log(`  ${name} FAILED: ${failure.replaceAll('\n', '\n    ')}`);
    for (const check of side?.checks ?? []) if (check !== 'clean') console.log(`  ${name} restore NOT CLEAN: ${check.replaceAll('\n', '\n    ')}`);
    for (const note of side?.notes ?? []) console.log(`  * ${name} restore: ${note}`);
  }
}

interface MediaRuns {
  readonly peer: SideRun[];
  readonly lifeboat: SideRun[];
  readonly peerFailures: string[];
  readonly lifeboatFailures: string[];
}

/** One side on one medium in one run: its figures, or its failure. */
async function runSide(side: { name: 'peer' | 'lifeboat'; label: string; go: () => Promise<SideRun>; results: SideRun[]; failures: string[] }): Promise<void> {
  const { name, label, go, results, failures } = side;
  log(`${label}: ${name}`);
  try {
    const result = await go();
    results.push(result);
    log(
      `${label}: ${name}: backup ${result.backupSeconds.toFixed(1)} s (CPU ${result.backupCpuSeconds.toFixed(1)} s), ${(result.storedBytes / MiB).toFixed(1)} MiB, ` +
        `restore ${result.restoreSeconds.toFixed(1)} s${result.secondBackupSeconds === undefined ? '' : `, second backup ${result.secondBackupSeconds.toFixed(1)} s`}, ` +
        `check ${result.checkProblem ?? (result.checkNote === undefined ? 'clean' : `not clean (${result.checkNote})`)}, ${result.identical ? 'identical to' : 'differs from'} the source, ` +
        `peak RSS ${[result.backupPeakRssBytes, result.restorePeakRssBytes, ...(result.secondBackupPeakRssBytes === undefined ? [] : [result.secondBackupPeakRssBytes])].map((bytes) => (bytes / MiB).toFixed(0)).join(' / ')} MiB` +
        (result.encrypted === undefined ? '' : `; encrypted: backup ${result.encrypted.backupSeconds.toFixed(1)} s, restore ${result.encrypted.restoreSeconds.toFixed(1)} s (CPU ${result.encrypted.restoreCpuSeconds.toFixed(1)} s), ` +
          `peak RSS ${(result.encrypted.backupPeakRssBytes / MiB).toFixed(0)} / ${(result.encrypted.restorePeakRssBytes / MiB).toFixed(0)} MiB, ${result.encrypted.identical ? 'identical to' : 'differs from'} the source`),
    );
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    failures.push(error.message);
    log(`${label}: ${name} FAILED: ${error.message}`);
  }
}

async function benchFilesystem(fs: Filesystem, shape: Shape): Promise<FsReport[]> {
  const dir = path.join(WORK, shape === 'mixed' ? fs.name : `${fs.name}-${shape}`);
  const { pristine, modified, stamp } = await prepareImages(fs, dir, shape);
  const runDir = path.join(dir, 'run');
  const source = path.join(runDir, 'source.img');
  const byMedia = new Map<Media, MediaRuns>(MEDIA.map((media) => [media, { peer: [], lifeboat: [], peerFailures: [], lifeboatFailures: [] }]));
  const loadAverages: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    loadAverages.push(Number((os.loadavg()[0] ?? NaN).toFixed(2)));
    for (const media of MEDIA) {
      const runs = byMedia.get(media)!;
      await rm(runDir, { recursive: true, force: true });
      await mkdir(runDir, { recursive: true });
      const sides = [
        ['peer', () => runPeer(fs, media, source, pristine, runDir, stamp.sizeBytes), runs.peer, runs.peerFailures],
        ['lifeboat', () => runLifeboat(fs, media, source, pristine, modified, runDir, stamp.sizeBytes), runs.lifeboat, runs.lifeboatFailures],
      ] as const;
      for (const [name, go, results, failures] of run % 2 === 0 ? sides : [...sides].reverse()) {
        if (!TOOLS.has(name)) continue;
        // Every side starts from the pristine image at the same path.
        await execa('cp', ['--sparse=always', pristine, source]);
        await runSide({ name, label: `${fs.name} (${shape}) on the ${media}, run ${run + 1}/${RUNS}`, go, results, failures });
      }
    }
  }
  await rm(runDir, { recursive: true, force: true });
  return MEDIA.map((media) => {
    const runs = byMedia.get(media)!;
    const peer = TOOLS.has('peer') ? summarise(runs.peer, runs.peerFailures) : undefined;
    const lifeboat = TOOLS.has('lifeboat') ? summarise(runs.lifeboat, runs.lifeboatFailures) : undefined;
    return {
      fs: fs.name,
      shape,
      media,
      sizeBytes: stamp.sizeBytes,
      files: stamp.files,
      dataBytes: stamp.bytes,
      modifiedFiles: stamp.modifiedFiles,
      modifiedBytes: stamp.modifiedBytes,
      runs: RUNS,
      loadAverages,
      ...(peer ? { peer } : {}),
      ...(lifeboat ? { lifeboat } : {}),
      goals: goals(peer, lifeboat),
    };
  });
}

if (process.getuid?.() !== 0) throw new Error('bench-repository needs root (loop and FUSE mounts)');
const filesystems = FILESYSTEMS[values.fs ?? 'all'];
if (!filesystems) throw new Error(`--fs must be one of ${Object.keys(FILESYSTEMS).join(', ')}`);
if (MEDIA.length === 0) throw new Error('--media must name file, device or both (file,device)');
await mkdir(WORK, { recursive: true });
if (values['generate-only']) {
  // The same images for other benches (bench-clone.ts): made or reused, then their paths and stamps.
  const images = [];
  for (const fs of filesystems) for (const shape of SHAPES) {
    const { pristine, stamp } = await prepareImages(fs, path.join(WORK, shape === 'mixed' ? fs.name : `${fs.name}-${shape}`), shape);
    images.push({ fs: fs.name, shape, pristine, stamp });
  }
  console.log(JSON.stringify({ images }));
  process.exit(0);
}
if (PROGRAM === 'sea' && TOOLS.has('lifeboat')) {
  log(`building the single executable into ${SEA}`);
  await execa(NODE, [LIFEBOAT, 'build', 'sea', '-o', SEA], { env: ENV });
}
const reports: FsReport[] = [];
if (SHAPES.length === 0) throw new Error('--shapes must name text, random, small or mixed');
for (const fs of filesystems) for (const shape of SHAPES) reports.push(...(await benchFilesystem(fs, shape)));
if (values.json) console.log(JSON.stringify({ runs: RUNS, seed: SEED, media: MEDIA, reports }, null, 2));
else {
  console.log(`\nLifeboat repository figures (issues 4 and 15): Clonezilla's pipeline (partclone.<fs> | zstd -T0 -3) vs lifeboat backup/restore (${PROGRAM === 'sea' ? 'the single executable' : 'the checkout under Node'})`);
  for (const report of reports) printReport(report);
}
const failed = reports.some((report) => [report.peer, report.lifeboat].some((side) => side && (side.failures.length > 0 || side.checks.some((check) => check !== 'clean') || side.encrypted?.identical.includes(false))));
process.exitCode = failed ? 1 : 0;
