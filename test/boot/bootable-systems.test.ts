// The bootable test systems that clone, conversion and deployment tests prove their copies with
// (test/helpers/bootable-systems.ts): each is built with real tools and boots in QEMU with its
// firmware to the marker, whose fields must match the facts, and every filesystem checks clean
// after it; copies broken in the ways a bad clone breaks them (a partition moved in the table, a
// filesystem UUID changed) must not reach it. The Windows-shaped disk's facts and loader stand-in.

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

test('QEMU: gpt-uefi (GPT, ESP with GRUB EFI, /boot, root, data) boots with OVMF to its marker: /boot, /boot/efi and /data mounted by UUID, the data file read; without its data partition /data is absent (nofail) and it still comes up', async (t) => {
  const dir = await scratch(t);
  const [system, withoutData] = await Promise.all([makeBootableSystem('gpt-uefi', { file: path.join(dir, 'gpt-uefi.img') }), makeBootableSystem('gpt-uefi', { file: path.join(dir, 'without-data.img') })]);
  t.deepEqual(Object.keys(system.mounts), ['/boot', '/boot/efi', '/data']);
  // What clone system leaves out: the data partition (its fstab entry is nofail).
  const data = system.partitions.find((partition) => partition.role === 'data');
  await execa('sgdisk', ['-d', String(data?.number), withoutData.file]);
  const [, boot] = await Promise.all([bootsToMarker(t, system), limit(() => bootSystem(withoutData.file, { firmware: 'ovmf' }))]);
  t.log(`gpt-uefi without its data partition: marker after ${boot.seconds.toFixed(1)} s`);
  t.deepEqual(boot.marker, expectedMarker(withoutData, { withoutData: true }), describe(boot));
});

test('QEMU: broken copies do not reach the marker (a partition moved in the table: mbr-bios root, gpt-uefi /boot; mbr-bios with its root UUID changed)', async (t) => {
  const dir = await scratch(t);
  const [mbrMoved, gptMoved, mbrRenamed] = await Promise.all([
    makeBootableSystem('mbr-bios', { file: path.join(dir, 'mbr-moved.img') }),
    makeBootableSystem('gpt-uefi', { file: path.join(dir, 'gpt-moved.img') }),
    makeBootableSystem('mbr-bios', { file: path.join(dir, 'mbr-new-root-uuid.img') }),
  ]);
  // The table says the root starts 1 MiB later than its filesystem does: GRUB's core finds no /boot/grub.
  const root = mbrMoved.partitions[0];
  if (!root) return void t.fail('mbr-bios has no partition');
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', mbrMoved.file], { input: `label: dos\nunit: sectors\n\nstart=${root.startSector + 2048}, type=83, bootable\n` });
  // The table says /boot starts 1 MiB later than its filesystem does: GRUB EFI's search by UUID finds no /boot.
  const boot = gptMoved.partitions.find((partition) => partition.role === 'boot');
  if (!boot) return void t.fail('gpt-uefi has no /boot');
  await execa('sgdisk', ['-d', String(boot.number), '-n', `${boot.number}:${boot.startSector + 2048}:${boot.startSector + boot.sizeSectors - 1}`, '-t', `${boot.number}:8300`, gptMoved.file]);
  // The root filesystem gets another UUID: grub.cfg's root=UUID= no longer names it.
  await withVolumeDevice(systemVolume(mbrRenamed, 'root'), 'rw', async (device) => {
    await execa('e2fsck', ['-f', '-y', device]); // tune2fs -U wants a freshly checked filesystem
    await execa('tune2fs', ['-U', 'random', device]);
  });
  const [bios, uefi, renamed] = await Promise.all([
    limit(() => bootSystem(mbrMoved.file, { firmware: 'seabios', timeoutMs: 90_000 })),
    limit(() => bootSystem(gptMoved.file, { firmware: 'ovmf', timeoutMs: 90_000 })),
    limit(() => bootSystem(mbrRenamed.file, { firmware: 'seabios', timeoutMs: 90_000 })),
  ]);
  t.log(`mbr-bios root moved: stopped after ${bios.seconds.toFixed(1)} s; gpt-uefi /boot moved: after ${uefi.seconds.toFixed(1)} s; mbr-bios root UUID changed: after ${renamed.seconds.toFixed(1)} s (${renamed.failure ?? 'no failure line'})`);
  for (const boot of [bios, uefi, renamed]) t.is(boot.marker, undefined, describe(boot));
  t.true(bios.grubPrompt && bios.screen.includes('error: unknown filesystem.'), `GRUB's core should find no filesystem at the partition's start and stop at its rescue prompt ${describe(bios)}`);
  t.true(uefi.grubPrompt && uefi.screen.includes(`error: no such device: ${boot.uuid}`), `GRUB EFI should miss /boot and stop at its prompt ${describe(uefi)}`);
  t.is(renamed.failure, `initramfs: root UUID=${mbrRenamed.rootUuid} not found`, describe(renamed));
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
