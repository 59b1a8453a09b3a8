// CRC-16 (ANSI/IBM, polynomial 0x8005 reflected = 0xA001), the checksum ext4's gdt_csum / uninit_bg
// puts on each block group descriptor (e2fsprogs' ext2fs_crc16).

const TABLE = Uint16Array.from({ length: 256 }, (_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  return crc;
});

/** The raw register update (no final inversion), as ext2fs_crc16(crc, data) computes it; ext starts from 0xFFFF. */
export function crc16Update(seed: number, bytes: Uint8Array): number {
  let crc = seed & 0xffff;
  for (const byte of bytes) crc = ((crc >>> 8) ^ (TABLE[(crc ^ byte) & 0xff] ?? 0)) & 0xffff;
  return crc;
}
