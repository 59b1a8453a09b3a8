// `lifeboat clone disk` onto targets SMALLER than the source (issue 16): each target is sized from
// the planner's own minimum (read from the details of a refused run onto a 1 MiB file, so it
// follows resize2fs -P / ntfsresize --info), plus a little. An MBR disk (sfdisk) with a 112 MiB
// ext4 holding 56 MiB of files and a 32 MiB swap area (mkswap -U -L): e2fsck -fn clean, the tree
// equals the source's, the swap area is made again with its UUID and label, sfdisk --verify clean.
// The Windows-shaped GPT disk: C: shrinks, ntfsfix -n clean on C: and recovery, trees equal through
// ntfs-3g, hidden sectors = the new start, backup boot sector at C:'s new end, sgdisk -v clean. The
// source's sha256 never changes. Refused before anything is written, the target's bytes unchanged:
// an ext4 left not cleanly unmounted (LB_DEVICE_SOURCE_DIRTY), a C: with a hibernated hiberfil.sys
// (LB_DEVICE_SOURCE_HIBERNATED), and no room for the overlay (LB_DEVICE_SCRATCH_TOO_SMALL). The
// fixtures' MBR disk (ext4, FAT32, a logical NTFS) and GPT disk (BIOS boot, ESP, NTFS, exFAT, ext4)
// at their minimum: FAT32 and exFAT are made again (checker clean, same tree), the ESP keeps its size.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { diffListings, fsckVolume, hashRange, makeFilesystemImage, makeGptDisk, makeMbrDisk, readPartitionTable, readTree, verifyGpt, withMountedVolume, withVolumeDevice, type FilesystemKind, type TreeListing, type Volume } from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { describe, errorCode, lifeboat, sha256File } from '../helpers/repository-harness.ts';
import { makeWindowsShapedDisk, windowsVolume } from '../helpers/windows-shaped-disk.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const SWAP_UUID = '5a17c0de-0b0a-4c01-8e5f-0123456789ab';

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-shrink-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function sparse(name: string, bytes: number): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, Buffer.alloc(4096, 0x77));
  await truncate(file, bytes);
  return file;
}

/** A 160 MiB MBR disk: a 112 MiB ext4 at 1 MiB with 56 MiB of random files, then a 32 MiB swap area with a UUID and label. */
async function makeExtSwapDisk(name: string): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, '');
  await truncate(file, 160 * MiB);
  await execa('sfdisk', ['-q', file], { input: `label: dos\nstart=2048, size=${112 * 2048}, type=83\nstart=${113 * 2048}, size=${32 * 2048}, type=82\n` });
  const part = path.join(workDir, `${name}-p1`);
  await makeFilesystemImage('ext4', part, { sizeMiB: 112, seed: 61, bulkMiB: 56 });
  await execa('dd', [`if=${part}`, `of=${file}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none']);
  await rm(part);
  await withVolumeDevice({ kind: 'ext4', file, offset: 113 * MiB, sizeBytes: 32 * MiB }, 'rw', (device) => execa('mkswap', ['-q', '-U', SWAP_UUID, '-L', 'LBSWAP', device]));
  return file;
}

let extDisk: Promise<string> | undefined;
const extSwapDisk = () => (extDisk ??= makeExtSwapDisk('ext-swap.img'));

let tinyCount = 0;

/** The planner's minimum for `source`: the details of a clone refused onto a 1 MiB file. */
async function plannerMinimum(t: ExecutionContext, source: string): Promise<number> {
  const tiny = await sparse(`tiny-${(tinyCount += 1)}.img`, MiB);
  const result = await lifeboat(['clone', 'disk', source, tiny, '--yes', '--json']);
  t.is(errorCode(result), 'LB_DEVICE_TARGET_BELOW_MINIMUM', describe(result));
  const details = (JSON.parse(result.stderr.trim().split('\n').at(-1) ?? '{}') as { error: { details: { minimumBytes: number } } }).error.details;
  await rm(tiny);
  return details.minimumBytes;
}

/** resize2fs gives directories whose entries name a moved inode a new mtime, and a file can gain an extent block: those may differ. */
const normalise = (listing: TreeListing) => new Map([...listing].filter(([key]) => key !== '<free space>')
  .map(([key, line]) => [key, line.replace(/ blocks=\d+/, '').replace(/^(dir .*) mtime=\d+/, '$1')] as const));

async function volumeOf(kind: FilesystemKind, file: string, number: number): Promise<Volume> {
  const entry = (await readPartitionTable(file)).partitions.find((candidate) => candidate.number === number);
  if (!entry) throw new Error(`${file} has no partition ${number}`);
  return { kind, file, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR };
}

async function blkid(volume: Volume): Promise<string> {
  return withVolumeDevice(volume, 'ro', async (device) => (await execa('blkid', ['-p', '-o', 'export', device], { reject: false })).stdout);
}

test('an MBR disk with ext4 and swap onto a target just above the planner\'s minimum: ext4 shrunk (e2fsck -fn clean, same tree), swap made again with its UUID and label', async (t) => {
  const source = await extSwapDisk();
  const before = await sha256File(source);
  const minimum = await plannerMinimum(t, source);
  t.true(minimum < 100 * MiB, `the planner's minimum ${minimum}`);
  const target = await sparse('ext-smaller.img', minimum + 2 * MiB);
  const result = await lifeboat(['clone', 'disk', source, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /shrink partition 1 from 112 MiB to [\d.]+ MiB \(its minimum [\d.]+ MiB\) on a copy-on-write view of the source/);
  t.regex(result.stdout, /make partition 2's swap area again at [\d.]+ MiB \(was 32\.0 MiB; mkswap UUID 5a17c0de-0b0a-4c01-8e5f-0123456789ab label "LBSWAP"\)/);
  t.regex(result.stdout, /Shrink room: about [\d.]+ MiB of rewritten blocks at most/);
  const copy = await volumeOf('ext4', target, 1);
  t.true(copy.sizeBytes < 112 * MiB);
  const fsck = await fsckVolume(copy);
  t.true(fsck.clean, fsck.output);
  t.deepEqual(diffListings(normalise(await readTree({ kind: 'ext4', file: source, offset: MiB, sizeBytes: 112 * MiB })), normalise(await readTree(copy))), []);
  const swap = await blkid(await volumeOf('ext4', target, 2));
  t.regex(swap, /TYPE=swap/);
  t.regex(swap, new RegExp(`UUID=${SWAP_UUID}`));
  t.regex(swap, /LABEL=LBSWAP/);
  const verify = await execa('sfdisk', ['--verify', target], { reject: false });
  t.is(verify.exitCode, 0, verify.stdout + verify.stderr);
  t.is(await sha256File(source), before, 'the source is unchanged');
});

test('a Windows-shaped GPT disk onto a smaller target: C: shrunk, ntfsfix -n clean, same trees through ntfs-3g, hidden sectors and backup boot sector at the new place, sgdisk -v clean', async (t) => {
  const disk = await makeWindowsShapedDisk({ file: path.join(workDir, 'windows.img') });
  const before = await sha256File(disk.file);
  const minimum = await plannerMinimum(t, disk.file);
  const targetBytes = minimum + 8 * MiB;
  t.true(targetBytes < disk.sizeBytes, `${targetBytes} below ${disk.sizeBytes}`);
  const target = await sparse('windows-smaller.img', targetBytes);
  const result = await lifeboat(['clone', 'disk', disk.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /shrink partition 3 from [\d.]+ MiB to [\d.]+ MiB \(its minimum [\d.]+ MiB\)/);
  const table = await readPartitionTable(target);
  for (const role of ['windows', 'recovery'] as const) {
    const partition = disk.partitions.find((entry) => entry.role === role)!;
    const entry = table.partitions.find((candidate) => candidate.number === partition.number)!;
    const copy: Volume = { kind: 'ntfs', file: target, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR };
    const fsck = await fsckVolume(copy);
    t.true(fsck.clean, `${role}: ${fsck.output}`);
    t.deepEqual(diffListings(await readTree(windowsVolume(disk, role)), await readTree(copy)), [], role);
    t.is((await readAt(target, copy.offset + 0x1c, 4)).readUInt32LE(0), entry.start, `${role}: hidden sectors = its new start`);
    const volumeSectors = Number((await readAt(target, copy.offset + 0x28, 8)).readBigUInt64LE(0));
    t.is(await hashRange(target, copy.offset + volumeSectors * SECTOR, SECTOR), await hashRange(target, copy.offset, SECTOR), `${role}: the backup boot sector after the volume equals the boot sector`);
    t.is(await hashRange(target, copy.offset + copy.sizeBytes - SECTOR, SECTOR), await hashRange(target, copy.offset, SECTOR), `${role}: the partition's last sector holds the backup boot sector`);
    if (role === 'windows') t.true(copy.sizeBytes < partition.sizeSectors * SECTOR, 'C: shrank');
  }
  const esp = disk.partitions.find((entry) => entry.role === 'esp')!;
  const espCopy = table.partitions.find((entry) => entry.number === esp.number)!;
  t.is(espCopy.size, esp.sizeSectors, 'the ESP keeps its size');
  const verified = await verifyGpt(target);
  t.true(verified.clean, verified.output);
  t.is(await sha256File(disk.file), before, 'the source is unchanged');
});

/** A refused clone: its code, and the source's and target's bytes unchanged. */
async function refused(t: ExecutionContext, args: readonly string[], files: { source: string; target: string }, code: string, env?: Record<string, string>): Promise<string> {
  const [source, target] = [await sha256File(files.source), await sha256File(files.target)];
  const result = await lifeboat(['clone', 'disk', ...args], env ? { env } : {});
  t.is(errorCode(result), code, describe(result));
  t.is(await sha256File(files.source), source, 'the source is unchanged');
  t.is(await sha256File(files.target), target, 'the target is unchanged');
  return result.stderr;
}

test('LB_DEVICE_SCRATCH_TOO_SMALL: no memory share and a scratch folder on tmpfs (it adds nothing), with both figures; LB_DEVICE_SOURCE_DIRTY: the ext4 not cleanly unmounted', async (t) => {
  const source = await extSwapDisk();
  const minimum = await plannerMinimum(t, source);
  const target = await sparse('refused-ext.img', minimum + 2 * MiB);
  const stderr = await refused(t, [source, target, '--yes', '--scratch', '/dev/shm'], { source, target }, 'LB_DEVICE_SCRATCH_TOO_SMALL', { LIFEBOAT_TEST_SHRINK_MEMORY_BYTES: '0' });
  t.regex(stderr, /Shrinking needs room for about \d+ bytes of rewritten blocks .*there are 0 bytes of memory for it and 0 in \/dev\/shm/);
  const dirty = path.join(workDir, 'dirty.img');
  await execa('cp', ['--sparse=always', source, dirty]);
  await withVolumeDevice({ kind: 'ext4', file: dirty, offset: MiB, sizeBytes: 112 * MiB }, 'rw', (device) => execa('debugfs', ['-w', '-R', 'ssv state 0', device]));
  const dirtyStderr = await refused(t, [dirty, target, '--yes'], { source: dirty, target }, 'LB_DEVICE_SOURCE_DIRTY');
  t.regex(dirtyStderr, /partition 1 must shrink, and its ext4 filesystem was not unmounted cleanly/);
});

test('LB_DEVICE_SOURCE_HIBERNATED: C: holding a hiberfil.sys that starts with HIBR (written through ntfs-3g)', async (t) => {
  const disk = await makeWindowsShapedDisk({ file: path.join(workDir, 'hibernated.img') });
  await withMountedVolume(windowsVolume(disk, 'windows'), 'rw', (root) => writeFile(path.join(root, 'hiberfil.sys'), Buffer.concat([Buffer.from('HIBR'), Buffer.alloc(64 * 1024 - 4)])));
  const target = await sparse('refused-windows.img', disk.sizeBytes - 48 * MiB);
  const stderr = await refused(t, [disk.file, target, '--yes'], { source: disk.file, target }, 'LB_DEVICE_SOURCE_HIBERNATED');
  t.regex(stderr, /partition 3 must shrink, and its ntfs volume belongs to a hibernated Windows/);
});

for (const shape of ['mbr', 'gpt'] as const) {
  test(`the fixtures' ${shape === 'mbr' ? 'MBR disk (ext4, FAT32, logical NTFS)' : 'GPT disk (BIOS boot, ESP, NTFS, exFAT, ext4)'} at the planner's minimum: every data volume shrinks, ${shape === 'mbr' ? 'FAT32' : 'exFAT'} made again; checkers clean, trees equal`, async (t) => {
    const dir = await mkdtemp(path.join(workDir, `${shape}-`));
    const disk = shape === 'mbr' ? await makeMbrDisk(dir, 71) : await makeGptDisk(dir, 72);
    const before = await sha256File(disk.file);
    const minimum = await plannerMinimum(t, disk.file);
    const target = await sparse(`${shape}-minimum.img`, minimum + 2 * MiB);
    const result = await lifeboat(['clone', 'disk', disk.file, target, '--yes', '--scratch', dir]);
    t.is(result.exitCode, 0, describe(result));
    const rebuilt = shape === 'mbr' ? 'fat32' : 'exfat';
    const rebuiltPartition = disk.partitions.find((partition) => partition.content === rebuilt)!;
    t.regex(result.stdout, new RegExp(`shrink partition ${rebuiltPartition.number} from`), result.stdout);
    const table = (await readPartitionTable(target)).partitions;
    for (const partition of disk.partitions) {
      if (!['ext4', 'fat32', 'exfat', 'ntfs'].includes(partition.content)) continue;
      const kind = partition.content as FilesystemKind;
      const entry = table.find((candidate) => candidate.number === partition.number)!;
      const copy = { kind, file: target, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR };
      if (partition.number === rebuiltPartition.number) t.true(copy.sizeBytes < partition.sizeBytes, `${kind} shrank: ${copy.sizeBytes} < ${partition.sizeBytes}`);
      const fsck = await fsckVolume(copy);
      t.true(fsck.clean, `${kind} ${partition.number}: ${fsck.output}`);
      t.deepEqual(diffListings(normalise(await readTree({ kind, file: disk.file, offset: partition.offset, sizeBytes: partition.sizeBytes })), normalise(await readTree(copy))), [], `${kind} ${partition.number}`);
    }
    t.is(await sha256File(disk.file), before, 'the source is unchanged');
  });
}
