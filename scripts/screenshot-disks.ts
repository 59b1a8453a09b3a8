// The disks of the machine the README's pictures show, made on the host with real tools: a
// Windows-shaped SSD (ESP, MSR, NTFS C:, recovery), a Linux disk (a Debian-like system with GRUB),
// a backup drive (ext4 "Backups" holding an empty Lifeboat repository, made by `lifeboat init`)
// and a new, blank SSD. Sparse files of a few GiB: the partitions fill them, only used blocks cost.

import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../builder/paths.ts';
import { makeBootableSystem } from '../test/helpers/bootable-systems.ts';
import { makeWindowsShapedDisk } from '../test/helpers/windows-shaped-disk.ts';
import type { MachineDisk } from './screenshot-vm.ts';

const MiB = 1024 * 1024;
/** The folder of the repository on the backup drive. */
export const REPOSITORY_FOLDER = 'lifeboat';

/** Makes the four disks in `work` and returns them in SATA port order (sda..sdd). */
export async function makeMachineDisks(work: string): Promise<MachineDisk[]> {
  const windows = path.join(work, 'windows.img');
  await makeWindowsShapedDisk({ file: windows, sizeMiB: 2048 });
  const linux = path.join(work, 'linux.img');
  await makeBootableSystem('mbr-bios', { file: linux, sizeMiB: 2048 });
  const backups = await makeBackupDrive(work, 4096);
  const blank = path.join(work, 'new-ssd.img');
  await execa('truncate', ['-s', `${3072 * MiB}`, blank]);
  return [
    { file: windows, model: 'Samsung SSD 870', serial: 'S6PNNJ0R812345A', solidState: true },
    { file: linux, model: 'WDC WD20EZBX-00A', serial: 'WD-WX12D81N7KX3' },
    { file: backups, model: 'ST4000DM004-2U91', serial: 'ZFN3KQ7L' },
    { file: blank, model: 'CT1000MX500SSD1', serial: '2247E6B1C0DE', solidState: true },
  ];
}

/** A GPT disk with one ext4 partition "Backups" filling it, holding an empty repository. */
async function makeBackupDrive(work: string, sizeMiB: number): Promise<string> {
  const content = path.join(work, 'backups-content');
  await mkdir(content, { recursive: true });
  await execa(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'node'), [path.join(PROJECT_ROOT, 'rescue', 'bin', 'lifeboat.mjs'), 'init', '-r', path.join(content, REPOSITORY_FOLDER)], {
    env: { LIFEBOAT_LOG_DIR: path.join(work, 'host-logs') },
  });
  const file = path.join(work, 'backups.img');
  await execa('truncate', ['-s', `${sizeMiB * MiB}`, file]);
  await execa('sgdisk', ['-o', '-n', '1:2048:0', '-t', '1:8300', '-c', '1:Backups', file]);
  const partitionBytes = (sizeMiB - 2) * MiB;
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'Backups', '-d', content, '-E', `offset=${MiB}`, file, `${partitionBytes / 1024}k`]);
  return file;
}
