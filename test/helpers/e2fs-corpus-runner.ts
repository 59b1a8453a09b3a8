// Runs Lifeboat's reading commands over filesystem images in one process, through runCli as the
// CLI entry does (yargs, the commands, their error handling and exit codes), so a corpus of hundreds
// of images costs one Node start per batch instead of one per command. Used by
// test/cli/e2fs-corpus.test.ts:   node test/helpers/e2fs-corpus-runner.ts WORK IMAGE...
// Per image, in order:
//   disks   `disks --json IMAGE`
//   tree    the file reader's own walk, breadth first (every folder listed once, by inode, so a
//           damaged tree's loops end; every symlink read), up to MAX_WALKED_ENTRIES: it finds the
//           folders for ls
//   ls      `ls -l` and `ls -l --json` on the root and the folders the walk found, breadth first,
//           while the entries the calls list stay under LS_ENTRY_BUDGET (each call opens the image
//           again and lists every folder on its path from the root)
//   get     `get IMAGE / WORK/NAME/get`: reads the whole tree (every folder, file and link)
//   init, backup, snapshot-get, check: a repository WORK/NAME/repo, `backup partition IMAGE`, the
//           files read back out of the snapshot (`get -r REPO latest / WORK/NAME/snapshot-get`; left
//           out for the few trees of more than MAX_WALKED_ENTRIES, which hold no damaged bitmap),
//           `check -r REPO`
// Before each step it prints {"start": ...}, after it {"done": ...}, one JSON line each, so the
// parent can bound every step's time and kill this process when one hangs.

import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { openFileTree } from '../../rescue/core/file-trees/open-file-tree.ts';
import type { FileEntry } from '../../rescue/core/file-trees/file-tree.ts';
import { openVolume } from '../../rescue/io/volume-source.ts';
import { createCliContext, runCli } from '../../rescue/main.ts';

/** The steps run per image, in order. */
export type CorpusStep = 'disks' | 'tree' | 'ls' | 'get' | 'init' | 'backup' | 'snapshot-get' | 'check';

/** One finished step, as printed. */
export interface CorpusStepResult {
  readonly image: string;
  readonly step: CorpusStep;
  readonly args: readonly string[];
  /** The command's exit code (ls: the first non-zero one; tree: 0, or 1 when an error had no code). */
  readonly exitCode: number;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
  /** tree: folders listed, entries seen, damaged entries and failures (path and code), loops cut. */
  readonly tree?: TreeWalk;
  /** ls: the folders listed. */
  readonly folders?: number;
  /** snapshot-get: not run (a large tree). */
  readonly skipped?: boolean;
  /** Output pieces holding LB_INTERNAL or a stack trace (seen even past the kept output). */
  readonly alarms: readonly string[];
}

/** What the reader's own walk saw. */
export interface TreeWalk {
  folders: number;
  entries: number;
  kinds: Record<string, number>;
  damaged: Array<{ path: string; code: string }>;
  failures: Array<{ path: string; what: string; code: string; message: string }>;
  loops: number;
  /** Folder paths in the order found, first path of each folder, with the entries an ls of it lists on its way (the folders on its path and itself); names with "/", NUL or U+FFFD left out (no path names them). */
  listable: Array<{ path: string; cost: number }>;
}

/** CLI `ls` calls per image at most. */
const MAX_LISTED_FOLDERS = 40;
/** Entries the ls calls of one image may list in all, counting the folders on each path (f_many_subdirs has 65,000 folders in its root). */
const LS_ENTRY_BUDGET = 20_000;
/** Entries the tree walk visits per image before it stops listing (get reads the whole tree). */
const MAX_WALKED_ENTRIES = 20_000;
const OUTPUT_LIMIT_CHARS = 100_000;

/** Lines that must never appear in any output, however long: an internal error or a stack trace. */
const ALARM = /LB_INTERNAL|^\s+at .+:\d+:\d+\)?$/m;

class Capture extends Writable {
  text = '';
  alarms: string[] = [];
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    const text = String(chunk);
    if (this.text.length < OUTPUT_LIMIT_CHARS) this.text += text;
    if (ALARM.test(text) && this.alarms.length < 5) this.alarms.push(text.slice(0, 2000));
    done();
  }
}

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function cli(args: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string; alarms: string[] }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const exitCode = await runCli(args, createCliContext({ stdout, stderr }));
  return { exitCode, stdout: stdout.text, stderr: stderr.text, alarms: [...stdout.alarms, ...stderr.alarms] };
}

async function step(image: string, kind: CorpusStep, args: readonly string[], body: () => Promise<Omit<CorpusStepResult, 'image' | 'step' | 'args' | 'ms'>>): Promise<CorpusStepResult> {
  emit({ start: { image, step: kind, args } });
  const started = performance.now();
  const result: CorpusStepResult = { image, step: kind, args, ...(await body()), ms: Math.round(performance.now() - started) };
  emit({ done: result });
  return result;
}

function codeOf(error: unknown): { code: string; message: string } {
  if (error instanceof LifeboatError) return { code: error.code, message: error.message };
  return { code: 'UNCODED', message: error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error) };
}

/** The reader's walk of every folder, breadth first, each folder (by id) listed once. */
async function walkTree(image: string): Promise<TreeWalk> {
  const walk: TreeWalk = { folders: 0, entries: 0, kinds: {}, damaged: [], failures: [], loops: 0, listable: [] };
  const volume = await openVolume(image);
  try {
    const tree = await openFileTree(volume.source);
    const root = await tree.root();
    const seen = new Set<number>([root.id]);
    const queue: Array<{ entry: FileEntry; path: string; listable: boolean; above: number }> = [{ entry: root, path: '/', listable: true, above: 0 }];
    while (queue.length > 0 && walk.entries < MAX_WALKED_ENTRIES) {
      const folder = queue.shift()!;
      let children: FileEntry[];
      try {
        children = await tree.list(folder.entry);
        walk.folders++;
        if (folder.listable) walk.listable.push({ path: folder.path, cost: folder.above + children.length });
      } catch (error) {
        walk.failures.push({ path: folder.path, what: 'list', ...codeOf(error) });
        continue;
      }
      for (const child of children) {
        walk.entries++;
        walk.kinds[child.kind] = (walk.kinds[child.kind] ?? 0) + 1;
        const at = folder.path === '/' ? `/${child.name}` : `${folder.path}/${child.name}`;
        if (child.damage) walk.damaged.push({ path: at, code: child.damage.code });
        if (child.kind === 'symlink') await tree.readLink(child).catch((error: unknown) => walk.failures.push({ path: at, what: 'readLink', ...codeOf(error) }));
        if (child.kind !== 'directory') continue;
        if (seen.has(child.id)) {
          walk.loops++;
          continue;
        }
        seen.add(child.id);
        const listable = folder.listable && !/[/\u0000\ufffd]/.test(child.name);
        queue.push({ entry: child, path: at, listable, above: folder.above + children.length });
      }
    }
  } finally {
    await volume.close();
  }
  return walk;
}

async function runImage(image: string, work: string): Promise<void> {
  const name = path.basename(image).replace(/\.img$/, '');
  const folder = path.join(work, name);
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
  const command = (kind: CorpusStep, args: string[]) => step(image, kind, args, () => cli(args));

  await command('disks', ['disks', '--json', image]);
  let listable: TreeWalk['listable'] = [{ path: '/', cost: 0 }];
  let large = false;
  await step(image, 'tree', ['(FileTree walk)', image], async () => {
    try {
      const tree = await walkTree(image);
      if (tree.listable.length > 0) listable = tree.listable;
      large = tree.entries >= MAX_WALKED_ENTRIES;
      const uncoded = tree.failures.filter((failure) => failure.code === 'UNCODED' || failure.code === 'LB_INTERNAL');
      return { exitCode: uncoded.length > 0 ? 1 : 0, stdout: '', stderr: '', tree: { ...tree, listable: [] }, alarms: uncoded.map((failure) => `${failure.path}: ${failure.message}`) };
    } catch (error) {
      const { code, message } = codeOf(error);
      const uncoded = code === 'UNCODED' || code === 'LB_INTERNAL';
      return { exitCode: uncoded ? 1 : 4, stdout: '', stderr: `${code}: ${message}\n`, alarms: uncoded ? [message] : [] };
    }
  });
  await step(image, 'ls', ['ls', '-l', '[--json]', image, 'FOLDER...'], async () => {
    let first: { exitCode: number; stderr: string } | undefined;
    const alarms: string[] = [];
    let folders = 0;
    let listed = 0;
    for (const { path: at, cost } of listable.slice(0, MAX_LISTED_FOLDERS)) {
      if (folders > 0 && listed + cost > LS_ENTRY_BUDGET) continue;
      listed += cost;
      for (const args of [['ls', '-l', image, at], ['ls', '-l', '--json', image, at]]) {
        const result = await cli(args);
        alarms.push(...result.alarms.map((alarm) => `${args.join(' ')}: ${alarm}`));
        if (result.exitCode !== 0 && !first) first = { exitCode: result.exitCode, stderr: `${args.join(' ')}\n${result.stderr}` };
      }
      folders++;
    }
    return { exitCode: first?.exitCode ?? 0, stderr: first?.stderr ?? '', stdout: '', folders, alarms };
  });
  await command('get', ['get', image, '/', path.join(folder, 'get')]);
  const repo = path.join(folder, 'repo');
  await command('init', ['init', '-r', repo]);
  await command('backup', ['backup', 'partition', image, '-r', repo, '--json']);
  if (large) await step(image, 'snapshot-get', ['(left out: a large tree)'], async () => ({ exitCode: 0, stdout: '', stderr: '', alarms: [], skipped: true }));
  else await command('snapshot-get', ['get', '-r', repo, 'latest', '/', path.join(folder, 'snapshot-get')]);
  await command('check', ['check', '-r', repo]);
  await rm(repo, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const [work, ...images] = process.argv.slice(2);
  if (!work || images.length === 0) throw new Error('usage: e2fs-corpus-runner.ts WORK IMAGE...');
  for (const image of images) await runImage(image, work);
  emit({ finished: true });
}

await main();
