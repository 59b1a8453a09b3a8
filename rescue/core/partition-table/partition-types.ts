// What partition types mean: names for people, and the roles backup, restore and clone act on
// (ESP, Microsoft reserved, Windows recovery, BIOS boot, swap, Linux root, Windows system...).

/** What a partition is for, as far as its type (and later its contents) tells. */
export type PartitionRole =
  | 'esp'
  | 'microsoft-reserved'
  | 'windows-recovery'
  | 'bios-boot'
  | 'linux-swap'
  | 'linux-root-candidate'
  | 'windows-system-candidate'
  | 'extended'
  | 'data';

interface TypeInfo {
  readonly name: string;
  readonly role: PartitionRole;
}

/** GPT type GUIDs Lifeboat names (upper case). */
const GPT_TYPES: Readonly<Record<string, TypeInfo>> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': { name: 'EFI System', role: 'esp' },
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': { name: 'Microsoft reserved', role: 'microsoft-reserved' },
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': { name: 'Microsoft basic data', role: 'windows-system-candidate' },
  'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC': { name: 'Windows recovery environment', role: 'windows-recovery' },
  '5808C8AA-7E8F-42E0-85D2-E1E90434CFB3': { name: 'Microsoft LDM metadata', role: 'data' },
  'AF9B60A0-1431-4F62-BC68-3311714A69AD': { name: 'Microsoft LDM data', role: 'data' },
  '21686148-6449-6E6F-744E-656564454649': { name: 'BIOS boot', role: 'bios-boot' },
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': { name: 'Linux swap', role: 'linux-swap' },
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': { name: 'Linux filesystem', role: 'linux-root-candidate' },
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': { name: 'Linux root (x86-64)', role: 'linux-root-candidate' },
  'BC13C2FF-59E6-4262-A352-B275FD6F7172': { name: 'Linux extended boot', role: 'data' },
  '933AC7E1-2EB4-4F13-B844-0E14E2AEF915': { name: 'Linux home', role: 'data' },
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': { name: 'Linux LVM', role: 'data' },
  'A19D880F-05FC-4D3B-A006-743F0F84911E': { name: 'Linux RAID', role: 'data' },
  'CA7D7CCB-63ED-4C53-861C-1742536059CC': { name: 'Linux LUKS', role: 'data' },
};

/** MBR type bytes Lifeboat names. */
const MBR_TYPES: Readonly<Record<number, TypeInfo>> = {
  0x01: { name: 'FAT12', role: 'data' },
  0x04: { name: 'FAT16 <32M', role: 'data' },
  0x05: { name: 'Extended', role: 'extended' },
  0x06: { name: 'FAT16', role: 'data' },
  0x07: { name: 'HPFS/NTFS/exFAT', role: 'windows-system-candidate' },
  0x0b: { name: 'W95 FAT32', role: 'data' },
  0x0c: { name: 'W95 FAT32 (LBA)', role: 'data' },
  0x0e: { name: 'W95 FAT16 (LBA)', role: 'data' },
  0x0f: { name: 'W95 Extended (LBA)', role: 'extended' },
  0x27: { name: 'Hidden NTFS WinRE', role: 'windows-recovery' },
  0x42: { name: 'Windows dynamic disk', role: 'data' },
  0x82: { name: 'Linux swap', role: 'linux-swap' },
  0x83: { name: 'Linux', role: 'linux-root-candidate' },
  0x85: { name: 'Linux extended', role: 'extended' },
  0x8e: { name: 'Linux LVM', role: 'data' },
  0xef: { name: 'EFI (FAT-12/16/32)', role: 'esp' },
  0xfd: { name: 'Linux raid autodetect', role: 'data' },
};

/** Name and role of a type as PartitionInfo.type spells it (GPT GUID, or MBR hex). */
export function describePartitionType(type: string): TypeInfo {
  if (type.includes('-')) return GPT_TYPES[type.toUpperCase()] ?? { name: `GPT type ${type.toUpperCase()}`, role: 'data' };
  const id = parseInt(type, 16);
  return MBR_TYPES[id] ?? { name: `MBR type 0x${id.toString(16).padStart(2, '0')}`, role: 'data' };
}
