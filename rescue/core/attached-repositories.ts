// Repositories on attached disks, the pure part: which partitions Lifeboat searches, which are
// skipped and why, and the commands that mount each one read-only (and later read-write, when a
// backup is written to a repository on it). io/attached-repositories.ts runs the commands.
//
// Rules: the disk holding the running medium is skipped (its data partition is searched through
// its own mount); a partition mounted already is searched where it is mounted; ext2/3/4, FAT,
// exFAT and NTFS are mounted read-only under the mount root (/run/lifeboat/mnt/NAME): ext with
// ro,noload (a journal is never replayed), NTFS through ntfs-3g (else the kernel's ntfs3), exFAT
// through the kernel (else exfat-fuse), FAT through the kernel's vfat; anything else is skipped.

import type { ProbeKind, ProbeState } from './filesystems/probe-types.ts';

/** Where Lifeboat mounts the partitions it searches. */
export const DEFAULT_MOUNT_ROOT = '/run/lifeboat/mnt';

/** Where the medium mounts its LIFEBOAT data partition (images/linux/rootfs/etc/lifeboat/rc.sysinit). */
export const DATA_PARTITION_MOUNT = '/mnt/lifeboat-data';

/** A mount of a candidate as /proc/self/mountinfo shows it. */
export interface CandidateMount {
  readonly mountPoint: string;
  readonly readOnly: boolean;
  /** The filesystem type the kernel reports (fuseblk for ntfs-3g and exfat-fuse). */
  readonly fsType: string;
  /** Mount and superblock options (norecovery tells an ext4 mounted without its journal). */
  readonly options: readonly string[];
}

/** A partition (or a whole disk without a table) that might hold a repository. */
export interface ScanCandidate {
  /** The block device: /dev/sdb1, or /dev/sdb for a filesystem on the whole disk. */
  readonly device: string;
  /** The kernel's name (sdb1): it names the mount folder. */
  readonly name: string;
  /** The whole disk: /dev/sdb. */
  readonly disk: string;
  readonly holdsMedium: boolean;
  /** What the probe found, or undefined (no filesystem Lifeboat knows). */
  readonly filesystem: { readonly type: string; readonly kind: ProbeKind; readonly label?: string; readonly state?: ProbeState } | undefined;
  readonly mounts: readonly CandidateMount[];
  /** Why the device could not be probed (a coded error), when it could not. */
  readonly problem?: string;
}

/** Drivers and programs this system has for mounting. */
export interface MountDrivers {
  /** Filesystems the kernel can mount (/proc/filesystems and loadable modules): ext4, vfat, exfat, ntfs3. */
  readonly kernel: ReadonlySet<string>;
  /** Mount programs found on PATH: ntfs-3g, mount.exfat-fuse. */
  readonly programs: ReadonlySet<string>;
}

/** A program and its arguments. */
export interface MountCommand {
  readonly program: string;
  readonly args: readonly string[];
}

/** How a read-only mount becomes writable: remounted in place, or unmounted and mounted again. */
export type WritableMethod =
  | { readonly mode: 'remount'; readonly command: MountCommand }
  | { readonly mode: 'mount-again'; readonly command: MountCommand };

/** How Lifeboat mounts a filesystem. */
export interface MountMethod {
  /** Kernel driver, or a FUSE program (whose mounts are unmounted and mounted again to write). */
  readonly driver: 'kernel' | 'fuse';
  /** What the user is told: "ext4", "ntfs (ntfs-3g)". */
  readonly description: string;
  readonly readOnly: MountCommand;
  readonly writable: WritableMethod;
}

/** What to do with one candidate. */
export type ScanDecision =
  /** Mounted already (by anyone): searched where it is; `writable` says how to write there, when it can be said. */
  | { readonly action: 'search-mounted'; readonly candidate: ScanCandidate; readonly mountPoint: string; readonly readOnly: boolean; readonly ours: boolean; readonly writable: WritableMethod | undefined; readonly notWritable?: string }
  /** Mounted read-only at `mountPoint` by Lifeboat, searched, unmounted again when it holds no repository. */
  | { readonly action: 'mount'; readonly candidate: ScanCandidate; readonly mountPoint: string; readonly method: MountMethod }
  /** Not searched; `notable` when the user would want to know (a filesystem that could hold a repository). */
  | { readonly action: 'skip'; readonly candidate: ScanCandidate; readonly reason: string; readonly notable: boolean };

/** Which devices are searched: all (the default on the medium), none, or the ones named. */
export type ScanScope = { readonly kind: 'all' } | { readonly kind: 'none' } | { readonly kind: 'only'; readonly devices: readonly string[] };

/** The environment variable that limits the search (tests name their loop devices; `none` turns it off). */
export const SCAN_SCOPE_ENV = 'LIFEBOAT_SCAN_DEVICES';

/** Reads LIFEBOAT_SCAN_DEVICES: unset or `all` is every disk; empty or `none` is none; else devices (disks or partitions) separated by spaces or commas. */
export function parseScanScope(value: string | undefined): ScanScope {
  if (value === undefined || value.trim() === 'all') return { kind: 'all' };
  const devices = value.split(/[\s,]+/).filter(Boolean);
  if (devices.length === 0 || (devices.length === 1 && devices[0] === 'none')) return { kind: 'none' };
  return { kind: 'only', devices };
}

const baseName = (device: string) => device.replace(/^\/dev\//, '');

/** True when the scope names the candidate or its disk (by path or kernel name). */
export function inScanScope(candidate: Pick<ScanCandidate, 'device' | 'disk'>, scope: ScanScope): boolean {
  if (scope.kind === 'all') return true;
  if (scope.kind === 'none') return false;
  const names = new Set(scope.devices.map(baseName));
  return names.has(baseName(candidate.device)) || names.has(baseName(candidate.disk));
}

/** The folder a candidate is mounted on: MOUNT_ROOT/NAME (the kernel name, which has no slash). */
export function mountPointFor(mountRoot: string, name: string): string {
  return `${mountRoot.replace(/\/+$/, '')}/${name.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

const EXT_TYPES = new Set(['ext2', 'ext3', 'ext4']);
/** Filesystem types other programs use that Lifeboat leaves alone (named so the skip says why). */
const OTHER_MOUNTABLE = new Set(['xfs', 'btrfs']);

const command = (program: string, ...args: string[]): MountCommand => ({ program, args });
const remount = (mountPoint: string): WritableMethod => ({ mode: 'remount', command: command('mount', '-o', 'remount,rw', mountPoint) });

/** How to mount a filesystem type with the drivers at hand, or why it cannot be. */
export function mountMethod(type: string, device: string, mountPoint: string, drivers: MountDrivers): MountMethod | { readonly unavailable: string } {
  if (EXT_TYPES.has(type)) {
    if (!drivers.kernel.has('ext4') && !drivers.kernel.has(type)) return { unavailable: `the kernel has no ${type} driver` };
    const driver = drivers.kernel.has('ext4') ? 'ext4' : type;
    // noload: a journal left by a crash is not replayed on a read-only mount. Remounting such a mount
    // read-write would write without the journal, so the write mount is a new, ordinary one.
    return { driver: 'kernel', description: type, readOnly: command('mount', '-t', driver, '-o', 'ro,noload', device, mountPoint), writable: { mode: 'mount-again', command: command('mount', '-t', driver, '-o', 'rw', device, mountPoint) } };
  }
  if (type === 'vfat') {
    if (!drivers.kernel.has('vfat')) return { unavailable: 'the kernel has no vfat driver' };
    return { driver: 'kernel', description: 'FAT', readOnly: command('mount', '-t', 'vfat', '-o', 'ro', device, mountPoint), writable: remount(mountPoint) };
  }
  if (type === 'exfat') {
    if (drivers.kernel.has('exfat')) return { driver: 'kernel', description: 'exFAT', readOnly: command('mount', '-t', 'exfat', '-o', 'ro', device, mountPoint), writable: remount(mountPoint) };
    if (drivers.programs.has('mount.exfat-fuse')) return { driver: 'fuse', description: 'exFAT (exfat-fuse)', readOnly: command('mount.exfat-fuse', '-o', 'ro', device, mountPoint), writable: { mode: 'mount-again', command: command('mount.exfat-fuse', device, mountPoint) } };
    return { unavailable: 'exFAT needs the kernel\'s exfat driver or exfat-fuse; neither is here' };
  }
  if (type === 'ntfs') {
    if (drivers.programs.has('ntfs-3g')) return { driver: 'fuse', description: 'NTFS (ntfs-3g)', readOnly: command('ntfs-3g', '-o', 'ro', device, mountPoint), writable: { mode: 'mount-again', command: command('ntfs-3g', device, mountPoint) } };
    if (drivers.kernel.has('ntfs3')) return { driver: 'kernel', description: 'NTFS (ntfs3)', readOnly: command('mount', '-t', 'ntfs3', '-o', 'ro', device, mountPoint), writable: remount(mountPoint) };
    return { unavailable: 'NTFS needs ntfs-3g or the kernel\'s ntfs3; neither is here' };
  }
  return { unavailable: `${type} is not searched (repositories are looked for on ext4, FAT, exFAT and NTFS; mount it in the shell and type the folder)` };
}

/** How to write to a partition mounted by someone else, or why Lifeboat will not change that mount. */
function writableExisting(mount: CandidateMount): { writable?: WritableMethod; notWritable?: string } {
  if (!mount.readOnly) return {};
  if (mount.fsType.startsWith('fuse')) return { notWritable: `mounted read-only through FUSE (${mount.fsType}) on ${mount.mountPoint}; unmount it (or mount it read-write) in the shell` };
  if (mount.options.includes('norecovery') || mount.options.includes('noload')) return { notWritable: `mounted read-only without its journal on ${mount.mountPoint}; unmount it in the shell first` };
  return { writable: remount(mount.mountPoint) };
}

/** Decides, for every candidate in scope, whether it is searched where it is mounted, mounted read-only and searched, or skipped (with the reason). */
export function planRepositoryScan(candidates: readonly ScanCandidate[], drivers: MountDrivers, options: { readonly mountRoot: string; readonly scope: ScanScope }): ScanDecision[] {
  const decisions: ScanDecision[] = [];
  for (const candidate of candidates) {
    if (!inScanScope(candidate, options.scope)) continue;
    const skip = (reason: string, notable = false) => decisions.push({ action: 'skip', candidate, reason, notable });
    if (candidate.holdsMedium) {
      skip('on the Lifeboat medium (its data partition is searched on its own)');
      continue;
    }
    const own = mountPointFor(options.mountRoot, candidate.name);
    const mounted = candidate.mounts.find((mount) => mount.mountPoint === own) ?? candidate.mounts[0];
    if (mounted) {
      const ours = mounted.mountPoint === own;
      // Lifeboat's own mounts (an earlier scan) are made writable the way they were mounted.
      const method = ours && candidate.filesystem ? mountMethod(candidate.filesystem.type, candidate.device, own, drivers) : undefined;
      const existing: { writable?: WritableMethod; notWritable?: string } = method && 'writable' in method ? (mounted.readOnly ? { writable: method.writable } : {}) : writableExisting(mounted);
      decisions.push({ action: 'search-mounted', candidate, mountPoint: mounted.mountPoint, readOnly: mounted.readOnly, ours, writable: existing.writable, ...(existing.notWritable ? { notWritable: existing.notWritable } : {}) });
      continue;
    }
    const filesystem = candidate.filesystem;
    if (candidate.problem !== undefined) {
      skip(`cannot be read (${candidate.problem})`, true);
      continue;
    }
    if (!filesystem) {
      skip('no filesystem Lifeboat knows');
      continue;
    }
    if (filesystem.kind === 'swap') {
      skip('swap');
      continue;
    }
    if (filesystem.kind === 'encrypted') {
      skip(`encrypted (${filesystem.type}): not opened`, true);
      continue;
    }
    if (filesystem.kind !== 'filesystem') {
      skip(`${filesystem.kind === 'lvm-member' ? 'an LVM' : 'a RAID'} member (${filesystem.type}): not assembled`);
      continue;
    }
    const method = mountMethod(filesystem.type, candidate.device, own, drivers);
    if ('unavailable' in method) {
      skip(method.unavailable, EXT_TYPES.has(filesystem.type) || ['vfat', 'exfat', 'ntfs'].includes(filesystem.type) || OTHER_MOUNTABLE.has(filesystem.type));
      continue;
    }
    decisions.push({ action: 'mount', candidate, mountPoint: own, method });
  }
  return decisions;
}

/** Where a repository found on an attached disk lives. */
export interface RepositoryPlace {
  readonly device: string;
  /** Where that partition is mounted. */
  readonly mountPoint: string;
  readonly filesystem?: string;
  readonly label?: string;
  readonly readOnly: boolean;
}

/** A repository found on its own. */
export interface FoundRepository {
  readonly path: string;
  /** Set for repositories on attached disks. */
  readonly place?: RepositoryPlace;
}

/** A partition that was not searched, and why. */
export interface SkippedPartition {
  readonly device: string;
  readonly reason: string;
  /** A filesystem that could hold a repository (the user may want to know why it was not searched). */
  readonly notable: boolean;
}

/** What a search found. */
export interface ScanReport {
  readonly found: FoundRepository[];
  readonly skipped: SkippedPartition[];
}

/** The repository's folder inside its partition: `/backups` for MOUNT/backups. */
export function folderInside(repository: string, place: Pick<RepositoryPlace, 'mountPoint'>): string {
  if (repository === place.mountPoint) return '/';
  return repository.startsWith(`${place.mountPoint}/`) ? repository.slice(place.mountPoint.length) : repository;
}

/** How a found repository's place is shown: `loop3p1, ext4 "BACKUPS", read-only`. */
export function describeRepositoryPlace(place: RepositoryPlace): string {
  const parts = [baseName(place.device)];
  const filesystem = [place.filesystem, place.label ? `"${place.label}"` : undefined].filter(Boolean).join(' ');
  if (filesystem) parts.push(filesystem);
  if (place.readOnly) parts.push('read-only');
  return parts.join(', ');
}
