// Where a filesystem keeps the id blkid shows as its UUID, and the bytes with a new one, for
// `clone --new-ids` (ext's UUID is changed by tune2fs, whose checksums follow it). Offsets:
// FAT boot sector 0x27 (FAT12/16) or 0x43 (FAT32) volume id, little-endian, FAT32 also in its backup
// boot sector (BPB_BkBootSec at 0x32); NTFS 0x48 volume serial (8 bytes, little-endian), also in the
// backup boot sector after the volume's last sector (total sectors at 0x28); exFAT 0x64
// VolumeSerialNumber in the main and backup boot regions (12 sectors each), whose sector 11 repeats
// the region's checksum over sectors 0-10 (bytes 106, 107 and 112 left out); swap: the uuid at byte
// 1024 + 0x0C of its header.

import { encodeGuid } from '../partition-table/guid.ts';

/** A byte range of a volume that holds its id (read it, patch it with withVolumeSerial, write it back). */
export interface SerialRegion {
  readonly offset: number;
  readonly length: number;
}

const SECTOR_BYTES = 512;
const EXFAT_REGION_SECTORS = 12;

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return Buffer.from(bytes.subarray(at, at + length)).toString('latin1');
}

function fatSerialOffset(boot: Uint8Array): number | undefined {
  const fat32 = u16(boot, 0x16) === 0;
  const at = fat32 ? 0x42 : 0x26;
  return boot[at] === 0x29 ? at + 1 : undefined;
}

/** The regions of a volume (from its start) that hold its id; boot: the volume's first 512 bytes. */
export function serialRegions(filesystem: string, boot: Uint8Array, volumeBytes: number): SerialRegion[] {
  const regions: SerialRegion[] = [];
  const add = (offset: number, length: number) => {
    if (offset >= 0 && offset + length <= volumeBytes) regions.push({ offset, length });
  };
  if (filesystem === 'vfat') {
    add(0, SECTOR_BYTES);
    const backup = u16(boot, 0x32);
    const bytesPerSector = u16(boot, 0x0b);
    if (u16(boot, 0x16) === 0 && backup !== 0 && backup !== 0xffff && bytesPerSector >= SECTOR_BYTES) add(backup * bytesPerSector, SECTOR_BYTES);
  } else if (filesystem === 'ntfs') {
    add(0, SECTOR_BYTES);
    const bytesPerSector = u16(boot, 0x0b);
    const totalSectors = Number(Buffer.from(boot).readBigUInt64LE(0x28));
    if (bytesPerSector >= SECTOR_BYTES && Number.isSafeInteger(totalSectors * bytesPerSector)) add(totalSectors * bytesPerSector, SECTOR_BYTES);
  } else if (filesystem === 'exfat') {
    const shift = boot[108] ?? 0;
    if (shift < 9 || shift > 12) return [];
    const regionBytes = EXFAT_REGION_SECTORS * 2 ** shift;
    add(0, regionBytes);
    add(regionBytes, regionBytes);
  } else if (filesystem === 'swap') {
    add(1024, SECTOR_BYTES);
  }
  return regions;
}

/** exFAT's boot checksum over a region's first 11 sectors. */
export function exfatBootChecksum(region: Uint8Array, sectorBytes: number): number {
  let sum = 0;
  for (let i = 0; i < 11 * sectorBytes; i++) {
    if (i === 106 || i === 107 || i === 112) continue;
    sum = (((sum & 1) !== 0 ? 0x80000000 : 0) + (sum >>> 1) + (region[i] ?? 0)) >>> 0;
  }
  return sum;
}

function serialBytes(id: string, length: number): Uint8Array {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== length * 2) throw new Error(`not a ${length}-byte serial: ${id}`);
  return Uint8Array.from(Buffer.from(hex, 'hex').reverse());
}

/**
 * The region with the id `to` (as blkid spells it) in place, or undefined when the region is not
 * the structure expected there (a missing backup is left alone).
 */
export function withVolumeSerial(filesystem: string, region: Uint8Array, to: string): Uint8Array | undefined {
  const out = Uint8Array.from(region);
  if (filesystem === 'vfat') {
    const at = fatSerialOffset(region);
    if (at === undefined || region[510] !== 0x55 || region[511] !== 0xaa) return undefined;
    out.set(serialBytes(to, 4), at);
    return out;
  }
  if (filesystem === 'ntfs') {
    if (ascii(region, 3, 8) !== 'NTFS    ') return undefined;
    out.set(serialBytes(to, 8), 0x48);
    return out;
  }
  if (filesystem === 'exfat') {
    if (ascii(region, 3, 8) !== 'EXFAT   ') return undefined;
    const sectorBytes = region.length / EXFAT_REGION_SECTORS;
    out.set(serialBytes(to, 4), 0x64);
    const sum = exfatBootChecksum(out, sectorBytes);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let at = 11 * sectorBytes; at < 12 * sectorBytes; at += 4) view.setUint32(at, sum, true);
    return out;
  }
  if (filesystem === 'swap') {
    // The header's uuid is stored as its 16 bytes in order (as blkid prints them).
    const bytes = encodeGuid(to);
    for (const [from, length] of [[0, 4], [4, 2], [6, 2]] as const) bytes.subarray(from, from + length).reverse();
    out.set(bytes, 0x0c);
    return out;
  }
  return undefined;
}
