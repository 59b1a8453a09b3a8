// Minimum sizes of real filesystems (io/filesystem-minimum.ts) for the layout planner, measured in
// place inside a GPT disk image (sgdisk) holding a filled ext4 (mkfs.ext4 -d), NTFS (ntfs-3g),
// FAT32 (mcopy), exFAT (exfat-fuse) and XFS: the disk's hash is the same afterwards (read-only
// loop devices). Oracles: resize2fs -P and ntfsresize --info on the filesystem alone give the
// same figure, and a copy really shrinks to it (resize2fs, ntfsresize -s; then e2fsck -fn and
// ntfsfix -n clean) while a MiB less is refused; FAT's and exFAT's files all fit on a new
// filesystem of the minimum with the same cluster size (fsck clean); XFS's minimum is its size.

import test from 'ava';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sliceSource } from '../../rescue/core/byte-source.ts';
import { probeFilesystem } from '../../rescue/core/filesystems/probe-filesystem.ts';
import { readPartitionTable } from '../../rescue/core/partition-table/partition-table.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { measureMinimumSize, type MinimumSize } from '../../rescue/io/filesystem-minimum.ts';

const MiB = 1024 * 1024;

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A folder of `count` files of random bytes, `bytes` in all, in three folders. */
async function filesTree(dir: string, bytes: number, count: number): Promise<string> {
  await mkdir(path.join(dir, 'a', 'deep'), { recursive: true });
  await mkdir(path.join(dir, 'b'), { recursive: true });
  for (let i = 0; i < count; i++) {
    await writeFile(path.join(dir, i % 3 === 0 ? 'a/deep' : i % 3 === 1 ? 'a' : 'b', `file-${i}.bin`), randomBytes(Math.floor(bytes / count) - i * 777));
  }
  return dir;
}

async function image(file: string, bytes: number): Promise<string> {
  await execa('truncate', ['-s', String(bytes), file]);
  return file;
}

/** Runs `use` with the image mounted (exfat-fuse wants a block device: through a loop device). */
async function mounted<T>(command: string, file: string, mountPoint: string, use: () => Promise<T>): Promise<T> {
  await mkdir(mountPoint, { recursive: true });
  const loop = command === 'mount.exfat-fuse' ? (await execa('losetup', ['--find', '--show', file])).stdout.trim() : undefined;
  try {
    await execa(command, [loop ?? file, mountPoint]);
    try {
      return await use();
    } finally {
      await execa('umount', [mountPoint]);
    }
  } finally {
    if (loop) await execa('losetup', ['-d', loop]);
  }
}

test('minimum sizes measured in place in a disk image, read-only, each proven by the tool or a new filesystem of that size', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-minimum-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tree = await filesTree(path.join(dir, 'tree'), 30 * MiB, 24);

  const ext4 = await image(path.join(dir, 'ext4.img'), 128 * MiB);
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', tree, ext4]);
  const ntfs = await image(path.join(dir, 'ntfs.img'), 128 * MiB);
  await execa('mkntfs', ['-q', '-F', '-f', ntfs]);
  await mounted('ntfs-3g', ntfs, path.join(dir, 'mnt-ntfs'), () => execa('cp', ['-r', `${tree}/.`, path.join(dir, 'mnt-ntfs')]));
  const fat = await image(path.join(dir, 'fat.img'), 80 * MiB);
  await execa('mkfs.fat', ['-F', '32', '-s', '1', '-S', '512', fat]);
  await execa('mcopy', ['-s', '-i', fat, path.join(tree, 'a'), path.join(tree, 'b'), '::']);
  const exfat = await image(path.join(dir, 'exfat.img'), 128 * MiB);
  await execa('mkfs.exfat', ['-c', '32K', '-L', 'DATA', exfat]);
  await mounted('mount.exfat-fuse', exfat, path.join(dir, 'mnt-exfat'), () => execa('cp', ['-r', `${tree}/.`, path.join(dir, 'mnt-exfat')]));
  const xfs = await image(path.join(dir, 'xfs.img'), 300 * MiB);
  await execa('mkfs.xfs', ['-q', '-f', xfs]);

  // One GPT disk holding all five, each copied in at its partition's place.
  const parts = [ext4, ntfs, fat, exfat, xfs];
  const disk = await image(path.join(dir, 'disk.img'), 800 * MiB);
  const sizes = await Promise.all(parts.map(async (file) => (await stat(file)).size));
  await execa('sgdisk', [...sizes.flatMap((size, index) => ['-n', `${index + 1}:0:+${size / 1024}K`]), disk]);
  const table = await (async () => {
    const source = await openByteSource(disk);
    try {
      return await readPartitionTable(source, 512);
    } finally {
      await source.close();
    }
  })();
  for (const [index, file] of parts.entries()) {
    await execa('dd', [`if=${file}`, `of=${disk}`, 'bs=1M', `seek=${(table.partitions[index]?.startLba ?? 0) * 512}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  }
  const before = await sha256(disk);

  const measured: MinimumSize[] = [];
  const source = await openByteSource(disk);
  try {
    for (const partition of table.partitions) {
      const slice = sliceSource(source, partition.startLba * 512, partition.sectors * 512);
      measured.push(await measureMinimumSize({ path: disk, offset: partition.startLba * 512, sizeBytes: partition.sectors * 512, probe: await probeFilesystem(slice), source: slice }));
    }
  } finally {
    await source.close();
  }
  t.is(await sha256(disk), before, 'the disk image is unchanged');
  t.deepEqual(measured.map((entry) => entry.how.split(/[:(]| and | used/)[0]?.trim()), ['resize2fs -P', 'ntfsresize --info', 'FAT metadata', 'exFAT', 'XFS cannot shrink']);
  const [extMin = 0, ntfsMin = 0, fatMin = 0, exfatMin = 0, xfsMin = 0] = measured.map((entry) => entry.bytes ?? 0);
  t.log(`ext4 ${extMin}, ntfs ${ntfsMin}, FAT32 ${fatMin}, exFAT ${exfatMin}, XFS ${xfsMin} (30 MiB of files in each)`);

  // ext4: resize2fs -P on the image alone, then a real shrink of a copy to it; 1 MiB less is refused.
  const extAlone = /Estimated minimum size of the filesystem: (\d+)/.exec((await execa('resize2fs', ['-P', ext4])).stdout)?.[1];
  t.is(extMin, Number(extAlone) * 4096);
  t.true(extMin > 30 * MiB && extMin < 128 * MiB, `ext4's minimum above its use, below its size (${extMin})`);
  await execa('e2fsck', ['-f', '-y', ext4], { reject: false });
  const tooSmall = await execa('resize2fs', [ext4, `${extMin / 1024 - 1024}K`], { reject: false });
  t.not(tooSmall.exitCode, 0, `resize2fs refuses a MiB below: ${tooSmall.stderr}`);
  t.is((await execa('resize2fs', [ext4, `${extMin / 1024}K`], { reject: false })).exitCode, 0);
  t.is((await execa('e2fsck', ['-fn', ext4], { reject: false })).exitCode, 0, 'e2fsck -fn clean after the shrink');

  // NTFS: the same figure from ntfsresize --info on the image; a copy shrinks to it, ntfsfix -n clean.
  const ntfsAlone = /You might resize at (\d+) bytes/.exec((await execa('ntfsresize', ['--info', '--force', ntfs])).stdout)?.[1];
  t.is(ntfsMin, Number(ntfsAlone));
  const ntfsBelow = await execa('ntfsresize', ['--no-action', '--force', '--size', String(ntfsMin - MiB), ntfs], { reject: false });
  t.not(ntfsBelow.exitCode, 0, 'ntfsresize refuses a MiB below');
  const shrink = await execa('ntfsresize', ['--force', '--no-progress-bar', '--size', String(ntfsMin), ntfs], { input: 'y\n', reject: false });
  t.is(shrink.exitCode, 0, shrink.stdout);
  // The partition ends at the minimum: its last sector holds the backup boot sector ntfsresize wrote.
  await execa('truncate', ['-s', String(ntfsMin), ntfs]);
  const fixed = await execa('ntfsfix', ['-n', ntfs], { reject: false });
  t.is(fixed.exitCode, 0, fixed.stdout);
  await mounted('ntfs-3g', ntfs, path.join(dir, 'mnt-ntfs'), async () => {
    t.deepEqual((await readdir(path.join(dir, 'mnt-ntfs', 'a', 'deep'))).sort(), (await readdir(path.join(tree, 'a', 'deep'))).sort(), 'the shrunk NTFS still lists the files');
  });

  // FAT32 (512-byte clusters): every file fits on a new FAT32 of the minimum size with the same clusters.
  const newFat = await image(path.join(dir, 'fat-min.img'), fatMin);
  await execa('mkfs.fat', ['-F', '32', '-s', '1', '-S', '512', newFat]);
  const copied = await execa('mcopy', ['-s', '-i', newFat, path.join(tree, 'a'), path.join(tree, 'b'), '::'], { reject: false });
  t.is(copied.exitCode, 0, copied.stderr);
  t.is((await execa('fsck.fat', ['-n', newFat], { reject: false })).exitCode, 0);
  t.true(fatMin >= 65525 * 512 && fatMin < 34 * MiB, `FAT32's minimum: its 30 MiB of files fit below the 65525 clusters FAT32 needs (${fatMin})`);

  // exFAT (32 KiB clusters): every file fits on a new exFAT of the minimum size with the same cluster size.
  const newExfat = await image(path.join(dir, 'exfat-min.img'), exfatMin);
  await execa('mkfs.exfat', ['-c', '32K', '-L', 'DATA', newExfat]);
  await mounted('mount.exfat-fuse', newExfat, path.join(dir, 'mnt-new'), async () => {
    const copy = await execa('cp', ['-r', `${tree}/.`, path.join(dir, 'mnt-new')], { reject: false });
    t.is(copy.exitCode, 0, copy.stderr);
    t.deepEqual((await readdir(path.join(dir, 'mnt-new', 'a', 'deep'))).sort(), (await readdir(path.join(tree, 'a', 'deep'))).sort());
  });
  t.is((await execa('fsck.exfat', ['-n', newExfat], { reject: false })).exitCode, 0);

  t.is(xfsMin, 300 * MiB, 'XFS: its size');
});

test('a FAT32 keeps at least the 65525 clusters FAT32 needs: an empty one with 4 KiB clusters is no smaller than 256 MiB', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-minimum-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fat = await image(path.join(dir, 'fat.img'), 400 * MiB);
  await execa('mkfs.fat', ['-F', '32', '-s', '8', '-S', '512', fat]);
  const source = await openByteSource(fat);
  try {
    const minimum = await measureMinimumSize({ path: fat, offset: 0, sizeBytes: 400 * MiB, probe: await probeFilesystem(source), source });
    t.true((minimum.bytes ?? 0) >= 65525 * 4096 && (minimum.bytes ?? 0) < 257 * MiB, String(minimum.bytes));
    // mkfs.fat agrees: a FAT32 of 4 KiB clusters below that has too few clusters to be FAT32.
    const small = await image(path.join(dir, 'small.img'), (minimum.bytes ?? 0) - 2 * MiB);
    t.regex((await execa('mkfs.fat', ['-F', '32', '-s', '8', '-S', '512', small])).stderr, /Number of clusters for 32 bit FAT is less the[na] suggested minimum/);
    const fits = await image(path.join(dir, 'fits.img'), minimum.bytes ?? 0);
    t.notRegex((await execa('mkfs.fat', ['-F', '32', '-s', '8', '-S', '512', fits])).stderr, /less the[na] suggested minimum/);
  } finally {
    await source.close();
  }
});
