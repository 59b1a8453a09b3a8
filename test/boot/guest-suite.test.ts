// The guest suite: each command family run inside the booted medium (QEMU, the ISO's own kernel
// and initramfs), on disks prepared on the host, and judged on the host with the formats' own
// tools. Two boots, each carrying many steps (lifeboat.run, then a script in the rescue shell):
// - disks: a job restores three snapshots with --grow onto larger disks (ext4, NTFS, FAT32); a
//   Clonezilla image saved as ocs-sr saves it (partclone; ext4, NTFS and swap in an MBR with
//   logical partitions) is restored; an MBR disk (ext4, FAT32, a logical NTFS) is cloned with
//   `clone disk` onto a larger disk; the logs are exported with their system report.
// - files: ls and (a job) get on ext4, FAT32, exFAT and NTFS partitions, then backup files of a
//   tree carrying extended attributes and ACLs, verify, get; a second job backs up into
//   repositories on exFAT (the kernel's driver) and NTFS (ntfs-3g), each checked with --read-data.
// Node starts slowly under TCG (10-20 s), so a job runs many steps in one process.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildSpecDisk, saveSpecDiskLikeOcsSr, SPEC_SWAP, type DiskSpec } from '../helpers/clonezilla.ts';
import {
  compareDisks, compareVolumes, type DiskFixture, filesystemSizeBytes, type FilesystemKind, fsckVolume, hashRange, makeGptDisk, makeMbrDisk, makeSingleVolumeGptDisk,
  partitionVolume, readPartitionTable, verifyGpt, type Volume, withMountedVolume, withVolumeDevice,
} from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { bootWithScript, DATA_MOUNT, DATA_OFFSET, type GuestRun, type GuestStep, makeDataDisk, splitJobSteps, type StepResult } from '../helpers/guest-script.ts';
import { extractKernelAndInitrd, requireMedia, TEST_MEDIA } from '../helpers/media.ts';
import { createLimiter } from '../helpers/qemu.ts';
import { describe, lifeboat, sha256File } from '../helpers/repository-harness.ts';
import { diffDigests, digestTree, digestVolume } from '../helpers/tree-digest.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const limit = createLimiter(2);
/** Each boot: about 15-20 s to the run, then the steps under TCG. */
const BOOT_TIMEOUT_MS = 20 * 60_000;

let workDir = '';
let kernel = '';
let initrd = '';

test.before(async () => {
  const iso = await requireMedia(TEST_MEDIA.runIso);
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-guest-suite-'));
  ({ kernel, initrd } = await extractKernelAndInitrd(iso, workDir));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function emptyDisk(file: string, sizeMiB: number): Promise<string> {
  await execa('truncate', ['-s', String(sizeMiB * MiB), file]);
  return file;
}

/** Asserts a script step ran and succeeded; returns its output. */
function stepOutput(t: ExecutionContext, run: GuestRun, name: string): string {
  const step = run.steps.get(name);
  if (!step) {
    t.fail(`step ${name} did not run; the console's end:\n${run.transcript.slice(-3000)}`);
    return '';
  }
  t.is(step.exitCode, 0, `step ${name} exited with ${step.exitCode}:\n${step.output.slice(-3000)}`);
  return step.output;
}

/** Where two equally long buffers differ, as "start-end" byte ranges in 512-byte sectors (at most 20). */
function differingRanges(actual: Buffer, expected: Buffer): string[] {
  if (actual.length !== expected.length) return [`sizes ${actual.length} and ${expected.length}`];
  const ranges: string[] = [];
  let start = -1;
  for (let sector = 0; sector * SECTOR <= actual.length && ranges.length < 20; sector++) {
    const at = sector * SECTOR;
    const same = at === actual.length || actual.subarray(at, at + SECTOR).equals(expected.subarray(at, at + SECTOR));
    if (!same && start < 0) start = sector;
    if (same && start >= 0) {
      ranges.push(`sectors ${start}-${sector - 1}`);
      start = -1;
    }
  }
  return ranges;
}

function logSteps(t: ExecutionContext, title: string, run: GuestRun, preparedSeconds: number): void {
  const steps = [...run.steps].map(([name, step]: [string, StepResult]) => `${name} ${step.seconds} s (exit ${step.exitCode})`);
  t.log(`${title}: disks prepared on the host in ${preparedSeconds.toFixed(0)} s; the VM ran ${run.boot.seconds.toFixed(0)} s from start to power-off; steps: ${steps.join(', ')}`);
}

function secondsSince(started: number): number {
  return (Date.now() - started) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Boot 1: disks

interface GrowCase {
  readonly kind: FilesystemKind;
  readonly diskMiB: number;
  readonly targetMiB: number;
  readonly fatClusterSectors?: number;
  readonly device: string;
}

/** Restored with --grow by the job, onto vdb, vdc, vdd. FAT32 with 4 KiB clusters: libparted refuses to grow smaller ones. */
const GROW_CASES: readonly GrowCase[] = [
  { kind: 'ext4', diskMiB: 40, targetMiB: 72, device: '/dev/vdb' },
  { kind: 'ntfs', diskMiB: 40, targetMiB: 72, device: '/dev/vdc' },
  { kind: 'fat32', diskMiB: 300, targetMiB: 360, fatClusterSectors: 8, device: '/dev/vdd' },
];

/** The disk ocs-sr saves: MBR, ext4 primary, an extended partition with an NTFS and a swap logical. */
const CLONEZILLA_DISK: DiskSpec = {
  label: 'dos',
  labelId: '0x6c1f5eed',
  sectors: 56 * 2048,
  partitions: [
    { number: 1, start: 2048, size: 24 * 2048, type: '83', fs: 'ext4', bootable: true },
    { number: 2, start: 26 * 2048, size: 28 * 2048, type: '5' },
    { number: 5, start: 27 * 2048, size: 16 * 2048, type: '7', fs: 'ntfs' },
    { number: 6, start: 44 * 2048, size: 8 * 2048, type: '82', fs: 'swap' },
  ],
};

/** The disk `clone disk` copies in the guest (vdf, makeMbrDisk: 192 MiB) and its target's size (vdg). */
const CLONE_SEED = 71;
const CLONE_TARGET_MIB = 256;

test('QEMU guest suite, disks: restore --grow of ext4, NTFS and FAT32 (a job), a Clonezilla restore with swap, clone disk of an MBR disk onto a larger one, logs export with a complete system report', async (t) => {
  t.timeout(BOOT_TIMEOUT_MS + 25 * 60_000);
  const started = Date.now();
  const dir = await mkdtemp(path.join(workDir, 'disks-'));
  const content = path.join(dir, 'data');
  const repository = path.join(content, 'repo');

  // The sources, backed up on the host into the repository on the data partition; the Clonezilla
  // image saved as ocs-sr saves it (partclone | zstd | split, sfdisk -d, the MBR, the EBR, the
  // swap's UUID and label): Debian's ocs-sr takes minutes of shell steps on a busy machine, and
  // test/repository/clonezilla-ocs-sr.test.ts already restores its images on the host.
  const spec = await buildSpecDisk(await mkdtemp(path.join(dir, 'clonezilla-')), CLONEZILLA_DISK);
  const savedClonezilla = await saveSpecDiskLikeOcsSr(spec, 'swapdisk');
  await mkdir(content, { recursive: true });
  const sources = new Map<GrowCase, DiskFixture>();
  for (const [index, growCase] of GROW_CASES.entries()) {
    const fixture = await makeSingleVolumeGptDisk(await mkdtemp(path.join(dir, `${growCase.kind}-`)), growCase.kind, { seed: 60 + index, diskMiB: growCase.diskMiB, fatClusterSectors: growCase.fatClusterSectors });
    const backup = await lifeboat(['backup', 'disk', fixture.file, '-r', repository, '--tag', growCase.kind]);
    t.is(backup.exitCode, 0, describe(backup));
    sources.set(growCase, fixture);
  }
  const targets = await Promise.all(GROW_CASES.map((growCase) => emptyDisk(path.join(dir, `grow-${growCase.kind}.img`), growCase.targetMiB)));
  await writeFile(path.join(content, 'grow-job.json'), `${JSON.stringify({
    description: 'restore the three disks onto larger ones, each grown',
    repository: 'repo',
    confirm: true,
    'continue-on-error': true,
    steps: GROW_CASES.map((growCase) => ({ do: 'restore', snapshot: 'latest', target: growCase.device, options: { tag: growCase.kind, grow: true } })),
  }, null, 2)}\n`);
  await execa('cp', ['-r', savedClonezilla, path.join(content, 'swapdisk')]);
  const clonezillaTarget = await emptyDisk(path.join(dir, 'clonezilla-target.img'), CLONEZILLA_DISK.sectors / 2048);
  // clone disk inside the medium: whatever it runs (resize2fs for the grown ext4, the NTFS and FAT
  // fix-ups) must be on the medium.
  const cloneSource = await makeMbrDisk(await mkdtemp(path.join(dir, 'clone-')), CLONE_SEED);
  const cloneSourceHash = await sha256File(cloneSource.file);
  const cloneTarget = await emptyDisk(path.join(dir, 'clone-target.img'), CLONE_TARGET_MIB);

  const steps: GuestStep[] = [
    { name: 'clonezilla', command: `lifeboat restore ${DATA_MOUNT}/swapdisk /dev/vde --yes` },
    { name: 'clone-disk', command: 'lifeboat clone disk /dev/vdf /dev/vdg --yes' },
    { name: 'logs-export', command: `lifeboat logs export ${DATA_MOUNT}/logs.tar.gz` },
  ];
  const dataDisk = await makeDataDisk(dir, { content, steps, sizeMiB: 96 });
  const disks = [...GROW_CASES.map((growCase, index) => ({ file: targets[index] ?? '', serial: `LBGROW${growCase.kind.toUpperCase()}` })), { file: clonezillaTarget, serial: 'LBCLONEZILLA' }, { file: cloneSource.file, serial: 'LBCLONESOURCE' }, { file: cloneTarget, serial: 'LBCLONETARGET' }];
  const prepared = secondsSince(started);
  const run = await limit(() => bootWithScript({ kernel, initrd, run: `run ${DATA_MOUNT}/grow-job.json`, dataDisk, disks, timeoutMs: BOOT_TIMEOUT_MS }));
  logSteps(t, 'disks', run, prepared);
  t.true(run.finished, `the script did not finish; the console's end:\n${run.transcript.slice(-4000)}`);
  t.false(run.boot.timedOut);

  // The job: three restores, each grown.
  t.is(run.run?.exitCode, 0, run.run?.output.slice(-4000) ?? run.transcript.slice(-4000));
  for (const [index, growCase] of GROW_CASES.entries()) {
    const source = sources.get(growCase)!;
    const target = targets[index] ?? '';
    t.regex(run.run?.output ?? '', new RegExp(`== step ${index + 1}/3 \\(restore\\) done\\.`), `${growCase.kind} restore step`);
    const verified = await verifyGpt(target);
    t.true(verified.clean, `${growCase.kind}: ${verified.output}`);
    const grown = (await readPartitionTable(target)).partitions[0]!;
    const endGap = growCase.targetMiB * MiB - (grown.start + grown.size) * SECTOR;
    t.true(grown.start * SECTOR === source.partitions[0]!.offset && endGap >= 33 * SECTOR && endGap <= MiB, `${growCase.kind}: the partition keeps its start and reaches the end (${endGap} bytes left)`);
    const volume: Volume = { kind: growCase.kind, file: target, offset: grown.start * SECTOR, sizeBytes: grown.size * SECTOR };
    const filesystemBytes = await filesystemSizeBytes(volume);
    t.log(`${growCase.kind}: filesystem of ${filesystemBytes} bytes in a partition of ${volume.sizeBytes} (the source's partition: ${source.partitions[0]!.sizeBytes})`);
    t.true(filesystemBytes <= volume.sizeBytes && volume.sizeBytes - filesystemBytes < 64 * 1024, `${growCase.kind}: the filesystem fills the grown partition`);
    t.deepEqual(await compareDisks(source, target, { largerDisk: true, grownLast: true }), [], `${growCase.kind}: clean and the same tree`);
  }

  t.log(`disks: the grown disks judged ${secondsSince(started).toFixed(0)} s after the start`);
  // Clonezilla: the disk comes back byte for byte; the swap partition with its UUID and label.
  const restoredClonezilla = stepOutput(t, run, 'clonezilla');
  t.regex(restoredClonezilla, /new swap area/);
  const [clonezillaRestored, clonezillaSource] = [await readFile(clonezillaTarget), await readFile(spec.disk)];
  const clonezillaDifferences = differingRanges(clonezillaRestored, clonezillaSource);
  if (clonezillaDifferences.length > 0) {
    // What differs, and which side: the same image restored on the host.
    const onHost = await emptyDisk(path.join(dir, 'clonezilla-host.img'), CLONEZILLA_DISK.sectors / 2048);
    const restored = await lifeboat(['restore', savedClonezilla, onHost, '--yes']);
    const hostBytes = await readFile(onHost);
    for (const range of clonezillaDifferences.slice(0, 4)) {
      const [first = 0, last = 0] = (/(\d+)-(\d+)/.exec(range) ?? []).slice(1).map(Number);
      const [guestPart, sourcePart] = [clonezillaRestored, clonezillaSource].map((bytes) => bytes.subarray(first * SECTOR, (last + 1) * SECTOR));
      t.log(`${range}: the guest's bytes ${guestPart?.every((byte) => byte === 0) ? 'are zeros' : `start ${guestPart?.subarray(0, 32).toString('hex')}`}, the source's ${sourcePart?.every((byte) => byte === 0) ? 'are zeros' : `start ${sourcePart?.subarray(0, 32).toString('hex')}`}`);
    }
    t.log(`restored on the host (exit ${restored.exitCode}): differs from the source in ${JSON.stringify(differingRanges(hostBytes, clonezillaSource))}, from the guest's in ${JSON.stringify(differingRanges(hostBytes, clonezillaRestored))}; the guest's restore printed:\n${stepOutput(t, run, 'clonezilla').slice(-2500)}`);
  }
  t.deepEqual(clonezillaDifferences, [], 'the Clonezilla restore is byte-identical to the disk saved');
  const swap = (await readPartitionTable(clonezillaTarget)).partitions.find((partition) => partition.number === 6)!;
  await withVolumeDevice({ kind: 'ext4', file: clonezillaTarget, offset: swap.start * SECTOR, sizeBytes: swap.size * SECTOR }, 'ro', async (device) => {
    const { stdout } = await execa('swaplabel', [device]);
    t.regex(stdout, new RegExp(`^LABEL: ${SPEC_SWAP.label}$`, 'm'), stdout);
    t.regex(stdout, new RegExp(`^UUID:\\s+${SPEC_SWAP.uuid}$`, 'm'), stdout);
    const probe = (await execa('blkid', ['-p', '-o', 'export', device])).stdout;
    t.regex(probe, /^TYPE=swap$/m);
  });

  // clone disk: the largest data partition (ext4) grows, the others keep their sizes (FAT32 and the
  // logical NTFS move); every volume clean with the source's tree, hidden sectors = the new start,
  // boot code and gap as on the source, sfdisk --verify clean, the source's bytes unchanged.
  const cloned = stepOutput(t, run, 'clone-disk');
  t.regex(cloned, /1: ext4, 64\.0 MiB -> \d+ MiB at 1 MiB, grows/, cloned.slice(-2500));
  const clonedTable = await readPartitionTable(cloneTarget);
  for (const partition of cloneSource.partitions) {
    if (partition.content === 'extended' || partition.content === 'bios-boot') continue;
    const entry = clonedTable.partitions.find((candidate) => candidate.number === partition.number);
    if (!entry) {
      t.fail(`clone: partition ${partition.number} is missing from the copy's table:\n${cloned.slice(-2500)}`);
      continue;
    }
    const copy: Volume = { kind: partition.content, file: cloneTarget, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR };
    t.deepEqual(await compareVolumes(partitionVolume(partition, cloneSource.file), copy, { facts: false }), [], `clone: partition ${partition.number} (${partition.content}) clean, the same tree`);
    if (partition.content === 'ntfs' || partition.content === 'fat32') t.is((await readAt(cloneTarget, copy.offset + 0x1c, 4)).readUInt32LE(0), entry.start, `clone: partition ${partition.number}: hidden sectors = its start`);
    if (partition.content === 'ext4') t.true((await filesystemSizeBytes(copy)) >= copy.sizeBytes - MiB && copy.sizeBytes > partition.sizeBytes, `clone: the ext4 grows and fills its partition (${copy.sizeBytes} bytes)`);
  }
  const firstStart = Math.min(...cloneSource.partitions.map((partition) => partition.offset));
  t.is(await hashRange(cloneTarget, 0, 440), await hashRange(cloneSource.file, 0, 440), 'clone: boot code');
  t.is(await hashRange(cloneTarget, SECTOR, firstStart - SECTOR), await hashRange(cloneSource.file, SECTOR, firstStart - SECTOR), 'clone: boot gap copied as it is');
  const sfdiskVerify = await execa('sfdisk', ['--verify', cloneTarget], { reject: false });
  t.is(sfdiskVerify.exitCode, 0, sfdiskVerify.stdout + sfdiskVerify.stderr);
  t.is(await sha256File(cloneSource.file), cloneSourceHash, 'clone: the source is unchanged');

  // logs export: the run logs and a system report with no tool missing.
  t.regex(stepOutput(t, run, 'logs-export'), /Wrote \/mnt\/lifeboat-data\/logs\.tar\.gz \(.*\): \d+ run log\(s\) and \d+ report file\(s\)\./);
  await withMountedVolume({ kind: 'ext4', file: dataDisk, offset: DATA_OFFSET, sizeBytes: 94 * MiB }, 'rw', async (root) => {
    const archive = path.join(root, 'logs.tar.gz');
    const listed = (await execa('tar', ['-tzf', archive])).stdout.split('\n');
    const extracted = path.join(dir, 'logs');
    await mkdir(extracted);
    await execa('tar', ['-xzf', archive, '-C', extracted]);
    const [top] = await readdir(extracted);
    const system = path.join(extracted, top ?? '', 'system');
    const reportFiles = await readdir(system);
    t.log(`logs export: ${listed.length} entries; system/: ${reportFiles.join(' ')}`);
    for (const name of ['lsblk.json', 'blkid.txt', 'dmesg.txt', 'uname.txt', 'cmdline.txt', 'meminfo.txt', 'mounts.txt', 'firmware.txt', 'lifeboat.txt']) t.true(reportFiles.includes(name), `system/${name}`);
    for (const name of reportFiles) {
      const text = await readFile(path.join(system, name), 'utf8');
      t.notRegex(text, /\(not run|cannot be read|ENOENT/, `system/${name} notes something missing:\n${text.slice(0, 1500)}`);
    }
    // Every disk's table, as sfdisk -d prints it.
    for (const [disk, label] of [['vda', 'gpt'], ['vdb', 'gpt'], ['vdc', 'gpt'], ['vdd', 'gpt'], ['vde', 'dos']] as const) {
      const text = await readFile(path.join(system, `sfdisk-${disk}.txt`), 'utf8').catch(() => '');
      t.regex(text, new RegExp(`^label: ${label}$`, 'm'), `sfdisk-${disk}.txt:\n${text}`);
    }
    const lsblk = await readFile(path.join(system, 'lsblk.json'), 'utf8');
    const devices = (JSON.parse(lsblk.slice(lsblk.indexOf('{'))) as { blockdevices: Array<{ name: string }> }).blockdevices.map((device) => device.name);
    for (const disk of ['vda', 'vdb', 'vdc', 'vdd', 'vde']) t.true(devices.includes(disk), `lsblk lists ${disk}`);
    const blkid = await readFile(path.join(system, 'blkid.txt'), 'utf8');
    t.regex(blkid, new RegExp(`^/dev/vde6: .*UUID="${SPEC_SWAP.uuid}".*TYPE="swap"`, 'm'), blkid);
    t.regex(blkid, /^\/dev\/vda1: LABEL="LIFEBOAT".*TYPE="ext4"/m, blkid);
    const logs = await readdir(path.join(extracted, top ?? '', 'logs'));
    t.true(logs.some((name) => name.endsWith('-run.log')), `the job's run log: ${logs.join(' ')}`);
    t.true(logs.some((name) => name.endsWith('-restore.log')), `the Clonezilla restore's log: ${logs.join(' ')}`);
  });
  t.log(`disks: ${secondsSince(started).toFixed(0)} s in all`);
});

// ---------------------------------------------------------------------------------------------
// Boot 2: files

/** The tree with extended attributes and ACLs that `backup files` reads in the guest. */
async function makeAttributeSource(dir: string): Promise<string> {
  const image = path.join(dir, 'attributes.img');
  await emptyDisk(image, 16);
  // 4 KiB blocks: an attribute block holds the 3000-byte value (1 KiB ones, the default for 16 MiB, do not).
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-I', '256', '-L', 'ATTRIBUTES', image]);
  await withMountedVolume({ kind: 'ext4', file: image, offset: 0, sizeBytes: 16 * MiB }, 'rw', async (root) => {
    const at = (name: string) => path.join(root, name);
    await mkdir(at('docs/shared'), { recursive: true });
    await writeFile(at('docs/notes.txt'), 'notes with attributes\n'.repeat(200));
    await writeFile(at('docs/shared/team.txt'), 'shared with a default ACL\n');
    await execa('ln', ['-s', 'notes.txt', at('docs/link')]);
    await execa('setfattr', ['-n', 'user.comment', '-v', 'kept by the guest suite', at('docs/notes.txt')]);
    await execa('setfattr', ['-n', 'user.binary', '-v', '0x00ff10', at('docs/notes.txt')]);
    await execa('setfattr', ['-n', 'user.large', '-v', `0x${'ab'.repeat(1500)}`, at('docs/notes.txt')]);
    await execa('setfattr', ['-n', 'trusted.lifeboat', '-v', '42', at('docs/shared/team.txt')]);
    await execa('setfattr', ['-n', 'user.folder', '-v', 'documents', at('docs')]);
    await execa('setfacl', ['-m', 'u:1234:rw-,g:100:r--,m::rw-', at('docs/notes.txt')]);
    await execa('setfacl', ['-m', 'u:4321:rwx', at('docs/shared')]);
    await execa('setfacl', ['-d', '-m', 'u:1234:rwx,g:100:r-x', at('docs/shared')]);
    await execa('chown', ['1234:100', at('docs/shared/team.txt')]);
  });
  return image;
}

/** getfattr (every namespace, hex) and getfacl of `docs` under `root`, relative names; each file's block in name order (the tools walk in directory order). */
async function attributesOf(root: string): Promise<{ xattrs: string; acls: string }> {
  const byName = (text: string) => text.split(/\n\s*\n/).map((block) => block.trim()).filter((block) => block !== '').sort().join('\n\n');
  const xattrs = await execa('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', 'docs'], { cwd: root });
  const acls = await execa('getfacl', ['-R', '-P', 'docs'], { cwd: root });
  return { xattrs: byName(xattrs.stdout), acls: byName(acls.stdout) };
}

/** The repositories' disk: exFAT (vde1) and NTFS (vde2), empty, made on the host. */
async function makeRepositoriesDisk(dir: string): Promise<string> {
  const disk = await emptyDisk(path.join(dir, 'repositories.img'), 100);
  await execa('sfdisk', ['-q', disk], { input: 'label: gpt\nstart=2048, size=48MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\nsize=48MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n' });
  for (const [index, make] of [['exfat', ['mkfs.exfat', '-L', 'LBEXFREPO']], ['ntfs', ['mkntfs', '-q', '-Q', '-F', '-L', 'LBNTFREPO']]] as const) {
    const part = path.join(dir, `${index}.img`);
    await emptyDisk(part, 48);
    await execa(make[0], [...make.slice(1), part]);
    await execa('dd', [`if=${part}`, `of=${disk}`, 'bs=1M', `seek=${index === 'exfat' ? 1 : 49}`, 'conv=notrunc,sparse', 'status=none']);
    await rm(part);
  }
  return disk;
}

/** The partitions of the browsed disk (makeGptDisk): FAT32, NTFS, exFAT, ext4 as vdb2..vdb5. */
const BROWSED: ReadonlyArray<{ kind: FilesystemKind; number: number }> = [
  { kind: 'fat32', number: 2 },
  { kind: 'ntfs', number: 3 },
  { kind: 'exfat', number: 4 },
  { kind: 'ext4', number: 5 },
];

test('QEMU guest suite, files: ls and get on ext4, FAT32, exFAT and NTFS; backup files with xattrs and ACLs, then get; check --read-data of repositories on exFAT and NTFS', async (t) => {
  t.timeout(BOOT_TIMEOUT_MS + 25 * 60_000);
  const started = Date.now();
  const dir = await mkdtemp(path.join(workDir, 'files-'));
  const browsed = await makeGptDisk(dir, 77);
  const attributes = await makeAttributeSource(dir);
  const destination = await emptyDisk(path.join(dir, 'destination.img'), 160);
  // 4 KiB blocks, so the 3000-byte attribute fits (mke2fs gives a disk this small 1 KiB blocks).
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-L', 'DESTINATION', destination]);
  const repositories = await makeRepositoriesDisk(dir);

  const content = path.join(dir, 'data');
  await mkdir(content, { recursive: true });
  // One process runs many steps: the gets from the four partitions, then backup files, verify and get.
  await writeFile(path.join(content, 'files-job.json'), `${JSON.stringify({
    description: 'get every partition\'s files; back up files with extended attributes and ACLs, check, get them back',
    repository: 'files-repo',
    steps: [
      ...BROWSED.map(({ kind, number }) => ({ do: 'get', source: `/dev/vdb${number}`, paths: ['/'], destination: `/mnt/dest/${kind}` })),
      { do: 'backup', kind: 'files', source: '/mnt/src', options: { tag: 'acl' } },
      { do: 'verify' },
      { do: 'get', snapshot: 'latest', paths: ['/mnt/src/docs'], destination: '/mnt/dest/files' },
    ],
  }, null, 2)}\n`);
  // Backups into the repositories on exFAT (the kernel's driver) and NTFS (ntfs-3g), each checked with --read-data.
  await writeFile(path.join(content, 'repositories-job.json'), `${JSON.stringify({
    description: 'back up the FAT32 partition into repositories on exFAT and NTFS, check each',
    steps: ['exfat', 'ntfs'].flatMap((kind) => [
      { do: 'backup', kind: 'partition', source: '/dev/vdb2', repository: `/mnt/${kind}/repo` },
      { do: 'verify', repository: `/mnt/${kind}/repo` },
    ]),
  }, null, 2)}\n`);
  const steps: GuestStep[] = [
    { name: 'mount', command: 'mkdir -p /mnt/src /mnt/dest /mnt/exfat /mnt/ntfs && mount -t ext4 -o ro /dev/vdc /mnt/src && mount -t ext4 /dev/vdd /mnt/dest && mount -t exfat /dev/vde1 /mnt/exfat && ntfs-3g /dev/vde2 /mnt/ntfs' },
    ...BROWSED.filter(({ kind }) => kind !== 'ext4').map(({ kind, number }) => ({ name: `ls-${kind}`, command: `lifeboat ls /dev/vdb${number} /` })),
    { name: 'files-job', command: `lifeboat run ${DATA_MOUNT}/files-job.json` },
    { name: 'repositories-job', command: `lifeboat run ${DATA_MOUNT}/repositories-job.json` },
    { name: 'unmount', command: 'umount /mnt/ntfs && umount /mnt/exfat && umount /mnt/dest && umount /mnt/src' },
  ];
  const dataDisk = await makeDataDisk(dir, { content, steps, sizeMiB: 64 });
  const disks = [
    { file: browsed.file, serial: 'LBBROWSED' },
    { file: attributes, serial: 'LBATTRIBUTES' },
    { file: destination, serial: 'LBDESTINATION' },
    { file: repositories, serial: 'LBREPOSITORIES' },
  ];
  // lifeboat.run lists the ext4 partition's top folder; the script does the rest.
  const prepared = secondsSince(started);
  const run = await limit(() => bootWithScript({ kernel, initrd, run: 'ls /dev/vdb5 /', dataDisk, disks, timeoutMs: BOOT_TIMEOUT_MS }));
  logSteps(t, 'files', run, prepared);
  t.true(run.finished, `the script did not finish; the console's end:\n${run.transcript.slice(-4000)}`);
  t.false(run.boot.timedOut);
  stepOutput(t, run, 'mount');

  // ls and get: every partition's top folder listed; `get /` gives the source's tree (ext4: with
  // modes, owners, times and hard links too).
  t.is(run.run?.exitCode, 0, run.run?.output);
  const filesJob = splitJobSteps(stepOutput(t, run, 'files-job'));
  t.deepEqual(filesJob.map((step) => [step.kind, step.done]), [...BROWSED.map(() => ['get', true]), ['backup', true], ['verify', true], ['get', true]], filesJob.map((step) => step.text).join('\n'));
  for (const { kind, number } of BROWSED) {
    const volume = partitionVolume(browsed.partitions.find((partition) => partition.number === number)!, browsed.file);
    const expected = await digestVolume(volume, { metadata: kind === 'ext4' });
    const topNames = [...expected.keys()].filter((key) => key !== '' && !key.includes('/')).sort();
    const listing = kind === 'ext4' ? run.run?.output ?? '' : stepOutput(t, run, `ls-${kind}`);
    const listed = listing.split('\n').map((line) => line.trim().replace(/\/$/, '')).filter((line) => line !== '');
    t.deepEqual(listed.filter((name) => topNames.includes(name)).sort(), topNames, `ls of the ${kind} partition lists its top folder:\n${listing}`);
  }
  await withMountedVolume({ kind: 'ext4', file: destination, offset: 0, sizeBytes: 160 * MiB }, 'ro', async (root) => {
    for (const [index, { kind, number }] of BROWSED.entries()) {
      t.regex(filesJob[index]?.text ?? '', /Restored \d+ files/);
      const volume = partitionVolume(browsed.partitions.find((partition) => partition.number === number)!, browsed.file);
      const metadata = kind === 'ext4';
      t.deepEqual(diffDigests(await digestVolume(volume, { metadata }), await digestTree(path.join(root, kind), { metadata })), [], `get / of the ${kind} partition`);
    }
    // backup files, then get: the extended attributes (user, trusted, the ACLs' system ones) and ACLs equal.
    for (const step of filesJob.slice(BROWSED.length)) t.notRegex(step.text, /attribute|getfattr|setfattr|remark/i, `nothing dropped or left unrestored:\n${step.text}`);
    await withMountedVolume({ kind: 'ext4', file: attributes, offset: 0, sizeBytes: 16 * MiB }, 'ro', async (source) => {
      const [before, after] = [await attributesOf(source), await attributesOf(path.join(root, 'files'))];
      t.regex(before.xattrs, /system\.posix_acl_default=/, 'the source has a default ACL');
      t.is(after.xattrs, before.xattrs, 'getfattr -d -m - of the restored tree');
      t.is(after.acls, before.acls, 'getfacl of the restored tree');
      const [sourceDocs, restoredDocs] = [await digestTree(path.join(source, 'docs'), { metadata: true }), await digestTree(path.join(root, 'files', 'docs'), { metadata: true })];
      t.deepEqual(diffDigests(sourceDocs, restoredDocs, { mtimeToleranceNs: 1000n }), [], 'content, modes, owners and times of the restored tree');
    });
  });

  // Repositories on exFAT (kernel) and NTFS (ntfs-3g): backed up and checked with --read-data in
  // the guest; on the host the filesystems check clean and the repositories check again.
  const repositoriesJob = splitJobSteps(stepOutput(t, run, 'repositories-job'));
  t.deepEqual(repositoriesJob.map((step) => [step.kind, step.done]), [['backup', true], ['verify', true], ['backup', true], ['verify', true]], repositoriesJob.map((step) => step.text).join('\n'));
  for (const [index, [kind, number]] of ([['exfat', 1], ['ntfs', 2]] as const).entries()) {
    t.regex(repositoriesJob[2 * index]?.text ?? '', new RegExp(`-r /mnt/${kind}/repo[^]*snapshot [0-9a-f]{8} saved: .*verified\\.`));
    t.regex(repositoriesJob[2 * index + 1]?.text ?? '', new RegExp(`-r /mnt/${kind}/repo --read-data[^]*1 snapshot\\(s\\), \\d+ pack\\(s\\), \\d+ chunk\\(s\\) read and verified: no problems found\\.`));
    const part = (await readPartitionTable(repositories)).partitions.find((partition) => partition.number === number)!;
    const volume: Volume = { kind, file: repositories, offset: part.start * SECTOR, sizeBytes: part.size * SECTOR };
    const fsck = await fsckVolume(volume);
    t.true(fsck.clean, fsck.output);
    await withMountedVolume(volume, 'rw', async (root) => {
      const check = await lifeboat(['check', '-r', path.join(root, 'repo'), '--read-data']);
      t.is(check.exitCode, 0, describe(check));
    });
  }
  stepOutput(t, run, 'unmount');
  t.log(`files: ${secondsSince(started).toFixed(0)} s in all`);
});
