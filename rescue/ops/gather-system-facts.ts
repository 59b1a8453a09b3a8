// Gathers what `backup system` decides on: the disk's table, each partition's probe, and a few
// facts read (read-only, through the file readers) inside each filesystem: Windows/System32, /EFI,
// bootmgr or Boot/BCD, and a Linux root's /etc/fstab. Then asks core/repository/system-selection.ts
// which partitions a system needs.

import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { toLifeboatError } from '../core/errors.ts';
import type { FileTree } from '../core/file-trees/file-tree.ts';
import { openFileTree } from '../core/file-trees/open-file-tree.ts';
import { walkPath } from '../core/file-trees/walk-path.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { readPartitionTable } from '../core/partition-table/partition-table.ts';
import { selectSystemPartitions, type PartitionContents, type SystemChoice, type SystemSelectionInput } from '../core/repository/system-selection.ts';

/** An fstab longer than this is not read (real ones are a few KiB). */
const MAX_FSTAB_BYTES = 256 * 1024;
/** Filesystems looked into: the readers Lifeboat has. */
const READABLE = new Set(['ext2', 'ext3', 'ext4', 'vfat', 'exfat', 'ntfs']);

async function exists(tree: FileTree, path: string, kind?: 'file' | 'directory'): Promise<boolean> {
  try {
    const { entry } = await walkPath(tree, path);
    return kind === undefined || entry.kind === kind;
  } catch {
    return false;
  }
}

async function readFstab(tree: FileTree): Promise<string | undefined> {
  try {
    const { entry } = await walkPath(tree, '/etc/fstab');
    if (entry.kind !== 'file' || entry.size > MAX_FSTAB_BYTES) return undefined;
    const content = await tree.openFile(entry);
    return new TextDecoder().decode(await content.read(0, content.size));
  } catch {
    return undefined;
  }
}

/** The facts of one partition; a filesystem that cannot be read gives its problem, not an error. */
async function readContents(source: ByteSource): Promise<PartitionContents> {
  const none = { hasWindowsSystem32: false, hasEfiFolder: false, hasBootManager: false, looksLikeLinuxRoot: false };
  let probeFacts: PartitionContents['filesystem'];
  try {
    const probe = await probeFilesystem(source);
    if (!probe) return none;
    probeFacts = { type: probe.type, kind: probe.kind, label: probe.label ?? '', uuid: probe.uuid ?? '' };
    if (!READABLE.has(probe.type)) return { ...none, filesystem: probeFacts };
    const tree = await openFileTree(source);
    const isLinux = probe.type.startsWith('ext');
    return {
      filesystem: probeFacts,
      hasWindowsSystem32: !isLinux && (await exists(tree, '/Windows/System32', 'directory')),
      hasEfiFolder: await exists(tree, '/EFI', 'directory'),
      hasBootManager: !isLinux && ((await exists(tree, '/bootmgr', 'file')) || (await exists(tree, '/Boot/BCD', 'file'))),
      ...(isLinux ? { fstab: await readFstab(tree) } : {}),
      looksLikeLinuxRoot: isLinux && ((await exists(tree, '/etc/os-release')) || (await exists(tree, '/bin')) || (await exists(tree, '/usr', 'directory'))),
    };
  } catch (error) {
    return { ...none, ...(probeFacts ? { filesystem: probeFacts } : {}), problem: toLifeboatError(error).message };
  }
}

/** Reads the disk's table and each partition's facts: what the selection decides on (clone system also reads the fstab in it). */
export async function gatherSystemInput(disk: ByteSource, sectorSize: number): Promise<SystemSelectionInput> {
  const table = await readPartitionTable(disk, sectorSize);
  const contents = new Map<number, PartitionContents>();
  for (const partition of table.partitions) {
    if (partition.kind === 'extended') continue;
    contents.set(partition.number, await readContents(sliceSource(disk, partition.startLba * table.sectorSize, partition.sectors * table.sectorSize)));
  }
  return { tableKind: table.kind, tableId: table.id, sectorSize: table.sectorSize, partitions: table.partitions, contents };
}

/** Reads the disk's table and each partition's facts, and returns the selection for every partition. */
export async function gatherSystemSelection(disk: ByteSource, sectorSize: number): Promise<SystemChoice[]> {
  return selectSystemPartitions(await gatherSystemInput(disk, sectorSize));
}
