// Lists the machine's disks from sysfs (/sys/block): the first version of the disk layer.

import { readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../core/errors.ts';
import {
  cleanSysfsText,
  isVirtualDiskName,
  parseVpdPage80,
  transportFromSysPath,
  type DiskSummary,
} from '../core/disk-facts.ts';

/** sysfs reports sizes in 512-byte units whatever the disk's sector size. */
const SYSFS_SECTOR_BYTES = 512;

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

async function readSerial(blockDir: string): Promise<string> {
  const direct = (await readText(path.join(blockDir, 'serial'))) ?? (await readText(path.join(blockDir, 'device', 'serial')));
  if (direct) return direct;
  try {
    const page = await readFile(path.join(blockDir, 'device', 'vpd_pg80'));
    const serial = parseVpdPage80(page);
    if (serial) return serial;
  } catch {
    // no VPD page: not a SCSI/ATA disk, or the device did not report one
  }
  return (await readText(path.join(blockDir, 'device', 'wwid'))) ?? '';
}

async function readModel(blockDir: string): Promise<string> {
  return (
    (await readText(path.join(blockDir, 'device', 'model'))) ??
    (await readText(path.join(blockDir, 'device', 'name'))) ??
    ''
  );
}

/** Reads one /sys/block entry. */
export async function readDisk(sysRoot: string, name: string): Promise<DiskSummary> {
  const blockDir = path.join(sysRoot, 'block', name);
  let resolved = blockDir;
  try {
    resolved = await realpath(blockDir);
  } catch {
    // keep the unresolved path; transport falls back to the name
  }
  const sectors = Number((await readText(path.join(blockDir, 'size'))) ?? '0');
  return {
    name,
    path: `/dev/${name}`,
    model: await readModel(blockDir),
    serial: await readSerial(blockDir),
    sizeBytes: Number.isFinite(sectors) ? sectors * SYSFS_SECTOR_BYTES : 0,
    transport: transportFromSysPath(name, resolved),
    removable: (await readText(path.join(blockDir, 'removable'))) === '1',
    readOnly: (await readText(path.join(blockDir, 'ro'))) === '1',
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
  const wanted = names.filter((name) => options.includeVirtual || !isVirtualDiskName(name)).sort(compareDiskNames);
  return Promise.all(wanted.map((name) => readDisk(sysRoot, name)));
}

/** Natural order, so vda2 sorts before vda10 and nvme0n1 before nvme1n1. */
export function compareDiskNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
