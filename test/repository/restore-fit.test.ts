// `restore --fit` lays a whole-disk snapshot out again with the layout planner: onto a larger disk
// the largest data partition grows (its filesystem with it) and the partitions after it move; the
// MBR's logical partition gets a new EBR chain, a GPT its backup at the new end. Judged by the
// formats' tools (sfdisk --verify, sgdisk -v, fsck of every filesystem, the same trees as the
// source, BIOS boot bytes and the boot gap equal). A target below the planner's minimum is refused
// with the numbers before anything is written (its bytes unchanged); --dry-run --json carries the
// new layout. (Landing on smaller disks, with shrinking: restore-shrink.test.ts.)

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareVolumes, filesystemSizeBytes, hashRange, makeGptDisk, makeMbrDisk, partitionVolume, readPartitionTable, verifyGpt, type DiskFixture, type Volume } from '../helpers/disk-fixtures.ts';
import { readAt } from '../helpers/filesystem-images.ts';
import { describe, errorCode, jsonEvents, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fit-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});


async function backedUp(dir: string, fixture: DiskFixture): Promise<string> {
  const repository = path.join(dir, 'repo');
  const backup = await lifeboat(['backup', 'disk', fixture.file, '-r', repository]);
  if (backup.exitCode !== 0) throw new Error(describe(backup));
  return repository;
}

async function emptyImage(file: string, bytes: number): Promise<string> {
  await writeFile(file, '');
  await truncate(file, bytes);
  return file;
}

/** Each data partition of the source against the restored one at the same number: clean and the same tree. */
async function compareMoved(t: { log: (text: string) => void }, fixture: DiskFixture, restored: string, grown: number): Promise<string[]> {
  const table = await readPartitionTable(restored);
  const problems: string[] = [];
  for (const partition of fixture.partitions) {
    if (partition.content === 'extended' || partition.content === 'bios-boot') continue;
    const now = table.partitions.find((entry) => entry.number === partition.number);
    if (!now) {
      problems.push(`partition ${partition.number} is missing`);
      continue;
    }
    const volume: Volume = { kind: partition.content, file: restored, offset: now.start * SECTOR, sizeBytes: now.size * SECTOR };
    t.log(`partition ${partition.number} (${partition.content}): ${partition.offset / MiB} MiB -> ${volume.offset / MiB} MiB, ${partition.sizeBytes / MiB} -> ${volume.sizeBytes / MiB} MiB`);
    // A grown filesystem's size, and a moved NTFS or FAT's hidden sectors (checked below), differ from the source's headers.
    problems.push(...(await compareVolumes(partitionVolume(partition, fixture.file), volume, { facts: partition.number !== grown && partition.offset === volume.offset })));
    if (partition.number === grown) {
      const size = await filesystemSizeBytes(volume);
      if (volume.sizeBytes - size > 64 * 1024) problems.push(`partition ${grown}'s filesystem (${size}) does not fill it (${volume.sizeBytes})`);
    }
  }
  return problems;
}

test('restore --fit largest of an MBR disk onto a larger one: ext4 (the largest, first) grows, FAT32 and the logical NTFS move, a new EBR chain; sfdisk --verify, fsck, same trees', async (t) => {
  t.timeout(10 * 60_000);
  const dir = await mkdtemp(path.join(workDir, 'mbr-'));
  const fixture = await makeMbrDisk(dir, 71);
  const repository = await backedUp(dir, fixture);
  const target = await emptyImage(path.join(dir, 'larger.img'), 320 * MiB);
  const restored = await lifeboat(['restore', '-r', repository, 'latest', target, '--fit', 'largest', '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /New layout \(MBR, 320 MiB; the largest data partition takes up the difference/);
  t.regex(restored.stdout, /1: ext4, 64\.0 MiB -> 206 MiB at 1 MiB, grows\n.*2: vfat, 48\.0 MiB at 207 MiB \(was at 65 MiB\)/);
  const verify = await execa('sfdisk', ['--verify', target], { reject: false });
  t.regex(verify.stdout, /No errors detected/, verify.stdout);
  const table = await readPartitionTable(target);
  t.deepEqual(table.partitions.map((partition) => partition.number), [1, 2, 3, 5]);
  t.is(await hashRange(target, 0, 440), await hashRange(fixture.file, 0, 440), 'the boot code is the source\'s');
  t.is(await hashRange(target, SECTOR, 2047 * SECTOR), await hashRange(fixture.file, SECTOR, 2047 * SECTOR), 'the boot gap is the source\'s');
  t.deepEqual(await compareMoved(t, fixture, target, 1), []);
  for (const number of [2, 5]) {
    const partition = table.partitions.find((entry) => entry.number === number);
    t.is((await readAt(target, (partition?.start ?? 0) * SECTOR, 512)).readUInt32LE(0x1c), partition?.start ?? -1, `partition ${number}'s boot sector says its new start in hidden sectors`);
  }
});

test('restore --fit largest of a GPT disk onto a larger one: NTFS grows, exFAT and ext4 move, BIOS boot and ESP keep their size (sgdisk -v, fsck, same trees); below the minimum LB_DEVICE_TARGET_BELOW_MINIMUM with the numbers and nothing written; --dry-run --json carries the layout', async (t) => {
  t.timeout(10 * 60_000);
  const dir = await mkdtemp(path.join(workDir, 'gpt-'));
  const fixture = await makeGptDisk(dir, 72);
  const repository = await backedUp(dir, fixture);
  const target = await emptyImage(path.join(dir, 'larger.img'), 300 * MiB);
  const restored = await lifeboat(['restore', '-r', repository, 'latest', target, '--fit', 'largest', '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  const verified = await verifyGpt(target);
  t.true(verified.clean, verified.output);
  const table = await readPartitionTable(target);
  const sizes = table.partitions.map((partition) => (partition.size * SECTOR) / MiB);
  t.is(sizes[0], 1, 'BIOS boot keeps its size');
  t.is(sizes[1], 40, 'the ESP keeps its size');
  t.true((sizes[2] ?? 0) > 150, `NTFS grows (${sizes[2]} MiB)`);
  const biosBoot = fixture.partitions.find((partition) => partition.content === 'bios-boot');
  t.is(await hashRange(target, (table.partitions[0]?.start ?? 0) * SECTOR, MiB), await hashRange(fixture.file, biosBoot?.offset ?? 0, MiB), 'the BIOS boot partition\'s bytes');
  t.deepEqual(await compareMoved(t, fixture, target, 3), []);
  const ntfs = table.partitions[2];
  const ntfsEnd = ((ntfs?.start ?? 0) + (ntfs?.size ?? 0) - 1) * SECTOR;
  t.deepEqual(await readAt(target, ntfsEnd, 512), await readAt(target, (ntfs?.start ?? 0) * SECTOR, 512), 'the grown NTFS keeps its boot sector\'s copy in its last sector');

  // Onto a disk below the minimum: refused with the numbers, nothing written.
  // (NTFS, exFAT and ext4 may shrink to their minimums, measured on the snapshot's volumes; the ESP keeps its size.)
  const small = await emptyImage(path.join(dir, 'small.img'), 72 * MiB);
  await execa('dd', ['if=/dev/urandom', `of=${small}`, 'bs=1M', 'count=2', 'conv=notrunc', 'status=none']);
  const before = await sha256File(small);
  const refused = await lifeboat(['restore', '-r', repository, 'latest', small, '--fit', 'largest', '--yes']);
  t.is(errorCode(refused), 'LB_DEVICE_TARGET_BELOW_MINIMUM', describe(refused));
  t.is(refused.exitCode, 3);
  t.regex(refused.stderr, /holds 72\.0 MiB \(75497472 bytes\); the source's partitions need at least \d+(\.\d+)? MiB \(\d+ bytes\): their minimums add up to \d+(\.\d+)? MiB \(\d+ bytes\)/);
  t.regex(refused.stderr, /3: \d+(\.\d+)? MiB, ntfs can shrink to/);
  t.regex(refused.stderr, /4: \d+(\.\d+)? MiB, exfat can shrink to/);
  t.is(await sha256File(small), before, 'the target is unchanged');

  const roomy = await emptyImage(path.join(dir, 'roomy.img'), 400 * MiB);
  const dry = await lifeboat(['restore', '-r', repository, 'latest', roomy, '--fit', 'proportional', '--size', '5=100M', '--dry-run', '--json']);
  t.is(dry.exitCode, 0, describe(dry));
  const plan = jsonEvents(dry.stdout).find((event) => event.event === 'plan' || event.type === 'plan') as { plan?: { layout?: { fit: string; partitions: Array<{ number: number; sectors: number; change: string }> } } } | undefined;
  const layout = plan?.plan?.layout;
  t.is(layout?.fit, 'proportional', dry.stdout.slice(0, 2000));
  t.is(layout?.partitions.find((partition) => partition.number === 5)?.sectors, (100 * MiB) / SECTOR);
  t.deepEqual(layout?.partitions.filter((partition) => partition.change === 'grow').map((partition) => partition.number), [3, 4, 5]);
  const low = await lifeboat(['restore', '-r', repository, 'latest', roomy, '--fit', 'largest', '--size', '5=10M', '--dry-run']);
  t.is(errorCode(low), 'LB_INPUT_SIZE_BELOW_MINIMUM', describe(low));
});
