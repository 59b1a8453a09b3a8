// partclone's CRC-32 flavours. Both use the IEEE reflected table and the seed 0xFFFFFFFF but never
// invert the result (so a reseeded checksum is the bitwise NOT of the usual CRC-32), and the state
// may run on from one checksum to the next. Version 0001 images used a buggy loop that hashed the
// first byte of each block `block_size` times; it is kept here because those images carry it.

import { CRC32_TABLE, crc32Update } from '../partition-table/crc32.ts';

/** The state partclone starts each checksum from (and returns to when it reseeds). */
export const PARTCLONE_CRC_SEED = 0xffffffff;

/** partclone's crc32(): continues `state` over `bytes`, with no final inversion. */
export function updatePartcloneCrc(state: number, bytes: Uint8Array): number {
  return crc32Update(state, bytes);
}

/** partclone's crc32_0001() of image version 0001: the first byte of `bytes`, hashed `bytes.length` times. */
export function updatePartcloneCrc0001(state: number, bytes: Uint8Array): number {
  let crc = state >>> 0;
  const first = bytes[0] ?? 0;
  for (let i = 0; i < bytes.length; i += 1) crc = (CRC32_TABLE[(crc ^ first) & 0xff] as number) ^ (crc >>> 8);
  return crc >>> 0;
}
