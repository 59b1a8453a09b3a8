// The volume label a FAT boot sector carries: 11 bytes at 0x2B (FAT12/16 extended BPB) or at 0x47
// (FAT32, whose BPB has 0 sectors per FAT at 0x16), and FAT32's backup boot sector (its number at
// 0x32). libparted's FAT resize (fatresize) writes "NO NAME" there; the grow puts the label back.

/** Bytes in a FAT boot sector's label field. */
export const FAT_LABEL_BYTES = 11;

/** Where the boot sector's label lies and which sector holds its backup (FAT32 only). */
export interface FatLabelPlace {
  readonly labelOffset: number;
  readonly backupSector: number | undefined;
  readonly bytesPerSector: number;
}

/** The label's place in `sector` (a FAT boot sector, at least 512 bytes). */
export function fatLabelPlace(sector: Uint8Array): FatLabelPlace {
  const view = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  const fat32 = view.getUint16(0x16, true) === 0;
  const backup = fat32 ? view.getUint16(0x32, true) : 0;
  const reserved = view.getUint16(0x0e, true);
  return { labelOffset: fat32 ? 0x47 : 0x2b, backupSector: backup > 0 && backup < reserved ? backup : undefined, bytesPerSector: view.getUint16(0x0b, true) };
}

/** The 11 label bytes of a FAT boot sector. */
export function readFatBootLabel(sector: Uint8Array): Uint8Array {
  const { labelOffset } = fatLabelPlace(sector);
  return sector.slice(labelOffset, labelOffset + FAT_LABEL_BYTES);
}
