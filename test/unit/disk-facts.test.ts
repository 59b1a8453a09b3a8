import test from 'ava';
import { formatBytes, isVirtualDiskName, parseVpdPage80, transportFromSysPath, type Transport } from '../../rescue/core/disk-facts.ts';

test('transport is derived from the sysfs device path the kernel gives each bus', (t) => {
  const cases: Array<[string, string, Transport]> = [
    ['sda', '/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda', 'sata'],
    ['sdb', '/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb', 'usb'],
    ['nvme0n1', '/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1', 'nvme'],
    ['vda', '/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda', 'virtio'],
    ['sdc', '/sys/devices/pci0000:00/0000:00:05.0/virtio2/host2/target2:0:0/2:0:0:0/block/sdc', 'virtio'],
    ['mmcblk0', '/sys/devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:0001/block/mmcblk0', 'mmc'],
    ['sr0', '/sys/devices/pci0000:00/0000:00:01.1/ata2/host1/target1:0:0/1:0:0:0/block/sr0', 'cdrom'],
    ['sdd', '/sys/devices/pci0000:00/0000:00:10.0/host3/target3:0:0/3:0:0:0/block/sdd', 'scsi'],
    ['loop0', '/sys/devices/virtual/block/loop0', 'loop'],
    ['zram0', '/sys/devices/virtual/block/zram0', 'ram'],
    ['xyz', '/sys/devices/platform/xyz', 'unknown'],
  ];
  for (const [name, sysPath, expected] of cases) t.is(transportFromSysPath(name, sysPath), expected, name);
});

test('VPD page 0x80 gives the unit serial; short or foreign pages give none', (t) => {
  const page = Buffer.concat([Buffer.from([0x00, 0x80, 0x00, 0x0c]), Buffer.from('  WD-1234XYZ\0')]);
  t.is(parseVpdPage80(page), 'WD-1234XYZ');
  t.is(parseVpdPage80(Buffer.from([0x00, 0x83, 0x00, 0x02, 0x41, 0x42])), '');
  t.is(parseVpdPage80(Buffer.from([0x00, 0x80])), '');
  t.is(parseVpdPage80(Buffer.from([0x00, 0x80, 0xff, 0xff, 0x41])), 'A');
});

test('loop, ram and zram are virtual; disks are not', (t) => {
  t.true(isVirtualDiskName('loop12'));
  t.true(isVirtualDiskName('zram0'));
  t.true(isVirtualDiskName('ram3'));
  t.false(isVirtualDiskName('sda'));
  t.false(isVirtualDiskName('looper'));
});

test('sizes are shown in binary units', (t) => {
  t.is(formatBytes(512), '512 B');
  t.is(formatBytes(67112448), '64.0 MiB');
  t.is(formatBytes(256 * 1024 ** 3), '256 GiB');
  t.is(formatBytes(1536), '1.50 KiB');
});
