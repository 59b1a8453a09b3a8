// Which attached partitions are searched for repositories, with which mount command and options,
// and why others are skipped (core/attached-repositories.ts; the mounting itself is tested with
// loop devices in test/tui/find-repositories.test.ts).

import test from 'ava';
import {
  describeRepositoryPlace,
  folderInside,
  inScanScope,
  mountPointFor,
  parseScanScope,
  planRepositoryScan,
  type MountDrivers,
  type ScanCandidate,
  type ScanDecision,
} from '../../rescue/core/attached-repositories.ts';

const ROOT = '/run/lifeboat/mnt';
const ALL = { kind: 'all' } as const;

function candidate(name: string, filesystem: ScanCandidate['filesystem'], extra: Partial<ScanCandidate> = {}): ScanCandidate {
  const disk = `/dev/${name.replace(/p?\d+$/, '')}`;
  return { device: `/dev/${name}`, name, disk, holdsMedium: false, filesystem, mounts: [], ...extra };
}

const ext4 = { type: 'ext4', kind: 'filesystem', label: 'BACKUPS', state: 'clean' } as const;
const ntfs = { type: 'ntfs', kind: 'filesystem', label: 'Windows', state: 'clean' } as const;
const exfat = { type: 'exfat', kind: 'filesystem', state: 'clean' } as const;
const vfat = { type: 'vfat', kind: 'filesystem', label: 'STICK', state: 'clean' } as const;

const debianHost: MountDrivers = { kernel: new Set(['ext4', 'ext3', 'ext2', 'vfat', 'exfat']), programs: new Set(['ntfs-3g', 'mount.exfat-fuse']) };
const medium: MountDrivers = { kernel: new Set(['ext4', 'vfat', 'exfat']), programs: new Set(['ntfs-3g']) };
const bare: MountDrivers = { kernel: new Set(['ext4']), programs: new Set() };

function only(decisions: ScanDecision[]): ScanDecision {
  if (decisions.length !== 1 || !decisions[0]) throw new Error(`expected one decision, got ${decisions.length}`);
  return decisions[0];
}

test('LIFEBOAT_SCAN_DEVICES: unset or all scans everything, empty or none nothing, else the devices named', (t) => {
  t.deepEqual(parseScanScope(undefined), { kind: 'all' });
  t.deepEqual(parseScanScope('all'), { kind: 'all' });
  t.deepEqual(parseScanScope(''), { kind: 'none' });
  t.deepEqual(parseScanScope('none'), { kind: 'none' });
  t.deepEqual(parseScanScope('/dev/loop3, loop4p2  /dev/sdb'), { kind: 'only', devices: ['/dev/loop3', 'loop4p2', '/dev/sdb'] });
  const scope = parseScanScope('/dev/loop3 loop4p2');
  t.true(inScanScope({ device: '/dev/loop3p1', disk: '/dev/loop3' }, scope), 'a partition of a disk named');
  t.true(inScanScope({ device: '/dev/loop4p2', disk: '/dev/loop4' }, scope), 'a partition named by its kernel name');
  t.false(inScanScope({ device: '/dev/loop4p1', disk: '/dev/loop4' }, scope), 'another partition of that disk');
  t.false(inScanScope({ device: '/dev/vda1', disk: '/dev/vda' }, scope), 'the machine\'s own disk');
  t.false(inScanScope({ device: '/dev/vda1', disk: '/dev/vda' }, { kind: 'none' }));
  t.deepEqual(planRepositoryScan([candidate('vda1', ext4)], debianHost, { mountRoot: ROOT, scope: { kind: 'none' } }), []);
});

test('ext4 is mounted read-only without replaying its journal; writing mounts it again with the journal', (t) => {
  const decision = only(planRepositoryScan([candidate('sdb1', ext4)], medium, { mountRoot: ROOT, scope: ALL }));
  if (decision.action !== 'mount') return t.fail(decision.action);
  t.is(decision.mountPoint, '/run/lifeboat/mnt/sdb1');
  t.deepEqual(decision.method.readOnly, { program: 'mount', args: ['-t', 'ext4', '-o', 'ro,noload', '/dev/sdb1', '/run/lifeboat/mnt/sdb1'] });
  t.deepEqual(decision.method.writable, { mode: 'mount-again', command: { program: 'mount', args: ['-t', 'ext4', '-o', 'rw', '/dev/sdb1', '/run/lifeboat/mnt/sdb1'] } });
  t.is(decision.method.driver, 'kernel');
});

test('NTFS goes through ntfs-3g -o ro (mounted again to write), else the kernel\'s ntfs3, else it is skipped with the reason', (t) => {
  const fuse = only(planRepositoryScan([candidate('nvme0n1p3', ntfs)], debianHost, { mountRoot: ROOT, scope: ALL }));
  if (fuse.action !== 'mount') return t.fail(fuse.action);
  t.deepEqual(fuse.method.readOnly, { program: 'ntfs-3g', args: ['-o', 'ro', '/dev/nvme0n1p3', '/run/lifeboat/mnt/nvme0n1p3'] });
  t.deepEqual(fuse.method.writable, { mode: 'mount-again', command: { program: 'ntfs-3g', args: ['/dev/nvme0n1p3', '/run/lifeboat/mnt/nvme0n1p3'] } });
  t.is(fuse.method.driver, 'fuse');
  const kernel = only(planRepositoryScan([candidate('sda2', ntfs)], { kernel: new Set(['ntfs3']), programs: new Set() }, { mountRoot: ROOT, scope: ALL }));
  if (kernel.action !== 'mount') return t.fail(kernel.action);
  t.deepEqual(kernel.method.readOnly.args, ['-t', 'ntfs3', '-o', 'ro', '/dev/sda2', '/run/lifeboat/mnt/sda2']);
  t.deepEqual(kernel.method.writable, { mode: 'remount', command: { program: 'mount', args: ['-o', 'remount,rw', '/run/lifeboat/mnt/sda2'] } });
  // The medium: Debian 12's kernel has no ntfs3, the medium carries ntfs-3g.
  t.like(only(planRepositoryScan([candidate('sda2', ntfs)], medium, { mountRoot: ROOT, scope: ALL })), { action: 'mount', method: { driver: 'fuse', description: 'NTFS (ntfs-3g)' } });
  const none = only(planRepositoryScan([candidate('sda2', ntfs)], bare, { mountRoot: ROOT, scope: ALL }));
  t.like(none, { action: 'skip', notable: true });
  if (none.action === 'skip') t.regex(none.reason, /NTFS needs ntfs-3g/);
});

test('exFAT: the kernel driver (remounted to write), else exfat-fuse; FAT: the kernel\'s vfat, else skipped', (t) => {
  const kernel = only(planRepositoryScan([candidate('sdc1', exfat)], medium, { mountRoot: ROOT, scope: ALL }));
  if (kernel.action !== 'mount') return t.fail(kernel.action);
  t.deepEqual(kernel.method.readOnly.args, ['-t', 'exfat', '-o', 'ro', '/dev/sdc1', '/run/lifeboat/mnt/sdc1']);
  t.is(kernel.method.writable.mode, 'remount');
  const fuse = only(planRepositoryScan([candidate('sdc1', exfat)], { kernel: new Set(['ext4']), programs: new Set(['mount.exfat-fuse']) }, { mountRoot: ROOT, scope: ALL }));
  if (fuse.action !== 'mount') return t.fail(fuse.action);
  t.deepEqual(fuse.method.readOnly, { program: 'mount.exfat-fuse', args: ['-o', 'ro', '/dev/sdc1', '/run/lifeboat/mnt/sdc1'] });
  t.is(fuse.method.writable.mode, 'mount-again');
  t.like(only(planRepositoryScan([candidate('sdc1', exfat)], bare, { mountRoot: ROOT, scope: ALL })), { action: 'skip', notable: true });
  const fat = only(planRepositoryScan([candidate('sdd1', vfat)], medium, { mountRoot: ROOT, scope: ALL }));
  if (fat.action !== 'mount') return t.fail(fat.action);
  t.deepEqual(fat.method.readOnly.args, ['-t', 'vfat', '-o', 'ro', '/dev/sdd1', '/run/lifeboat/mnt/sdd1']);
  t.deepEqual(fat.method.writable, { mode: 'remount', command: { program: 'mount', args: ['-o', 'remount,rw', '/run/lifeboat/mnt/sdd1'] } });
  t.like(only(planRepositoryScan([candidate('sdd1', vfat)], bare, { mountRoot: ROOT, scope: ALL })), { action: 'skip', reason: 'the kernel has no vfat driver', notable: true });
});

test('the medium, swap, containers, unknown and damaged partitions are skipped, each with its reason', (t) => {
  const decisions = planRepositoryScan([
    candidate('sda1', vfat, { holdsMedium: true, mounts: [{ mountPoint: '/mnt/lifeboat-data', readOnly: false, fsType: 'vfat', options: ['rw'] }] }),
    candidate('sdb1', { type: 'swap', kind: 'swap', state: 'unknown' }),
    candidate('sdb2', { type: 'BitLocker', kind: 'encrypted', state: 'unknown' }),
    candidate('sdb3', { type: 'LVM2_member', kind: 'lvm-member', state: 'unknown' }),
    candidate('sdb4', undefined),
    candidate('sdb5', { type: 'xfs', kind: 'filesystem', state: 'unknown' }),
    candidate('sdb6', undefined, { problem: 'LB_DEVICE_UNREADABLE: The disk or image could not be opened for reading.' }),
  ], debianHost, { mountRoot: ROOT, scope: ALL });
  t.deepEqual(decisions.map((decision) => decision.action === 'skip' ? [decision.candidate.name, decision.notable, decision.reason] : [decision.candidate.name, decision.action]), [
    ['sda1', false, 'on the Lifeboat medium (its data partition is searched on its own)'],
    ['sdb1', false, 'swap'],
    ['sdb2', true, 'encrypted (BitLocker): not opened'],
    ['sdb3', false, 'an LVM member (LVM2_member): not assembled'],
    ['sdb4', false, 'no filesystem Lifeboat knows'],
    ['sdb5', true, 'xfs is not searched (repositories are looked for on ext4, FAT, exFAT and NTFS; mount it in the shell and type the folder)'],
    ['sdb6', true, 'cannot be read (LB_DEVICE_UNREADABLE: The disk or image could not be opened for reading.)'],
  ]);
});

test('a partition mounted already is searched where it is; how it can be made writable depends on who mounted it and how', (t) => {
  const plan = (extra: Partial<ScanCandidate>, filesystem: ScanCandidate['filesystem'] = ext4) => only(planRepositoryScan([candidate('sdb1', filesystem, extra)], debianHost, { mountRoot: ROOT, scope: ALL }));
  t.like(plan({ mounts: [{ mountPoint: '/media/usb', readOnly: false, fsType: 'ext4', options: ['rw', 'relatime'] }] }), { action: 'search-mounted', mountPoint: '/media/usb', readOnly: false, ours: false, writable: undefined });
  t.like(plan({ mounts: [{ mountPoint: '/media/usb', readOnly: true, fsType: 'vfat', options: ['ro'] }] }, vfat), { action: 'search-mounted', readOnly: true, ours: false, writable: { mode: 'remount', command: { program: 'mount', args: ['-o', 'remount,rw', '/media/usb'] } } });
  const fuse = plan({ mounts: [{ mountPoint: '/media/win', readOnly: true, fsType: 'fuseblk', options: ['ro'] }] }, ntfs);
  t.like(fuse, { action: 'search-mounted', writable: undefined });
  if (fuse.action === 'search-mounted') t.regex(fuse.notWritable ?? '', /through FUSE/);
  const journal = plan({ mounts: [{ mountPoint: '/media/linux', readOnly: true, fsType: 'ext4', options: ['ro', 'ro', 'norecovery'] }] });
  if (journal.action === 'search-mounted') t.regex(journal.notWritable ?? '', /without its journal/);
  // Lifeboat's own read-only mount (an earlier scan): made writable the way it was mounted.
  t.like(plan({ mounts: [{ mountPoint: '/run/lifeboat/mnt/sdb1', readOnly: true, fsType: 'ext4', options: ['ro', 'norecovery'] }] }), { action: 'search-mounted', ours: true, writable: { mode: 'mount-again' } });
  // Of several mounts, Lifeboat's own is the one searched.
  t.like(plan({ mounts: [{ mountPoint: '/elsewhere', readOnly: false, fsType: 'ext4', options: [] }, { mountPoint: '/run/lifeboat/mnt/sdb1', readOnly: true, fsType: 'ext4', options: [] }] }), { mountPoint: '/run/lifeboat/mnt/sdb1', ours: true });
});

test('mount folders and how a found repository\'s place is shown', (t) => {
  t.is(mountPointFor('/run/lifeboat/mnt/', 'mmcblk0p1'), '/run/lifeboat/mnt/mmcblk0p1');
  t.is(mountPointFor('/tmp/x', 'we:ird'), '/tmp/x/we_ird');
  t.is(describeRepositoryPlace({ device: '/dev/loop3p1', mountPoint: '/run/lifeboat/mnt/loop3p1', filesystem: 'ext4', label: 'BACKUPS', readOnly: true }), 'loop3p1, ext4 "BACKUPS", read-only');
  t.is(folderInside('/run/lifeboat/mnt/loop3p1/backups', { mountPoint: '/run/lifeboat/mnt/loop3p1' }), '/backups');
  t.is(folderInside('/media/usb', { mountPoint: '/media/usb' }), '/');
  t.is(describeRepositoryPlace({ device: '/dev/sdb1', mountPoint: '/media/usb', filesystem: 'ntfs', readOnly: false }), 'sdb1, ntfs');
});
