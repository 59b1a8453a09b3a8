// The CLI's restore says what will be lost on its target before anything is written, as the TUI's
// confirmation does (core/disk-layout.ts draws both): its partition table and each partition with
// filesystem, label, used space, size and role; --dry-run prints the same, --json lists them; a
// partition target names its filesystem; a system restore onto its original layout names the
// partitions it overwrites and those it keeps; a Clonezilla restore lists them too.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { buildClonezillaSourceDisk, saveLikeOcsSr } from '../helpers/clonezilla.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { CLI_ENTRY, describe, errorCode, jsonEvents, lifeboat, MiB } from '../helpers/repository-harness.ts';

const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const BASIC_DATA = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';

let root = '';

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-restore-confirmation-'));
});

test.after.always(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** A 72 MiB GPT disk: an ESP (FAT32 "label1" with /EFI) at 1 MiB and an ext4 "label2" at 36 MiB on a basic-data entry. */
async function makeDisk(name: string, labels: readonly [string, string]): Promise<string> {
  const disk = await sparseFile(path.join(root, name), 72 * MiB);
  await execa('sfdisk', ['-q', disk], { input: `label: gpt\nstart=2048, size=${34 * 2048}, type=${ESP}\nstart=${36 * 2048}, size=${10 * 2048}, type=${BASIC_DATA}\n` });
  const esp = await sparseFile(path.join(root, `${name}-p1`), 34 * MiB);
  await execa('mkfs.fat', ['-F', '32', '-s', '1', '-n', labels[0], esp]);
  await execa('mmd', ['-i', esp, '::/EFI']);
  const data = await sparseFile(path.join(root, `${name}-p2`), 10 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', '-L', labels[1], data]);
  for (const [part, start] of [[esp, 1], [data, 36]] as const) {
    await execa('dd', [`if=${part}`, `of=${disk}`, 'bs=1M', `seek=${start}`, 'conv=notrunc,sparse', 'status=none']);
    await rm(part);
  }
  return disk;
}

/** `lifeboat ARGS` with a terminal (script(1)), answering `answer` to the question. */
async function onTerminal(args: readonly string[], answer: string): Promise<{ exitCode: number | undefined; output: string }> {
  const command = [process.execPath, CLI_ENTRY, ...args].map((word) => `'${word}'`).join(' ');
  const run = execa('script', ['-qec', command, '/dev/null'], { cwd: PROJECT_ROOT, reject: false, stdin: 'pipe', env: { LIFEBOAT_LOG_DIR: path.join(root, 'logs') } });
  run.stdin?.write(`${answer}\n`);
  const result = await run;
  return { exitCode: result.exitCode, output: String(result.stdout).replace(/\r/g, '') };
}

let shared: Promise<{ repo: string; target: string }> | undefined;

/** A repository holding a disk snapshot and a system snapshot of one disk, and another disk (the target) of the same layout. */
function fixture(): Promise<{ repo: string; target: string }> {
  shared ??= (async () => {
    const source = await makeDisk('source.img', ['SRCEFI', 'srcdata']);
    const repo = path.join(root, 'repo');
    for (const kind of ['disk', 'system']) {
      const saved = await lifeboat(['backup', kind, source, '-r', repo, '--tag', kind]);
      if (saved.exitCode !== 0) throw new Error(describe(saved));
    }
    return { repo, target: await makeDisk('target.img', ['OLDEFI', 'olddata']) };
  })();
  return shared;
}

const LOST_LINES = /Will be lost on \S+target\.img \(its GPT partition table\):\n  1: vfat "OLDEFI", \S+ \S+ used of 34\.0 MiB, ESP\n  2: ext4 "olddata", \S+ \S+ used of 10\.0 MiB, \S+(\n|$)/;

test('restore without --yes on a terminal lists the target\'s table and partitions before asking; "no" writes nothing', async (t) => {
  const { repo, target } = await fixture();
  const before = await readFile(target);
  const result = await onTerminal(['restore', '-r', repo, 'latest', target, '--tag', 'disk'], 'no');
  t.regex(result.output, LOST_LINES, result.output);
  t.true(result.output.indexOf('Will be lost') < result.output.indexOf('Type yes to continue'), result.output);
  t.regex(result.output, /LB_INPUT_CANCELLED/);
  t.is(result.exitCode, 2);
  t.true((await readFile(target)).equals(before), 'the target is unchanged');
});

test('--dry-run prints what will be lost; --json lists the partitions lost', async (t) => {
  const { repo, target } = await fixture();
  const dry = await lifeboat(['restore', '-r', repo, 'latest', target, '--tag', 'disk', '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, LOST_LINES, dry.stdout);
  const json = await lifeboat(['restore', '-r', repo, 'latest', target, '--tag', 'disk', '--dry-run', '--json']);
  const plan = jsonEvents(json.stdout).find((event) => event.event === 'plan') as { lost?: Array<{ number: number; filesystem: string; label: string }> } | undefined;
  t.deepEqual(plan?.lost?.map(({ number, filesystem, label }) => ({ number, filesystem, label })), [{ number: 1, filesystem: 'vfat', label: 'OLDEFI' }, { number: 2, filesystem: 'ext4', label: 'olddata' }], json.stdout);
  const unconfirmed = await lifeboat(['restore', '-r', repo, 'latest', target, '--tag', 'disk']);
  t.is(errorCode(unconfirmed), 'LB_INPUT_CONFIRMATION_REQUIRED', describe(unconfirmed));
  t.regex(unconfirmed.stdout, LOST_LINES, 'without a terminal the plan and the loss are printed before the refusal');
});

test('a partition target names the filesystem it holds', async (t) => {
  const { repo, target } = await fixture();
  const dry = await lifeboat(['restore', '-r', repo, 'latest:2', `${target}:2`, '--tag', 'disk', '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /Will be lost on partition 2 of \S+target\.img:\n  -: ext4 "olddata", \S+ \S+ used of 10\.0 MiB\n/, dry.stdout);
});

test('a system restore onto the original layout names the partitions it overwrites and those it keeps', async (t) => {
  const { repo, target } = await fixture();
  const dry = await lifeboat(['restore', '-r', repo, 'latest', target, '--tag', 'system', '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /Will be overwritten on \S+target\.img:\n  1: vfat "OLDEFI", \S+ \S+ used of 34\.0 MiB, ESP\nKept as they are: partition 2\.\n/, dry.stdout);
});

test('a Clonezilla restore lists what will be lost too', async (t) => {
  const { target } = await fixture();
  const built = await buildClonezillaSourceDisk();
  t.teardown(() => rm(built.root, { recursive: true, force: true }));
  const image = await saveLikeOcsSr(built, 'img', { sda1: 'zst', sda2: 'gz', splitSda2: false });
  const dry = await lifeboat(['restore', image, target, '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, LOST_LINES, dry.stdout);
});
