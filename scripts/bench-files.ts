// Benchmark of file backup: `lifeboat backup files TREE` against `tar -cf - TREE | zstd -T0 -3` and
// restic (when installed), side by side: wall time and stored size. Usage: node scripts/bench-files.ts [TREE]
// (default /usr). Writes into a temporary folder, removed at the end.

import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const tree = process.argv[2] ?? '/usr';
const work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-bench-files-'));

async function folderBytes(folder: string): Promise<number> {
  const { stdout } = await execa('du', ['-sb', folder]);
  return Number(stdout.split('\t')[0]);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

const rows: Array<{ tool: string; seconds: number | undefined; bytes: number | undefined; note?: string }> = [];
try {
  const repo = path.join(work, 'lifeboat');
  const cli = path.join(import.meta.dirname, '..', 'rescue', 'bin', 'lifeboat.mjs');
  const first = await timed(() => execa(process.execPath, [cli, 'backup', 'files', tree, '-r', repo, '--no-verify'], { stdio: ['ignore', 'inherit', 'ignore'] }));
  rows.push({ tool: 'lifeboat backup files', seconds: first, bytes: await folderBytes(repo) });
  const before = await folderBytes(repo);
  const second = await timed(() => execa(process.execPath, [cli, 'backup', 'files', tree, '-r', repo, '--no-verify'], { stdio: ['ignore', 'inherit', 'ignore'] }));
  rows.push({ tool: 'lifeboat (2nd run, unchanged)', seconds: second, bytes: (await folderBytes(repo)) - before });
  const archive = path.join(work, 'tree.tar.zst');
  const tar = await timed(() => execa('sh', ['-c', `tar -cf - "${tree}" 2>/dev/null | zstd -T0 -3 -q -o "${archive}"`]));
  rows.push({ tool: 'tar | zstd -T0 -3', seconds: tar, bytes: await folderBytes(archive) });
  const restic = await execa('restic', ['version'], { reject: false });
  if (restic.exitCode !== 0) {
    rows.push({ tool: 'restic', seconds: undefined, bytes: undefined, note: 'not installed' });
  } else {
    const resticRepo = path.join(work, 'restic');
    const env = { RESTIC_PASSWORD: 'bench' };
    await execa('restic', ['init', '-r', resticRepo], { env });
    const seconds = await timed(() => execa('restic', ['backup', '-q', '-r', resticRepo, tree], { env, reject: false }));
    rows.push({ tool: 'restic backup', seconds, bytes: await folderBytes(resticRepo) });
  }
  const source = await folderBytes(tree);
  console.log(`\nTree ${tree}: ${(source / 2 ** 20).toFixed(0)} MiB (du -sb)`);
  console.log(`${'tool'.padEnd(32)} ${'wall s'.padStart(8)} ${'stored MiB'.padStart(11)}`);
  for (const row of rows) {
    console.log(`${row.tool.padEnd(32)} ${row.seconds === undefined ? '-'.padStart(8) : row.seconds.toFixed(1).padStart(8)} ${row.bytes === undefined ? (row.note ?? '-').padStart(11) : (row.bytes / 2 ** 20).toFixed(1).padStart(11)}`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
