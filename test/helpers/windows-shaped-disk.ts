// A Windows-shaped GPT disk for the clone and conversion tests (Windows itself cannot boot here):
// ESP (FAT32, mkfs.fat and mtools) with EFI/Microsoft/Boot/bootmgfw.efi and EFI/Boot/bootx64.efi,
// MSR, a half-full NTFS "C:" written through ntfs-3g (Windows/System32/config/...), and an NTFS
// recovery partition (required, no drive letter). The loader stand-in is a GRUB EFI program that
// looks for C: by its NTFS serial and prints what it found, so a copy can be booted under OVMF to
// prove its ESP's path and C:'s identity. Built once per content key into the systems cache.

import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exists } from '../../builder/files.ts';
import { removeStaleBuilds, systemsCacheDir } from './bootable-systems.ts';
import { readPartitionTable, seededBytes, type Volume, withMountedVolume, withVolumeDevice } from './disk-fixtures.ts';
import { bootVm } from './qemu.ts';

/** One partition of the Windows-shaped disk. */
export interface WindowsPartition {
  readonly number: number;
  readonly role: 'esp' | 'msr' | 'windows' | 'recovery';
  readonly filesystem: 'vfat' | 'ntfs' | 'none';
  /** GPT type GUID (upper case, as sgdisk and sfdisk print it). */
  readonly type: string;
  /** The filesystem's UUID as blkid prints it (vfat XXXX-XXXX, NTFS 16 hex digits); '' for the MSR. */
  readonly uuid: string;
  readonly startSector: number;
  readonly sizeSectors: number;
}

/** The disk and what it holds. */
export interface WindowsShapedDisk {
  readonly file: string;
  readonly sizeBytes: number;
  readonly partitions: readonly WindowsPartition[];
  /** Bytes of file data written into C: (about half of it). */
  readonly windowsFileBytes: number;
  /** The line the loader stand-in prints when it found C: by its serial and C:'s SYSTEM hive. */
  readonly standInMarker: string;
}

const MiB = 1024 * 1024;
const SECTOR = 512;
const DEFAULT_SIZE_MIB = 256;
const TYPES = {
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  msr: 'E3C9E316-0B5C-4DB8-817D-F92DF00215AE',
  windows: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
  recovery: 'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC',
};
const C_SERIAL = '5A17C0DE0B0A7C01';
const RECOVERY_SERIAL = '5A17C0DE0B0A7C02';
const ESP_SERIAL = '4A3B2C1D';
const STAND_IN_MARKER = `LIFEBOAT-WINDOWS-STAND-IN found-c=${C_SERIAL.toLowerCase()}`;
const SOURCE = fileURLToPath(import.meta.url);

/** Makes the Windows-shaped disk into options.file (from the cache, built first when missing) and returns its facts. */
export async function makeWindowsShapedDisk(options: { file: string; sizeMiB?: number }): Promise<WindowsShapedDisk> {
  const sizeMiB = options.sizeMiB ?? DEFAULT_SIZE_MIB;
  const cached = await cachedDisk(sizeMiB);
  await rm(options.file, { force: true });
  await execa('cp', ['--sparse=always', '--reflink=auto', cached.file, options.file]);
  return { ...cached, file: options.file };
}

/** A partition of the disk as a disk-fixtures Volume (fsckVolume, readTree, compareVolumes), in `file` (the disk's own by default). */
export function windowsVolume(disk: WindowsShapedDisk, role: 'esp' | 'windows' | 'recovery', file: string = disk.file): Volume {
  const partition = disk.partitions.find((candidate) => candidate.role === role);
  if (!partition) throw new Error(`no ${role} partition`);
  return { kind: partition.filesystem === 'vfat' ? 'fat32' : 'ntfs', file, offset: partition.startSector * SECTOR, sizeBytes: partition.sizeSectors * SECTOR };
}

/** Boots a copy under OVMF: true when the ESP's bootx64.efi stand-in ran and found C: by its serial (it then powers off). */
export async function bootWindowsStandIn(file: string, options: { timeoutMs?: number } = {}): Promise<{ found: boolean; transcript: string; seconds: number }> {
  const result = await bootVm({ firmware: 'ovmf', medium: { kind: 'disk', file }, memoryMiB: 512, timeoutMs: options.timeoutMs ?? 120_000, until: /LIFEBOAT-WINDOWS-STAND-IN .*\n/ });
  const transcript = result.transcript.replace(/\r/g, '');
  return { found: transcript.includes(STAND_IN_MARKER), transcript, seconds: result.matchedAfterSeconds ?? result.seconds };
}

async function cachedDisk(sizeMiB: number): Promise<WindowsShapedDisk> {
  const { stdout: versions } = await execa('dpkg-query', ['-W', 'ntfs-3g', 'dosfstools', 'mtools', 'grub-efi-amd64-bin']);
  const key = createHash('sha256').update(`${sizeMiB}\n${versions}\n`).update(await readFile(SOURCE)).digest('hex').slice(0, 16);
  const dir = systemsCacheDir();
  const base = path.join(dir, `windows-shaped-${sizeMiB}M-${key}`);
  if ((await exists(`${base}.json`)) && (await exists(`${base}.img`))) return JSON.parse(await readFile(`${base}.json`, 'utf8')) as WindowsShapedDisk;
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(`${base}.building-`);
  try {
    const file = path.join(work, 'disk.img');
    const disk = await buildDisk(file, sizeMiB, work);
    await rename(file, `${base}.img`);
    const facts = { ...disk, file: `${base}.img` };
    await writeFile(path.join(work, 'facts.json'), JSON.stringify(facts, null, 2));
    await rename(path.join(work, 'facts.json'), `${base}.json`);
    await removeStaleBuilds(dir, `windows-shaped-${sizeMiB}M-`, path.basename(base));
    return facts;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function buildDisk(file: string, sizeMiB: number, work: string): Promise<WindowsShapedDisk> {
  await execa('truncate', ['-s', `${sizeMiB}M`, file]);
  const recoveryMiB = 32;
  await execa('sgdisk', [
    '-o', '-U', '6E0C5A2B-1F3D-4A8B-9C7E-2D4F6A8B0C1F',
    '-n', '1:2048:+50M', '-t', `1:${TYPES.esp}`, '-c', '1:EFI system partition',
    '-n', '2:0:+16M', '-t', `2:${TYPES.msr}`, '-c', '2:Microsoft reserved partition',
    '-n', `3:0:-${recoveryMiB + 1}M`, '-t', `3:${TYPES.windows}`, '-c', '3:Basic data partition',
    '-n', '4:0:0', '-t', `4:${TYPES.recovery}`, '-c', '4:', '-A', '4:set:0', '-A', '4:set:63',
    file,
  ]);
  const table = (await readPartitionTable(file)).partitions;
  const at = (number: number) => {
    const entry = table.find((candidate) => candidate.number === number);
    if (!entry) throw new Error(`sgdisk made no partition ${number}`);
    return { startSector: entry.start, sizeSectors: entry.size };
  };
  const partitions: WindowsPartition[] = [
    { number: 1, role: 'esp', filesystem: 'vfat', type: TYPES.esp, uuid: `${ESP_SERIAL.slice(0, 4)}-${ESP_SERIAL.slice(4)}`, ...at(1) },
    { number: 2, role: 'msr', filesystem: 'none', type: TYPES.msr, uuid: '', ...at(2) },
    { number: 3, role: 'windows', filesystem: 'ntfs', type: TYPES.windows, uuid: C_SERIAL, ...at(3) },
    { number: 4, role: 'recovery', filesystem: 'ntfs', type: TYPES.recovery, uuid: RECOVERY_SERIAL, ...at(4) },
  ];
  const [esp, , windows, recovery] = partitions as [WindowsPartition, WindowsPartition, WindowsPartition, WindowsPartition];
  const standIn = path.join(work, 'bootmgfw.efi');
  await makeStandIn(standIn, work);
  await makeEsp(file, esp, standIn, work);
  const windowsFileBytes = Math.floor((windows.sizeSectors * SECTOR) / 2);
  await makeNtfs(file, windows, { label: 'Windows', serial: C_SERIAL, fill: (root) => fillWindows(root, standIn, windowsFileBytes) });
  await makeNtfs(file, recovery, { label: 'Recovery', serial: RECOVERY_SERIAL, fill: fillRecovery });
  return { file, sizeBytes: sizeMiB * MiB, partitions, windowsFileBytes, standInMarker: STAND_IN_MARKER };
}

/** GRUB EFI that finds C: by its NTFS serial, looks for its SYSTEM hive, prints the result and powers off. */
async function makeStandIn(file: string, work: string): Promise<void> {
  const config = path.join(work, 'stand-in.cfg');
  const serial = C_SERIAL.toLowerCase();
  await writeFile(config, [
    'serial --unit=0 --speed=115200', 'terminal_output serial console',
    `search --no-floppy --fs-uuid --set=c ${serial}`,
    'if [ -f ($c)/Windows/System32/config/SYSTEM ]; then',
    `  echo "${STAND_IN_MARKER}"`,
    'else',
    `  echo "LIFEBOAT-WINDOWS-STAND-IN missing-c=${serial}"`,
    'fi',
    'halt', '',
  ].join('\n'));
  await execa('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', file, '--locales=', '--fonts=', '--themes=',
    '--modules=part_gpt fat ntfs search search_fs_uuid serial terminal test echo halt',
    '--install-modules=part_gpt fat ntfs search search_fs_uuid serial terminal test echo halt normal configfile',
    `boot/grub/grub.cfg=${config}`]);
}

/** FAT32 made in place with the ESP's start as hidden sectors, filled with mtools (the kernel here has no vfat). */
async function makeEsp(file: string, esp: WindowsPartition, standIn: string, work: string): Promise<void> {
  await execa('mkfs.fat', ['-F', '32', '-s', '1', '-n', 'SYSTEM', '-i', ESP_SERIAL, '-h', String(esp.startSector), `--offset=${esp.startSector}`, file, String((esp.sizeSectors * SECTOR) / 1024)]);
  const image = `${file}@@${esp.startSector * SECTOR}`;
  const bcd = path.join(work, 'BCD');
  await writeFile(bcd, seededBytes(0xbcd, 32 * 1024));
  await execa('mmd', ['-i', image, '::/EFI', '::/EFI/Microsoft', '::/EFI/Microsoft/Boot', '::/EFI/Boot']);
  await execa('mcopy', ['-i', image, standIn, bcd, '::/EFI/Microsoft/Boot/']);
  await execa('mcopy', ['-i', image, standIn, '::/EFI/Boot/bootx64.efi']);
}

/** mkntfs on a loop device over the partition (hidden sectors = its start), a fixed serial, then filled through ntfs-3g. */
async function makeNtfs(file: string, partition: WindowsPartition, options: { label: string; serial: string; fill: (root: string) => Promise<void> }): Promise<void> {
  const volume: Volume = { kind: 'ntfs', file, offset: partition.startSector * SECTOR, sizeBytes: partition.sizeSectors * SECTOR };
  await withVolumeDevice(volume, 'rw', async (device) => {
    await execa('mkntfs', ['-Q', '-F', '-q', '-L', options.label, '-s', '512', '-p', String(partition.startSector), '-H', '255', '-S', '63', device]);
    await execa('ntfslabel', [`--new-serial=${options.serial}`, device, options.label]);
  });
  await withMountedVolume(volume, 'rw', options.fill);
}

async function writeSeeded(root: string, name: string, seed: number, bytes: number): Promise<void> {
  const target = path.join(root, name);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, seededBytes(seed, bytes));
}

/** C:'s tree: the folders Windows boot code needs, hives, drivers, and bulk files up to `totalBytes`. */
async function fillWindows(root: string, standIn: string, totalBytes: number): Promise<void> {
  const fixed: Array<[string, number]> = [
    ['Windows/System32/config/SYSTEM', 3 * MiB], ['Windows/System32/config/SOFTWARE', 6 * MiB], ['Windows/System32/config/SAM', 64 * 1024],
    ['Windows/System32/ntoskrnl.exe', 8 * MiB], ['Windows/System32/drivers/disk.sys', 96 * 1024], ['Windows/System32/drivers/ntfs.sys', 2 * MiB],
  ];
  let written = 0;
  for (const [index, [name, bytes]] of fixed.entries()) {
    await writeSeeded(root, name, 0x3000 + index, bytes);
    written += bytes;
  }
  await mkdir(path.join(root, 'Windows', 'Boot', 'EFI'), { recursive: true });
  await writeFile(path.join(root, 'Windows', 'Boot', 'EFI', 'bootmgfw.efi'), await readFile(standIn));
  await mkdir(path.join(root, 'Users', 'Public'), { recursive: true });
  await writeFile(path.join(root, 'Users', 'Public', 'desktop.ini'), '[.ShellClassInfo]\r\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,-21816\r\n');
  for (let index = 0; written < totalBytes; index++) {
    const bytes = Math.min(4 * MiB, totalBytes - written);
    await writeSeeded(root, `Users/Public/Documents/bulk-${String(index).padStart(3, '0')}.bin`, 0x4000 + index, bytes);
    written += bytes;
  }
}

async function fillRecovery(root: string): Promise<void> {
  await writeSeeded(root, 'Recovery/WindowsRE/Winre.wim', 0x5000, 5 * MiB);
  await writeFile(path.join(root, 'Recovery', 'WindowsRE', 'ReAgent.xml'), '<?xml version="1.0" encoding="utf-8"?>\r\n<WindowsRE version="2.0"></WindowsRE>\r\n');
}
