// Small partitioned disk images for the TUI tests: an MBR table made by sfdisk with one Linux
// partition holding an ext4 filesystem made by mkfs.ext4 -d from a folder of files, and loop
// devices over them (partition nodes made by partx), always detached by their own names.

import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sparseFile } from './filesystem-images.ts';

export const MiB = 1024 * 1024;
/** Where the partition starts (sfdisk's default alignment). */
export const PARTITION_START_BYTES = MiB;

/** Files put into the filesystem, by path inside it. */
export type FileSet = Readonly<Record<string, Buffer>>;

/** A few files with random contents (two of them in a folder), plus `bulkBytes` of random data in bulk.bin. */
export function sampleFiles(bulkBytes: number): FileSet {
  return {
    'readme.txt': Buffer.from('Lifeboat TUI test: restore me.\n'),
    'docs/letter.txt': Buffer.from(`Dear user,\n${randomBytes(16).toString('hex')}\n`),
    'docs/photo.bin': randomBytes(300_000),
    'bulk.bin': randomBytes(bulkBytes),
  };
}

/** Makes DISK (sizeBytes, MBR, one partition from 1 MiB to the end) with ext4 labelled `label` holding `files`. */
export async function makeExt4Disk(dir: string, name: string, sizeBytes: number, label: string, files: FileSet): Promise<string> {
  const tree = path.join(dir, `${name}.tree`);
  for (const [file, bytes] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(tree, file)), { recursive: true });
    await writeFile(path.join(tree, file), bytes);
  }
  const disk = await sparseFile(path.join(dir, name), sizeBytes);
  await execa('sfdisk', ['--quiet', disk], { input: 'label: dos\nstart=2048, type=83\n' });
  const partitionBytes = sizeBytes - PARTITION_START_BYTES;
  await execa('mkfs.ext4', ['-q', '-F', '-L', label, '-d', tree, '-E', `offset=${PARTITION_START_BYTES}`, disk, `${partitionBytes / 1024}k`]);
  return disk;
}

/** A blank disk image (zeros) of sizeBytes. */
export async function makeBlankDisk(dir: string, name: string, sizeBytes: number): Promise<string> {
  return sparseFile(path.join(dir, name), sizeBytes);
}

/** Attaches `file` to a loop device with its partition nodes; returns the device and a detach function. */
export async function attachLoop(file: string): Promise<{ device: string; detach: () => Promise<void> }> {
  const device = (await execa('losetup', ['--find', '--show', file])).stdout.trim();
  await execa('partx', ['-a', device], { reject: false });
  await execa('udevadm', ['settle'], { reject: false });
  return {
    device,
    detach: async () => {
      await execa('partx', ['-d', device], { reject: false });
      await execa('losetup', ['-d', device], { reject: false });
    },
  };
}

/** A disk with two ext4 partitions (1 MiB..half, half..end), labelled FIRST and SECOND, each holding `files`. */
export async function makeTwoPartitionDisk(dir: string, name: string, sizeBytes: number, files: FileSet): Promise<{ disk: string; second: { offset: number; sizeBytes: number } }> {
  const tree = path.join(dir, `${name}.tree`);
  for (const [file, bytes] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(tree, file)), { recursive: true });
    await writeFile(path.join(tree, file), bytes);
  }
  const disk = await sparseFile(path.join(dir, name), sizeBytes);
  const half = sizeBytes / 2;
  await execa('sfdisk', ['--quiet', disk], { input: `label: dos\nstart=2048, size=${(half - MiB) / 512}, type=83\nstart=${half / 512}, type=83\n` });
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'FIRST', '-d', tree, '-E', `offset=${MiB}`, disk, `${(half - MiB) / 1024}k`]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'SECOND', '-d', tree, '-E', `offset=${half}`, disk, `${half / 1024}k`]);
  return { disk, second: { offset: half, sizeBytes: half } };
}

/** One partition of makeAttachedDisk: its filesystem, label and size, and a repository folder made inside by `lifeboat init`. */
export interface AttachedPartition {
  readonly filesystem: 'ext4' | 'ntfs' | 'vfat' | 'exfat';
  readonly label: string;
  readonly sizeMiB: number;
  /** A folder (relative to the filesystem's root) to create a repository in. */
  readonly repository?: string;
}

const SFDISK_TYPES: Readonly<Record<AttachedPartition['filesystem'], string>> = { ext4: '83', ntfs: '7', exfat: '7', vfat: 'c' };

/** Mounts a partition read-write with the driver the host has (kernel ext4 and vfat, ntfs-3g, exfat-fuse). */
async function mountForSetup(filesystem: AttachedPartition['filesystem'], device: string, mountPoint: string): Promise<void> {
  if (filesystem === 'ntfs') await execa('ntfs-3g', [device, mountPoint]);
  else if (filesystem === 'exfat') await execa('mount.exfat-fuse', [device, mountPoint]);
  else await execa('mount', ['-t', filesystem, device, mountPoint]);
}

/**
 * A loop disk (MBR) whose partitions hold the filesystems asked for, made by mkfs.ext4, mkntfs,
 * mkfs.vfat and mkfs.exfat on the partition devices; repositories are made by the CLI's `init` on a
 * temporary read-write mount. `readOnly` attaches the finished disk read-only (losetup -r).
 */
export async function makeAttachedDisk(dir: string, name: string, partitions: readonly AttachedPartition[], options: { readOnly?: boolean; lifeboatInit: (folder: string) => Promise<void> }): Promise<{ device: string; partitions: string[]; detach: () => Promise<void> }> {
  const sizeBytes = (2 + partitions.reduce((sum, partition) => sum + partition.sizeMiB, 0)) * MiB;
  const file = await sparseFile(path.join(dir, name), sizeBytes);
  const table = ['label: dos', ...partitions.map((partition) => `size=${partition.sizeMiB}MiB, type=${SFDISK_TYPES[partition.filesystem]}`)].join('\n');
  await execa('sfdisk', ['--quiet', file], { input: `${table}\n` });
  let loop = await attachLoop(file);
  const devices = partitions.map((_, index) => `${loop.device}p${index + 1}`);
  for (const [index, partition] of partitions.entries()) {
    const device = devices[index] ?? '';
    if (partition.filesystem === 'ext4') await execa('mkfs.ext4', ['-q', '-F', '-L', partition.label, device]);
    if (partition.filesystem === 'ntfs') await execa('mkntfs', ['-q', '-Q', '-F', '-L', partition.label, device]);
    if (partition.filesystem === 'vfat') await execa('mkfs.vfat', ['-n', partition.label, device]);
    if (partition.filesystem === 'exfat') await execa('mkfs.exfat', ['-L', partition.label, device]);
    if (partition.repository === undefined) continue;
    const mountPoint = path.join(dir, `${name}-setup-${index + 1}`);
    await mkdir(mountPoint, { recursive: true });
    await mountForSetup(partition.filesystem, device, mountPoint);
    try {
      await options.lifeboatInit(path.join(mountPoint, partition.repository));
    } finally {
      await execa('umount', [mountPoint]);
    }
  }
  if (options.readOnly) {
    await loop.detach();
    const device = (await execa('losetup', ['--find', '--show', '--read-only', file])).stdout.trim();
    await execa('partx', ['-a', device], { reject: false });
    await execa('udevadm', ['settle'], { reject: false });
    loop = {
      device,
      detach: async () => {
        await execa('partx', ['-d', device], { reject: false });
        await execa('losetup', ['-d', device], { reject: false });
      },
    };
  }
  return { device: loop.device, partitions: partitions.map((_, index) => `${loop.device}p${index + 1}`), detach: loop.detach };
}
