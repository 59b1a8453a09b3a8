// partclone's CRC-32 flavours. Both use the IEEE reflected table and the seed 0xFFFFFFFF but never
// invert the result (so a reseeded checksum is the bitwise NOT of the usual CRC-32), and the state
// may run on from one checksum to the next. Version 0001 images used a buggy loop that hashed the
// first byte of each block `block_size` times; it is kept here because those images carry it.

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The state partclone starts each checksum from (and returns to when it reseeds). */
export const PARTCLONE_CRC_SEED = 0xffffffff;

/** partclone's crc32(): continues `state` over `bytes`, with no final inversion. */
export function updatePartcloneCrc(state: number, bytes: Uint8Array): number {
  let crc = state >>> 0;
  for (let i = 0; i < bytes.length; i += 1) crc = (TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return crc >>> 0;
}

/** partclone's crc32_0001() of image version 0001: the first byte of `bytes`, hashed `bytes.length` times. */
export function updatePartcloneCrc0001(state: number, bytes: Uint8Array): number {
  let crc = state >>> 0;
  const first = bytes[0] ?? 0;
  for (let i = 0; i < bytes.length; i += 1) crc = (TABLE[(crc ^ first) & 0xff] as number) ^ (crc >>> 8);
  return crc >>> 0;
}
