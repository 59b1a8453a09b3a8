// The "hidden sectors" field of NTFS and FAT boot sectors (u32 at 0x1C): the partition's first
// sector on its disk. Windows' boot code (NTFS and FAT) loads the rest of its loader from there, so a
// copy placed at another start must say its new one, in the boot sector and in its backup (NTFS: the
// sector after the volume; FAT32: the sector 0x32 names).

import { ntfsBackupBootSector } from '../clonezilla/ntfs-backup-boot-sector.ts';
import { fatLabelPlace } from './fat-boot-label.ts';

/** Offset of the hidden-sectors field in NTFS and FAT boot sectors. */
export const HIDDEN_SECTORS_OFFSET = 0x1c;

/** The largest start the field holds. */
const MAX_HIDDEN_SECTORS = 0xffffffff;

/** Filesystems whose boot sectors carry the field. */
export function hasHiddenSectors(filesystem: string | undefined): boolean {
  return filesystem === 'ntfs' || filesystem === 'vfat';
}

/** The field's value in a boot sector. */
export function readHiddenSectors(bootSector: Uint8Array): number {
  return new DataView(bootSector.buffer, bootSector.byteOffset, bootSector.byteLength).getUint32(HIDDEN_SECTORS_OFFSET, true);
}

/** A copy of `bootSector` whose field says `startLba` (undefined when it cannot hold it). */
export function withHiddenSectors(bootSector: Uint8Array, startLba: number): Uint8Array | undefined {
  if (bootSector.length < 512 || startLba < 0 || startLba > MAX_HIDDEN_SECTORS) return undefined;
  const copy = bootSector.slice();
  new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setUint32(HIDDEN_SECTORS_OFFSET, startLba, true);
  return copy;
}

/**
 * Where a volume keeps boot sectors (byte offsets in the volume, 0 first): NTFS its backup after the
 * volume when that lies inside `partitionBytes`, FAT32 the backup its BPB names.
 */
export function bootSectorPlaces(filesystem: string | undefined, bootSector: Uint8Array, partitionBytes: number): number[] {
  if (filesystem === 'ntfs') {
    const backup = ntfsBackupBootSector(bootSector, { imageBytes: 0, partitionBytes });
    return backup ? [0, backup.offset] : [0];
  }
  if (filesystem === 'vfat') {
    const place = fatLabelPlace(bootSector);
    return place.backupSector === undefined ? [0] : [0, place.backupSector * place.bytesPerSector];
  }
  return [];
}
