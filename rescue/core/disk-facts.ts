// Facts about a whole disk as Lifeboat shows them, and the pure rules that derive them
// from what the kernel exposes in sysfs (paths, attribute bytes).

/** How a disk is attached; decides how it is named to the user and how it may behave. */
export type Transport = 'sata' | 'nvme' | 'usb' | 'virtio' | 'mmc' | 'scsi' | 'cdrom' | 'loop' | 'ram' | 'file' | 'unknown';

/** A partition as the kernel sees it (the table itself is read by core/partition-table). */
export interface KernelPartition {
  readonly name: string;
  readonly path: string;
  readonly number: number;
  readonly startBytes: number;
  readonly sizeBytes: number;
  readonly mountPoints: readonly string[];
}

/** One disk, as `lifeboat disks` lists it. */
export interface DiskSummary {
  readonly name: string;
  readonly path: string;
  readonly model: string;
  readonly serial: string;
  readonly sizeBytes: number;
  readonly transport: Transport;
  readonly removable: boolean;
  readonly readOnly: boolean;
  readonly rotational: boolean;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  /** Where the whole disk itself is mounted (a filesystem without a table). */
  readonly mountPoints: readonly string[];
  readonly partitions: readonly KernelPartition[];
  /** True when the running Lifeboat medium (its ISO or data partition) is on this disk. */
  readonly holdsMedium: boolean;
}

/** Kernel block-device names that are not disks a user means, unless asked for. */
const VIRTUAL_NAME = /^(loop|ram|zram)\d+$/;

/** True for loop, ram and zram devices, which listings skip by default. */
export function isVirtualDiskName(name: string): boolean {
  return VIRTUAL_NAME.test(name);
}

/** Derives the transport from the device name and the resolved /sys/block/NAME path. */
export function transportFromSysPath(name: string, sysPath: string): Transport {
  if (/^loop\d+$/.test(name)) return 'loop';
  if (/^(ram|zram)\d+$/.test(name)) return 'ram';
  if (sysPath.includes('/usb')) return 'usb';
  if (/^nvme\d/.test(name) || sysPath.includes('/nvme/')) return 'nvme';
  if (/^mmcblk\d/.test(name) || sysPath.includes('/mmc_host/')) return 'mmc';
  if (/^sr\d+$/.test(name)) return 'cdrom';
  if (sysPath.includes('/virtio')) return 'virtio';
  if (/\/ata\d+\//.test(sysPath)) return 'sata';
  if (sysPath.includes('/host') && sysPath.includes('/target')) return 'scsi';
  return 'unknown';
}

/** Reads the unit serial number out of a SCSI VPD page 0x80 (4-byte header, then ASCII). */
export function parseVpdPage80(page: Uint8Array): string {
  if (page.length < 4 || page[1] !== 0x80) return '';
  const length = ((page[2] ?? 0) << 8) | (page[3] ?? 0);
  const end = Math.min(page.length, 4 + length);
  return cleanSysfsText(Buffer.from(page.subarray(4, end)).toString('latin1'));
}

/** Trims sysfs text values (newlines, padding spaces, NULs). */
export function cleanSysfsText(text: string): string {
  return text.replace(/\0/g, '').trim();
}

/** Kept here for the modules that import it from disk-facts; the function is human-units.ts's. */
export { formatBytes } from './human-units.ts';
