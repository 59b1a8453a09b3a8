// probeFilesystem against the real tools: images made by each format's own mkfs (and filled through
// real mounts), compared field by field with blkid (type, label, UUID, version) and with each format's
// own inspector for sizes and free counts: dumpe2fs -h, fsck.fat -n -v, dump.exfat, ntfsinfo -m,
// xfs_db, btrfs inspect-internal dump-super, cryptsetup luksDump, mdadm --examine.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bufferSource } from '../../rescue/core/byte-source.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { probeFilesystem, type FilesystemProbe } from '../../rescue/core/filesystems/probe-filesystem.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { makePatches, mutatedSource, prng, recordingSource, withTimeout, type Patch } from '../helpers/mutation.ts';
import {
  blkid, craftBitlocker, craftMdVersion090, craftMdVersion1, fillWithFuse, fillWithKernelMount, sparseFile, withLoop,
} from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;
let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-probe-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function probeFile(file: string): Promise<FilesystemProbe | undefined> {
  const source = await openByteSource(file);
  try {
    return await probeFilesystem(source);
  } finally {
    await source.close();
  }
}

/** type, label, UUID and version must be what blkid prints. */
async function sameAsBlkid(t: ExecutionContext, file: string, probe: FilesystemProbe | undefined): Promise<FilesystemProbe> {
  const expected = await blkid(file);
  t.truthy(probe, `${file}: nothing recognised, blkid says ${JSON.stringify(expected)}`);
  if (!probe) throw new Error('no probe');
  t.is<string | undefined, string | undefined>(probe.type, expected.TYPE, 'TYPE');
  t.is(probe.label, expected.LABEL, 'LABEL');
  t.is(probe.uuid, expected.UUID, 'UUID');
  if (expected.VERSION !== undefined) t.is(probe.version, expected.VERSION, 'VERSION');
  return probe;
}

function field(text: string, pattern: RegExp): string {
  const match = pattern.exec(text);
  if (!match?.[1]) throw new Error(`${pattern} not found in:\n${text}`);
  return match[1];
}

const numberField = (text: string, pattern: RegExp): number => Number(field(text, pattern));

async function checkExt(t: ExecutionContext, file: string): Promise<FilesystemProbe> {
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  const { stdout } = await execa('dumpe2fs', ['-h', file]);
  t.is(probe.blockSize, numberField(stdout, /^Block size:\s+(\d+)/m), 'block size');
  t.is(probe.totalBlocks, numberField(stdout, /^Block count:\s+(\d+)/m), 'block count');
  t.is(probe.freeBlocks, numberField(stdout, /^Free blocks:\s+(\d+)/m), 'free blocks');
  t.is(probe.sizeBytes, (probe.totalBlocks ?? 0) * (probe.blockSize ?? 0));
  t.is(probe.state, field(stdout, /^Filesystem state:\s+(.+)$/m).trim() === 'clean' ? 'clean' : 'needs-check');
  return probe;
}

const extVariants: Array<[string, string, string[]]> = [
  ['ext2', 'mkfs.ext2', ['-L', 'old-two']],
  ['ext3', 'mkfs.ext3', ['-L', 'three']],
  ['ext4', 'mkfs.ext4', ['-L', 'four']],
  ['ext4 1k blocks, no flex_bg', 'mkfs.ext4', ['-b', '1024', '-O', '^flex_bg', '-L', 'onek']],
  ['ext4 64bit metadata_csum', 'mkfs.ext4', ['-O', '64bit,metadata_csum', '-L', 'csum64']],
  ['ext4 without 64bit or metadata_csum', 'mkfs.ext4', ['-O', '^64bit,^metadata_csum']],
  ['ext4 without journal', 'mkfs.ext4', ['-O', '^has_journal', '-b', '2048', '-L', 'nojournal']],
];

for (const [name, mkfs, options] of extVariants) {
  test(`${name}: type, label, UUID as blkid; sizes, free blocks and state as dumpe2fs`, async (t) => {
    const file = await sparseFile(path.join(workDir, `${name.replace(/\W+/g, '-')}.img`), 48 * MiB);
    await execa(mkfs, ['-q', '-F', ...options, file]);
    const probe = await checkExt(t, file);
    t.is(probe.kind, 'filesystem');
    t.is(probe.state, 'clean');
  });
}

test('ext4 filled through a loop mount: free blocks follow, as dumpe2fs counts them', async (t) => {
  const file = await sparseFile(path.join(workDir, 'ext4-filled.img'), 64 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'filled', file]);
  const empty = await probeFile(file);
  await fillWithKernelMount(file, path.join(workDir, 'mnt-ext4'), 120);
  const probe = await checkExt(t, file);
  t.true((probe.freeBlocks ?? 0) < (empty?.freeBlocks ?? 0) - 1000, 'the files use space');
});

test('ext4 whose superblock says "not clean" is needs-check, as dumpe2fs says', async (t) => {
  const file = await sparseFile(path.join(workDir, 'ext4-dirty.img'), 32 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', '-O', '^metadata_csum', file]);
  await execa('debugfs', ['-w', '-R', 'ssv state 0', file]);
  const probe = await checkExt(t, file);
  t.is(probe.state, 'needs-check');
  t.true(probe.warnings.length > 0);
});

async function checkFat(t: ExecutionContext, file: string, variant: 12 | 16 | 32): Promise<FilesystemProbe> {
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  t.is(probe.fatVariant, variant);
  const { stdout } = await execa('fsck.fat', ['-n', '-v', file], { reject: false });
  const [used, total] = field(stdout, /(\d+\/\d+) clusters/).split('/').map(Number);
  t.is(probe.totalBlocks, total, 'data clusters');
  t.is(probe.freeBlocks, (total ?? 0) - (used ?? 0), 'free clusters');
  t.is(probe.blockSize, numberField(stdout, /(\d+) bytes per cluster/), 'cluster size');
  t.is(probe.sizeBytes, numberField(stdout, /(\d+) sectors total/) * numberField(stdout, /(\d+) bytes per logical sector/));
  t.is(probe.state, 'clean');
  return probe;
}

const fatVariants: Array<[12 | 16 | 32, number, string[]]> = [
  [12, 4 * MiB, ['-F', '12', '-n', 'FLOPPY']],
  [16, 48 * MiB, ['-F', '16', '-n', 'SIXTEEN', '-i', 'ABCD1234']],
  [32, 80 * MiB, ['-F', '32', '-s', '1', '-n', 'THIRTY TWO']],
  [32, 300 * MiB, ['-F', '32', '-S', '4096', '-n', 'BIGSECTOR']],
];

for (const [variant, size, options] of fatVariants) {
  test(`FAT${variant} ${options.join(' ')}: blkid fields; clusters and free clusters as fsck.fat -v, after mcopy`, async (t) => {
    const file = await sparseFile(path.join(workDir, `fat${variant}-${size}.img`), size);
    await execa('mkfs.vfat', [...options, file]);
    await checkFat(t, file, variant);
    const payload = path.join(workDir, `payload-${variant}-${size}`);
    await sparseFile(payload, 300 * 1024);
    await execa('mcopy', ['-i', file, payload, '::/a.bin']);
    await execa('mcopy', ['-i', file, payload, '::/b.bin']);
    await execa('mmd', ['-i', file, '::/dir']);
    await execa('mcopy', ['-i', file, payload, '::/dir/c.bin']);
    await execa('mdel', ['-i', file, '::/a.bin']);
    const filled = await checkFat(t, file, variant);
    t.true((filled.usedBytes ?? 0) >= 2 * 300 * 1024);
  });
}

test('FAT16 with its dirty bit set is needs-check', async (t) => {
  const file = await sparseFile(path.join(workDir, 'fat16-dirty.img'), 32 * MiB);
  await execa('mkfs.vfat', ['-F', '16', file]);
  const source = await openByteSource(file);
  const bytes = new Uint8Array(await source.read(0, source.size));
  await source.close();
  bytes[0x25] = 1;
  const probe = await probeFilesystem(bufferSource(bytes));
  t.is(probe?.state, 'needs-check');
});

async function checkExfat(t: ExecutionContext, file: string): Promise<FilesystemProbe> {
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  const { stdout } = await execa('dump.exfat', [file]);
  t.is(probe.totalBlocks, numberField(stdout, /Total Clusters:\s+(\d+)/), 'clusters');
  t.is(probe.freeBlocks, numberField(stdout, /Free Clusters:\s+(\d+)/), 'free clusters');
  t.is(probe.blockSize, numberField(stdout, /Cluster size:\s+(\d+)/), 'cluster size');
  t.is(probe.sizeBytes, numberField(stdout, /Volume Length\(sectors\):\s+(\d+)/) * 2 ** numberField(stdout, /Sector Size Bits:\s+(\d+)/));
  return probe;
}

for (const [name, size, options] of [['exFAT', 64 * MiB, ['-L', 'EXLABEL']], ['exFAT 128K clusters', 256 * MiB, ['-c', '128K', '-L', 'Ünïcode']]] as const) {
  test(`${name}: blkid fields; clusters and free clusters as dump.exfat`, async (t) => {
    const file = await sparseFile(path.join(workDir, `${name.replace(/\W+/g, '-')}.img`), size);
    await execa('mkfs.exfat', [...options, file]);
    const probe = await checkExfat(t, file);
    t.is(probe.state, 'clean');
  });
}

test('exFAT filled through exfat-fuse: free clusters follow, as dump.exfat counts them', async (t) => {
  const file = await sparseFile(path.join(workDir, 'exfat-filled.img'), 64 * MiB);
  await execa('mkfs.exfat', ['-L', 'FILLED', file]);
  await withLoop(file, (device) => fillWithFuse('mount.exfat-fuse', ['-d', device], path.join(workDir, 'mnt-exfat'), 60));
  const probe = await checkExfat(t, file);
  t.true((probe.usedBytes ?? 0) > 2 * MiB);
});

async function checkNtfs(t: ExecutionContext, file: string): Promise<FilesystemProbe> {
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  const { stdout } = await execa('ntfsinfo', ['-m', '-f', file]);
  t.is(probe.totalBlocks, numberField(stdout, /Volume Size in Clusters:\s+(\d+)/), 'clusters');
  t.is(probe.freeBlocks, numberField(stdout, /Free Clusters:\s+(\d+)/), 'free clusters');
  t.is(probe.blockSize, numberField(stdout, /Cluster Size:\s+(\d+)/), 'cluster size');
  t.is(probe.label, field(stdout, /Volume Name:\s*(.*)$/m).trim() || undefined, 'volume name');
  t.is(probe.version, field(stdout, /Volume Version:\s+(\S+)/m), 'version');
  t.is(probe.state, (numberField(stdout, /Volume Flags:\s+0x([0-9a-f]+)/) & 1) === 0 ? 'clean' : 'needs-check');
  return probe;
}

for (const [cluster, size] of [[4096, 64], [1024, 32], [65536, 256]] as const) {
  test(`NTFS with ${cluster}-byte clusters: blkid fields; clusters and free clusters as ntfsinfo`, async (t) => {
    const file = await sparseFile(path.join(workDir, `ntfs-${cluster}.img`), size * MiB);
    await execa('mkfs.ntfs', ['-Q', '-F', '-c', String(cluster), '-L', `NT${cluster}`, file]);
    await checkNtfs(t, file);
  });
}

test('NTFS filled through ntfs-3g: free clusters follow, as ntfsinfo counts them', async (t) => {
  const file = await sparseFile(path.join(workDir, 'ntfs-filled.img'), 96 * MiB);
  await execa('mkfs.ntfs', ['-Q', '-F', '-L', 'Filled Volume', file]);
  await fillWithFuse('ntfs-3g', ['-o', 'no_detach', file], path.join(workDir, 'mnt-ntfs'), 100);
  const probe = await checkNtfs(t, file);
  t.true((probe.usedBytes ?? 0) > 4 * MiB);
});

/** Mounts `file` with ntfs-3g in the foreground, runs `use` on the mount, unmounts; ntfs-3g's stderr, exit code and the mount options. */
async function withNtfs3g(file: string, mountPoint: string, use: (dir: string) => Promise<void> = async () => {}): Promise<{ stderr: string; exitCode: number | undefined; options: string }> {
  await mkdir(mountPoint, { recursive: true });
  const daemon = execa('ntfs-3g', ['-o', 'no_detach', file, mountPoint], { reject: false });
  let options = '';
  try {
    for (let tries = 0; tries < 100 && options === ''; tries++) {
      options = (await execa('findmnt', ['-n', '-o', 'OPTIONS', mountPoint], { reject: false })).stdout.trim();
      if (options === '' && daemon.exitCode !== undefined && daemon.exitCode !== null) break;
      if (options === '') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (options !== '') await use(mountPoint);
  } finally {
    await execa('umount', [mountPoint], { reject: false });
  }
  const result = await daemon;
  return { stderr: String(result.stderr), exitCode: result.exitCode, options };
}

const HIBERNATED_MESSAGE = 'Windows is hibernated, refused to mount.';

/** mkfs.ntfs, then ntfs-3g writes a 64 KiB hiberfil.sys starting with `header` and `files` more files into the root. */
async function ntfsWithHiberfil(name: string, sectorSize: number, header: string, files: number): Promise<string> {
  const file = await sparseFile(path.join(workDir, `${name}.img`), 32 * MiB);
  await execa('mkfs.ntfs', ['-Q', '-F', '-s', String(sectorSize), '-L', 'Hiberfil', file]);
  const { options } = await withNtfs3g(file, path.join(workDir, `mnt-${name}`), async (dir) => {
    await writeFile(path.join(dir, 'hiberfil.sys'), Buffer.concat([Buffer.from(header, 'latin1'), Buffer.alloc(64 * 1024 - header.length)]));
    for (let i = 0; i < files; i++) await writeFile(path.join(dir, `a-long-file-name-that-makes-the-root-directory-index-grow-${i}.txt`), `${i}`);
  });
  if (!options.startsWith('rw')) throw new Error(`${name}: ntfs-3g did not mount read-write to fill it (${options})`);
  return file;
}

/** Offsets of MFT record `index` (the $MFT of a fresh mkfs.ntfs image is one run) and the record size. */
function mftRecordAt(image: Buffer, index: number): { at: number; size: number } {
  const clusterSize = image.readUInt16LE(0x0b) * image.readUInt8(0x0d);
  const raw = image.readInt8(0x40);
  const size = raw > 0 ? raw * clusterSize : 2 ** -raw;
  return { at: Number(image.readBigUInt64LE(0x30)) * clusterSize + index * size, size };
}

/** Undoes (apply) or redoes the update-sequence fix-ups of a FILE or INDX record, in place. */
function fixups(record: Buffer, apply: boolean): void {
  const usa = record.readUInt16LE(4);
  for (let stride = 1; stride < record.readUInt16LE(6); stride++) {
    const tail = stride * 512 - 2;
    if (apply) {
      record.copy(record, tail, usa + stride * 2, usa + stride * 2 + 2);
    } else {
      record.copy(record, usa + stride * 2, tail, tail + 2);
      record.copy(record, tail, usa, usa + 2);
    }
  }
}

/**
 * mkfs.ntfs always gives the root a one-block $INDEX_ALLOCATION. To get a root whose index is resident
 * only, as Windows leaves small directories, the entries of that single leaf block are moved into
 * $INDEX_ROOT and the $INDEX_ALLOCATION and $BITMAP attributes dropped (ntfsinfo and ntfs-3g judge it).
 */
async function foldRootIndexIntoRecord(file: string): Promise<void> {
  const image = await readFile(file);
  const { at, size } = mftRecordAt(image, 5);
  const record = Buffer.from(image.subarray(at, at + size));
  fixups(record, true);
  const attributes = new Map<number, number>();
  for (let offset = record.readUInt16LE(0x14); record.readUInt32LE(offset) !== 0xffffffff; offset += record.readUInt32LE(offset + 4)) attributes.set(record.readUInt32LE(offset), offset);
  const rootAt = attributes.get(0x90) ?? 0;
  const allocationAt = attributes.get(0xa0) ?? 0;
  const runAt = allocationAt + record.readUInt16LE(allocationAt + 0x20);
  const header = record.readUInt8(runAt);
  const lcn = record.readUIntLE(runAt + 1 + (header & 0x0f), header >> 4);
  const clusterSize = image.readUInt16LE(0x0b) * image.readUInt8(0x0d);
  const block = Buffer.from(image.subarray(lcn * clusterSize, lcn * clusterSize + record.readUInt32LE(rootAt + record.readUInt16LE(rootAt + 0x14) + 8)));
  fixups(block, true);
  if (block.toString('latin1', 0, 4) !== 'INDX' || block.readUInt8(0x24) !== 0) throw new Error('the root index is not one leaf block');
  const entries = block.subarray(0x18 + block.readUInt32LE(0x18), 0x18 + block.readUInt32LE(0x1c));
  const valueAt = rootAt + record.readUInt16LE(rootAt + 0x14);
  const value = Buffer.concat([record.subarray(valueAt, valueAt + 0x10), Buffer.alloc(0x10), entries]);
  value.writeUInt32LE(0x10, 0x10);
  value.writeUInt32LE(0x10 + entries.length, 0x14);
  value.writeUInt32LE(0x10 + entries.length, 0x18);
  const attribute = Buffer.concat([record.subarray(rootAt, valueAt), value, Buffer.alloc(7)]).subarray(0, (valueAt - rootAt + value.length + 7) & ~7);
  attribute.writeUInt32LE(attribute.length, 4);
  attribute.writeUInt32LE(value.length, 0x10);
  const rebuilt = Buffer.concat([record.subarray(0, rootAt), attribute, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]);
  if (rootAt > allocationAt || rebuilt.length > size) throw new Error('the folded root index does not fit the record');
  rebuilt.copy(record);
  record.fill(0, rebuilt.length);
  record.writeUInt32LE(rebuilt.length, 0x18);
  fixups(record, false);
  record.copy(image, at);
  await writeFile(file, image);
}

async function rootIndex(file: string): Promise<{ allocation: boolean; blocks: number }> {
  const { stdout } = await execa('ntfsinfo', ['-F', '/', file]);
  const allocation = stdout.split('Dumping attribute $INDEX_ALLOCATION')[1];
  if (allocation === undefined) return { allocation: false, blocks: 0 };
  return { allocation: true, blocks: numberField(allocation, /Data size:\s+(\d+)/) / numberField(stdout, /Index Block Size:\s+(\d+)/) };
}

const unreadable = (probe: FilesystemProbe): string[] => probe.warnings.filter((warning) => warning.startsWith('hibernation state could not be read'));

test('NTFS whose root index spills into several INDX blocks, hiberfil.sys starting HIBR: hibernated, as ntfs-3g refuses read-write', async (t) => {
  const file = await ntfsWithHiberfil('ntfs-hibernated-large', 512, 'HIBR', 300);
  t.true((await rootIndex(file)).blocks > 1, 'the root index has several INDX blocks');
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  t.is(probe.state, 'hibernated');
  t.deepEqual(unreadable(probe), []);
  const mount = await withNtfs3g(file, path.join(workDir, 'mnt-check-large'));
  t.true(mount.stderr.includes(HIBERNATED_MESSAGE), mount.stderr);
  t.regex(mount.options, /^ro,/, 'ntfs-3g falls back to a read-only mount');
  t.is(mount.exitCode, 0, 'and exits 0 after the read-only mount is unmounted');
});

test('NTFS whose root index is resident only (4 KiB records), hiberfil.sys starting HIBR: hibernated, as ntfs-3g refuses read-write', async (t) => {
  const file = await ntfsWithHiberfil('ntfs-hibernated-small', 4096, 'HIBR', 3);
  await foldRootIndexIntoRecord(file);
  t.deepEqual(await rootIndex(file), { allocation: false, blocks: 0 }, 'ntfsinfo sees no $INDEX_ALLOCATION on the root');
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  t.is(probe.state, 'hibernated');
  t.deepEqual(unreadable(probe), []);
  const mount = await withNtfs3g(file, path.join(workDir, 'mnt-check-small'));
  t.true(mount.stderr.includes(HIBERNATED_MESSAGE), mount.stderr);
  t.regex(mount.options, /^ro,/);
});

test('NTFS with a zeroed hiberfil.sys is clean, and ntfs-3g mounts it read-write', async (t) => {
  const file = await ntfsWithHiberfil('ntfs-hiberfil-zero', 512, '', 300);
  t.true((await rootIndex(file)).blocks > 1);
  const probe = await checkNtfs(t, file);
  t.is(probe.state, 'clean');
  t.deepEqual(unreadable(probe), []);
  const mount = await withNtfs3g(file, path.join(workDir, 'mnt-check-zero'));
  t.false(mount.stderr.includes('hibernated'), mount.stderr);
  t.regex(mount.options, /^rw,/);
  t.is(mount.exitCode, 0);
});

test('NTFS hibernation lookup: seeded damage to the root record and INDX blocks is a warning, never an error or a hang', async (t) => {
  const file = await ntfsWithHiberfil('ntfs-hibernated-mutated', 512, 'HIBR', 300);
  const base = await openByteSource(file);
  try {
    const image = Buffer.from(await base.read(0, base.size));
    const root = mftRecordAt(image, 5);
    const reads: Array<[number, number]> = [];
    t.is((await probeFilesystem(recordingSource(base, reads)))?.state, 'hibernated');
    const hot = reads.filter(([at, length]) => at === root.at || image.toString('latin1', at, at + 4) === 'INDX' && length >= 512);
    t.true(hot.length >= 2, 'the probe reads the root record and INDX blocks');
    const inside = (patch: Patch): Patch[] => {
      const range = hot.find(([at, length]) => patch.offset >= at && patch.offset < at + length);
      return range ? [{ offset: patch.offset, bytes: patch.bytes.subarray(0, range[0] + range[1] - patch.offset) }] : [];
    };
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= 300; seed++) {
      const patches = makePatches(prng(seed * 104729), hot, base.size, 0).flatMap(inside);
      const what = `seed ${seed}`;
      try {
        const probe = await withTimeout(probeFilesystem(mutatedSource(base, patches, base.size)), 5000, what);
        t.true(probe?.state === 'hibernated' || probe?.state === 'clean', `${what}: ${probe?.state}`);
        const outcome = unreadable(probe as FilesystemProbe).length > 0 ? 'warning' : probe?.state ?? 'none';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      } catch (error) {
        const named = error instanceof LifeboatError && typeof error.details.offset === 'number' ? 'a LifeboatError with an offset' : 'a stray error';
        t.fail(`${what}: damage confined to the hibernation lookup threw ${named}: ${error instanceof Error ? error.stack : String(error)}`);
      }
    }
    t.log(JSON.stringify(Object.fromEntries(outcomes)));
    t.true((outcomes.get('warning') ?? 0) > 0, 'some damage is reported as a warning');
  } finally {
    await base.close();
  }
});

test('swap: blkid fields; size is the whole file in pages', async (t) => {
  const file = await sparseFile(path.join(workDir, 'swap.img'), 40 * MiB);
  await execa('mkswap', ['-L', 'swappy', file]);
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  t.is(probe.kind, 'swap');
  t.is(probe.sizeBytes, (await stat(file)).size);
  t.is(probe.blockSize, 4096);
});

test('XFS: blkid fields; blocks and free blocks as xfs_db, after a filling mount', async (t) => {
  const file = await sparseFile(path.join(workDir, 'xfs.img'), 320 * MiB);
  await execa('mkfs.xfs', ['-q', '-L', 'xfslabel', file]);
  await fillWithKernelMount(file, path.join(workDir, 'mnt-xfs'), 80);
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  const { stdout } = await execa('xfs_db', ['-r', '-c', 'sb 0', '-c', 'p dblocks fdblocks blocksize', file]);
  t.is(probe.totalBlocks, numberField(stdout, /dblocks = (\d+)/));
  t.is(probe.freeBlocks, numberField(stdout, /fdblocks = (\d+)/));
  t.is(probe.blockSize, numberField(stdout, /blocksize = (\d+)/));
});

test('btrfs: blkid fields; size and bytes used as btrfs inspect-internal dump-super, after a filling mount', async (t) => {
  const file = await sparseFile(path.join(workDir, 'btrfs.img'), 256 * MiB);
  await execa('mkfs.btrfs', ['-q', '-L', 'butter', file]);
  await fillWithKernelMount(file, path.join(workDir, 'mnt-btrfs'), 80);
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  const { stdout } = await execa('btrfs', ['inspect-internal', 'dump-super', file]);
  t.is(probe.sizeBytes, numberField(stdout, /^dev_item\.total_bytes\s+(\d+)/m));
  t.is(probe.usedBytes, numberField(stdout, /^bytes_used\s+(\d+)/m));
  t.is(probe.blockSize, numberField(stdout, /^sectorsize\s+(\d+)/m));
  t.true((probe.usedBytes ?? 0) > 4 * MiB);
});

for (const version of ['luks1', 'luks2'] as const) {
  test(`${version}: recognised with blkid's type, UUID, version (and label), as cryptsetup luksDump`, async (t) => {
    const file = await sparseFile(path.join(workDir, `${version}.img`), 32 * MiB);
    const label = version === 'luks2' ? ['--label', 'secret-disk'] : [];
    await execa('cryptsetup', ['luksFormat', '--type', version, '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file=-', ...label, file], { input: 'password' });
    const probe = await sameAsBlkid(t, file, await probeFile(file));
    t.is(probe.kind, 'encrypted');
    const { stdout } = await execa('cryptsetup', ['luksDump', file]);
    t.is(probe.uuid, field(stdout, /^UUID:\s+(\S+)/m));
  });
}

test('LVM2 PV made by pvcreate on a loop device: blkid fields and the PV size', async (t) => {
  const file = await sparseFile(path.join(workDir, 'lvm.img'), 64 * MiB);
  await withLoop(file, async (device) => {
    await execa('pvcreate', ['-ff', '-y', device]);
    const probe = await sameAsBlkid(t, device, await probeFile(device));
    t.is(probe.kind, 'lvm-member');
    t.is(probe.sizeBytes, 64 * MiB);
    await execa('pvremove', ['-ff', '-y', device], { reject: false });
  });
  // pvremove wiped the label: nothing is left to recognise.
  t.is(await probeFile(file), undefined);
});

// mdadm --create needs the md driver, which this host cannot load: the superblocks are written from
// the md-raid format description, and blkid (which verifies the 1.x checksum) and mdadm --examine judge them.
for (const version of ['1.0', '1.1', '1.2'] as const) {
  test(`md RAID superblock ${version}: blkid and mdadm --examine agree with the probe`, async (t) => {
    const size = 32 * MiB;
    const file = await sparseFile(path.join(workDir, `md-${version}.img`), size);
    const uuid = Buffer.from('5e1f0c0a2b3c4d5e6f708192a3b4c5d6', 'hex');
    await craftMdVersion1(file, size, version, 'lifeboat:7', uuid);
    const probe = await sameAsBlkid(t, file, await probeFile(file));
    t.is(probe.kind, 'raid-member');
    const { stdout } = await execa('mdadm', ['--examine', file]);
    t.is(field(stdout, /Array UUID : (\S+)/).replace(/:/g, ''), uuid.toString('hex'));
    t.is(field(stdout, /Name : (\S+)/), 'lifeboat:7');
  });
}

test('md RAID superblock 0.90 at the end: blkid agrees with the probe', async (t) => {
  const size = 32 * MiB + 12345 * 512;
  const file = await sparseFile(path.join(workDir, 'md-090.img'), size);
  await craftMdVersion090(file, size, [0x01234567, 0x89abcdef, 0x02468ace, 0x13579bdf]);
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  t.is(probe.uuid, '01234567-89ab-cdef-0246-8ace13579bdf');
});

// No Windows here to encrypt a volume: a Windows 7+ BitLocker boot sector and FVE metadata block are
// written from the format description, and blkid judges them.
test('BitLocker boot sector and FVE metadata: blkid agrees with the probe', async (t) => {
  const file = await sparseFile(path.join(workDir, 'bitlocker.img'), 16 * MiB);
  await craftBitlocker(file, 2 * MiB, 2);
  const probe = await sameAsBlkid(t, file, await probeFile(file));
  t.is(probe.kind, 'encrypted');
});

test('a source with nothing on it, or too small for any superblock, gives undefined', async (t) => {
  t.is(await probeFilesystem(bufferSource(new Uint8Array(4 * MiB))), undefined);
  t.is(await probeFilesystem(bufferSource(new Uint8Array(100))), undefined);
  t.is(await probeFilesystem(bufferSource(new Uint8Array(0))), undefined);
});

test('a filesystem larger than its source is LB_FILESYSTEM_TRUNCATED with the offset of the size field', async (t) => {
  const file = await sparseFile(path.join(workDir, 'ext4-cut.img'), 32 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', file]);
  const source = await openByteSource(file);
  const bytes = await source.read(0, 8 * MiB);
  await source.close();
  const error = await t.throwsAsync(probeFilesystem(bufferSource(bytes)), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_FILESYSTEM_TRUNCATED');
  t.is(error?.details.offset, 1024 + 4);
});
