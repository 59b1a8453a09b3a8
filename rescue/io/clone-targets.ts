// What a clone needs to know of its endpoints beyond a restore's: whether the target is its source
// (the same image file or device, a loop device over the source's image file or the reverse, or a
// partition of the same disk; two different partitions of one disk may be cloned one onto the
// other), and where a partition device starts on its disk (for NTFS and FAT hidden sectors).

import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../core/errors.ts';
import { splitPartitionSuffix } from './device-endpoints.ts';

/** What holds a named source or target: its disk (a file's or a device's identity) and the partition, if one. */
interface Holder {
  readonly disks: readonly string[];
  readonly partition: number | undefined;
}

async function fileIdentity(file: string): Promise<string | undefined> {
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() ? `file ${info.dev}:${info.ino}` : undefined;
}

async function holderOf(spec: string): Promise<Holder | undefined> {
  const { file, partition } = await splitPartitionSuffix(spec);
  const info = await stat(file).catch(() => undefined);
  if (!info) return undefined;
  if (info.isFile()) return { disks: [`file ${info.dev}:${info.ino}`], partition };
  if (!info.isBlockDevice()) return undefined;
  const sys = await realpath(`/sys/class/block/${path.basename(await realpath(file))}`).catch(() => undefined);
  if (!sys) return { disks: [`device ${info.rdev}`], partition };
  const number = Number((await readFile(path.join(sys, 'partition'), 'utf8').catch(() => '')).trim()) || undefined;
  const disk = number === undefined ? sys : path.dirname(sys);
  const backing = (await readFile(path.join(disk, 'loop', 'backing_file'), 'utf8').catch(() => '')).trim();
  const backingFile = backing ? await fileIdentity(backing) : undefined;
  return { disks: [`disk ${disk}`, ...(backingFile ? [backingFile] : [])], partition: number ?? partition };
}

/** Refuses (LB_DEVICE_TARGET_IS_SOURCE) a target that is the source or overlaps it. */
export async function refuseTargetIsSource(source: string, target: string): Promise<void> {
  const [from, to] = await Promise.all([holderOf(source), holderOf(target)]);
  if (!from || !to) return;
  const shared = from.disks.find((disk) => to.disks.includes(disk));
  if (!shared) return;
  if (from.partition !== undefined && to.partition !== undefined && from.partition !== to.partition) return;
  throw new LifeboatError('LB_DEVICE_TARGET_IS_SOURCE', { detail: `${target} is ${source}${from.partition === to.partition ? '' : ' or a part of it'} (${shared.replace(/^\w+ /, '')}).`, source, target });
}

/** The first sector of a partition device on its disk, in `sectorSize` units (sysfs counts 512-byte units); undefined for anything else. */
export async function partitionStartLba(device: string, sectorSize: number): Promise<number | undefined> {
  const info = await stat(device).catch(() => undefined);
  if (!info?.isBlockDevice()) return undefined;
  const name = path.basename(await realpath(device));
  const start = Number((await readFile(`/sys/class/block/${name}/start`, 'utf8').catch(() => '')).trim());
  return Number.isSafeInteger(start) && start > 0 ? (start * 512) / sectorSize : undefined;
}
