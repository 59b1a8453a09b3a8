// The bootable test systems that clone, conversion and deployment tests prove their copies with
// (test/helpers/bootable-systems.ts): each is built with real tools and boots in QEMU with its
// firmware to the marker, whose fields must match the facts, and every filesystem checks clean
// after it; copies broken in the ways a bad clone breaks them (a partition moved in the table, a
// filesystem UUID changed) must not reach it.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootSystem, makeBootableSystem, systemVolume, type BootableSystem, type SystemBoot } from '../helpers/bootable-systems.ts';
import { fsckVolume, withVolumeDevice } from '../helpers/disk-fixtures.ts';
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
  const root = system.partitions.find((partition) => partition.role === 'root');
  t.deepEqual(marker, {
    name: system.kind,
    firmware: system.firmware === 'ovmf' ? 'uefi' : 'bios',
    table: system.table,
    disk: 'vda',
    rootUuid: system.rootUuid,
    rootDevice: `vda${root?.number}`,
    rootStartSector: root?.startSector,
    mounts: system.mounts,
    data: system.data,
  });
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
