// Issue 5's figures: listing a folder and restoring one ~10 MB file from a snapshot of a 4 GiB
// filesystem, side by side with what a Clonezilla user does (the peers cannot read inside an
// image: zstd -dc | partclone.restore the whole partition, then the filesystem's own tool:
// debugfs for ext4, ntfsls/ntfscat for NTFS). Uses the images bench:repository generates
// (/var/tmp/lifeboat-bench/<fs>/pristine.img; run it first). Usage:
//   node scripts/bench-browse.ts [--fs ext4|ntfs|all] [--runs N] [--work DIR]

import { execa } from 'execa';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const MiB = 1024 ** 2;
const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const LIFEBOAT = path.join(ROOT, 'rescue/bin/lifeboat.mjs');
const ENV = { PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
const GOAL_SECONDS = 1;

const { values } = parseArgs({
  options: {
    fs: { type: 'string', default: 'all' },
    runs: { type: 'string', default: '3' },
    work: { type: 'string', default: '/var/tmp/lifeboat-bench' },
  },
});
const RUNS = Math.max(1, Number(values.runs) || 3);
const WORK = path.resolve(values.work ?? '/var/tmp/lifeboat-bench');
const SEA = path.join(WORK, 'lifeboat-browse');
const log = (message: string) => process.stderr.write(`bench-browse: ${message}\n`);

interface Tools {
  readonly partclone: string;
  /** Lists `folder` of an unmounted image with the filesystem's own tool. */
  list(image: string, folder: string): [string, string[]];
  /** Writes `file` of an unmounted image to `out`. */
  extract(image: string, file: string, out: string): [string, string[]];
}

const TOOLS: Record<string, Tools> = {
  ext4: {
    partclone: 'partclone.ext4',
    list: (image, folder) => ['debugfs', ['-R', `ls -l ${folder}`, image]],
    extract: (image, file, out) => ['debugfs', ['-R', `dump ${file} ${out}`, image]],
  },
  ntfs: {
    partclone: 'partclone.ntfs',
    list: (image, folder) => ['ntfsls', ['-l', '-p', folder, image]],
    extract: (image, file, out) => ['sh', ['-c', `ntfscat '${image}' '${file}' > '${out}'`]],
  },
};

async function timed(command: string, args: readonly string[]): Promise<{ seconds: number; stdout: string }> {
  const started = performance.now();
  const result = await execa(command, args, { env: ENV, reject: false, stdin: 'ignore' });
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.exitCode}): ${String(result.stderr).slice(-2000)}`);
  return { seconds, stdout: String(result.stdout) };
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

interface Listed { name: string; kind: string; size: number }

/** The folder to list and the file (closest to 10 MB) to restore, found with lifeboat ls. */
async function pickTargets(repo: string): Promise<{ folder: string; file: string; bytes: number }> {
  let best: { file: string; bytes: number } | undefined;
  for (const folder of ['/text/large', '/blobs/large', '/zeros/large']) {
    const { stdout } = await timed(SEA, ['ls', '-r', repo, 'latest', folder, '--json']);
    for (const entry of (JSON.parse(stdout) as { entries: Listed[] }).entries) {
      if (entry.kind !== 'file') continue;
      if (!best || Math.abs(entry.size - 10 * MiB) < Math.abs(best.bytes - 10 * MiB)) best = { file: `${folder}/${entry.name}`, bytes: entry.size };
    }
  }
  if (!best) throw new Error('no large file in the image');
  return { folder: '/text/d07', ...best };
}

async function sha256(file: string): Promise<string> {
  const { stdout } = await execa('sha256sum', [file]);
  return stdout.split(' ')[0] ?? '';
}

async function benchFilesystem(fs: string): Promise<string[]> {
  const tools = TOOLS[fs];
  if (!tools) throw new Error(`no tools for ${fs}`);
  const pristine = path.join(WORK, fs, 'pristine.img');
  await stat(pristine).catch(() => {
    throw new Error(`${pristine} is missing: run npm run bench:repository -- --fs ${fs} first`);
  });
  const dir = path.join(WORK, `browse-${fs}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const repo = path.join(dir, 'repo');
  log(`${fs}: backing up ${pristine} into ${repo}, and the peer's image`);
  await timed(SEA, ['backup', 'partition', pristine, '-r', repo, '--json']);
  const peerImage = path.join(dir, 'peer.ptcl.zst');
  await execa('bash', ['-c', `set -o pipefail; ${tools.partclone} -c -q -L /dev/null -s "$1" -o - | zstd -q -T0 -3 -c > "$2"`, 'bash', pristine, peerImage]);
  const sizeBytes = (await stat(pristine)).size;
  const { folder, file, bytes } = await pickTargets(repo);
  log(`${fs}: listing ${folder}, restoring ${file} (${(bytes / MiB).toFixed(1)} MiB)`);
  const lifeboatList: number[] = [];
  const lifeboatGet: number[] = [];
  const peerList: number[] = [];
  const peerGet: number[] = [];
  const expected = path.join(dir, 'expected.bin');
  for (let run = 0; run < RUNS; run++) {
    await execa('sync');
    lifeboatList.push((await timed(SEA, ['ls', '-r', repo, 'latest', folder, '-l'])).seconds);
    const dest = path.join(dir, `got-${run}`);
    lifeboatGet.push((await timed(SEA, ['get', '-r', repo, 'latest', file, dest])).seconds);
    // The peer: restore the whole partition, then ask the filesystem's tool.
    const restored = path.join(dir, 'peer-restored.img');
    await rm(restored, { force: true });
    await execa('truncate', ['-s', String(sizeBytes), restored]);
    const restore = await timed('bash', ['-c', `set -o pipefail; zstd -q -dc "$1" | ${tools.partclone} -r -q -C -L /dev/null -s - -O "$2"`, 'bash', peerImage, restored]);
    const list = await timed(...tools.list(restored, folder));
    await rm(expected, { force: true });
    const extract = await timed(...tools.extract(restored, file, expected));
    peerList.push(restore.seconds + list.seconds);
    peerGet.push(restore.seconds + extract.seconds);
    if ((await sha256(path.join(dest, path.basename(file)))) !== (await sha256(expected))) throw new Error(`${fs}: lifeboat get ${file} differs from the peer's copy`);
    await rm(restored, { force: true });
    await rm(dest, { recursive: true, force: true });
  }
  const rows = [
    ['list a folder', median(peerList), median(lifeboatList)],
    [`restore one file (${(bytes / MiB).toFixed(1)} MiB)`, median(peerGet), median(lifeboatGet)],
  ] as const;
  const lines = [`${fs}: 4 GiB image; median of ${RUNS} run(s); peer = zstd -dc | partclone.restore, then ${fs === 'ext4' ? 'debugfs' : 'ntfsls/ntfscat'}`];
  lines.push(`  ${''.padEnd(34)}${'peer'.padStart(12)}${'lifeboat'.padStart(12)}${'ratio'.padStart(9)}   goal`);
  for (const [name, peer, ours] of rows) {
    lines.push(`  ${name.padEnd(34)}${`${peer.toFixed(2)} s`.padStart(12)}${`${ours.toFixed(2)} s`.padStart(12)}${(ours / peer).toFixed(3).padStart(9)}   < ${GOAL_SECONDS} s ${ours < GOAL_SECONDS ? 'met' : 'MISSED'}`);
  }
  await rm(dir, { recursive: true, force: true });
  return lines;
}

await mkdir(WORK, { recursive: true });
log(`building the single executable into ${SEA}`);
await execa(NODE, [LIFEBOAT, 'build', 'sea', '-o', SEA], { env: ENV });
const chosen = values.fs === 'all' ? ['ext4', 'ntfs'] : [values.fs ?? 'ext4'];
const report: string[] = ['', 'Lifeboat browsing figures (issue 5): list a folder and restore one file from a snapshot, vs restoring the partition first'];
for (const fs of chosen) report.push(...(await benchFilesystem(fs)));
console.log(report.join('\n'));
