// Reads, without writing, what a conversion decides on: the first sector, the MBR with its EBR
// chain, each partition's filesystem (the probes) and the operating system inside it (Linux:
// /etc/os-release, /etc/fstab, the boot loader's folder; Windows: System32/config/SYSTEM and
// Boot/EFI/bootmgfw.efi), through the same file readers `backup system` uses.

import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { checkConvertibleBootSector, type ConvertInventory, type ConvertPartitionFacts, type SystemFacts } from '../core/convert/convert-plan.ts';
import type { FileTree } from '../core/file-trees/file-tree.ts';
import { openFileTree } from '../core/file-trees/open-file-tree.ts';
import { walkPath } from '../core/file-trees/walk-path.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { readPartitionTable } from '../core/partition-table/partition-table.ts';
import type { InventoryDisk } from '../core/convert/convert-ports.ts';

const READABLE = new Set(['ext2', 'ext3', 'ext4', 'vfat', 'ntfs']);
const MAX_TEXT_BYTES = 256 * 1024;

async function exists(tree: FileTree, path: string): Promise<boolean> {
  return walkPath(tree, path).then(() => true, () => false);
}

async function readText(tree: FileTree, path: string): Promise<string | undefined> {
  try {
    const { entry } = await walkPath(tree, path);
    if (entry.kind !== 'file' || entry.size > MAX_TEXT_BYTES) return undefined;
    const content = await tree.openFile(entry);
    return new TextDecoder().decode(await content.read(0, content.size));
  } catch {
    return undefined;
  }
}

async function linuxBootLoader(tree: FileTree): Promise<string> {
  for (const prefix of ['/boot/grub', '/grub']) {
    if (await exists(tree, `${prefix}/i386-pc`)) return 'GRUB (BIOS)';
    if (await exists(tree, `${prefix}/x86_64-efi`)) return 'GRUB (EFI)';
    if (await exists(tree, `${prefix}/grub.cfg`)) return 'GRUB';
  }
  if ((await exists(tree, '/boot/syslinux')) || (await exists(tree, '/boot/extlinux'))) return 'SYSLINUX';
  return 'none found';
}

async function readSystem(tree: FileTree, type: string): Promise<SystemFacts | undefined> {
  if (type === 'ntfs' && (await exists(tree, '/Windows/System32/config/SYSTEM'))) {
    const efi = await exists(tree, '/Windows/Boot/EFI/bootmgfw.efi');
    return { kind: 'windows', name: 'Windows', bootLoader: 'bootmgr', facts: [efi ? 'Windows/Boot/EFI/bootmgfw.efi is there' : 'Windows/Boot/EFI/bootmgfw.efi is missing'] };
  }
  if (!type.startsWith('ext')) return undefined;
  const osRelease = await readText(tree, '/etc/os-release');
  if (osRelease === undefined) return undefined;
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? 'Linux';
  const fstab = await readText(tree, '/etc/fstab');
  const bootLoader = await linuxBootLoader(tree);
  return { kind: 'linux', name: pretty, bootLoader, facts: [fstab === undefined ? '/etc/fstab is missing' : `/etc/fstab has ${fstab.split('\n').filter((line) => line.trim() && !line.trim().startsWith('#')).length} entries`] };
}

async function readPartitionFacts(number: number, source: ByteSource): Promise<ConvertPartitionFacts> {
  const probe = await probeFilesystem(source).catch(() => undefined);
  if (!probe) return { number };
  const filesystem = { type: probe.type, state: probe.state, ...(probe.usedBytes !== undefined ? { usedBytes: probe.usedBytes } : {}), ...(probe.label ? { label: probe.label } : {}) };
  if (!READABLE.has(probe.type)) return { number, filesystem };
  const system = await openFileTree(source).then((tree) => readSystem(tree, probe.type), () => undefined);
  return { number, filesystem, ...(system ? { system } : {}) };
}

/** The inventory of a disk; refuses (coded) a disk without an MBR, a GPT or hybrid, a broken EBR chain. */
export async function readConversionInventory(disk: InventoryDisk): Promise<ConvertInventory> {
  checkConvertibleBootSector(await disk.read(0, Math.max(512, disk.sectorSize)), disk.path);
  const table = await readPartitionTable(disk, disk.sectorSize);
  const partitions: ConvertPartitionFacts[] = [];
  for (const partition of table.partitions) {
    if (partition.kind === 'extended') continue;
    partitions.push(await readPartitionFacts(partition.number, sliceSource(disk, partition.startLba * disk.sectorSize, partition.sectors * disk.sectorSize)));
  }
  return { device: disk.path, sectorSize: disk.sectorSize, physicalSectorSize: disk.physicalSectorSize, diskSectors: table.diskSectors, ...(disk.serial ? { serial: disk.serial } : {}), table, partitions };
}
