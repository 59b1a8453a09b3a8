// Fix-ups a volume needs once it is written at another place or grown, shared by clone and restore:
// an NTFS or FAT boot sector (and its backup) says its partition's new start in "hidden sectors",
// and a grown NTFS gets its boot sector's copy in the partition's new last sector.

import { ntfsBackupBootSector } from '../core/clonezilla/ntfs-backup-boot-sector.ts';
import { bootSectorPlaces, hasHiddenSectors, readHiddenSectors, withHiddenSectors } from '../core/filesystems/hidden-sectors.ts';
import { hasBootSignature } from '../core/partition-table/mbr.ts';

/** What the fix-ups need of a target (restore's and clone's targets fit). */
export interface SectorTarget {
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  sync(): Promise<void>;
}

/** A volume on the target: its filesystem, where its partition starts (bytes and LBA) and how large the partition is. */
export interface PlacedVolume {
  readonly filesystem: string | undefined;
  readonly offset: number;
  readonly partitionBytes: number;
  readonly startLba: number;
}

/** Sets the hidden-sectors field of an NTFS or FAT volume's boot sectors to its partition's start. */
export async function fixHiddenSectors(target: SectorTarget, volume: PlacedVolume): Promise<void> {
  if (!hasHiddenSectors(volume.filesystem)) return;
  const boot = await target.read(volume.offset, 512);
  for (const place of bootSectorPlaces(volume.filesystem, boot, volume.partitionBytes)) {
    if (place + 512 > volume.partitionBytes) continue;
    const sector = place === 0 ? boot : await target.read(volume.offset + place, 512);
    if (!hasBootSignature(sector) || readHiddenSectors(sector) === volume.startLba) continue;
    const patched = withHiddenSectors(sector, volume.startLba);
    if (patched) await target.write(volume.offset + place, patched);
  }
}

/**
 * The boot sector's copy, after the hidden sectors were set: in the sector after the volume (ntfsresize
 * grows a volume and leaves that sector as it was) and in the partition's last sector, where Windows
 * and ntfsfix look for it (a shrunk volume ends on a whole cluster, and ntfsresize's own copy after
 * it still has the old hidden sectors).
 */
export async function placeNtfsBackupBootSector(target: SectorTarget, offset: number, partitionBytes: number): Promise<void> {
  const boot = await target.read(offset, 512);
  const backup = ntfsBackupBootSector(boot, { imageBytes: 0, partitionBytes });
  if (backup) {
    await target.write(offset + backup.offset, backup.bytes);
    const last = partitionBytes - backup.bytes.length;
    if (last !== backup.offset) await target.write(offset + last, backup.bytes);
  }
  await target.sync();
}
