// A restore checks every program its plan runs before it writes anything (core/plan-programs.ts,
// io/run-program.ts checkPrograms): with PATH arranged so that a tool is missing (a folder holding
// every listed program of this host but that one), `restore --grow` and a Clonezilla restore with
// swap are refused with LB_DEVICE_TOOL_MISSING naming the tool and its package, --dry-run too, and
// the target's bytes stay as they were. (With the tools there, test/repository/grow-filesystems.test.ts
// and round-trip.test.ts grow ext4, FAT32 and NTFS.)

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { PROGRAM_LIST } from '../../rescue/core/external-programs.ts';
import { locateProgram } from '../../rescue/io/run-program.ts';
import { removeClonezillaTestDisks, saveLikeOcsSr, sharedClonezillaSourceDisk } from '../helpers/clonezilla.ts';
import { hashRange, makeFilesystemImage, readPartitionTable, seededBytes, type FilesystemKind } from '../helpers/disk-fixtures.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const CLI_ENTRY = path.join(PROJECT_ROOT, 'rescue', 'bin', 'lifeboat.mjs');
const TIMEOUT_MS = 10 * 60_000;

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-missing-programs-'));
});

test.after.always(async () => {
  await removeClonezillaTestDisks();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A folder with a link to every listed program this host has, but the `hidden` ones (or busybox in their place). */
async function pathWithout(hidden: readonly string[], options: { busyboxInstead?: boolean } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(workDir, 'path-'));
  for (const program of PROGRAM_LIST) {
    const file = locateProgram(program);
    if (hidden.includes(program.name)) {
      if (options.busyboxInstead) await symlink('/bin/busybox', path.join(dir, program.name));
    } else if (file) {
      await symlink(file, path.join(dir, program.name));
    }
  }
  return dir;
}

async function lifeboat(args: readonly string[], env: Record<string, string> = {}): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await execa(process.execPath, [CLI_ENTRY, ...args], { cwd: PROJECT_ROOT, reject: false, env: { ...process.env, ...env }, stdin: 'ignore', timeout: TIMEOUT_MS });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function succeed(args: readonly string[]): Promise<string> {
  const result = await lifeboat(args);
  if (result.exitCode !== 0) throw new Error(`lifeboat ${args.join(' ')} exited ${result.exitCode}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** A GPT disk image holding one filesystem of `kind` (1 MiB in, 1 MiB spare at the end), backed up into a new repository. */
async function backedUpDisk(kind: FilesystemKind, sizeMiB: number): Promise<{ disk: string; repository: string; sizeBytes: number }> {
  const dir = await mkdtemp(path.join(workDir, `${kind}-`));
  const volume = await makeFilesystemImage(kind, path.join(dir, 'volume.img'), { sizeMiB, seed: 7 });
  const disk = path.join(dir, 'disk.img');
  const sizeBytes = (sizeMiB + 2) * MiB;
  await writeFile(disk, '');
  await truncate(disk, sizeBytes);
  const type = kind === 'ext4' ? '0FC63DAF-8483-4772-8E79-3D69D8477DE4' : 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', disk], { input: `label: gpt\nstart=2048, size=${sizeMiB * 2048}, type=${type}\n` });
  await execa('dd', [`if=${volume.file}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse'], { stderr: 'ignore' });
  const repository = path.join(dir, 'repo');
  await succeed(['backup', 'disk', disk, '-r', repository]);
  return { disk, repository, sizeBytes };
}

/** A target larger than the disk, with bytes that are not zero all through it (so any write shows). */
async function prefilledTarget(name: string, sizeBytes: number): Promise<string> {
  const file = path.join(workDir, name);
  const bytes = seededBytes(99, sizeBytes);
  await writeFile(file, bytes);
  return file;
}

function assertRefused(t: ExecutionContext, result: { exitCode: number | undefined; stderr: string }, names: readonly string[]): void {
  t.is(result.exitCode, 3, result.stderr);
  t.regex(result.stderr, /LB_DEVICE_TOOL_MISSING/);
  for (const name of names) t.true(result.stderr.includes(name), `${name} named: ${result.stderr}`);
  t.notRegex(result.stderr, /undefined/);
}

test('restore --grow of an ext4 disk without resize2fs: refused before writing (and with --dry-run), naming resize2fs and e2fsprogs; the target is untouched', async (t) => {
  t.timeout(TIMEOUT_MS);
  const { repository, sizeBytes } = await backedUpDisk('ext4', 24);
  const target = await prefilledTarget('ext4-target.img', sizeBytes + 16 * MiB);
  const before = await hashRange(target, 0, sizeBytes + 16 * MiB);
  const PATH = await pathWithout(['resize2fs']);
  for (const extra of [['--dry-run'], ['--yes']]) {
    const result = await lifeboat(['restore', '-r', repository, 'latest', target, '--grow', ...extra], { PATH });
    assertRefused(t, result, ['resize2fs (e2fsprogs)', 'Nothing was written']);
    t.is(await hashRange(target, 0, sizeBytes + 16 * MiB), before, `${extra.join(' ')}: the target is untouched`);
  }
  // With busybox's losetup in util-linux's place (it has no --offset/--sizelimit): refused too.
  const busybox = await lifeboat(['restore', '-r', repository, 'latest', target, '--grow', '--yes'], { PATH: await pathWithout(['losetup'], { busyboxInstead: true }) });
  assertRefused(t, busybox, ["is not mount's losetup"]);
  t.is(await hashRange(target, 0, sizeBytes + 16 * MiB), before);
});

test('Clonezilla restore with swap, without util-linux mkswap (or with busybox\'s) and without xz: refused before writing, --dry-run too; the target is untouched', async (t) => {
  t.timeout(TIMEOUT_MS);
  const built = await sharedClonezillaSourceDisk();
  const image = await saveLikeOcsSr(built, 'xz-and-swap', { sda1: 'zst', sda2: 'xz', splitSda2: false });
  const sizeBytes = (await readPartitionTable(built.disk)).partitions.reduce((end, partition) => Math.max(end, (partition.start + partition.size) * SECTOR), 0) + MiB;
  const target = await prefilledTarget('clonezilla-target.img', sizeBytes);
  const before = await hashRange(target, 0, sizeBytes);
  const plan = await succeed(['restore', image, target, '--dry-run']);
  t.regex(plan, /new swap area \(mkswap UUID/);
  for (const extra of [['--dry-run'], ['--yes']]) {
    const missing = await lifeboat(['restore', image, target, ...extra], { PATH: await pathWithout(['mkswap', 'xz']) });
    assertRefused(t, missing, ['mkswap (util-linux)', 'xz (xz-utils)']);
    const busybox = await lifeboat(['restore', image, target, ...extra], { PATH: await pathWithout(['mkswap'], { busyboxInstead: true }) });
    assertRefused(t, busybox, ["is not util-linux's mkswap"]);
    t.is(await hashRange(target, 0, sizeBytes), before, `${extra.join(' ')}: the target is untouched`);
  }
  // The import reconstructs the same plan in a scratch file: refused before the repository is made.
  const repository = path.join(workDir, 'import-repo');
  const imported = await lifeboat(['import', 'clonezilla', image, '-r', repository], { PATH: await pathWithout(['mkswap']) });
  assertRefused(t, imported, ['mkswap (util-linux)']);
});
