// Which partitions of a disk a system needs to boot and run (`lifeboat backup system`): the ESP,
// the Microsoft reserved and system-reserved partitions, the Windows partition, the Windows
// recovery partition, the BIOS boot partition, the Linux root and what its fstab mounts on /boot
// and /boot/efi. Pure: the facts found inside each filesystem are gathered by
// ops/gather-system-facts.ts; this file only decides, and says why in one sentence per partition.

import { describePartitionType } from '../partition-table/partition-types.ts';

/** What a partition is for in a system snapshot. */
export type SystemRole =
  | 'esp' | 'msr' | 'bios-boot' | 'windows-boot' | 'windows' | 'windows-recovery'
  | 'linux-root' | 'linux-boot' | 'swap' | 'extended' | 'data';

/** Every role, for validators. */
export const SYSTEM_ROLES: readonly SystemRole[] = ['esp', 'msr', 'bios-boot', 'windows-boot', 'windows', 'windows-recovery', 'linux-root', 'linux-boot', 'swap', 'extended', 'data'];

/** The decision for one partition of the table. */
export interface SystemChoice {
  readonly partition: number;
  readonly role: SystemRole;
  readonly chosen: boolean;
  readonly reason: string;
}

/** One partition as the table describes it. */
export interface SelectionPartition {
  readonly number: number;
  readonly startLba: number;
  readonly sectors: number;
  readonly type: string;
  readonly kind: 'gpt' | 'primary' | 'extended' | 'logical';
  readonly uuid?: string;
}

/** What was found inside a partition's filesystem (all false/undefined when it could not be read). */
export interface PartitionContents {
  /** blkid-style filesystem type, label and UUID from the probe. */
  readonly filesystem?: { readonly type: string; readonly kind: string; readonly label: string; readonly uuid: string };
  readonly hasWindowsSystem32: boolean;
  readonly hasEfiFolder: boolean;
  /** /bootmgr or /Boot/BCD: a Windows system-reserved (boot) partition. */
  readonly hasBootManager: boolean;
  /** /etc/fstab's text, when the filesystem has one. */
  readonly fstab?: string;
  /** /etc/os-release, /bin or /usr exist. */
  readonly looksLikeLinuxRoot: boolean;
  /** Why the contents could not be read (a coded error's message), if so. */
  readonly problem?: string;
}

/** What the planner needs. */
export interface SystemSelectionInput {
  readonly tableKind: 'gpt' | 'mbr' | 'none';
  /** MBR disk signature as 0x%08x (for PARTUUID=xxxxxxxx-NN). */
  readonly tableId: string | undefined;
  readonly sectorSize: number;
  readonly partitions: readonly SelectionPartition[];
  readonly contents: ReadonlyMap<number, PartitionContents>;
}

/** A system-reserved partition is small; a larger NTFS with bootmgr is a Windows partition or data. */
const SYSTEM_RESERVED_MAX_BYTES = 2 * 1024 * 1024 * 1024;
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const LINUX_FILESYSTEMS = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs']);

/** One fstab line: what is mounted where. */
export interface FstabEntry {
  readonly spec: string;
  readonly mountPoint: string;
}

/** The entries of an fstab (comments and malformed lines skipped; \040 escapes decoded). */
export function parseFstab(text: string): FstabEntry[] {
  const entries: FstabEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    const [spec, mountPoint] = fields;
    if (!spec || !mountPoint) continue;
    const decode = (value: string) => value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    entries.push({ spec: decode(spec), mountPoint: decode(mountPoint).replace(/\/+$/, '') || '/' });
  }
  return entries;
}

/** The PARTUUID Linux gives a partition: its GPT unique GUID, or for MBR "<signature>-<NN>". */
function partUuid(input: SystemSelectionInput, partition: SelectionPartition): string | undefined {
  if (input.tableKind === 'gpt') return partition.uuid?.toLowerCase();
  if (input.tableKind === 'mbr' && input.tableId) return `${input.tableId.replace(/^0x/, '').toLowerCase()}-${partition.number.toString(16).padStart(2, '0')}`;
  return undefined;
}

/** The partition of this table an fstab spec names, if any (UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/ names). */
export function findFstabPartition(input: SystemSelectionInput, spec: string): SelectionPartition | undefined {
  const match = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.*)$/.exec(spec) ?? /^\/dev\/disk\/by-(uuid|label|partuuid|partlabel)\/(.*)$/.exec(spec);
  const unquote = (value: string) => value.replace(/^"(.*)"$/, '$1');
  if (match) {
    const key = (match[1] ?? '').toUpperCase();
    const value = unquote(match[2] ?? '');
    return input.partitions.find((partition) => {
      const fs = input.contents.get(partition.number)?.filesystem;
      if (key === 'UUID') return fs !== undefined && fs.uuid !== '' && fs.uuid.toLowerCase() === value.toLowerCase();
      if (key === 'LABEL') return fs !== undefined && fs.label !== '' && fs.label === value;
      if (key === 'PARTUUID') return partUuid(input, partition) === value.toLowerCase();
      return false; // PARTLABEL: the table's names are not compared (rarely used in fstab)
    });
  }
  const device = /^\/dev\/(?:sd[a-z]+|vd[a-z]+|hd[a-z]+|xvd[a-z]+|(?:nvme\d+n\d+|mmcblk\d+|loop\d+)p)(\d+)$/.exec(spec);
  return device ? input.partitions.find((partition) => partition.number === Number(device[1])) : undefined;
}

interface LinuxSystem {
  readonly root: SelectionPartition;
  /** Mount point by partition number (/boot, /boot/efi). */
  readonly mounts: ReadonlyMap<number, string>;
  readonly unresolved: readonly string[];
}

/** Linux roots: a Linux filesystem with /etc/fstab mounting / (on itself or unnamed) and os-release, /bin or /usr. */
function findLinuxSystems(input: SystemSelectionInput): LinuxSystem[] {
  const systems: LinuxSystem[] = [];
  for (const partition of input.partitions) {
    const contents = input.contents.get(partition.number);
    if (!contents?.fstab || !contents.looksLikeLinuxRoot || !LINUX_FILESYSTEMS.has(contents.filesystem?.type ?? '')) continue;
    const entries = parseFstab(contents.fstab);
    const rootEntry = entries.find((entry) => entry.mountPoint === '/');
    if (!rootEntry) continue;
    const named = findFstabPartition(input, rootEntry.spec);
    if (named && named.number !== partition.number) continue; // a copy of another system's fstab
    const mounts = new Map<number, string>();
    const unresolved: string[] = [];
    for (const entry of entries.filter((candidate) => candidate.mountPoint === '/boot' || candidate.mountPoint === '/boot/efi')) {
      const target = findFstabPartition(input, entry.spec);
      if (target && target.number !== partition.number) mounts.set(target.number, entry.mountPoint);
      else if (!target) unresolved.push(`${entry.mountPoint} (${entry.spec})`);
    }
    systems.push({ root: partition, mounts, unresolved });
  }
  return systems;
}

function sizeOf(input: SystemSelectionInput, partition: SelectionPartition): number {
  return partition.sectors * input.sectorSize;
}

function choose(partition: SelectionPartition, role: SystemRole, reason: string): SystemChoice {
  return { partition: partition.number, role, chosen: true, reason };
}

function leave(partition: SelectionPartition, role: SystemRole, reason: string): SystemChoice {
  return { partition: partition.number, role, chosen: false, reason };
}

/** The decision for one partition, Linux systems already found. */
function decide(input: SystemSelectionInput, partition: SelectionPartition, linux: readonly LinuxSystem[]): SystemChoice {
  const contents = input.contents.get(partition.number);
  const fs = contents?.filesystem;
  const typeRole = describePartitionType(partition.type).role;
  const typeName = describePartitionType(partition.type).name;
  const mountedBy = linux.find((system) => system.mounts.has(partition.number));
  const root = linux.find((system) => system.root.number === partition.number);
  if (partition.kind === 'extended') return leave(partition, 'extended', 'Extended partition: a container, not a volume (kept with its logical partitions when one of them is chosen).');
  if (partition.type.toUpperCase() === ESP_TYPE || (input.tableKind === 'mbr' && parseInt(partition.type, 16) === 0xef)) return choose(partition, 'esp', `EFI system partition (type ${typeName}): the firmware loads the boot loaders from it.`);
  if (typeRole === 'microsoft-reserved') return choose(partition, 'msr', 'Microsoft reserved partition: Windows expects it on GPT disks.');
  if (typeRole === 'bios-boot') return choose(partition, 'bios-boot', 'BIOS boot partition: holds GRUB\'s core image on a GPT disk booted by BIOS.');
  if (contents?.hasWindowsSystem32) return choose(partition, 'windows', 'Holds Windows/System32: the Windows partition.');
  if (typeRole === 'windows-recovery') return choose(partition, 'windows-recovery', `Windows recovery partition (type ${typeName}): Windows RE, needed to repair the boot and to reset Windows.`);
  if (fs?.type === 'ntfs' && contents?.hasBootManager && sizeOf(input, partition) <= SYSTEM_RESERVED_MAX_BYTES) return choose(partition, 'windows-boot', 'Small NTFS partition holding bootmgr or Boot/BCD: the Windows system-reserved (boot) partition.');
  if (root) {
    const extra = root.unresolved.length > 0 ? ` Its fstab also names ${root.unresolved.join(', ')}, which is on no partition of this disk.` : '';
    return choose(partition, 'linux-root', `Linux root: /etc/fstab mounts it on /, and it holds the system (os-release, /bin or /usr).${extra}`);
  }
  if (mountedBy) {
    const where = mountedBy.mounts.get(partition.number);
    return choose(partition, 'linux-boot', `The fstab of the Linux root (partition ${mountedBy.root.number}) mounts it on ${where}.`);
  }
  if (fs?.type === 'vfat' && contents?.hasEfiFolder && input.tableKind === 'mbr' && parseInt(partition.type, 16) === 0xef) return choose(partition, 'esp', 'FAT partition of type ef holding /EFI: the EFI system partition.');
  if (typeRole === 'linux-swap' || fs?.kind === 'swap') return leave(partition, 'swap', 'Swap: holds nothing a restored system needs (it is recreated empty or rebuilt by the system).');
  const what = fs ? `${fs.type}${fs.label ? ` "${fs.label}"` : ''}` : contents?.problem ? `unreadable (${contents.problem})` : 'no filesystem Lifeboat recognises';
  return leave(partition, 'data', `Data partition (${typeName}, ${what}): no boot loader, Windows or Linux system found on it.`);
}

/** The decision for every partition of the table, in table order. */
export function selectSystemPartitions(input: SystemSelectionInput): SystemChoice[] {
  const linux = findLinuxSystems(input);
  const choices = input.partitions.map((partition) => decide(input, partition, linux));
  const logicalsChosen = choices.some((choice) => choice.chosen && input.partitions.find((partition) => partition.number === choice.partition)?.kind === 'logical');
  return choices.map((choice) => (choice.role === 'extended' && logicalsChosen ? { ...choice, chosen: true, reason: 'Extended partition: holds chosen logical partitions.' } : choice));
}

/** The selection as table lines for the terminal (number, chosen, role, reason). */
export function describeSelection(choices: readonly SystemChoice[]): string[] {
  return choices.map((choice) => `  ${String(choice.partition).padStart(3)}  ${choice.chosen ? 'backed up ' : 'left out  '}  ${choice.role.padEnd(16)}  ${choice.reason}`);
}
