// The largest free area of a disk (core/clone/free-area.ts), on tables sfdisk and sgdisk make: gaps
// between partitions start on the next 1 MiB boundary, an extended partition with its logical ones
// counts as used, a GPT's usable range ends before its backup entries; the new partition takes the
// first unused number, and an area too small is refused with the numbers.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { largestFreeArea, planFreeAreaPartition } from '../../rescue/core/clone/free-area.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { readPartitionTable, type PartitionTableInfo } from '../../rescue/core/partition-table/partition-table.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';

const MiB = 1024 * 1024;

async function tableOf(make: (file: string) => Promise<unknown>, mib: number): Promise<PartitionTableInfo> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-free-area-unit-'));
  try {
    const file = path.join(dir, 'disk.img');
    await writeFile(file, '');
    await truncate(file, mib * MiB);
    await make(file);
    const source = await openByteSource(file);
    try {
      return await readPartitionTable(source, 512);
    } finally {
      await source.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('MBR: the extended partition and its logicals are used; the largest gap wins; slot 3 is the first free primary slot (2 holds the extended partition)', async (t) => {
  const table = await tableOf((file) => execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], { input: 'label: dos\nstart=2048, size=8192, type=83\nstart=20480, size=20480, type=5\nstart=22528, size=8192, type=83\n' }), 64);
  t.deepEqual(largestFreeArea(table), { startLba: 40960, sectors: 131072 - 40960 });
  t.deepEqual(planFreeAreaPartition({ disk: 'disk', table, sourceBytes: 5 * MiB + 1, sourceType: undefined, filesystem: 'ntfs' }), { table: 'mbr', number: 3, startLba: 40960, sectors: 12288, type: '7' });
});

test('GPT: a gap after an odd end starts on the next MiB; the usable range ends before the backup entries; too small is refused with the numbers', async (t) => {
  const table = await tableOf((file) => execa('sgdisk', ['-o', '-n', '1:2048:3000', '-n', '2:8192:+20M', file]), 32);
  const area = largestFreeArea(table);
  t.deepEqual(area, { startLba: 8192 + 40960, sectors: (table.lastUsableLba ?? 0) + 1 - (8192 + 40960) });
  t.deepEqual(planFreeAreaPartition({ disk: 'disk', table, sourceBytes: 4 * MiB, sourceType: '933ac7e1-2eb4-4f13-b844-0e14e2aef915', filesystem: 'ext4' }), { table: 'gpt', number: 3, startLba: 49152, sectors: 8192, type: '933AC7E1-2EB4-4F13-B844-0E14E2AEF915' });
  const error = t.throws(() => planFreeAreaPartition({ disk: 'disk', table, sourceBytes: 16 * MiB, sourceType: undefined, filesystem: 'ext4' }), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_DEVICE_TARGET_TOO_SMALL');
  t.is(error?.details.requiredBytes, 16 * MiB);
  t.is(error?.details.freeBytes, (area?.sectors ?? 0) * 512);
});
