// Grows a restored filesystem to fill its enlarged partition with the filesystem's own tool:
// resize2fs and ntfsresize on a loop device over the partition's bytes (util-linux losetup
// --offset --sizelimit); fatresize on the whole disk, naming the partition (it finds the partition
// through libparted's reading of the table). The programs come from core/external-programs.ts
// (growProgramsFor), which the restore's pre-flight checks too.

import { open } from 'node:fs/promises';
import { LifeboatError } from '../core/errors.ts';
import { growProgramsFor, PROGRAMS, type ExternalProgram } from '../core/external-programs.ts';
import { FAT_LABEL_BYTES, fatLabelPlace, readFatBootLabel } from '../core/filesystems/fat-boot-label.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';

/** What to grow: the disk (file or device) holding the partition, the partition's number, where it starts, its new size. */
export interface GrowRequest {
  readonly backingPath: string;
  readonly partition: number;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly filesystem: string;
}

/** Runs `use` with a loop device over the partition's bytes (detached afterwards). */
export async function withLoop<T>(request: Pick<GrowRequest, 'backingPath' | 'offset' | 'sizeBytes'>, use: (device: string) => Promise<T>): Promise<T> {
  const attach = await runProgram(PROGRAMS.losetup, ['--find', '--show', '--offset', String(request.offset), '--sizelimit', String(request.sizeBytes), request.backingPath]);
  const device = attach.stdout.trim();
  if (!succeeded(attach) || !device.startsWith('/dev/')) {
    throw new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `No loop device over ${request.backingPath} at byte ${request.offset} for its filesystem: ${describeExit(attach)}`, path: request.backingPath, exitCode: attach.exitCode, signal: attach.signal });
  }
  try {
    return await use(device);
  } finally {
    await runProgram(PROGRAMS.losetup, ['-d', device]);
  }
}

/** Runs a filesystem tool; a failure is LB_FILESYSTEM_CORRUPT with its exit status (or signal) and output. */
async function run(program: ExternalProgram, args: readonly string[], input?: string): Promise<void> {
  const result = await runProgram(program, args, input === undefined ? {} : { input });
  if (!succeeded(result)) {
    throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: describeExit(result), program: program.name, exitCode: result.exitCode, signal: result.signal });
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
  await run(PROGRAMS.fatresize, [request.backingPath, '-n', String(request.partition), '-s', String(request.sizeBytes - 512), '-f']);
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
  if (!growProgramsFor(type)) return `The ${type} filesystem has no grow tool here; the partition was enlarged but the filesystem keeps its size.`;
  if (type === 'vfat') {
    await growFat(request);
    return undefined;
  }
  await withLoop(request, async (device) => {
    if (type === 'ntfs') {
      await run(PROGRAMS.ntfsresize, ['--force', '--no-progress-bar', device], 'y\n');
      return;
    }
    // e2fsck -p: 0 clean, 1 errors corrected, 2 corrected and reboot advised; more is a failure.
    const check = await runProgram(PROGRAMS.e2fsck, ['-f', '-p', device]);
    if (check.exitCode === undefined || check.exitCode > 2 || check.signal !== undefined) {
      throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `Before growing: ${describeExit(check)}`, program: 'e2fsck', exitCode: check.exitCode, signal: check.signal });
    }
    await run(PROGRAMS.resize2fs, [device]);
  });
  return undefined;
}
