// CRC32C (Castagnoli), the checksum ext4 (metadata_csum), XFS v5 and btrfs put on their superblocks.

const TABLE = Uint32Array.from({ length: 256 }, (_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  return crc >>> 0;
});

/** The raw register update (no final inversion), as the kernel's crc32c_le(seed, data) computes it. */
export function crc32cUpdate(seed: number, bytes: Uint8Array): number {
  let crc = seed >>> 0;
  for (const byte of bytes) crc = (TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return crc >>> 0;
}

/** The standard CRC32C of `bytes` (seed ~0, final inversion), as XFS and btrfs store it. */
export function crc32c(bytes: Uint8Array): number {
  return ~crc32cUpdate(0xffffffff, bytes) >>> 0;
}
