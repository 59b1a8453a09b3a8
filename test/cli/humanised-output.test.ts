// Sizes, rates and offsets are printed humanised by every command a user watches: the progress
// lines (backup, restore, check, prune), the restore plan (--dry-run and before writing),
// snapshots, check and forget. One humaniser (core/human-units.ts) serves them all.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { rawFigures } from '../helpers/humanised.ts';
import { describe, lifeboat, makeExt4Image, MiB, type CliResult } from '../helpers/repository-harness.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';

let root = '';

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-humanised-'));
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** A GPT disk image with one ext4 partition holding a few files. */
async function makeDisk(): Promise<string> {
  const tree = path.join(root, 'tree');
  await mkdir(tree, { recursive: true });
  for (let i = 0; i < 20; i++) await writeFile(path.join(tree, `file-${i}.txt`), `${'lifeboat '.repeat(200 * (i + 1))}\n`);
  const ext4 = await makeExt4Image(path.join(root, 'part.img'), 16 * MiB, tree);
  const disk = await sparseFile(path.join(root, 'disk.img'), 20 * MiB);
  await execa('sfdisk', ['-q', disk], { input: 'label: gpt\nstart=2048, size=32768, type=linux\n' });
  await execa('dd', [`if=${ext4}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse'], { stderr: 'ignore' });
  return disk;
}

test('progress, plans, snapshots, check and forget print no raw byte counts or floats', async (t) => {
  const disk = await makeDisk();
  const repo = path.join(root, 'repo');
  const env = { LIFEBOAT_LOG_DIR: path.join(root, 'logs') };
  const outputs: Array<{ args: string[]; result: CliResult }> = [];
  const run = async (args: string[]) => {
    const result = await lifeboat(args, { env });
    t.is(result.exitCode, 0, describe(result));
    outputs.push({ args, result });
    return result;
  };
  await run(['init', '-r', repo]);
  await run(['backup', 'disk', disk, '-r', repo]);
  await writeFile(path.join(root, 'tree', 'more.txt'), 'x');
  await run(['backup', 'disk', disk, '-r', repo, '--tag', 'second']);
  await run(['snapshots', '-r', repo]);
  const dryRun = await run(['restore', '-r', repo, 'latest', path.join(root, 'bigger.img'), '--dry-run']);
  t.regex(dryRun.stdout, / at 1 MiB\n/, 'the plan gives offsets in MiB');
  await sparseFile(path.join(root, 'target.img'), 24 * MiB);
  await run(['restore', '-r', repo, 'latest', path.join(root, 'target.img'), '--yes']);
  await run(['check', '-r', repo, '--read-data']);
  await run(['forget', '-r', repo, '--keep-last', '1', '--prune']);
  for (const { args, result } of outputs) {
    const text = `${result.stdout}\n${result.stderr}`;
    t.deepEqual(rawFigures(text), [], `lifeboat ${args.join(' ')}\n${text}`);
  }
  // The progress lines were there to be judged (not a terminal: one line at each phase end).
  t.regex(outputs.map(({ result }) => result.stderr).join('\n'), /restore\s+\S+ \S+ of \S+ \S+ 100%\s+\S+ \S+\/s/);
});
