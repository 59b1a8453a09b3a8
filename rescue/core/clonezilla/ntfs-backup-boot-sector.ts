// NTFS keeps a copy of its boot sector in the sector right after the volume, which is the last
// sector of the partition. That sector lies outside the volume's clusters, so a partclone image does
// not carry it and partclone.restore (and Clonezilla after it) leaves it as it was on the target.
// Windows and mkntfs write it as an exact copy of sector 0, so a restore can put it back.

const OEM_ID = 'NTFS    ';

/** Where the backup boot sector goes and its bytes, or undefined when `bootSector` is no NTFS boot sector or the place is not past the blocks the image covers (`imageBytes`) and inside `partitionBytes`. */
export function ntfsBackupBootSector(bootSector: Uint8Array, options: { imageBytes: number; partitionBytes: number }): { offset: number; bytes: Uint8Array } | undefined {
  if (bootSector.length < 512) return undefined;
  if (String.fromCharCode(...bootSector.subarray(3, 11)) !== OEM_ID || bootSector[510] !== 0x55 || bootSector[511] !== 0xaa) return undefined;
  const view = new DataView(bootSector.buffer, bootSector.byteOffset, bootSector.length);
  const sectorBytes = view.getUint16(0x0b, true);
  if (sectorBytes < 256 || sectorBytes > 4096 || (sectorBytes & (sectorBytes - 1)) !== 0 || bootSector.length < sectorBytes) return undefined;
  const totalSectors = view.getBigUint64(0x28, true);
  if (totalSectors > BigInt(Number.MAX_SAFE_INTEGER) / BigInt(sectorBytes)) return undefined;
  const offset = Number(totalSectors) * sectorBytes;
  if (offset < options.imageBytes || offset + sectorBytes > options.partitionBytes) return undefined;
  return { offset, bytes: bootSector.slice(0, sectorBytes) };
}
