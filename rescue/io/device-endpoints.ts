// Backup sources and restore targets as the user names them: a whole disk, a partition device,
// an image file, or `FILE:N` (partition N of a disk image). Targets are checked before they are
// opened for writing: not mounted (directly or through a loop device), not the running medium.

import { constants, realpathSync } from 'node:fs';
import { open, readFile, readdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { checkRange, sliceSource, type ByteSource } from '../core/byte-source.ts';
import type { DiskSummary } from '../core/disk-facts.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import { detectSectorSize, readPartitionTable } from '../core/partition-table/partition-table.ts';
import { findWholeDiskTable } from '../core/partition-table/whole-disk.ts';
import type { SnapshotSource } from '../core/repository/format.ts';
import type { RestoreTargetFacts } from '../core/repository/restore-plan.ts';
import { openByteSource, type FileByteSource } from './file-source.ts';
import { directWrites } from './direct-writes.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';
import { findWritableMounts, listDisks } from './sysfs-disks.ts';

/** An opened backup source. */
export interface OpenedSource {
  readonly source: FileByteSource;
  readonly facts: SnapshotSource;
  /** Why the copy may be inconsistent (a partition mounted read-write, allowed by allowMounted), to be shown and logged. */
  readonly warnings: readonly string[];
}

/** How a backup source is opened. */
export interface OpenSourceOptions {
  /** Back it up even when it (or one of its partitions) is mounted read-write, with a warning instead of LB_DEVICE_SOURCE_MOUNTED. */
  readonly allowMounted?: boolean;
}

/** An opened restore target: facts for the plan, and the writer. */
export interface OpenedTarget {
  readonly facts: RestoreTargetFacts;
  readonly size: number;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  read(offset: number, length: number): Promise<Uint8Array>;
  sync(): Promise<void>;
  /** Closes it; returns notices (a disk whose new table the kernel did not re-read). */
  close(): Promise<readonly string[]>;
  /** The file or device and the byte offset of the target inside it (for resize tools). */
  readonly backing: { readonly path: string; readonly offset: number; readonly isBlockDevice: boolean };
}

const UNREADABLE_ERRNOS = ['EACCES', 'EPERM', 'ENOENT', 'ENXIO', 'EIO', 'ENOMEDIUM', 'EBUSY', 'ENODEV'];

/** A device or image named by the user that is not there (ENOENT, ENOTDIR), as a coded error whose fix lists the disks. */
export function deviceNotFound(target: string, cause?: unknown): LifeboatError {
  return new LifeboatError('LB_DEVICE_NOT_FOUND', { detail: `${target} does not exist.`, path: target }, cause === undefined ? {} : { cause });
}

/** Why a device or image could not be opened: missing (LB_DEVICE_NOT_FOUND), unreadable (LB_DEVICE_UNREADABLE), or the error as it came. */
export function openFailure(error: unknown, target: string): unknown {
  const errno = (error as { code?: string }).code;
  if (errno === 'ENOENT' || errno === 'ENOTDIR') return deviceNotFound(target, error);
  if (errno && [...UNREADABLE_ERRNOS, 'EISDIR'].includes(errno)) return new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `${target}: ${errno}.`, path: target, errno }, { cause: error });
  return error;
}

async function findDiskOf(name: string): Promise<{ disk: DiskSummary; partition: DiskSummary['partitions'][number] | undefined } | undefined> {
  for (const disk of await listDisks({ includeVirtual: true })) {
    if (disk.name === name) return { disk, partition: undefined };
    const partition = disk.partitions.find((entry) => entry.name === name);
    if (partition) return { disk, partition };
  }
  return undefined;
}

/** Opens a backup source read-only with the facts kept in the snapshot; `FILE:N` is partition N of a disk image (partition backups). */
export async function openBackupSource(target: string, kind: 'disk' | 'partition', options: OpenSourceOptions = {}): Promise<OpenedSource> {
  const { file, partition } = await splitPartitionSuffix(target);
  if (partition !== undefined && (await stat(file).then((info) => info.isFile(), () => false))) {
    if (kind !== 'partition') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target} is one partition of ${file}; back it up with \`backup partition\`, or back up the whole disk image ${file}.`, path: target });
    const warnings = await checkSourceMounts(target, await loopDeviceNamesOf(file), options);
    return { ...(await openImagePartition(file, partition)), warnings };
  }
  const info = await stat(target).catch((error: unknown) => {
    throw openFailure(error, target);
  });
  const source = await openByteSource(target).catch((error: unknown) => {
    throw openFailure(error, target);
  });
  try {
    let facts: SnapshotSource;
    let warnings: readonly string[];
    if (info.isBlockDevice()) {
      const found = await findDiskOf(path.basename(target));
      if (!found) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target} is not a disk or partition the kernel lists.`, path: target });
      if (kind === 'disk' && found.partition) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target} is a partition; use \`backup partition\`, or name its disk ${found.disk.path}.`, path: target });
      if (kind === 'partition' && !found.partition) await refuseWholeDisk(target, source, found.disk.partitions.map((entry) => entry.path));
      const { disk } = found;
      warnings = await checkSourceMounts(target, found.partition ? [found.partition.name] : [disk.name, ...disk.partitions.map((entry) => entry.name)], options);
      facts = { path: target, model: disk.model, serial: disk.serial, sizeBytes: source.size, logicalSectorSize: disk.logicalSectorSize, physicalSectorSize: disk.physicalSectorSize, transport: disk.transport };
    } else {
      if (kind === 'partition') await refuseWholeDisk(target, source, undefined);
      warnings = await checkSourceMounts(target, await loopDeviceNamesOf(target), options);
      const sectorSize = kind === 'disk' ? await detectSectorSize(source) : 512;
      facts = { path: path.resolve(target), model: 'image file', serial: '', sizeBytes: source.size, logicalSectorSize: sectorSize, physicalSectorSize: sectorSize, transport: 'file' };
    }
    return { source, facts, warnings };
  } catch (error) {
    await source.close();
    throw error;
  }
}

/**
 * Refuses a source mounted read-write (LB_DEVICE_SOURCE_MOUNTED), as Clonezilla does: files written
 * while it is read would be half in the copy. With allowMounted, returns the warning to show instead.
 * `names` are the block devices that hold it (the disk and its partitions, or the loop devices an
 * image file backs); read-only mounts are fine.
 */
async function checkSourceMounts(target: string, names: readonly string[], options: OpenSourceOptions): Promise<string[]> {
  const mounts = await findWritableMounts(names);
  if (mounts.length === 0) return [];
  const where = mounts.map((mount) => `${mount.device} on ${mount.mountPoint}`).join(', ');
  if (!options.allowMounted) throw new LifeboatError('LB_DEVICE_SOURCE_MOUNTED', { detail: `${target} is mounted read-write: ${where}.`, path: target, mounts });
  return [`${target} is mounted read-write (${where}): the copy may be inconsistent, since files written during the backup may be half in it. Unmount it or remount it read-only (mount -o remount,ro) for a consistent copy.`];
}

/** The loop devices backed by the image file `file`, with their partitions (loop0, loop0p1...). */
async function loopDeviceNamesOf(file: string): Promise<string[]> {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const name of await readdir('/sys/block').catch(() => [])) {
    if (!name.startsWith('loop')) continue;
    const backing = (await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => '')).trim();
    if (backing !== real) continue;
    names.push(name, ...(await readdir(`/sys/block/${name}`).catch(() => [] as string[])).filter((entry) => entry.startsWith(`${name}p`)));
  }
  return names;
}

/**
 * `backup partition` of a whole disk names its partitions (as `ls` does) instead of copying the
 * disk as one volume: the kernel's partition devices for a disk, FILE:N for an image file.
 */
async function refuseWholeDisk(target: string, source: ByteSource, devices: readonly string[] | undefined): Promise<void> {
  const table = await findWholeDiskTable(source);
  if (!table) return;
  const names = devices === undefined ? table.numbers.map((number) => `${target}:${number}`) : devices;
  const which = names.length > 0 ? `name one of its partitions: ${names.join(', ')}` : `its partitions ${table.numbers.join(', ')} have no devices yet (blockdev --rereadpt ${target} makes them)`;
  throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target} is a whole disk (${table.kind}); ${which}; or back up all of it with \`backup disk ${target}\`.`, path: target, partitions: names });
}

/** Partition `number` of the disk image `file`, read-only, as a backup source of its own. */
async function openImagePartition(file: string, number: number): Promise<Omit<OpenedSource, 'warnings'>> {
  const whole = await openByteSource(file);
  try {
    const sectorSize = await detectSectorSize(whole);
    const table = await readPartitionTable(whole, sectorSize);
    const entry = table.partitions.find((candidate) => candidate.number === number && candidate.kind !== 'extended');
    if (!entry) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${file} has no partition ${number} (it has ${table.partitions.filter((p) => p.kind !== 'extended').map((p) => p.number).join(', ') || 'none'}).`, path: file });
    const slice = sliceSource(whole, entry.startLba * sectorSize, entry.sectors * sectorSize);
    const label = `${path.resolve(file)}:${number}`;
    const source: FileByteSource = { ...slice, path: label, isBlockDevice: false, close: () => whole.close() };
    return { source, facts: { path: label, model: 'image file partition', serial: '', sizeBytes: slice.size, logicalSectorSize: sectorSize, physicalSectorSize: sectorSize, transport: 'file' } };
  } catch (error) {
    await whole.close();
    throw error;
  }
}

/** Loop devices backed by `file`, and whether any of them (or their partitions) is mounted. */
async function loopUsersOf(file: string): Promise<string[]> {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return [];
  }
  const mounted: string[] = [];
  for (const name of await readdir('/sys/block').catch(() => [])) {
    if (!name.startsWith('loop')) continue;
    const backing = (await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => '')).trim();
    if (backing !== real) continue;
    const disk = (await listDisks({ includeVirtual: true })).find((entry) => entry.name === name);
    const points = [...(disk?.mountPoints ?? []), ...(disk?.partitions.flatMap((partition) => partition.mountPoints) ?? [])];
    if (points.length > 0) mounted.push(`/dev/${name} (mounted on ${points.join(', ')})`);
  }
  return mounted;
}

/** Refuses targets that are mounted or hold the medium. */
async function checkTargetFree(target: string, isBlockDevice: boolean): Promise<{ logicalSectorSize: number; isPartition: boolean }> {
  if (!isBlockDevice) {
    const users = await loopUsersOf(target);
    if (users.length > 0) throw new LifeboatError('LB_DEVICE_TARGET_MOUNTED', { detail: `${target} backs ${users.join(', ')}.`, path: target, users });
    return { logicalSectorSize: 0, isPartition: false };
  }
  const found = await findDiskOf(path.basename(target));
  if (!found) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target} is not a disk or partition the kernel lists.`, path: target });
  const { disk, partition } = found;
  if (disk.holdsMedium) throw new LifeboatError('LB_DEVICE_TARGET_IS_MEDIUM', { detail: `${disk.path} holds the running Lifeboat medium.`, path: target });
  const points = partition ? partition.mountPoints : [...disk.mountPoints, ...disk.partitions.flatMap((entry) => entry.mountPoints)];
  if (points.length > 0) throw new LifeboatError('LB_DEVICE_TARGET_MOUNTED', { detail: `${target} is mounted on ${points.join(', ')}.`, path: target, mountPoints: points });
  if (disk.transport === 'loop') {
    const backing = (await readFile(`/sys/block/${disk.name}/loop/backing_file`, 'utf8').catch(() => '')).trim();
    if (backing) {
      const users = (await loopUsersOf(backing)).filter((user) => !user.startsWith(`/dev/${disk.name} `));
      if (users.length > 0) throw new LifeboatError('LB_DEVICE_TARGET_MOUNTED', { detail: `${target}'s file ${backing} also backs ${users.join(', ')}.`, path: target });
    }
  }
  return { logicalSectorSize: disk.logicalSectorSize, isPartition: partition !== undefined };
}

function writeError(error: unknown, target: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const errno = (error as { code?: string }).code ?? 'unknown';
  return new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `${target}: ${errno}.`, path: target, errno }, { cause: error });
}

/** Splits `FILE:N` when FILE exists and FILE:N does not. */
export async function splitPartitionSuffix(target: string): Promise<{ file: string; partition: number | undefined }> {
  const match = /^(.*):(\d{1,3})$/.exec(target);
  if (!match?.[1] || !match[2]) return { file: target, partition: undefined };
  const whole = await stat(target).then(() => true, () => false);
  if (whole) return { file: target, partition: undefined };
  return { file: match[1], partition: Number(match[2]) };
}

/** Opens a restore target for writing after the safety checks; a missing image file is created with `createBytes`. */
export async function openRestoreTarget(target: string, options: { createBytes: number; sectorSize: number; dryRun?: boolean }): Promise<OpenedTarget> {
  const { file, partition } = await splitPartitionSuffix(target);
  const info = await stat(file).catch(() => undefined);
  if (!info && options.dryRun && partition === undefined) return plannedFile(file, options);
  let fresh = false;
  let handle: FileHandle;
  let isBlockDevice = false;
  let logicalSectorSize = options.sectorSize;
  // A partition device (/dev/sdb2) has no table of its own for the kernel to read again.
  let partitionDevice = false;
  try {
    if (!info) {
      // A missing /dev name is a disk that is not there: never make an image file in /dev.
      if (partition !== undefined || path.resolve(file).startsWith('/dev/')) throw deviceNotFound(file);
      handle = await open(file, 'wx');
      await handle.truncate(options.createBytes);
      fresh = true;
    } else {
      isBlockDevice = info.isBlockDevice();
      if (!isBlockDevice && !info.isFile()) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${file} is neither a block device nor a file.`, path: file });
      const checked = await checkTargetFree(file, isBlockDevice);
      if (isBlockDevice) logicalSectorSize = checked.logicalSectorSize;
      partitionDevice = checked.isPartition;
      handle = await open(file, options.dryRun ? 'r' : isBlockDevice ? constants.O_RDWR | constants.O_EXCL : 'r+');
    }
  } catch (error) {
    const errno = (error as { code?: string }).code;
    if (errno === 'EBUSY') throw new LifeboatError('LB_DEVICE_TARGET_MOUNTED', { detail: `${file} is in use (EBUSY).`, path: file }, { cause: error });
    if (errno && UNREADABLE_ERRNOS.includes(errno)) throw new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `${file}: ${errno}.`, path: file, errno }, { cause: error });
    throw error;
  }
  const totalSize = isBlockDevice ? (await openByteSource(file).then(async (source) => { await source.close(); return source.size; })) : (await handle.stat()).size;
  let base = 0;
  let size = totalSize;
  let description = fresh ? `${file} (new file)` : file;
  if (partition !== undefined) {
    const whole: ByteSource = { size: totalSize, read: (offset, length) => readExact(handle, offset, length) };
    const sectorSize = await detectSectorSize(whole);
    const table = await readPartitionTable(whole, sectorSize);
    const entry = table.partitions.find((candidate) => candidate.number === partition && candidate.kind !== 'extended');
    if (!entry) {
      await handle.close();
      throw new LifeboatError('LB_INPUT_USAGE', { detail: `${file} has no partition ${partition}.`, path: file });
    }
    base = entry.startLba * sectorSize;
    size = entry.sectors * sectorSize;
    description = `partition ${partition} of ${file}`;
    checkRange(totalSize, base, size);
  }
  const facts: RestoreTargetFacts = { path: target, sizeBytes: size, logicalSectorSize, fresh, description };
  const direct = isBlockDevice && !options.dryRun ? directWrites(file) : undefined;
  // Only a disk that was written has a new table (or none) for the kernel to read: a refusal after opening writes nothing.
  let written = false;
  return {
    facts,
    size,
    backing: { path: file, offset: base, isBlockDevice },
    write: async (offset, bytes) => {
      if (offset < 0 || offset + bytes.length > size) throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `A write at ${offset}+${bytes.length} passes the end of ${description} (${size} bytes).` });
      written = true;
      try {
        if (await direct?.write(bytes, base + offset)) return;
        let done = 0;
        while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done, base + offset + done)).bytesWritten;
      } catch (error) {
        throw writeError(error, file);
      }
    },
    read: (offset, length) => readExact(handle, base + offset, length),
    ...(isBlockDevice ? {} : {
      readInto: async (offset: number, into: Uint8Array) => {
        const { bytesRead } = await handle.read(into, 0, into.length, base + offset);
        if (bytesRead !== into.length) throw new LifeboatError('LB_INPUT_READ_OUT_OF_RANGE', { detail: `Read ${bytesRead} of ${into.length} bytes at ${offset}.`, offset });
      },
    }),
    sync: async () => {
      try {
        await handle.sync();
      } catch (error) {
        throw writeError(error, file);
      }
    },
    ...(direct ? { allocateWriteBuffer: (length: number) => direct.allocate(length) } : {}),
    close: async () => {
      await direct?.close();
      await handle.close();
      // A whole disk got a new table: have the kernel read it (partition nodes appear or change).
      return isBlockDevice && partition === undefined && !partitionDevice && !options.dryRun && written ? rereadPartitionTable(file) : [];
    },
  };
}

/**
 * Asks the kernel to read a restored disk's table again. A refusal (EBUSY: a partition still open;
 * EINVAL: a loop device without partition scanning) is a notice, not an error: by then every
 * chunk is written, synced and verified, only the kernel's partition devices may show the old
 * layout, and an error would make a finished restore look failed (a job would stop there).
 */
async function rereadPartitionTable(disk: string): Promise<string[]> {
  let why: string;
  try {
    const result = await runProgram(PROGRAMS.blockdev, ['--rereadpt', disk]);
    if (succeeded(result)) return [];
    why = describeExit(result);
  } catch (error) {
    why = (error as Error).message;
  }
  return [`The kernel did not read the new partition table of ${disk} (${why}): its partition devices may still show the old layout. Run \`blockdev --rereadpt ${disk}\` once nothing uses the disk, or restart, before using its partitions.`];
}

async function readExact(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  const { bytesRead } = await handle.read(buffer, 0, length, offset);
  if (bytesRead !== length) throw new LifeboatError('LB_INPUT_READ_OUT_OF_RANGE', { detail: `Read ${bytesRead} of ${length} bytes at ${offset}.`, offset });
  return buffer;
}

/** A target file a dry run would create: facts only, no writes. */
function plannedFile(file: string, options: { createBytes: number; sectorSize: number }): OpenedTarget {
  const refuse = async (): Promise<never> => {
    throw new LifeboatError('LB_INTERNAL', { detail: 'A dry run does not write.' });
  };
  return {
    facts: { path: file, sizeBytes: options.createBytes, logicalSectorSize: options.sectorSize, fresh: true, description: `${file} (new file)` },
    size: options.createBytes,
    backing: { path: file, offset: 0, isBlockDevice: false },
    write: refuse,
    read: refuse,
    sync: async () => undefined,
    close: async () => [],
  };
}
