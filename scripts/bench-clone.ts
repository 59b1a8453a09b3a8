// npm run bench:clone: the clone figures of issue 16, Lifeboat side by side with the usual tools in
// one run, on bench:repository's 4 GiB ext4 and NTFS filesystem images (issue 4's mixed content,
// about half full; made or reused by `bench-repository.ts --generate-only`). Goals (issue 16):
//  - partition: `lifeboat clone partition SRC DST --yes` against `partclone.<fs> -b -s SRC -O DST`
//    (partclone's device-to-device copy of the used blocks): at most 0.7x its time;
//  - whole disk: a GPT disk image holding the filesystem(s), `lifeboat clone disk SRC DST --yes`
//    against `dd bs=4M conv=fsync`: at most 0.5x its time;
//  - shrink: the same clones onto a target 60% of the source's size (Lifeboat only), their time
//    beside the plain clone's; until clone shrinks, the row prints the refusal (its code) instead;
//  - peak memory of every Lifeboat clone (the largest process's maximum RSS, /usr/bin/time's %M):
//    at most 300 MiB.
// Fairness, as bench:repository: the same source for both sides, a fresh sparse target of the same
// size for each step, `sync` and drop_caches (echo 3 > /proc/sys/vm/drop_caches) before every timed
// step, every timed command ends with `sync TARGET` on both sides (Lifeboat syncs its target itself
// as well), fresh processes, sides in turn first (peer first in odd runs); medians of the runs
// (fewer than 3 runs are marked as a smoke run). Each copy is checked afterwards (untimed): e2fsck
// -fn / ntfsfix -n of the filesystem, of each partition for the disks.
// Two media, each reported on its own (--media file,device): image files (through the page cache),
// or loop devices over them (the source read-only; Lifeboat uses O_DIRECT there).
// Run as root: node scripts/bench-clone.ts [--fs ext4|ntfs|all] [--media file,device] [--runs 4]
//   [--size-gib 4] [--tools peer,lifeboat,shrink] [--rows partition,disk] [--work /var/tmp/lifeboat-bench]
//   [--executable dist/lifeboat (default: build the single executable into the work folder)]
//   [--program sea|checkout] [--seed 4] [--fresh] [--json] [--warm-programs]

import { execa } from 'execa';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const SECTOR = 512;
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const LIFEBOAT = path.join(ROOT, 'rescue/bin/lifeboat.mjs');
const ENV = { PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };

const { values } = parseArgs({
  options: {
    fs: { type: 'string', default: 'all' },
    runs: { type: 'string', default: '4' },
    media: { type: 'string', default: 'file,device' },
    rows: { type: 'string', default: 'partition,disk' },
    work: { type: 'string', default: '/var/tmp/lifeboat-bench' },
    tools: { type: 'string', default: 'peer,lifeboat,shrink' },
    executable: { type: 'string' },
    program: { type: 'string', default: 'sea' },
    'size-gib': { type: 'string', default: '4' },
    seed: { type: 'string', default: '4' },
    fresh: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'warm-programs': { type: 'boolean', default: false },
  },
});
/**
 * --warm-programs: after the caches are dropped, each side's program files (Lifeboat's executable,
 * partclone's or dd's with their libraries) are read back into the page cache before the timed step,
 * as on the medium, where they live in the initramfs. By default they are read cold like the data
 * (as bench:repository does): the 107 MiB executable then adds ~0.8 s to each Lifeboat step.
 */
const WARM_PROGRAMS = values['warm-programs'] === true;
const RUNS = Math.max(1, Number(values.runs) || 4);
/** Medians of fewer runs than this are not figures to quote. */
const MIN_QUOTED_RUNS = 3;
const SIZE_GIB = Number(values['size-gib']) || 4;
const TOOLS = new Set((values.tools ?? '').split(','));
const ROWS = new Set((values.rows ?? '').split(','));
/** The target of a shrinking clone, as a share of the source's size (issue 16). */
const SHRINK_SHARE = 0.6;
type Media = 'file' | 'device';
const MEDIA_NAMES: Readonly<Record<Media, string>> = { file: 'image files (page cache)', device: 'loop devices (Lifeboat O_DIRECT)' };
const MEDIA = (values.media ?? '').split(',').filter((name): name is Media => name === 'file' || name === 'device');
const WORK = path.resolve(values.work ?? '/var/tmp/lifeboat-bench');
const RUN_DIR = path.join(WORK, 'clone-run');
type FsName = 'ext4' | 'ntfs';
const FILESYSTEMS: readonly FsName[] = values.fs === 'all' ? ['ext4', 'ntfs'] : values.fs === 'ext4' || values.fs === 'ntfs' ? [values.fs] : [];

/** Progress goes to stderr, so that --json leaves stdout to the summary. */
const log = (message: string) => process.stderr.write(`bench-clone: ${message}\n`);

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

const tail = (text: string, lines = 12) => text.trim().split('\n').slice(-lines).join('\n');

// ---------------------------------------------------------------------------------------------
// Data: bench:repository's images, and a disk image holding them

interface Image {
  readonly fs: FsName;
  readonly file: string;
  readonly sizeBytes: number;
  readonly dataBytes: number;
  readonly files: number;
}

/** bench:repository's pristine images (mixed content), made there or reused. */
async function benchImages(): Promise<Image[]> {
  const args = [path.join(ROOT, 'scripts/bench-repository.ts'), '--generate-only', '--fs', values.fs ?? 'all', '--shapes', 'mixed', '--size-gib', String(SIZE_GIB), '--seed', values.seed ?? '4', '--work', WORK, ...(values.fresh ? ['--fresh'] : [])];
  const result = await execa(NODE, args, { env: ENV, stderr: 'inherit' });
  const { images } = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { images: Array<{ fs: FsName; pristine: string; stamp: { sizeBytes: number; bytes: number; files: number } }> };
  return images.map((image) => ({ fs: image.fs, file: image.pristine, sizeBytes: image.stamp.sizeBytes, dataBytes: image.stamp.bytes, files: image.stamp.files }));
}

const GPT_TYPE: Readonly<Record<FsName, string>> = { ext4: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', ntfs: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' };

/** Where a partition of the bench disk lies. */
interface DiskPartition {
  readonly fs: FsName;
  readonly offset: number;
  readonly sizeBytes: number;
}

/**
 * A GPT disk image (sfdisk) holding each image in its own partition from 1 MiB, with 1 MiB left at
 * the end for the backup GPT; NTFS's hidden-sectors fields name its start. Rebuilt when the images change.
 */
async function benchDisk(images: readonly Image[]): Promise<{ file: string; sizeBytes: number; partitions: DiskPartition[] }> {
  const dir = path.join(WORK, `clone-disk-${images.map((image) => image.fs).join('-')}`);
  const file = path.join(dir, 'disk.img');
  const stampFile = path.join(dir, 'stamp.json');
  const partitions: DiskPartition[] = [];
  let at = MiB;
  for (const image of images) {
    partitions.push({ fs: image.fs, offset: at, sizeBytes: image.sizeBytes });
    at += image.sizeBytes;
  }
  const sizeBytes = at + MiB;
  const stamp = JSON.stringify({ images: images.map((image) => [image.fs, image.sizeBytes, image.dataBytes, image.files]), partitions });
  if (!values.fresh && (await readFile(stampFile, 'utf8').catch(() => '')) === stamp) {
    log(`reusing ${file} (--fresh rebuilds it)`);
    return { file, sizeBytes, partitions };
  }
  log(`making ${file}: ${(sizeBytes / GiB).toFixed(2)} GiB, ${images.map((image) => image.fs).join(' and ')}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await execa('truncate', ['-s', String(sizeBytes), file]);
  const script = `label: gpt\nunit: sectors\n\n${partitions.map((partition) => `start=${partition.offset / SECTOR}, size=${partition.sizeBytes / SECTOR}, type=${GPT_TYPE[partition.fs]}\n`).join('')}`;
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], { input: script });
  for (const [index, image] of images.entries()) {
    const partition = partitions[index]!;
    await execa('dd', [`if=${image.file}`, `of=${file}`, 'bs=4M', `seek=${partition.offset}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
    if (image.fs === 'ntfs') await setNtfsHiddenSectors(file, partition);
  }
  await execa('sync');
  await writeFile(stampFile, stamp);
  return { file, sizeBytes, partitions };
}

/** The NTFS boot sector and its backup (the volume's last sector + 1 is past it: mkntfs keeps it in the volume's last sector) name the partition's start. */
async function setNtfsHiddenSectors(file: string, partition: DiskPartition): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const boot = Buffer.alloc(SECTOR);
    await handle.read(boot, 0, SECTOR, partition.offset);
    const sectors = Number(boot.readBigUInt64LE(0x28));
    boot.writeUInt32LE(partition.offset / SECTOR, 0x1c);
    await handle.write(boot, 0, SECTOR, partition.offset);
    const backupAt = partition.offset + sectors * SECTOR;
    const backup = Buffer.alloc(SECTOR);
    await handle.read(backup, 0, SECTOR, backupAt);
    if (backup.subarray(3, 11).toString('latin1') === 'NTFS    ') await handle.write(boot, 0, SECTOR, backupAt);
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Measured {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** The largest process's maximum resident set (GNU time's %M: the command and what it waited for). */
  readonly peakRssBytes: number;
  readonly exitCode: number | undefined;
  readonly output: string;
}

/** Runs `script` (bash, with "$@" = args) under /usr/bin/time, timed from spawn to exit. */
async function measure(script: string, args: readonly string[]): Promise<Measured> {
  const timesFile = path.join(RUN_DIR, `.time-${process.pid}`);
  const started = performance.now();
  const result = await execa('/usr/bin/time', ['-f', '%U %S %M', '-o', timesFile, 'bash', '-c', script, 'bash', ...args], { reject: false, all: true, env: ENV, stdin: 'ignore', maxBuffer: 64 * MiB });
  const seconds = (performance.now() - started) / 1000;
  const [user = NaN, system = NaN, rssKiB = NaN] = (await readFile(timesFile, 'utf8').catch(() => '')).trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  await rm(timesFile, { force: true });
  return { seconds, cpuSeconds: user + system, peakRssBytes: rssKiB * KiB, exitCode: result.exitCode, output: String(result.all ?? '') };
}

/** Dirty pages flushed and every clean one dropped, so the step reads its source from the device. */
async function settle(): Promise<void> {
  await execa('sync');
  await writeFile('/proc/sys/vm/drop_caches', '3\n');
}

async function freshFile(file: string, sizeBytes: number): Promise<void> {
  await rm(file, { force: true });
  await execa('truncate', ['-s', String(sizeBytes), file]);
}

/** Runs `use` on the file itself, or on a fresh loop device over it (read-only for a source), detached afterwards. */
async function onMedia<T>(media: Media, file: string, access: 'ro' | 'rw', use: (target: string) => Promise<T>): Promise<T> {
  if (media === 'file') return use(file);
  const args = ['--find', '--show', ...(access === 'ro' ? ['--read-only'] : []), file];
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

/** What the checker said of a copy: a problem, or a note on a known, harmless difference; neither when clean. */
interface Verdict {
  readonly problem?: string;
  readonly note?: string;
}

/** e2fsck -fn / ntfsfix -n of a volume of the file at `offset` (through a read-only loop device): undefined when clean, else its report. */
async function checkerReport(fs: FsName, file: string, offset: number, sizeBytes: number | undefined): Promise<string | undefined> {
  const args = ['--find', '--show', '--read-only', '--offset', String(offset), ...(sizeBytes === undefined ? [] : ['--sizelimit', String(sizeBytes)]), file];
  const device = (await execa('losetup', args)).stdout.trim();
  try {
    const result = await execa(fs === 'ext4' ? 'e2fsck' : 'ntfsfix', ['-n', ...(fs === 'ext4' ? ['-f'] : []), device], { reject: false, all: true });
    const output = String(result.all ?? '');
    const clean = result.exitCode === 0 && (fs === 'ext4' || (/processed successfully/.test(output) && !/(error|corrupt|inconsisten|BAD)/i.test(output)));
    return clean ? undefined : `${fs === 'ext4' ? 'e2fsck -fn' : 'ntfsfix -n'} exit ${result.exitCode}:\n${tail(output)}`;
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

/**
 * Checks a copied volume. partclone.ntfs copies the volume's clusters, not the alternate boot sector
 * after them, and ntfsfix stops there: as bench:repository does, that sector is then copied from the
 * boot sector, the rest checked, and the difference noted (not counted as a problem).
 */
async function checkVolume(fs: FsName, file: string, offset = 0, sizeBytes?: number): Promise<Verdict> {
  const first = await checkerReport(fs, file, offset, sizeBytes);
  if (first === undefined) return {};
  if (fs !== 'ntfs' || !/alternate boot sector\.\.\. BAD/.test(first)) return { problem: first };
  const handle = await open(file, 'r+');
  try {
    const boot = Buffer.alloc(SECTOR);
    await handle.read(boot, 0, SECTOR, offset);
    await handle.write(boot, 0, SECTOR, offset + Number(boot.readBigUInt64LE(0x28)) * SECTOR);
  } finally {
    await handle.close();
  }
  const second = await checkerReport(fs, file, offset, sizeBytes);
  return second === undefined ? { note: 'ntfsfix -n: "alternate boot sector BAD" (not copied); clean once it was copied from the boot sector' } : { problem: second };
}

// ---------------------------------------------------------------------------------------------
// The two sides

const PROGRAM = values.program === 'checkout' ? 'checkout' : 'sea';
const SEA = path.resolve(values.executable ?? path.join(WORK, 'lifeboat'));
/** The Lifeboat command line, as bash words after the script's own arguments. */
const lifeboatCommand = (): string[] => (PROGRAM === 'sea' ? [SEA] : [NODE, LIFEBOAT]);

/** One timed copy and its check. */
interface Copy {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  /** undefined: every filesystem clean. */
  readonly problem: string | undefined;
  readonly note: string | undefined;
}

/** A copy that was refused (the shrink row until clone shrinks): its code and first line. */
interface Refusal {
  readonly refused: string;
}

class StepFailure extends Error {}

function refusalOf(output: string): string {
  const line = output.split('\n').find((text) => /\bLB_[A-Z_]+\b/.test(text)) ?? 'no code';
  return line.trim().replace(/^lifeboat: /, '').slice(0, 240);
}

/** What one row copies: the source, the target's size, and how to check a copy. */
interface RowSource {
  readonly kind: 'partition' | 'disk';
  readonly file: string;
  readonly sizeBytes: number;
  check(target: string): Promise<Verdict>;
}

/** Times `script` ("$1" source, "$2" target, then `extra` arguments) onto a fresh target of `targetBytes`, then checks the copy. */
async function timedCopy(what: string, media: Media, source: RowSource, targetBytes: number, script: string, extra: readonly string[], programs: readonly string[]): Promise<Copy | Refusal> {
  const target = path.join(RUN_DIR, 'target.img');
  await freshFile(target, targetBytes);
  await settle();
  if (WARM_PROGRAMS) await warmPrograms(programs);
  const measured = await onMedia(media, source.file, 'ro', (input) => onMedia(media, target, 'rw', (output) => measure(script, [input, output, ...extra])));
  if (measured.exitCode !== 0) {
    await rm(target, { force: true });
    if (targetBytes < source.sizeBytes && /LB_[A-Z_]+/.test(measured.output)) return { refused: refusalOf(measured.output) };
    throw new StepFailure(`${what} exited ${measured.exitCode}:\n${tail(measured.output)}`);
  }
  const { problem, note } = await source.check(target);
  await rm(target, { force: true });
  return { seconds: measured.seconds, cpuSeconds: measured.cpuSeconds, peakRssBytes: measured.peakRssBytes, problem, note };
}

const SYNC_TARGET = 'sync "$2"';

/** Reads each program file and the libraries it loads (ldd) into the page cache. */
async function warmPrograms(programs: readonly string[]): Promise<void> {
  const files = new Set<string>();
  for (const program of programs) {
    const file = program.includes('/') ? program : (await execa('bash', ['-c', 'command -v "$1"', 'bash', program], { env: ENV })).stdout.trim();
    files.add(file);
    const { stdout } = await execa('ldd', [file], { reject: false });
    for (const match of stdout.matchAll(/(\/\S+) \(0x/g)) if (match[1]) files.add(match[1]);
  }
  for (const file of files) await execa('cat', [file], { stdout: 'ignore' });
}

function peerCopy(fs: FsName, media: Media, source: RowSource): Promise<Copy | Refusal> {
  if (source.kind === 'disk') return timedCopy('dd bs=4M', media, source, source.sizeBytes, `dd if="$1" of="$2" bs=4M conv=fsync status=none && ${SYNC_TARGET}`, [], ['dd', 'sync']);
  return timedCopy(`partclone.${fs} -b`, media, source, source.sizeBytes, `partclone.${fs} -b -q -L /dev/null -s "$1" -O "$2" && ${SYNC_TARGET}`, [], [`partclone.${fs}`, 'sync']);
}

function lifeboatCopy(media: Media, source: RowSource, targetBytes: number): Promise<Copy | Refusal> {
  const words = lifeboatCommand();
  // "$3"... the program (and its script), then `clone KIND "$1" "$2" --yes`.
  const program = words.map((_, index) => `"$${index + 3}"`).join(' ');
  return timedCopy(`lifeboat clone ${source.kind}`, media, source, targetBytes, `${program} clone ${source.kind} "$1" "$2" --yes > /dev/null && ${SYNC_TARGET}`, words, [words[0] ?? '', 'sync']);
}

/** The target of a shrinking clone: 60% of the source, down to a whole MiB. */
const shrunkBytes = (bytes: number) => Math.floor((bytes * SHRINK_SHARE) / MiB) * MiB;

// ---------------------------------------------------------------------------------------------
// Rows

interface RowRuns {
  peer: Copy[];
  lifeboat: Copy[];
  shrink: Array<Copy | Refusal>;
  failures: string[];
}

interface Row {
  readonly name: string;
  /** The name in the goal lines. */
  readonly short: string;
  readonly media: Media;
  readonly peerName: string;
  readonly sizeBytes: number;
  readonly goal: number;
  readonly runs: RowRuns;
}

const isCopy = (copy: Copy | Refusal): copy is Copy => !('refused' in copy);

async function attempt(runs: RowRuns, label: string, go: () => Promise<void>): Promise<void> {
  try {
    await go();
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    runs.failures.push(`${label}: ${error.message}`);
    log(`${label} FAILED: ${error.message}`);
  }
}

const describeCopy = (copy: Copy | Refusal) => (isCopy(copy) ? `${copy.seconds.toFixed(2)} s (CPU ${copy.cpuSeconds.toFixed(2)} s, peak RSS ${(copy.peakRssBytes / MiB).toFixed(0)} MiB), ${copy.problem === undefined ? (copy.note === undefined ? 'clean' : 'clean*') : 'NOT CLEAN'}` : `refused, ${copy.refused}`);

/** One run of a row on one medium: the sides in turn first (peer first in odd runs). */
async function runRow(row: Row, source: RowSource, fs: FsName, run: number): Promise<void> {
  const label = `${row.name} on the ${row.media}, run ${run + 1}/${RUNS}`;
  const peer = async () => {
    if (!TOOLS.has('peer')) return;
    const copy = await peerCopy(fs, row.media, source);
    if (isCopy(copy)) row.runs.peer.push(copy);
    log(`${label}: ${row.peerName}: ${describeCopy(copy)}`);
  };
  const lifeboat = async () => {
    if (TOOLS.has('lifeboat')) {
      const copy = await lifeboatCopy(row.media, source, source.sizeBytes);
      if (isCopy(copy)) row.runs.lifeboat.push(copy);
      log(`${label}: lifeboat: ${describeCopy(copy)}`);
    }
    if (TOOLS.has('shrink')) {
      const copy = await lifeboatCopy(row.media, source, shrunkBytes(source.sizeBytes));
      row.runs.shrink.push(copy);
      log(`${label}: lifeboat onto ${SHRINK_SHARE * 100}%: ${describeCopy(copy)}`);
    }
  };
  for (const side of run % 2 === 0 ? [peer, lifeboat] : [lifeboat, peer]) await attempt(row.runs, label, side);
}

// ---------------------------------------------------------------------------------------------
// Report

interface Goal {
  name: string;
  value: number;
  goal: number;
  unit: string;
  met: boolean;
}

function summary(row: Row) {
  const mid = (copies: readonly Copy[], pick: (copy: Copy) => number) => median(copies.map(pick));
  const shrinkCopies = row.runs.shrink.filter(isCopy);
  const refusals = [...new Set(row.runs.shrink.filter((copy): copy is Refusal => !isCopy(copy)).map((copy) => copy.refused))];
  return {
    name: row.name,
    media: row.media,
    peer: row.peerName,
    sizeBytes: row.sizeBytes,
    runs: RUNS,
    peerSeconds: mid(row.runs.peer, (copy) => copy.seconds),
    peerCpuSeconds: mid(row.runs.peer, (copy) => copy.cpuSeconds),
    lifeboatSeconds: mid(row.runs.lifeboat, (copy) => copy.seconds),
    lifeboatCpuSeconds: mid(row.runs.lifeboat, (copy) => copy.cpuSeconds),
    shrinkSeconds: mid(shrinkCopies, (copy) => copy.seconds),
    shrinkRefusals: refusals,
    peerPeakRssMiB: Math.max(0, ...row.runs.peer.map((copy) => copy.peakRssBytes)) / MiB,
    lifeboatPeakRssMiB: Math.max(0, ...[...row.runs.lifeboat, ...shrinkCopies].map((copy) => copy.peakRssBytes)) / MiB,
    notes: [...new Set([...row.runs.peer.map((copy) => copy.note && `${row.peerName}: ${copy.note}`), ...row.runs.lifeboat.map((copy) => copy.note && `lifeboat: ${copy.note}`)])].filter((note): note is string => note !== undefined),
    problems: [...row.runs.peer.map((copy) => copy.problem && `${row.peerName}: ${copy.problem}`), ...[...row.runs.lifeboat, ...shrinkCopies].map((copy) => copy.problem && `lifeboat: ${copy.problem}`)].filter((problem): problem is string => problem !== undefined),
    failures: row.runs.failures,
    goals: goals(row),
  };
}

function goals(row: Row): Goal[] {
  const list: Goal[] = [];
  const add = (name: string, value: number, goal: number, unit: string) => list.push({ name, value, goal, unit, met: Number.isFinite(value) && value <= goal });
  const lifeboat = median(row.runs.lifeboat.map((copy) => copy.seconds));
  if (row.runs.peer.length > 0 && row.runs.lifeboat.length > 0) add(`${row.short} time lifeboat / ${row.peerName}`, lifeboat / median(row.runs.peer.map((copy) => copy.seconds)), row.goal, '');
  const copies = [...row.runs.lifeboat, ...row.runs.shrink.filter(isCopy)];
  if (copies.length > 0) add('lifeboat clone peak RSS', Math.max(...copies.map((copy) => copy.peakRssBytes)) / MiB, 300, ' MiB');
  return list;
}

function printRow(row: ReturnType<typeof summary>): void {
  const s = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)} s` : '-');
  const ratio = (a: number, b: number) => (a > 0 && b > 0 ? (a / b).toFixed(2) : '-');
  const line = (label: string, a: string, b: string, r: string) => console.log(`  ${label.padEnd(34)} ${a.padStart(14)} ${b.padStart(14)} ${r.padStart(8)}`);
  console.log(`\n${row.name} (${(row.sizeBytes / GiB).toFixed(2)} GiB) on ${MEDIA_NAMES[row.media]}: median of ${row.runs} run(s), caches dropped before each step${row.runs < MIN_QUOTED_RUNS ? ` (a smoke run: fewer than ${MIN_QUOTED_RUNS} runs, no figure to quote)` : ''}`);
  line('', row.peer, 'lifeboat', 'ratio');
  line('clone', s(row.peerSeconds), s(row.lifeboatSeconds), ratio(row.lifeboatSeconds, row.peerSeconds));
  line('clone CPU time', s(row.peerCpuSeconds), s(row.lifeboatCpuSeconds), ratio(row.lifeboatCpuSeconds, row.peerCpuSeconds));
  line('peak RSS', `${row.peerPeakRssMiB.toFixed(0)} MiB`, `${row.lifeboatPeakRssMiB.toFixed(0)} MiB`, '');
  if (TOOLS.has('shrink')) {
    // Beside the plain clone: the ratio is against Lifeboat's own clone onto a target of the same size.
    if (row.shrinkRefusals.length > 0 && !Number.isFinite(row.shrinkSeconds)) line(`onto ${SHRINK_SHARE * 100}% (shrink): refused`, '', '', '');
    else line(`onto ${SHRINK_SHARE * 100}% of the size (shrink)`, '', s(row.shrinkSeconds), ratio(row.shrinkSeconds, row.lifeboatSeconds));
    for (const refusal of row.shrinkRefusals) console.log(`    refused: ${refusal}`);
  }
  for (const goal of row.goals) {
    const value = goal.unit === '' ? goal.value.toFixed(2) : `${goal.value.toFixed(0)}${goal.unit}`;
    console.log(`  goal ${goal.name.padEnd(40)} ${value.padStart(9)} (<= ${goal.goal}${goal.unit})  ${goal.met ? 'met' : 'MISSED'}`);
  }
  for (const note of row.notes) console.log(`  * ${note}`);
  for (const problem of row.problems) console.log(`  NOT CLEAN: ${problem.replaceAll('\n', '\n    ')}`);
  for (const failure of row.failures) console.log(`  FAILED: ${failure.replaceAll('\n', '\n    ')}`);
}

// ---------------------------------------------------------------------------------------------
// Main

if (process.getuid?.() !== 0) throw new Error('bench-clone needs root (loop devices, drop_caches)');
if (FILESYSTEMS.length === 0) throw new Error('--fs must be ext4, ntfs or all');
if (MEDIA.length === 0) throw new Error('--media must name file, device or both (file,device)');
await mkdir(WORK, { recursive: true });
const images = await benchImages();
const disk = ROWS.has('disk') ? await benchDisk(images) : undefined;
if (PROGRAM === 'sea' && values.executable === undefined && TOOLS.has('lifeboat')) {
  log(`building the single executable into ${SEA}`);
  await execa(NODE, [LIFEBOAT, 'build', 'sea', '-o', SEA], { env: ENV });
}
await rm(RUN_DIR, { recursive: true, force: true });
await mkdir(RUN_DIR, { recursive: true });

const rows: Array<{ row: Row; source: RowSource; fs: FsName }> = [];
for (const media of MEDIA) {
  if (ROWS.has('partition')) {
    for (const image of images) {
      const source: RowSource = { kind: 'partition', file: image.file, sizeBytes: image.sizeBytes, check: (target) => checkVolume(image.fs, target) };
      const name = `${image.fs} partition clone (${(image.dataBytes / MiB).toFixed(0)} MiB in ${image.files} files)`;
      rows.push({ row: { name, short: `${image.fs} partition`, media, peerName: `partclone.${image.fs} -b`, sizeBytes: image.sizeBytes, goal: 0.7, runs: { peer: [], lifeboat: [], shrink: [], failures: [] } }, source, fs: image.fs });
    }
  }
  if (disk) {
    const check = async (target: string) => {
      // The copy's own table: the partitions in order, where they landed.
      const { stdout } = await execa('sfdisk', ['-J', target]);
      const entries = (JSON.parse(stdout) as { partitiontable: { partitions: Array<{ start: number; size: number }> } }).partitiontable.partitions;
      const problems: string[] = [];
      const notes: string[] = [];
      for (const [index, partition] of disk.partitions.entries()) {
        const entry = entries[index];
        const verdict = entry ? await checkVolume(partition.fs, target, entry.start * SECTOR, entry.size * SECTOR) : { problem: 'missing from the copy\'s table' };
        if (verdict.problem !== undefined) problems.push(`partition ${index + 1} (${partition.fs}): ${verdict.problem}`);
        if (verdict.note !== undefined) notes.push(`partition ${index + 1} (${partition.fs}): ${verdict.note}`);
      }
      return { ...(problems.length > 0 ? { problem: problems.join('\n') } : {}), ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
    };
    const source: RowSource = { kind: 'disk', file: disk.file, sizeBytes: disk.sizeBytes, check };
    const name = `whole disk clone (GPT, ${disk.partitions.map((partition) => partition.fs).join(' + ')})`;
    rows.push({ row: { name, short: 'whole disk', media, peerName: 'dd bs=4M', sizeBytes: disk.sizeBytes, goal: 0.5, runs: { peer: [], lifeboat: [], shrink: [], failures: [] } }, source, fs: disk.partitions[0]?.fs ?? 'ext4' });
  }
}
const loadAverages: number[] = [];
for (let run = 0; run < RUNS; run++) {
  loadAverages.push(Number((os.loadavg()[0] ?? NaN).toFixed(2)));
  for (const { row, source, fs } of rows) await runRow(row, source, fs, run);
}
await rm(RUN_DIR, { recursive: true, force: true });

const summaries = rows.map(({ row }) => summary(row));
if (values.json) console.log(JSON.stringify({ runs: RUNS, sizeGib: SIZE_GIB, loadAverages, program: PROGRAM, rows: summaries }, null, 2));
else {
  console.log(`\nLifeboat clone figures (issue 16): partclone -b and dd vs lifeboat clone (${PROGRAM === 'sea' ? `the single executable ${SEA}` : 'the checkout under Node'}); ` +
    `programs ${WARM_PROGRAMS ? 'read into the page cache after each drop (--warm-programs)' : 'read cold like the data'}; ` +
    `load average before each run ${loadAverages.join(', ')} on ${os.availableParallelism()} CPUs`);
  for (const row of summaries) printRow(row);
}
process.exitCode = summaries.some((row) => row.failures.length > 0 || row.problems.length > 0) ? 1 : 0;
