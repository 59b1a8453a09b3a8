// `restore --grow` of a whole disk onto a larger one, for each filesystem it can grow: the last
// partition reaches the new end and the filesystem's own tool (resize2fs, ntfsresize, fatresize)
// made it fill that partition. Judged by the formats' tools: sgdisk -v, the size the filesystem
// records (dumpe2fs, ntfsinfo, minfo), fsck, and the same tree as the source.

import test from 'ava';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareDisks, filesystemSizeBytes, type FilesystemKind, makeSingleVolumeGptDisk, partitionVolume, readPartitionTable, verifyGpt, type Volume } from '../helpers/disk-fixtures.ts';
import { describe, lifeboat } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-grow-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface GrowCase {
  readonly kind: FilesystemKind;
  readonly diskMiB: number;
  readonly targetMiB: number;
  /** FAT32: libparted (fatresize) grows 4 KiB clusters; with 512-byte ones it refuses ("cannot resize this partition to this size"). */
  readonly fatClusterSectors?: number;
}

const CASES: GrowCase[] = [
  { kind: 'fat32', diskMiB: 300, targetMiB: 400, fatClusterSectors: 8 },
  { kind: 'ntfs', diskMiB: 48, targetMiB: 96 },
];

for (const growCase of CASES) {
  test(`restore --grow: a GPT disk whose last partition holds ${growCase.kind} onto a larger file; the filesystem fills the grown partition, clean and same tree`, async (t) => {
    t.timeout(10 * 60_000);
    const dir = await mkdtemp(path.join(workDir, `${growCase.kind}-`));
    const fixture = await makeSingleVolumeGptDisk(dir, growCase.kind, { seed: 40 + growCase.diskMiB, diskMiB: growCase.diskMiB, fatClusterSectors: growCase.fatClusterSectors });
    const repository = path.join(dir, 'repo');
    const backup = await lifeboat(['backup', 'disk', fixture.file, '-r', repository]);
    t.is(backup.exitCode, 0, describe(backup));
    const target = path.join(dir, 'grown.img');
    await writeFile(target, '');
    await truncate(target, growCase.targetMiB * MiB);
    const restored = await lifeboat(['restore', '-r', repository, 'latest', target, '--grow', '--yes']);
    t.is(restored.exitCode, 0, describe(restored));

    const verified = await verifyGpt(target);
    t.true(verified.clean, verified.output);
    const source = fixture.partitions[0]!;
    const grown = (await readPartitionTable(target)).partitions[0]!;
    t.is(grown.start * SECTOR, source.offset, 'the partition keeps its start');
    const endGap = growCase.targetMiB * MiB - (grown.start + grown.size) * SECTOR;
    t.true(endGap >= 33 * SECTOR && endGap <= MiB, `the partition ends ${endGap} bytes before the end (room for the backup GPT only)`);
    const volume: Volume = { kind: growCase.kind, file: target, offset: grown.start * SECTOR, sizeBytes: grown.size * SECTOR };
    const [before, after] = [await filesystemSizeBytes(partitionVolume(source, fixture.file)), await filesystemSizeBytes(volume)];
    t.log(`${growCase.kind}: filesystem ${before} -> ${after} bytes in a partition of ${volume.sizeBytes}`);
    t.true(after <= volume.sizeBytes, 'the filesystem fits its partition');
    t.true(volume.sizeBytes - after < 64 * 1024, `the filesystem fills the partition (${volume.sizeBytes - after} bytes left over)`);
    t.deepEqual(await compareDisks(fixture, target, { largerDisk: true, grownLast: true }), []);
  });
}
