// Grows a restored filesystem to fill its enlarged partition with the filesystem's own tool:
// resize2fs and ntfsresize on a loop device over the partition's bytes; fatresize on the whole
// disk, naming the partition (it finds the partition through libparted's reading of the table).

import { execa } from 'execa';
import { open } from 'node:fs/promises';
import { LifeboatError } from '../core/errors.ts';
import { FAT_LABEL_BYTES, fatLabelPlace, readFatBootLabel } from '../core/filesystems/fat-boot-label.ts';

/** What to grow: the disk (file or device) holding the partition, the partition's number, where it starts, its new size. */
export interface GrowRequest {
  readonly backingPath: string;
  readonly partition: number;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly filesystem: string;
}

async function withLoop<T>(request: GrowRequest, use: (device: string) => Promise<T>): Promise<T> {
  const { stdout } = await execa('losetup', ['--find', '--show', '--offset', String(request.offset), '--sizelimit', String(request.sizeBytes), request.backingPath]);
  const device = stdout.trim();
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

async function run(command: string, args: readonly string[], input?: string): Promise<void> {
  const result = await execa(command, [...args], { reject: false, input: input ?? '', all: true });
  if (result.exitCode !== 0) {
    throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `${command} ${args.join(' ')} exited with ${String(result.exitCode)}: ${String(result.all).slice(-600)}`, command });
  }
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  } finally {
    await handle.close();
  }
}

/**
 * fatresize needs the disk and the partition's number: on a device holding only the partition
 * libparted finds no table and aborts. The disk comes before -n (fatresize takes a partition number
 * from the name of a disk device given after it). Its "max" is the disk's size, not the partition's,
 * and a size that ends one sector past the partition is refused: it takes start + size / sector
 * size as the last sector, so 512 bytes less than the partition ends it on the partition's own last
 * sector with 512- and 4096-byte sectors alike. libparted writes a new boot sector labelled
 * "NO NAME": the volume's label goes back into it and its backup.
 */
async function growFat(request: GrowRequest): Promise<void> {
  const label = readFatBootLabel(await readAt(request.backingPath, request.offset, 512));
  await run('fatresize', [request.backingPath, '-n', String(request.partition), '-s', String(request.sizeBytes - 512), '-f']);
  const boot = await readAt(request.backingPath, request.offset, 512);
  if (Buffer.from(readFatBootLabel(boot)).equals(label)) return;
  const place = fatLabelPlace(boot);
  const handle = await open(request.backingPath, 'r+');
  try {
    const sectors = [0, ...(place.backupSector === undefined ? [] : [place.backupSector])];
    for (const sector of sectors) await handle.write(label, 0, FAT_LABEL_BYTES, request.offset + sector * place.bytesPerSector + place.labelOffset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Grows the filesystem; returns a notice when its type has no grow tool. */
export async function growFilesystem(request: GrowRequest): Promise<string | undefined> {
  const type = request.filesystem;
  if (['ext2', 'ext3', 'ext4'].includes(type)) {
    await withLoop(request, async (device) => {
      const check = await execa('e2fsck', ['-f', '-p', device], { reject: false });
      if ((check.exitCode ?? 8) > 2) throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `e2fsck -f -p exited with ${String(check.exitCode)} before growing.` });
      await run('resize2fs', [device]);
    });
    return undefined;
  }
  if (type === 'ntfs') {
    await withLoop(request, (device) => run('ntfsresize', ['--force', '--no-progress-bar', device], 'y\n'));
    return undefined;
  }
  if (type === 'vfat') {
    await growFat(request);
    return undefined;
  }
  return `The ${type} filesystem has no grow tool here; the partition was enlarged but the filesystem keeps its size.`;
}
