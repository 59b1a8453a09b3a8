// The disk map's drawing (partitions to scale, labels inside, unpartitioned space as dots), its
// legend, the gauge and chart text, and which disks are refused as restore targets.

import test from 'ava';
import type { DiskSummary } from '../../rescue/core/disk-facts.ts';
import { describePartitions, drawDiskBar, type MapDisk } from '../../rescue/core/disk-layout.ts';
import { targetRefusal } from '../../rescue/ui/tui/disk-loading.ts';
import { asciiChart, formatDuration, gaugeText } from '../../rescue/ui/tui/progress-screen.ts';
import { confirmationName } from '../../rescue/ui/tui/restore-flow.ts';
import { diskDetailLines } from '../../rescue/ui/tui/disks-screen.ts';
import { diskMapLines, repositoryBoxLines } from '../../rescue/ui/tui/home-screen.ts';

const MiB = 1024 * 1024;

test('partitions are drawn to scale with number, filesystem and label; free space is dots', (t) => {
  const disk: MapDisk = {
    sizeBytes: 100 * MiB,
    partitions: [
      { number: 1, startBytes: 0, sizeBytes: 10 * MiB, filesystem: 'vfat', label: 'ESP', role: 'esp' },
      { number: 2, startBytes: 10 * MiB, sizeBytes: 50 * MiB, filesystem: 'ext4', label: 'root', usedBytes: 20 * MiB, role: 'linux-root-candidate' },
    ],
  };
  const bar = drawDiskBar(disk, 52);
  t.is(bar.length, 52);
  t.is(bar, `[|1 vf|2 ext4 root${' '.repeat(13)}${'.'.repeat(20)}]`);
  t.deepEqual(describePartitions(disk), ['1: vfat "ESP", 10.0 MiB, ESP', '2: ext4 "root", 20.0 MiB used of 50.0 MiB, Linux']);
  t.is(drawDiskBar({ sizeBytes: 100 * MiB, partitions: [] }, 12), '[..........]');
  t.deepEqual(describePartitions({ sizeBytes: 1, partitions: [], problem: 'LB_DEVICE_UNREADABLE' }), ['unreadable (LB_DEVICE_UNREADABLE)']);
  // A tiny partition still gets a cell; partitions never overlap.
  const tiny = drawDiskBar({ sizeBytes: 1000 * MiB, partitions: [{ number: 1, startBytes: MiB, sizeBytes: MiB }, { number: 2, startBytes: 2 * MiB, sizeBytes: 998 * MiB }] }, 22);
  t.regex(tiny, /^\[\|\|2/);
});

const disk = (overrides: Partial<DiskSummary>): DiskSummary => ({
  name: 'sdb', path: '/dev/sdb', model: 'M', serial: 'S', sizeBytes: MiB, transport: 'usb', removable: true, readOnly: false, rotational: false,
  logicalSectorSize: 512, physicalSectorSize: 512, mountPoints: [], partitions: [], holdsMedium: false, ...overrides,
});

test('the disk holding the medium, mounted disks and read-only disks are refused as targets', (t) => {
  const map: MapDisk = { sizeBytes: MiB, partitions: [] };
  t.is(targetRefusal({ summary: disk({}), map }), undefined);
  t.is(targetRefusal({ summary: disk({ holdsMedium: true }), map }), 'holds the Lifeboat medium');
  t.is(targetRefusal({ summary: disk({ partitions: [{ name: 'sdb1', path: '/dev/sdb1', number: 1, startBytes: 0, sizeBytes: 1, mountPoints: ['/mnt'] }] }), map }), 'mounted');
  t.is(targetRefusal({ summary: disk({ readOnly: true }), map }), 'read-only');
  t.is(confirmationName('/dev/sdb'), 'sdb');
  t.is(confirmationName('/srv/images/disk.img:2'), 'disk.img');
});

test('gauge, duration and the ASCII rate chart', (t) => {
  t.is(gaugeText(50, 100, 18), '[#####.....]  50%');
  t.is(gaugeText(0, 0, 18), '[##########] 100%');
  t.is(formatDuration(3725), '1:02:05');
  t.is(formatDuration(Number.POSITIVE_INFINITY), '--:--');
  t.deepEqual(asciiChart([MiB, 2 * MiB], 10, 2), ['  #'.slice(1), '##', 'max 2.00 MiB/s']);
});

test('the home map, the disks screen and the repositories box wrap a 40-character model, a long label and a long path: no line passes its width, nothing is cut', (t) => {
  const model = 'Samsung SSD 980 PRO with Heatsink 2TB';
  const label = "System volume of Alice's laptop!";
  const summary = disk({ path: '/dev/nvme0n1', model, serial: 'S6WRNS0T812345X', transport: 'nvme', sizeBytes: 2000 * 1024 * MiB, partitions: [{ name: 'nvme0n1p3', path: '/dev/nvme0n1p3', number: 3, startBytes: 0, sizeBytes: 1, mountPoints: ['/media/alice/System volume of Alices laptop'] }] });
  const map: MapDisk = { sizeBytes: summary.sizeBytes, partitions: [{ number: 3, startBytes: MiB, sizeBytes: 1900 * 1024 * MiB, filesystem: 'ntfs', label, usedBytes: 700 * 1024 * MiB, role: 'windows-system-candidate' }] };
  const whole = (lines: readonly string[]) => lines.join(' ').replace(/\{\/?bold\}/g, '').replace(/\s+/g, ' ');
  for (const width of [52, 74]) {
    const home = diskMapLines([{ summary, map }], width);
    t.true(home.every((line) => line.replace(/\{\/?bold\}/g, '').length <= width), `home at ${width}:\n${home.join('\n')}`);
    t.true(whole(home).includes(model) && whole(home).includes(`"${label}"`), home.join('\n'));
    const details = diskDetailLines([{ summary, map }], width);
    t.true(details.every((line) => line.replace(/\{\/?bold\}/g, '').length <= width), `disks at ${width}:\n${details.join('\n')}`);
    for (const value of [model, 'serial S6WRNS0T812345X', `"${label}"`, '/media/alice/System volume of Alices laptop']) t.true(whole(details).includes(value), value);
  }
  const repository = '/run/lifeboat/mnt/sdb1-SanDisk-Extreme-PRO/backups/alices-laptop/lifeboat-repository';
  const box = repositoryBoxLines([repository], 51);
  t.true(box.every((line) => line.length <= 51));
  t.is(box.map((line) => line.trim()).join(''), repository, 'wrapped, not cut');
  t.is(repositoryBoxLines(Array.from({ length: 9 }, (_, index) => `/backups/${index}`), 51).at(-1), '... 4 more (Backup and Restore list them all)');
});
