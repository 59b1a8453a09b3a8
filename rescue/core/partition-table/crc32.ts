// CRC-32 (IEEE 802.3, reflected, as GPT headers and entry arrays use it), table-driven.

/** The reflected IEEE table (polynomial 0xEDB88320), shared with partclone's checksums. */
export const CRC32_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Runs the CRC register `state` over `bytes` (no initial or final inversion). */
export function crc32Update(state: number, bytes: Uint8Array): number {
  let crc = state >>> 0;
  for (let i = 0; i < bytes.length; i += 1) crc = (CRC32_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return crc >>> 0;
}

/** CRC-32 of the bytes, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  return (crc32Update(0xffffffff, bytes) ^ 0xffffffff) >>> 0;
}
