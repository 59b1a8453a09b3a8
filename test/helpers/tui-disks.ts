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
