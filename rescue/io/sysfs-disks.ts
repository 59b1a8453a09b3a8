// Lists the machine's disks from sysfs (/sys/block): identity, size, sector sizes, transport,
// partitions with their mount points (/proc/self/mountinfo), and whether a disk holds the
// running Lifeboat medium (/run/lifeboat/medium-devices, written by the medium's init).

import { readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../core/errors.ts';
import {
  cleanSysfsText,
  isVirtualDiskName,
  parseVpdPage80,
  transportFromSysPath,
  type DiskSummary,
  type KernelPartition,
} from '../core/disk-facts.ts';
import { parseMountInfo, type MountEntry } from '../core/mount-info.ts';

/** sysfs reports sizes and starts in 512-byte units whatever the disk's sector size. */
const SYSFS_SECTOR_BYTES = 512;

/** Device paths of the running medium, one per line (see images/linux/rootfs/etc/lifeboat/rc.sysinit). */
export const MEDIUM_DEVICES_FILE = '/run/lifeboat/medium-devices';

/** Where to look and what to include. */
export interface ListDisksOptions {
  /** Root of sysfs; tests of the parser may point it elsewhere. */
  readonly sysRoot?: string;
  /** Include loop, ram and zram devices. */
  readonly includeVirtual?: boolean;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return cleanSysfsText(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

async function readNumber(file: string, fallback: number): Promise<number> {
  const text = await readText(file);
  const value = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(value) ? value : fallback;
}

async function readSerial(blockDir: string): Promise<string> {
  const direct = (await readText(path.join(blockDir, 'serial'))) ?? (await readText(path.join(blockDir, 'device', 'serial')));
  if (direct) return direct;
  try {
    const serial = parseVpdPage80(await readFile(path.join(blockDir, 'device', 'vpd_pg80')));
    if (serial) return serial;
  } catch {
    // no VPD page: not a SCSI/ATA disk, or the device did not report one
  }
  return (await readText(path.join(blockDir, 'device', 'wwid'))) ?? '';
}

async function readModel(blockDir: string): Promise<string> {
  return (await readText(path.join(blockDir, 'device', 'model'))) ?? (await readText(path.join(blockDir, 'device', 'name'))) ?? '';
}

/** The mounts of a device: by its numbers, or by its path for FUSE mounts (ntfs-3g, exfat-fuse), whose numbers are the FUSE connection's. */
export function mountsOf(mounts: readonly MountEntry[], device: string | undefined, devicePath: string): MountEntry[] {
  return mounts.filter((mount) => (device !== undefined && mount.device === device) || (mount.fsType.startsWith('fuse') && mount.source === devicePath));
}

function mountPointsOf(mounts: readonly MountEntry[], device: string | undefined, devicePath: string): string[] {
  return mountsOf(mounts, device, devicePath).map((mount) => mount.mountPoint);
}

async function readPartitions(blockDir: string, diskName: string, mounts: readonly MountEntry[]): Promise<KernelPartition[]> {
  const entries = await readdir(blockDir).catch(() => [] as string[]);
  const partitions: KernelPartition[] = [];
  for (const name of entries.filter((entry) => entry.startsWith(diskName))) {
    const dir = path.join(blockDir, name);
    const number = Number(await readText(path.join(dir, 'partition')));
    if (!Number.isInteger(number) || number < 1) continue;
    partitions.push({
      name,
      path: `/dev/${name}`,
      number,
      startBytes: (await readNumber(path.join(dir, 'start'), 0)) * SYSFS_SECTOR_BYTES,
      sizeBytes: (await readNumber(path.join(dir, 'size'), 0)) * SYSFS_SECTOR_BYTES,
      mountPoints: mountPointsOf(mounts, await readText(path.join(dir, 'dev')), `/dev/${name}`),
    });
  }
  return partitions.sort((a, b) => a.number - b.number);
}

/** Names of the block devices (disks or partitions) that hold the running medium. */
async function readMediumDevices(): Promise<Set<string>> {
  const text = (await readText(MEDIUM_DEVICES_FILE)) ?? '';
  return new Set(text.split('\n').map((line) => path.basename(line.trim())).filter(Boolean));
}

/** Reads one /sys/block entry. */
export async function readDisk(sysRoot: string, name: string, context: { mounts: readonly MountEntry[]; medium: ReadonlySet<string> }): Promise<DiskSummary> {
  const blockDir = path.join(sysRoot, 'block', name);
  const resolved = await realpath(blockDir).catch(() => blockDir);
  const partitions = await readPartitions(blockDir, name, context.mounts);
  return {
    name,
    path: `/dev/${name}`,
    model: await readModel(blockDir),
    serial: await readSerial(blockDir),
    sizeBytes: (await readNumber(path.join(blockDir, 'size'), 0)) * SYSFS_SECTOR_BYTES,
    transport: transportFromSysPath(name, resolved),
    removable: (await readText(path.join(blockDir, 'removable'))) === '1',
    readOnly: (await readText(path.join(blockDir, 'ro'))) === '1',
    rotational: (await readText(path.join(blockDir, 'queue', 'rotational'))) === '1',
    logicalSectorSize: await readNumber(path.join(blockDir, 'queue', 'logical_block_size'), 512),
    physicalSectorSize: await readNumber(path.join(blockDir, 'queue', 'physical_block_size'), 512),
    mountPoints: mountPointsOf(context.mounts, await readText(path.join(blockDir, 'dev')), `/dev/${name}`),
    partitions,
    holdsMedium: context.medium.has(name) || partitions.some((partition) => context.medium.has(partition.name)),
  };
}

/** Lists whole disks, sorted by name; loop/ram/zram only when asked. */
export async function listDisks(options: ListDisksOptions = {}): Promise<DiskSummary[]> {
  const sysRoot = options.sysRoot ?? '/sys';
  let names: string[];
  try {
    names = await readdir(path.join(sysRoot, 'block'));
  } catch (error) {
    throw new LifeboatError('LB_DEVICE_SYSFS_UNREADABLE', { sysRoot }, { cause: error });
  }
  const mounts = parseMountInfo((await readText('/proc/self/mountinfo')) ?? '');
  const medium = await readMediumDevices();
  const wanted = names.filter((name) => options.includeVirtual || !isVirtualDiskName(name)).sort(compareDiskNames);
  return Promise.all(wanted.map((name) => readDisk(sysRoot, name, { mounts, medium })));
}

/** Natural order, so vda2 sorts before vda10 and nvme0n1 before nvme1n1. */
export function compareDiskNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** A block device mounted read-write somewhere. */
export interface WritableMount {
  readonly device: string;
  readonly mountPoint: string;
}

/**
 * Where the named block devices (a disk and its partitions, say), or the device-mapper devices
 * built on them (LVM, dm-crypt: /sys/class/block/NAME/holders), are mounted read-write: a backup
 * of them may catch a filesystem half-way through a write.
 */
export async function findWritableMounts(names: readonly string[], sysRoot = '/sys'): Promise<WritableMount[]> {
  const mounts = parseMountInfo((await readText('/proc/self/mountinfo')) ?? '');
  const found: WritableMount[] = [];
  const seen = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    if (seen.has(name)) return;
    seen.add(name);
    const dir = path.join(sysRoot, 'class', 'block', name);
    for (const mount of mountsOf(mounts, await readText(path.join(dir, 'dev')), `/dev/${name}`)) {
      if (!mount.readOnly) found.push({ device: `/dev/${name}`, mountPoint: mount.mountPoint });
    }
    for (const holder of await readdir(path.join(dir, 'holders')).catch(() => [] as string[])) await visit(holder);
  };
  for (const name of names) await visit(name);
  return found;
}
