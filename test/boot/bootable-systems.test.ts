// The bootable test systems that clone, conversion and deployment tests prove their copies with
// (test/helpers/bootable-systems.ts): each is built with real tools and boots in QEMU with its
// firmware to the marker, whose fields must match the facts, and every filesystem checks clean
// after it; copies broken in the ways a bad clone breaks them (a partition moved in the table, a
// filesystem UUID changed) must not reach it.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootSystem, expectedMarker, makeBootableSystem, systemVolume, type BootableSystem, type SystemBoot } from '../helpers/bootable-systems.ts';
import { fsckVolume, readPartitionTable, withMountedVolume, withVolumeDevice } from '../helpers/disk-fixtures.ts';
import { bootWindowsStandIn, makeWindowsShapedDisk, windowsVolume } from '../helpers/windows-shaped-disk.ts';
import { createLimiter } from '../helpers/qemu.ts';

const limit = createLimiter(2);

async function scratch(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-systems-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function describe(boot: SystemBoot): string {
  return `after ${boot.seconds.toFixed(1)} s${boot.timedOut ? ' (timed out)' : ''}; the console's end:\n${boot.transcript.slice(-2500)}`;
}

/** Boots a system and checks that its marker shows every fact: firmware, table, root by UUID, each fstab mount by UUID, the data file. */
async function bootsToMarker(t: import('ava').ExecutionContext, system: BootableSystem): Promise<void> {
  const boot = await limit(() => bootSystem(system.file, { firmware: system.firmware }));
  t.log(`${system.kind}: marker after ${boot.seconds.toFixed(1)} s`);
  const marker = boot.marker;
  if (!marker) return void t.fail(`${system.kind} printed no marker ${describe(boot)}`);
  t.deepEqual(marker, expectedMarker(system));
  for (const partition of system.partitions) {
    const fsck = await fsckVolume(systemVolume(system, partition.role));
    t.true(fsck.clean, `${partition.role} after the boot: ${fsck.output}`);
  }
}

test('QEMU: mbr-bios (MBR, GRUB BIOS from grub-install) boots with SeaBIOS to its marker: root by UUID, table dos', async (t) => {
  const dir = await scratch(t);
  const system = await makeBootableSystem('mbr-bios', { file: path.join(dir, 'mbr-bios.img') });
  await bootsToMarker(t, system);
});

test('QEMU: gpt-uefi (GPT, ESP with GRUB EFI, /boot, root, data) boots with OVMF to its marker: /boot, /boot/efi and /data mounted by UUID, the data file read', async (t) => {
  const dir = await scratch(t);
  const system = await makeBootableSystem('gpt-uefi', { file: path.join(dir, 'gpt-uefi.img') });
  t.deepEqual(Object.keys(system.mounts), ['/boot', '/boot/efi', '/data']);
  await bootsToMarker(t, system);
});

test('QEMU: broken copies do not reach the marker (gpt-uefi with its /boot partition moved in the table; mbr-bios with its root UUID changed)', async (t) => {
  const dir = await scratch(t);
  const [gpt, mbr] = await Promise.all([makeBootableSystem('gpt-uefi', { file: path.join(dir, 'moved.img') }), makeBootableSystem('mbr-bios', { file: path.join(dir, 'new-root-uuid.img') })]);
  // The table says /boot starts 1 MiB later than its filesystem does: GRUB's search by UUID finds no /boot.
  const boot = gpt.partitions.find((partition) => partition.role === 'boot');
  if (!boot) return void t.fail('gpt-uefi has no /boot');
  await execa('sgdisk', ['-d', String(boot.number), '-n', `${boot.number}:${boot.startSector + 2048}:${boot.startSector + boot.sizeSectors - 1}`, '-t', `${boot.number}:8300`, gpt.file]);
  // The root filesystem gets another UUID: grub.cfg's root=UUID= no longer names it.
  await withVolumeDevice(systemVolume(mbr, 'root'), 'rw', async (device) => {
    await execa('e2fsck', ['-f', '-y', device]); // tune2fs -U wants a freshly checked filesystem
    await execa('tune2fs', ['-U', 'random', device]);
  });
  const [moved, renamed] = await Promise.all([limit(() => bootSystem(gpt.file, { firmware: 'ovmf', timeoutMs: 90_000 })), limit(() => bootSystem(mbr.file, { firmware: 'seabios', timeoutMs: 90_000 }))]);
  t.log(`moved /boot: stopped after ${moved.seconds.toFixed(1)} s; changed root UUID: after ${renamed.seconds.toFixed(1)} s (${renamed.failure ?? 'no failure line'})`);
  t.is(moved.marker, undefined, describe(moved));
  t.true(moved.grubPrompt && moved.transcript.includes(`error: no such device: ${boot.uuid}`), `GRUB should miss /boot and stop at its prompt ${describe(moved)}`);
  t.is(renamed.marker, undefined, describe(renamed));
  t.is(renamed.failure, `initramfs: root UUID=${mbr.rootUuid} not found`, describe(renamed));
});

/** The boot sector's hidden-sectors field (offset 0x1C, both FAT32 and NTFS): the partition's start as the filesystem records it. */
async function hiddenSectors(file: string, offset: number): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(4);
    await handle.read(buffer, 0, 4, offset + 0x1c);
    return buffer.readUInt32LE(0);
  } finally {
    await handle.close();
  }
}

test('QEMU: the Windows-shaped disk (ESP, MSR, half-full NTFS C:, NTFS recovery) is what clone tests expect, and its loader stand-in finds C: by serial under OVMF', async (t) => {
  const dir = await scratch(t);
  const [disk, renamed] = await Promise.all([makeWindowsShapedDisk({ file: path.join(dir, 'windows.img') }), makeWindowsShapedDisk({ file: path.join(dir, 'other-serial.img') })]);
  const table = await readPartitionTable(disk.file);
  t.is(table.label, 'gpt');
  t.deepEqual(table.partitions.map((partition) => [partition.number, partition.type.toUpperCase(), partition.start]), disk.partitions.map((partition) => [partition.number, partition.type, partition.startSector]));
  for (const role of ['esp', 'windows', 'recovery'] as const) {
    const volume = windowsVolume(disk, role);
    const fsck = await fsckVolume(volume);
    t.true(fsck.clean, `${role}: ${fsck.output}`);
    t.is(await hiddenSectors(disk.file, volume.offset), volume.offset / 512, `${role}: hidden sectors`);
  }
  const windows = windowsVolume(disk, 'windows');
  const used = await withMountedVolume(windows, 'ro', async (root) => {
    for (const name of ['Windows/System32/config/SYSTEM', 'Windows/Boot/EFI/bootmgfw.efi', 'Users/Public/desktop.ini']) t.true((await stat(path.join(root, name))).isFile(), name);
    const { stdout } = await execa('df', ['-B1', '--output=used,size', root]);
    const [usedBytes, sizeBytes] = (stdout.trim().split('\n')[1] ?? '').trim().split(/\s+/).map(Number);
    return (usedBytes ?? 0) / (sizeBytes ?? 1);
  });
  t.true(used > 0.45 && used < 0.7, `C: is ${Math.round(used * 100)} % full`);
  // A copy whose C: has another serial: the stand-in must not find it.
  await withVolumeDevice(windowsVolume(renamed, 'windows'), 'rw', (device) => execa('ntfslabel', ['--new-serial=0123456789ABCDEF', device, 'Windows']));
  const [good, bad] = await Promise.all([limit(() => bootWindowsStandIn(disk.file)), limit(() => bootWindowsStandIn(renamed.file))]);
  t.log(`stand-in: found C: after ${good.seconds.toFixed(1)} s; with C:'s serial changed: ${bad.found ? 'found' : 'not found'} after ${bad.seconds.toFixed(1)} s`);
  t.true(good.found, good.transcript.slice(-2000));
  t.false(bad.found, bad.transcript.slice(-2000));
  t.true(bad.transcript.includes('LIFEBOAT-WINDOWS-STAND-IN missing-c='), bad.transcript.slice(-2000));
});
