// Restores onto a disk that already holds data: every restore path (disk, partition, system,
// Clonezilla, --grow) onto a target filled with random bytes first. What must come back:
// - everything the snapshot or image holds, zeros included: the head (MBR or protective MBR, GPT,
//   boot code, boot gap), EBRs, the backup GPT, and every block a filesystem's own map calls used;
// - outside the partitions, up to the source's end, the source's zeros: the gaps between
//   partitions, inside an extended partition around its EBRs, and after the last partition;
// - each filesystem checks clean (e2fsck -fn, fsck.fat -n, ntfsfix -n) and holds the source's tree.
// The blocks a filesystem marks free may keep the target's old bytes: no filesystem tool sees them.
// The judge is byte-wise: a restored byte may differ from the source's only inside a partition, in
// a block its used-block map (Lifeboat's own, the one the backup read) leaves out.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { createCipheriv, createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { sliceSource } from '../../rescue/core/byte-source.ts';
import { probeFilesystem } from '../../rescue/core/filesystems/probe-filesystem.ts';
import { readUsedBlockMap } from '../../rescue/core/block-maps/read-used-block-map.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { buildSpecDisk, GPT_TYPES, newScratchRoot, removeClonezillaTestDisks, saveSpecDiskLikeOcsSr, type BuiltSpecDisk, type DiskSpec } from '../helpers/clonezilla.ts';
import { compareVolumes, dumpPartitionTable, type FilesystemKind, readPartitionTable, verifyGpt, type Volume } from '../helpers/disk-fixtures.ts';
import { describe, lifeboat, MiB } from '../helpers/repository-harness.ts';

const SECTOR = 512;

test.after.always(removeClonezillaTestDisks);

// ---------------------------------------------------------------------------------------------
// Disks

/** MBR: ext4, a 1 MiB gap, an extended partition (NTFS, FAT32, swap logicals, each after its EBR), 3 MiB left unpartitioned. */
const MBR_SPEC: DiskSpec = {
  label: 'dos',
  labelId: '0x0badd15c',
  sectors: 262144,
  partitions: [
    { number: 1, start: 2048, size: 24576, type: '83', fs: 'ext4', bootable: true },
    { number: 2, start: 28672, size: 227328, type: '5' },
    { number: 5, start: 30720, size: 40960, type: '7', fs: 'ntfs' },
    { number: 6, start: 73728, size: 69632, type: 'c', fs: 'vfat' },
    { number: 7, start: 145408, size: 8192, type: '82', fs: 'swap' },
  ],
};

/** GPT: ESP (FAT32), a 1 MiB gap, NTFS, ext4 last, 2 MiB left before the backup GPT. */
const GPT_SPEC: DiskSpec = {
  label: 'gpt',
  labelId: '0BADD15C-1111-4222-8333-444455556666',
  sectors: 180224,
  partitions: [
    { number: 1, start: 2048, size: 69632, type: GPT_TYPES.esp, fs: 'vfat', name: 'EFI system partition' },
    { number: 2, start: 73728, size: 40960, type: GPT_TYPES.basicData, fs: 'ntfs', name: 'Windows' },
    { number: 3, start: 114688, size: 61440, type: GPT_TYPES.linux, fs: 'ext4', name: 'root' },
  ],
};

/** Disks whose last partition --grow enlarges: NTFS on GPT, FAT32 on MBR (ext4 is GPT_SPEC's last). */
const GROW_NTFS_SPEC: DiskSpec = {
  label: 'gpt',
  labelId: '0BADD15C-2222-4222-8333-444455556666',
  sectors: 73728,
  partitions: [
    { number: 1, start: 2048, size: 16384, type: GPT_TYPES.linux, fs: 'ext4', name: 'boot' },
    { number: 2, start: 20480, size: 40960, type: GPT_TYPES.basicData, fs: 'ntfs', name: 'data' },
  ],
};

/** FAT32 with 4 KiB clusters: libparted (fatresize) does not grow FAT32 with smaller ones ("GNU Parted cannot resize this partition to this size"), and FAT32 needs 65525 clusters, so 260 MiB. */
const GROW_FAT_SPEC: DiskSpec = {
  label: 'dos',
  labelId: '0x0badfa75',
  sectors: 2048 + 260 * 2048 + 2048,
  partitions: [{ number: 1, start: 2048, size: 260 * 2048, type: 'c', fs: 'vfat' }],
};

/** GROW_FAT_SPEC's disk, made like buildSpecDisk's but with 4 KiB clusters (mkfs.fat -s 8). */
async function buildFatGrowDisk(root: string, spec: DiskSpec): Promise<BuiltSpecDisk> {
  const [partition] = spec.partitions;
  if (!partition) throw new Error('no partition');
  const diskFile = path.join(root, 'disk.img');
  await execa('truncate', ['-s', String(spec.sectors * SECTOR), diskFile]);
  await execa('sfdisk', ['-q', diskFile], { input: `label: dos\nlabel-id: ${spec.labelId}\nstart=${partition.start}, size=${partition.size}, type=c\n` });
  const fat = path.join(root, 'fat.img');
  await execa('truncate', ['-s', String(partition.size * SECTOR), fat]);
  await execa('mkfs.fat', ['-F', '32', '-s', '8', '-n', 'GROWFAT', fat]);
  const payload = Buffer.from(Array.from({ length: 900_000 }, (_, i) => (i * 13) & 0xff));
  await execa('sh', ['-c', `cat > '${path.join(root, 'payload.bin')}'`], { input: payload });
  await execa('mcopy', ['-i', fat, path.join(root, 'payload.bin'), '::/payload-sda1.bin']);
  await execa('dd', [`if=${fat}`, `of=${diskFile}`, 'bs=1M', `seek=${partition.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  return { root, disk: diskFile, spec, ptcl: {}, payloads: { sda1: payload } };
}

const built = new Map<DiskSpec, Promise<BuiltSpecDisk>>();

/** Each disk built once per run (mkfs, files through a loop mount, partclone images for Clonezilla). */
function disk(spec: DiskSpec): Promise<BuiltSpecDisk> {
  let promise = built.get(spec);
  if (!promise) {
    promise = newScratchRoot('over-data').then((root) => (spec === GROW_FAT_SPEC ? buildFatGrowDisk(root, spec) : buildSpecDisk(root, spec)));
    built.set(spec, promise);
  }
  return promise;
}

/** A file of `bytes` random bytes (AES-CTR keystream of `seed`: the same seed gives the same bytes). */
async function randomFile(file: string, bytes: number, seed: string): Promise<string> {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const handle = await open(file, 'w');
  try {
    for (let at = 0; at < bytes; at += MiB) await handle.write(cipher.update(zeros.subarray(0, Math.min(MiB, bytes - at))), 0, Math.min(MiB, bytes - at), at);
  } finally {
    await handle.close();
  }
  return file;
}

// ---------------------------------------------------------------------------------------------
// The judge

interface Range {
  readonly start: number;
  readonly end: number;
}

/** The source partitions' free space as Lifeboat's used-block maps give it (what a backup skips). */
async function freeSpaceOf(file: string, partitions: ReadonlyArray<{ start: number; size: number; fs?: string | undefined }>): Promise<Range[]> {
  const source = await openByteSource(file);
  const free: Range[] = [];
  try {
    for (const partition of partitions) {
      if (!partition.fs) continue;
      const start = partition.start * SECTOR;
      const slice = sliceSource(source, start, partition.size * SECTOR);
      const map = await readUsedBlockMap(slice, await probeFilesystem(slice));
      let at = 0;
      for await (const extent of map.extents()) {
        if (extent.offset > at) free.push({ start: start + at, end: start + extent.offset });
        at = extent.offset + extent.length;
      }
      if (at < slice.size) free.push({ start: start + at, end: start + slice.size });
    }
  } finally {
    await source.close();
  }
  return free;
}

/** Where `restored` differs from `source` (first `length` bytes) outside `allowed`: one line per run of differing sectors, at most 20. */
async function unexpectedDifferences(source: string, restored: string, length: number, allowed: readonly Range[]): Promise<string[]> {
  const [a, b] = [await open(source, 'r'), await open(restored, 'r')];
  const problems: string[] = [];
  const isAllowed = (offset: number) => allowed.some((range) => offset >= range.start && offset + SECTOR <= range.end);
  try {
    const left = Buffer.alloc(MiB);
    const right = Buffer.alloc(MiB);
    let run: { start: number; end: number; zeroInSource: boolean } | undefined;
    const flush = () => {
      if (run && problems.length < 20) problems.push(`bytes ${run.start}..${run.end} (sector ${run.start / SECTOR}..${run.end / SECTOR}) differ from the source${run.zeroInSource ? ', where the source holds zeros' : ''}`);
      run = undefined;
    };
    for (let at = 0; at < length; at += MiB) {
      const size = Math.min(MiB, length - at);
      await a.read(left, 0, size, at);
      await b.read(right, 0, size, at);
      if (left.subarray(0, size).equals(right.subarray(0, size))) continue;
      for (let sector = 0; sector < size; sector += SECTOR) {
        const offset = at + sector;
        const same = left.subarray(sector, sector + SECTOR).equals(right.subarray(sector, sector + SECTOR));
        if (same || isAllowed(offset)) {
          flush();
          continue;
        }
        const zero = left.subarray(sector, sector + SECTOR).every((byte) => byte === 0);
        if (run && run.end === offset) run.end += SECTOR;
        else {
          flush();
          run = { start: offset, end: offset + SECTOR, zeroInSource: zero };
        }
        if (!zero) run.zeroInSource = false;
      }
    }
    flush();
  } finally {
    await a.close();
    await b.close();
  }
  return problems;
}

const KINDS: Record<string, FilesystemKind> = { ext4: 'ext4', vfat: 'fat32', ntfs: 'ntfs' };

/** Each filesystem of the spec in the restored disk: checks clean and holds the source's tree (and, unless grown, the same header). */
async function compareFilesystems(b: BuiltSpecDisk, restored: string, options: { grown?: number } = {}): Promise<string[]> {
  const problems: string[] = [];
  const table = await readPartitionTable(restored);
  for (const partition of b.spec.partitions) {
    const kind = partition.fs ? KINDS[partition.fs] : undefined;
    if (!kind) continue;
    const entry = table.partitions.find((candidate) => candidate.number === partition.number);
    if (!entry) {
      problems.push(`partition ${partition.number} is missing from the restored table`);
      continue;
    }
    const source: Volume = { kind, file: b.disk, offset: partition.start * SECTOR, sizeBytes: partition.size * SECTOR };
    const target: Volume = { kind, file: restored, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR };
    problems.push(...(await compareVolumes(source, target, { facts: options.grown !== partition.number })).map((line) => `partition ${partition.number} (${kind}): ${line}`));
  }
  return problems;
}

/** The whole judgement of a restored disk against its source: bytes, filesystems, table. */
async function judgeDisk(t: ExecutionContext, b: BuiltSpecDisk, restored: string, what: string, options: { allowAlso?: readonly Range[] } = {}): Promise<void> {
  const free = await freeSpaceOf(b.disk, b.spec.partitions);
  const differences = await unexpectedDifferences(b.disk, restored, (await stat(b.disk)).size, [...free, ...(options.allowAlso ?? [])]);
  t.deepEqual(differences, [], `${what}: only free filesystem blocks may keep the target's old bytes`);
  t.deepEqual(await compareFilesystems(b, restored), [], `${what}: each filesystem checks clean and holds the source's tree`);
}

/** `lifeboat ARGS`, which must succeed. */
async function succeed(t: ExecutionContext, args: readonly string[]): Promise<string> {
  const result = await lifeboat(args, { timeoutMs: 20 * 60_000 });
  if (result.exitCode !== 0) throw new Error(describe(result));
  t.log(`lifeboat ${args.join(' ')}: exit 0`);
  return result.stdout;
}

/** A repository in the disk's folder with one snapshot of `kind` (made once per disk and kind). */
const snapshots = new Map<string, Promise<string>>();
function snapshotOf(t: ExecutionContext, b: BuiltSpecDisk, kind: 'disk' | 'system'): Promise<string> {
  const key = `${b.disk} ${kind}`;
  let promise = snapshots.get(key);
  if (!promise) {
    const repo = path.join(b.root, `repo-${kind}`);
    promise = succeed(t, ['backup', kind, b.disk, '-r', repo]).then(() => repo);
    snapshots.set(key, promise);
  }
  return promise;
}

// ---------------------------------------------------------------------------------------------
// Disk restores

for (const [name, spec] of [['MBR', MBR_SPEC], ['GPT', GPT_SPEC]] as const) {
  test.serial(`disk restore of an ${name} disk onto a disk full of random bytes: the source's bytes outside free filesystem blocks, zeros included; clean filesystems`, async (t) => {
    const b = await disk(spec);
    const repo = await snapshotOf(t, b, 'disk');
    const target = await randomFile(path.join(b.root, `disk-target-${name}.img`), (await stat(b.disk)).size, `disk ${name}`);
    await succeed(t, ['restore', '-r', repo, 'latest', target, '--yes']);
    await judgeDisk(t, b, target, `${name} disk restore`);
    t.is(await dumpPartitionTable(target), await dumpPartitionTable(b.disk), 'sfdisk -d reads the same table');
  });
}

test.serial('disk restore of a GPT disk onto a larger disk full of random bytes: the same up to the source\'s end, a valid GPT at the new end', async (t) => {
  const b = await disk(GPT_SPEC);
  const repo = await snapshotOf(t, b, 'disk');
  const size = (await stat(b.disk)).size;
  const target = await randomFile(path.join(b.root, 'larger-target.img'), size + 16 * MiB, 'larger');
  await succeed(t, ['restore', '-r', repo, 'latest', target, '--yes']);
  // The backup GPT of the source's size is not written on a larger disk (the new one is at the new end).
  await judgeDisk(t, b, target, 'GPT onto a larger disk', { allowAlso: [{ start: 0, end: 34 * SECTOR }, { start: size - 33 * SECTOR, end: size }] });
  const gpt = await verifyGpt(target);
  t.true(gpt.clean, gpt.output);
});

// ---------------------------------------------------------------------------------------------
// --grow

for (const [name, spec, last] of [['ext4 (GPT)', GPT_SPEC, 3], ['NTFS (GPT)', GROW_NTFS_SPEC, 2], ['FAT32 (MBR)', GROW_FAT_SPEC, 1]] as const) {
  test.serial(`restore --grow of ${name} onto a larger disk full of random bytes: the grown filesystem checks clean and holds the source's tree`, async (t) => {
    const b = await disk(spec);
    const repo = await snapshotOf(t, b, 'disk');
    const size = (await stat(b.disk)).size;
    const target = await randomFile(path.join(b.root, `grow-target-${last}.img`), size + 24 * MiB, `grow ${name}`);
    await succeed(t, ['restore', '-r', repo, 'latest', target, '--grow', '--yes']);
    const table = await readPartitionTable(target);
    const grown = table.partitions.find((partition) => partition.number === last);
    const source = spec.partitions.find((partition) => partition.number === last);
    t.true((grown?.size ?? 0) > (source?.size ?? 0), `partition ${last} grew: ${grown?.size} sectors, was ${source?.size}`);
    t.deepEqual(await compareFilesystems(b, target, { grown: last }), [], 'each filesystem checks clean and holds the source\'s tree');
    // Before the grown partition, the bytes are the source's (table sectors aside), zeros included.
    const before = (source?.start ?? 0) * SECTOR;
    const free = await freeSpaceOf(b.disk, spec.partitions.filter((partition) => partition.number !== last));
    const tableSectors = spec.label === 'gpt' ? [{ start: 0, end: 34 * SECTOR }] : [{ start: 0, end: SECTOR }];
    t.deepEqual(await unexpectedDifferences(b.disk, target, before, [...free, ...tableSectors]), [], 'the bytes before the grown partition');
    if (spec.label === 'gpt') {
      const gpt = await verifyGpt(target);
      t.true(gpt.clean, gpt.output);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Partition restores

test.serial('partition restores onto partitions full of random bytes: SNAPSHOT:N onto FILE:N and a partition snapshot onto an image file', async (t) => {
  const b = await disk(MBR_SPEC);
  const repo = await snapshotOf(t, b, 'disk');
  // A disk with the same table whose partitions hold random bytes.
  const target = await randomFile(path.join(b.root, 'partition-target.img'), (await stat(b.disk)).size, 'partition target');
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', target], { input: (await execa('sfdisk', ['-d', b.disk])).stdout });
  for (const number of [1, 5, 6]) await succeed(t, ['restore', '-r', repo, `latest:${number}`, `${target}:${number}`, '--yes']);
  const restored = b.spec.partitions.filter((partition) => [1, 5, 6].includes(partition.number));
  const free = await freeSpaceOf(b.disk, restored);
  for (const partition of restored) {
    const start = partition.start * SECTOR;
    const inside = free.filter((range) => range.start >= start && range.end <= start + partition.size * SECTOR);
    const differences = await unexpectedDifferences(b.disk, target, start + partition.size * SECTOR, [{ start: 0, end: start }, ...inside]);
    t.deepEqual(differences, [], `partition ${partition.number}: only its free blocks keep the old bytes`);
  }
  t.deepEqual((await compareFilesystems({ ...b, spec: { ...b.spec, partitions: restored } }, target)), [], 'the restored partitions check clean and hold the source\'s trees');
  // A partition snapshot (backup partition FILE:N) onto an image file full of random bytes.
  const partitionRepo = path.join(b.root, 'repo-partition');
  await succeed(t, ['backup', 'partition', `${b.disk}:5`, '-r', partitionRepo]);
  const ntfs = b.spec.partitions.find((partition) => partition.number === 5)!;
  const image = await randomFile(path.join(b.root, 'ntfs-target.img'), ntfs.size * SECTOR, 'ntfs image');
  await succeed(t, ['restore', '-r', partitionRepo, 'latest', image, '--yes']);
  const sourceImage = path.join(b.root, 'ntfs-source.img');
  await execa('dd', [`if=${b.disk}`, `of=${sourceImage}`, 'bs=512', `skip=${ntfs.start}`, `count=${ntfs.size}`, 'status=none']);
  t.deepEqual(await unexpectedDifferences(sourceImage, image, ntfs.size * SECTOR, await freeSpaceOf(sourceImage, [{ start: 0, size: ntfs.size, fs: 'ntfs' }])), [], 'the partition snapshot onto an image file');
  t.deepEqual(await compareVolumes({ kind: 'ntfs', file: sourceImage, offset: 0, sizeBytes: ntfs.size * SECTOR }, { kind: 'ntfs', file: image, offset: 0, sizeBytes: ntfs.size * SECTOR }), []);
});

// ---------------------------------------------------------------------------------------------
// System restores

test.serial('system restore onto a disk full of random bytes (no table: a blank disk) and onto its original layout whose partitions hold random bytes', async (t) => {
  const b = await disk(GPT_SPEC);
  const repo = await snapshotOf(t, b, 'system');
  const size = (await stat(b.disk)).size;
  const blank = await randomFile(path.join(b.root, 'system-blank.img'), size, 'system blank');
  const plan = await succeed(t, ['restore', '-r', repo, 'latest', blank, '--yes']);
  t.regex(plan, /The target is blank/);
  // The chosen partitions (the ESP) are the source's; left-out partitions' space keeps its bytes.
  const chosen = b.spec.partitions.filter((partition) => partition.type === GPT_TYPES.esp);
  const left = b.spec.partitions.filter((partition) => !chosen.includes(partition)).map((partition) => ({ start: partition.start * SECTOR, end: (partition.start + partition.size) * SECTOR }));
  const tail = { start: size - 33 * SECTOR, end: size };
  t.deepEqual(await unexpectedDifferences(b.disk, blank, size, [...(await freeSpaceOf(b.disk, chosen)), ...left, { start: SECTOR, end: 34 * SECTOR }, tail]), [], 'onto a blank disk');
  t.deepEqual(await compareFilesystems({ ...b, spec: { ...b.spec, partitions: chosen } }, blank), []);
  // Onto a disk with the source's table and random bytes in every partition: only the ESP is written.
  const original = await randomFile(path.join(b.root, 'system-original.img'), size, 'system original');
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', original], { input: (await execa('sfdisk', ['-d', b.disk])).stdout });
  const kept = await readRanges(original, left);
  const onto = await succeed(t, ['restore', '-r', repo, 'latest', original, '--yes']);
  t.regex(onto, /original layout/);
  t.deepEqual(await compareFilesystems({ ...b, spec: { ...b.spec, partitions: chosen } }, original), []);
  t.true((await readRanges(original, left)).equals(kept), 'the partitions left out keep their bytes');
});

/** The bytes of `ranges` of a file, concatenated. */
async function readRanges(file: string, ranges: readonly Range[]): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const parts: Buffer[] = [];
    for (const range of ranges) {
      const buffer = Buffer.alloc(range.end - range.start);
      await handle.read(buffer, 0, buffer.length, range.start);
      parts.push(buffer);
    }
    return Buffer.concat(parts);
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Clonezilla

for (const [name, spec] of [['MBR', MBR_SPEC], ['GPT', GPT_SPEC]] as const) {
  test.serial(`Clonezilla restore of an ${name} image onto a disk full of random bytes: the source's bytes outside free filesystem blocks and swap`, async (t) => {
    const b = await disk(spec);
    const image = await saveSpecDiskLikeOcsSr(b, `ocs-${name}`);
    const target = await randomFile(path.join(b.root, `clonezilla-target-${name}.img`), (await stat(b.disk)).size, `clonezilla ${name}`);
    await succeed(t, ['restore', image, target, '--yes']);
    // A swap area is made again (mkswap: its header page), the rest of it is scratch space.
    await judgeDisk(t, b, target, `Clonezilla ${name}`);
    t.is(await dumpPartitionTable(target), await dumpPartitionTable(b.disk));
  });
}


test.serial('Clonezilla restore of one partition (DIR:sda5) onto a partition full of random bytes: only its free blocks keep the old bytes', async (t) => {
  const b = await disk(MBR_SPEC);
  const image = await saveSpecDiskLikeOcsSr(b, 'ocs-partition');
  const target = await randomFile(path.join(b.root, 'clonezilla-partition-target.img'), (await stat(b.disk)).size, 'clonezilla partition');
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', target], { input: (await execa('sfdisk', ['-d', b.disk])).stdout });
  await succeed(t, ['restore', `${image}:sda5`, `${target}:5`, '--yes']);
  const ntfs = b.spec.partitions.find((partition) => partition.number === 5)!;
  const start = ntfs.start * SECTOR;
  const end = start + ntfs.size * SECTOR;
  t.deepEqual(await unexpectedDifferences(b.disk, target, end, [{ start: 0, end: start }, ...(await freeSpaceOf(b.disk, [ntfs]))]), []);
  t.deepEqual(await compareFilesystems({ ...b, spec: { ...b.spec, partitions: [ntfs] } }, target), []);
});
