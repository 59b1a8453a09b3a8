// Benchmark of file backup: `lifeboat backup files TREE` against `tar -cf - TREE | zstd -T0 -3` and
// restic (installed by `scripts/setup.sh bench`), side by side: wall time, CPU time (user + system,
// steadier than wall time on a shared machine) and stored size, for a first backup, a second one of
// the unchanged tree, and (when the tree is small enough to be copied, default limit 2 GiB) a third
// after a few edits. Usage: node scripts/bench-files.ts [TREE] [--copy-limit BYTES] [--program sea|checkout]
// (default /usr; `sea`, the default, measures the single executable users run, built from this
// checkout first; `checkout` runs rescue/bin/lifeboat.mjs under Node, ~1 s more start-up per run).
// Every tool runs with a warm page cache (the tree is read once first); lifeboat with --no-verify
// (restic and tar do not read their output back either). Like with like: restic always encrypts, so
// it is compared with an encrypted Lifeboat repository (both AES-256 and a password), and tar | zstd
// with a plain one; restic keeps its cache (in the work folder, fresh for each bench run), as it
// does for its users. Writes into a temporary folder, removed at the end.

import { execa } from 'execa';
import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const limitAt = args.indexOf('--copy-limit');
const copyLimit = limitAt >= 0 ? Number(args.splice(limitAt, 2)[1]) : 2 * 2 ** 30;
const programAt = args.indexOf('--program');
const program = programAt >= 0 ? args.splice(programAt, 2)[1] : 'sea';
const tree = path.resolve(args[0] ?? '/usr');
const work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-bench-files-'));
const cli = path.join(import.meta.dirname, '..', 'rescue', 'bin', 'lifeboat.mjs');

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

async function folderBytes(folder: string): Promise<number> {
  const { stdout } = await execa('du', ['-sb', folder]);
  return Number(stdout.split('\t')[0]);
}

interface Measured {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly stdout: string;
}

/** Runs a shell command; wall time, and the CPU time of everything it started (bash's `times`). */
async function measure(command: string): Promise<Measured> {
  const started = performance.now();
  const result = await execa('bash', ['-c', `${command}\ntimes >&2`], { reject: false });
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  // `times`: the shell's user and system time, then its children's.
  const children = result.stderr.trim().split('\n').pop() ?? '';
  const cpuSeconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, match) => sum + Number(match[1]) * 60 + Number(match[2]), 0);
  return { seconds, cpuSeconds, stdout: result.stdout };
}

interface Row {
  readonly step: string;
  readonly tool: string;
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** Bytes the step added to its repository (or the archive's size). */
  readonly bytes: number;
  readonly note: string;
}

const rows: Row[] = [];
const LIFEBOAT_PLAIN = 'lifeboat';
const LIFEBOAT_ENCRYPTED = 'lifeboat encrypted';
const load = () => os.loadavg().map((value) => value.toFixed(1)).join(' ');

/** A few edits: append to 10 files, rewrite 10 in place (same size), add a new 1 MiB file. */
async function editTree(root: string): Promise<void> {
  const files: string[] = [];
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (files.length >= 200) return;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.push(full);
    }
  };
  await walk(root);
  for (const file of files.filter((_, index) => index % 20 === 0).slice(0, 10)) await appendFile(file, 'an edit\n');
  for (const file of files.filter((_, index) => index % 20 === 10).slice(0, 10)) {
    const size = (await stat(file)).size;
    await writeFile(file, Buffer.alloc(size, 0x61));
  }
  await writeFile(path.join(root, 'bench-new-file.bin'), Buffer.alloc(2 ** 20, 0x62));
}

try {
  let source = tree;
  const sourceBytes = await folderBytes(tree);
  const editable = sourceBytes <= copyLimit;
  if (editable) {
    // A copy, so the edits touch nothing of the machine's.
    source = path.join(work, 'tree');
    await execa('cp', ['-a', tree, source]);
  }
  console.log(`Tree ${tree}: ${(sourceBytes / 2 ** 20).toFixed(0)} MiB (du -sb)${editable ? `, copied to ${source} for the edit step` : ''}; ${os.availableParallelism()} cores; load average at start ${load()}`);
  await execa('bash', ['-c', `tar -cf - ${quote(source)} 2>/dev/null | cat >/dev/null`]); // warm the page cache

  let lifeboat = `${quote(process.execPath)} ${quote(cli)}`;
  if (program === 'sea') {
    const sea = path.join(work, 'lifeboat-sea');
    await execa(process.execPath, [cli, 'build', 'sea', '-o', sea]);
    lifeboat = quote(sea);
  }
  const lifeboatRepo = path.join(work, 'lifeboat');
  const resticRepo = path.join(work, 'restic');
  const passwordFile = path.join(work, 'restic-password');
  await writeFile(passwordFile, 'bench\n');
  const restic = `restic --quiet --cache-dir ${quote(path.join(work, 'restic-cache'))} -r ${quote(resticRepo)} --password-file ${quote(passwordFile)}`;
  const hasRestic = (await execa('restic', ['version'], { reject: false })).exitCode === 0;
  if (hasRestic) await execa('bash', ['-c', `${restic} init --repository-version 2 >/dev/null`]);

  // The encrypted repository takes the same password file as restic's.
  const encryptedRepo = path.join(work, 'lifeboat-encrypted');
  await execa('bash', ['-c', `${lifeboat} init -r ${quote(encryptedRepo)} --encrypt --password-file ${quote(passwordFile)} >/dev/null`]);
  const lifeboatStep = async (step: string, encrypted: boolean) => {
    const repo = encrypted ? encryptedRepo : lifeboatRepo;
    const before = await folderBytes(repo).catch(() => 0);
    const password = encrypted ? ` --password-file ${quote(passwordFile)}` : '';
    const run = await measure(`${lifeboat} backup files ${quote(source)} -r ${quote(repo)}${password} --no-verify --json`);
    const done = JSON.parse(run.stdout.split('\n').find((line) => line.includes('"event":"done"')) ?? '{}') as { stats?: { readBytes: number; filesReused: number } };
    const tool = encrypted ? LIFEBOAT_ENCRYPTED : LIFEBOAT_PLAIN;
    rows.push({ step, tool, seconds: run.seconds, cpuSeconds: run.cpuSeconds, bytes: (await folderBytes(repo)) - before, note: `read ${((done.stats?.readBytes ?? 0) / 2 ** 20).toFixed(0)} MiB, ${done.stats?.filesReused ?? 0} files reused` });
  };
  const resticStep = async (step: string) => {
    if (!hasRestic) return;
    const before = await folderBytes(resticRepo);
    const run = await measure(`${restic} backup ${quote(source)}`);
    rows.push({ step, tool: 'restic', seconds: run.seconds, cpuSeconds: run.cpuSeconds, bytes: (await folderBytes(resticRepo)) - before, note: '' });
  };

  const archive = path.join(work, 'tree.tar.zst');
  const tar = await measure(`tar -cf - ${quote(source)} 2>/dev/null | zstd -T0 -3 -q -o ${quote(archive)}`);
  rows.push({ step: 'first', tool: 'tar | zstd -T0 -3', seconds: tar.seconds, cpuSeconds: tar.cpuSeconds, bytes: await folderBytes(archive), note: '' });
  await rm(archive);
  for (const step of ['first', 'unchanged', ...(editable ? ['edited'] : [])]) {
    if (step === 'edited') await editTree(source);
    await lifeboatStep(step, false);
    await lifeboatStep(step, true);
    await resticStep(step);
  }
  if (!hasRestic) console.log('restic is not installed (bash scripts/setup.sh bench installs it): no restic rows.');

  const tarRow = rows.find((row) => row.tool.startsWith('tar'))!;
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? '-' : (a / b).toFixed(2));
  console.log(`\n${'step'.padEnd(10)} ${'tool'.padEnd(19)} ${'wall s'.padStart(7)} ${'cpu s'.padStart(7)} ${'stored MiB'.padStart(10)}  ${'lb/tar wall'.padStart(11)} ${'lb/tar size'.padStart(11)} ${'lb/restic wall'.padStart(14)} ${'lb/restic size'.padStart(14)}  note`);
  for (const row of rows) {
    const peer = rows.find((other) => other.step === row.step && other.tool === 'restic');
    // Plain Lifeboat against tar | zstd (neither encrypts), encrypted Lifeboat against restic (both do).
    const plain = row.tool === LIFEBOAT_PLAIN;
    const encrypted = row.tool === LIFEBOAT_ENCRYPTED;
    console.log([
      row.step.padEnd(10), row.tool.padEnd(19), row.seconds.toFixed(1).padStart(7), row.cpuSeconds.toFixed(1).padStart(7), (row.bytes / 2 ** 20).toFixed(1).padStart(10), '',
      (plain ? ratio(row.seconds, tarRow.seconds) : '').padStart(11), (plain ? ratio(row.bytes, tarRow.bytes) : '').padStart(11),
      (encrypted ? ratio(row.seconds, peer?.seconds) : '').padStart(14), (encrypted ? ratio(row.bytes, peer?.bytes) : '').padStart(14), '', row.note,
    ].join(' '));
  }
  console.log(`\nlifeboat: ${program === 'sea' ? 'the single executable' : 'the checkout under Node'}. Load average at the end ${load()} (1, 5, 15 min). Stored MiB: what the step added to its repository (tar: the archive).`);
  console.log('Compared like with like: lb/tar is the plain repository against tar | zstd (its one full archive), lb/restic the encrypted one against restic (with its cache).');
} finally {
  await rm(work, { recursive: true, force: true });
}
