// `restore --fit` of a disk snapshot onto a SMALLER disk (issue 16): the ext4 or NTFS volume that
// does not fit is shrunk on a copy-on-write view of the snapshot's volume (resize2fs / ntfsresize,
// its minimum measured by resize2fs -P / ntfsresize --info on that view) and lands on the target;
// a shrunk swap is made again with its UUID and label; the GPT gets its backup at the new end. The
// plan says what shrinks from what to what and its minimum (--dry-run writes nothing). Judged by the
// formats' tools: sgdisk -v, e2fsck -fn / ntfsfix -n, the same file trees as the source's, blkid of
// the swap. Every refusal (below the minimum, a shrink tool missing, no room for the overlay) leaves
// the target's bytes unchanged.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareVolumes, diffListings, fsckVolume, hashRange, readTree, makeFilesystemImage, readPartitionTable, verifyGpt, type FilesystemKind, type Volume } from '../helpers/disk-fixtures.ts';
import { blkid, readAt } from '../helpers/filesystem-images.ts';
import { describe, errorCode, lifeboat, sha256File } from '../helpers/repository-harness.ts';
import { P1, P3, removeClonezillaTestDisks, saveLikeOcsSr, sharedClonezillaSourceDisk, SWAP as CLONEZILLA_SWAP } from '../helpers/clonezilla.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const SWAP = '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F';
const SWAP_UUID = '5b0c5a2e-7e55-4a3c-9d1e-0d6f3c2a9b17';

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-restore-shrink-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface ShrinkDisk {
  readonly file: string;
  readonly parts: ReadonlyArray<{ number: number; kind: FilesystemKind | 'swap'; offset: number; sizeBytes: number }>;
}

/** A 232 MiB GPT disk: ESP (FAT32, 40 MiB), a 160 MiB `kind` root about half full, and (ext4) a 16 MiB swap with a UUID and label. */
async function makeShrinkDisk(dir: string, kind: 'ext4' | 'ntfs', seed: number): Promise<ShrinkDisk> {
  const file = path.join(dir, `${kind}-disk.img`);
  await writeFile(file, '');
  await truncate(file, 232 * MiB);
  const root = kind === 'ext4' ? '0FC63DAF-8483-4772-8E79-3D69D8477DE4' : 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';
  const swap = kind === 'ext4' ? `size=16MiB, type=${SWAP}, name="swap"\n` : '';
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], { input: `label: gpt\nunit: sectors\n\nsize=40MiB, type=${ESP}, name="EFI"\nsize=160MiB, type=${root}, name="root"\n${swap}` });
  const table = await readPartitionTable(file);
  const kinds: Array<FilesystemKind | 'swap'> = ['fat32', kind, 'swap'];
  const parts = table.partitions.map((partition, index) => ({ number: partition.number, kind: kinds[index] ?? 'swap', offset: partition.start * SECTOR, sizeBytes: partition.size * SECTOR }));
  for (const part of parts) {
    const image = path.join(dir, `p${part.number}.img`);
    if (part.kind === 'swap') {
      await writeFile(image, '');
      await truncate(image, part.sizeBytes);
      await execa('mkswap', ['-q', '-U', SWAP_UUID, '-L', 'lbswap', image]);
    } else {
      await makeFilesystemImage(part.kind, image, { sizeMiB: part.sizeBytes / MiB, seed: seed + part.number, hiddenSectors: part.offset / SECTOR, label: `P${part.number}`, ...(part.kind === 'fat32' ? {} : { bulkMiB: 56 }) });
    }
    await execa('dd', [`if=${image}`, `of=${file}`, 'bs=1M', `seek=${part.offset / MiB}`, 'conv=notrunc,sparse', 'status=none']);
    await rm(image);
  }
  return { file, parts };
}

async function backedUp(dir: string, disk: ShrinkDisk): Promise<string> {
  const repository = path.join(dir, 'repo');
  const backup = await lifeboat(['backup', 'disk', disk.file, '-r', repository]);
  if (backup.exitCode !== 0) throw new Error(describe(backup));
  return repository;
}

/** A target file of `bytes` whose first 2 MiB and last MiB hold random bytes (a refusal must leave them). */
async function usedTarget(file: string, bytes: number): Promise<string> {
  await writeFile(file, '');
  await truncate(file, bytes);
  await execa('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', 'count=2', 'conv=notrunc', 'status=none']);
  await execa('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', 'count=1', `seek=${bytes / MiB - 1}`, 'conv=notrunc', 'status=none']);
  return file;
}

/** Each filesystem of the source against the restored one: clean, the same tree (a shrunk one's size and a moved one's header differ). */
async function compareRestored(disk: ShrinkDisk, restored: string): Promise<string[]> {
  const table = await readPartitionTable(restored);
  const problems: string[] = [];
  for (const part of disk.parts) {
    const now = table.partitions.find((entry) => entry.number === part.number);
    if (!now) {
      problems.push(`partition ${part.number} is missing`);
      continue;
    }
    if (part.kind === 'swap') continue;
    const source: Volume = { kind: part.kind, file: disk.file, offset: part.offset, sizeBytes: part.sizeBytes };
    const volume: Volume = { kind: part.kind, file: restored, offset: now.start * SECTOR, sizeBytes: now.size * SECTOR };
    if (part.kind !== 'ext4') {
      problems.push(...(await compareVolumes(source, volume, { facts: part.kind === 'fat32' && part.offset === volume.offset })));
      continue;
    }
    const fsck = await fsckVolume(volume);
    if (!fsck.clean) problems.push(`partition ${part.number} is not clean:\n${fsck.output}`);
    problems.push(...diffListings(withoutResizeMarks(await readTree(source)), withoutResizeMarks(await readTree(volume))));
  }
  return problems;
}

/**
 * resize2fs gives each directory whose entries name a moved inode a new mtime, and a file can gain
 * an extent block (as test/io/shrink-volume.test.ts allows): names, types, sizes, contents, owners,
 * modes, links and file times must still be equal.
 */
function withoutResizeMarks(listing: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...listing].filter(([key]) => key !== '<free space>').map(([key, line]) => [key, line.replace(/ blocks=\d+/, '').replace(/^(dir .*) mtime=\d+/, '$1')] as const));
}

/** The GPT's backup header: in the disk's last sector, saying so. */
async function backupHeaderAtEnd(file: string, bytes: number): Promise<boolean> {
  const header = await readAt(file, bytes - SECTOR, SECTOR);
  return header.subarray(0, 8).toString('latin1') === 'EFI PART' && Number(header.readBigUInt64LE(24)) === bytes / SECTOR - 1;
}

test('restore --fit of a GPT disk (ESP, half-full ext4, swap) onto a smaller disk: the plan shows the shrink and its minimum, ext4 is shrunk on a view of the snapshot, swap made again with its UUID and label; sgdisk -v, e2fsck -fn, same trees; below the minimum, without qemu-storage-daemon, or without room: refused, target unchanged', async (t) => {
  t.timeout(10 * 60_000);
  const dir = await mkdtemp(path.join(workDir, 'ext4-'));
  const disk = await makeShrinkDisk(dir, 'ext4', 161);
  const repository = await backedUp(dir, disk);
  const sourceHash = await sha256File(disk.file);
  const target = await usedTarget(path.join(dir, 'smaller.img'), 144 * MiB);
  const before = await sha256File(target);

  const dry = await lifeboat(['restore', '-r', repository, 'latest', target, '--fit', 'largest', '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /shrink the ext4 filesystem of partition 2 from 160 MiB to \d+(\.\d+)? MiB \(its minimum \d+(\.\d+)? MiB; \d+(\.\d+)? MiB used\) on a copy-on-write view of the snapshot/);
  t.regex(dry.stdout, /partition 3: swap made again at \d+(\.\d+)? MiB \(mkswap UUID 5b0c5a2e-7e55-4a3c-9d1e-0d6f3c2a9b17 label "lbswap"\)/);
  t.regex(dry.stdout, /2: ext4, 160 MiB -> \d+(\.\d+)? MiB at 41 MiB, shrinks \(ext4 can shrink to/);
  t.regex(dry.stdout, /shrink room: partition 2 rewrites about/);
  t.is(await sha256File(target), before, '--dry-run wrote nothing');

  const restored = await lifeboat(['restore', '-r', repository, 'latest', target, '--fit', 'largest', '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  const verified = await verifyGpt(target);
  t.true(verified.clean, verified.output);
  t.true(await backupHeaderAtEnd(target, 144 * MiB), 'the backup GPT header is in the new last sector');
  t.deepEqual(await compareRestored(disk, target), []);
  const table = await readPartitionTable(target);
  const swap = table.partitions.find((partition) => partition.number === 3);
  t.true((swap?.size ?? 0) * SECTOR < 16 * MiB, `swap shrank (${swap?.size} sectors)`);
  const swapImage = path.join(dir, 'swap.img');
  await execa('dd', [`if=${target}`, `of=${swapImage}`, 'bs=512', `skip=${swap?.start ?? 0}`, `count=${swap?.size ?? 0}`, 'status=none']);
  const swapFacts = await blkid(swapImage);
  t.like(swapFacts, { TYPE: 'swap', UUID: SWAP_UUID, LABEL: 'lbswap' });
  t.is(await hashRange(target, 0, 440), await hashRange(disk.file, 0, 440), 'the boot code is the source\'s');
  t.is(await sha256File(disk.file), sourceHash, 'the source disk is unchanged');

  // Refusals: each before anything is written.
  const tiny = await usedTarget(path.join(dir, 'tiny.img'), 64 * MiB);
  const tinyBefore = await sha256File(tiny);
  const below = await lifeboat(['restore', '-r', repository, 'latest', tiny, '--fit', 'largest', '--yes']);
  t.is(errorCode(below), 'LB_DEVICE_TARGET_BELOW_MINIMUM', describe(below));
  t.regex(below.stderr, /holds 64\.0 MiB \(67108864 bytes\); the source's partitions need at least \d+(\.\d+)? MiB \(\d+ bytes\): their minimums add up to/);
  t.regex(below.stderr, /2: \d+(\.\d+)? MiB, ext4 can shrink to/);
  t.is(await sha256File(tiny), tinyBefore, 'below the minimum: the target is unchanged');
  const plain = await lifeboat(['restore', '-r', repository, 'latest', tiny, '--yes']);
  t.is(errorCode(plain), 'LB_DEVICE_TARGET_TOO_SMALL', describe(plain));
  t.regex(plain.stderr, /With --fit largest the partitions are laid out again for it/);
  t.is(await sha256File(tiny), tinyBefore, 'without --fit: the target is unchanged');

  const again = await usedTarget(path.join(dir, 'again.img'), 144 * MiB);
  const againBefore = await sha256File(again);
  const bin = path.join(dir, 'bin-without-qsd');
  await mkdir(bin);
  for (const folder of ['/usr/sbin', '/usr/bin']) {
    for (const name of await readdir(folder)) {
      if (name !== 'qemu-storage-daemon') await symlink(path.join(folder, name), path.join(bin, name)).catch(() => undefined);
    }
  }
  const missing = await lifeboat(['restore', '-r', repository, 'latest', again, '--fit', 'largest', '--yes'], { env: { PATH: bin } });
  t.is(errorCode(missing), 'LB_DEVICE_TOOL_MISSING', describe(missing));
  t.regex(missing.stderr, /qemu-storage-daemon \(qemu-system-common\)/);
  t.is(await sha256File(again), againBefore, 'without qemu-storage-daemon: the target is unchanged');

  const noRoom = await lifeboat(['restore', '-r', repository, 'latest', again, '--fit', 'largest', '--yes'], { env: { LIFEBOAT_TEST_SHRINK_MEMORY_BYTES: String(MiB) } });
  t.is(errorCode(noRoom), 'LB_DEVICE_SCRATCH_TOO_SMALL', describe(noRoom));
  t.regex(noRoom.stderr, /Partition 2 \(ext4, 160 MiB -> \d+(\.\d+)? MiB\): Shrinking needs room for about \d+ bytes/);
  t.is(await sha256File(again), againBefore, 'without room for the overlay: the target is unchanged');
});

test('restore --fit of a GPT disk (ESP, half-full NTFS) onto a smaller disk: NTFS shrunk on a view of the snapshot (4 MiB of memory, the rest in --scratch); ntfsfix -n clean, same tree, hidden sectors and the backup boot sector in place, GPT backup at the new end', async (t) => {
  t.timeout(10 * 60_000);
  const dir = await mkdtemp(path.join(workDir, 'ntfs-'));
  const disk = await makeShrinkDisk(dir, 'ntfs', 171);
  const repository = await backedUp(dir, disk);
  const target = await usedTarget(path.join(dir, 'smaller.img'), 144 * MiB);
  const scratch = await mkdtemp(path.join('/var/tmp', 'lifeboat-restore-shrink-scratch-'));
  t.teardown(() => rm(scratch, { recursive: true, force: true }));
  const restored = await lifeboat(['restore', '-r', repository, 'latest', target, '--fit', 'largest', '--scratch', scratch, '--yes'], { env: { LIFEBOAT_TEST_SHRINK_MEMORY_BYTES: String(4 * MiB) } });
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /shrink the ntfs filesystem of partition 2 from 160 MiB to \d+(\.\d+)? MiB \(its minimum/);
  const verified = await verifyGpt(target);
  t.true(verified.clean, verified.output);
  t.true(await backupHeaderAtEnd(target, 144 * MiB), 'the backup GPT header is in the new last sector');
  t.deepEqual(await compareRestored(disk, target), []);
  const ntfs = (await readPartitionTable(target)).partitions.find((partition) => partition.number === 2);
  const start = ntfs?.start ?? 0;
  const boot = await readAt(target, start * SECTOR, SECTOR);
  t.is(boot.readUInt32LE(0x1c), start, 'hidden sectors = the partition\'s start');
  const volumeSectors = Number(boot.readBigUInt64LE(0x28));
  t.true(volumeSectors < (ntfs?.size ?? 0), `the shrunk volume (${volumeSectors} sectors) fits its partition (${ntfs?.size})`);
  t.deepEqual(await readAt(target, (start + (ntfs?.size ?? 0) - 1) * SECTOR, SECTOR), boot, 'the boot sector\'s copy is in the partition\'s last sector');
});

test('a Clonezilla image (ocs-sr layout: MBR, ext4, FAT32, swap) onto a smaller disk: import, then restore --fit shrinks the FAT32 (made again, --scratch) and the ext4; sfdisk --verify, e2fsck -fn and fsck.fat clean, the swap keeps its UUID and label; restore DIR TARGET --fit names that way (LB_INPUT_USAGE, target unchanged)', async (t) => {
  t.timeout(10 * 60_000);
  const built = await sharedClonezillaSourceDisk();
  t.teardown(() => removeClonezillaTestDisks());
  const image = await saveLikeOcsSr(built, 'img-shrink', { sda1: 'zst', sda2: 'gz', splitSda2: false });
  const dir = await mkdtemp(path.join(workDir, 'clonezilla-'));
  const repository = path.join(dir, 'repo');
  const sourceBytes = (P3.start + P3.size + 2048) * SECTOR;
  const targetBytes = 52 * MiB;
  t.true(targetBytes < sourceBytes, `${targetBytes} below the image's disk ${sourceBytes}`);
  const target = await usedTarget(path.join(dir, 'smaller.img'), targetBytes);
  const before = await sha256File(target);

  const direct = await lifeboat(['restore', image, target, '--fit', 'largest', '--yes']);
  t.is(errorCode(direct), 'LB_INPUT_USAGE', describe(direct));
  t.regex(direct.stderr, /import clonezilla/);
  t.is(await sha256File(target), before, 'the refused direct restore wrote nothing');

  const imported = await lifeboat(['import', 'clonezilla', image, '-r', repository]);
  t.is(imported.exitCode, 0, describe(imported));
  // The FAT32 (the largest) is made again in a scratch file and its files copied: that needs --scratch.
  const scratch = await mkdtemp(path.join('/var/tmp', 'lifeboat-restore-shrink-scratch-'));
  t.teardown(() => rm(scratch, { recursive: true, force: true }));
  const restored = await lifeboat(['restore', '-r', repository, 'latest', target, '--fit', 'largest', '--scratch', scratch, '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /shrink the ext4 filesystem of partition 1 from 24\.0 MiB to/);
  t.regex(restored.stdout, /shrink the vfat filesystem of partition 2 from 34\.0 MiB to/);
  const verify = await execa('sfdisk', ['--verify', target], { reject: false });
  t.regex(verify.stdout, /No errors detected/, verify.stdout);
  const table = await readPartitionTable(target);
  t.deepEqual(table.partitions.map((partition) => partition.number), [1, 2, 3]);
  const [ext4, fat, swap] = table.partitions;
  const ext4Check = await fsckVolume({ kind: 'ext4', file: target, offset: (ext4?.start ?? 0) * SECTOR, sizeBytes: (ext4?.size ?? 0) * SECTOR });
  t.true(ext4Check.clean, ext4Check.output);
  t.true((ext4?.size ?? 0) < P1.size, `the ext4 shrank (${ext4?.size} of ${P1.size} sectors)`);
  const fatCheck = await fsckVolume({ kind: 'fat32', file: target, offset: (fat?.start ?? 0) * SECTOR, sizeBytes: (fat?.size ?? 0) * SECTOR });
  t.true(fatCheck.clean, fatCheck.output);
  const payload = path.join(dir, 'payload.bin');
  await execa('dd', [`if=${target}`, `of=${path.join(dir, 'fat.img')}`, 'bs=512', `skip=${fat?.start ?? 0}`, `count=${fat?.size ?? 0}`, 'status=none']);
  await execa('mcopy', ['-i', path.join(dir, 'fat.img'), '::/payload.bin', payload]);
  t.is(await sha256File(payload), await sha256File(path.join(built.root, 'payload.bin')), 'the FAT32\'s file came through the copy');
  const swapImage = path.join(dir, 'swap.img');
  await execa('dd', [`if=${target}`, `of=${swapImage}`, 'bs=512', `skip=${swap?.start ?? 0}`, `count=${swap?.size ?? 0}`, 'status=none']);
  t.like(await blkid(swapImage), { TYPE: 'swap', UUID: CLONEZILLA_SWAP.uuid, LABEL: CLONEZILLA_SWAP.label });
});
