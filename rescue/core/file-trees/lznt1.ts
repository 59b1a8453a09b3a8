// LZNT1, the compression of NTFS compressed files: each compression unit (16 clusters) holds a run of
// chunks, each decompressing to one 4096-byte block. A chunk starts with a u16 header: bits 0-11 hold
// the chunk's total length minus 3 (header included), bit 15 says compressed; header 0 ends the unit.
// A stored chunk holds its bytes as they are. A compressed chunk is groups of a flag byte and 8 tokens:
// bit clear, one literal byte; bit set, a u16 back-reference whose split between offset and length
// depends on how far into the 4096-byte block the output is (4 offset bits up to position 16, one more
// each time the position doubles). A block that decompresses short is padded with zeros (as ntfs-3g).
// Every length and back-reference is checked: bad input throws LB_FILESYSTEM_CORRUPT, never reads or
// writes outside the buffers.

import { corrupt } from '../filesystems/fields.ts';

/** Bytes one LZNT1 chunk decompresses to. */
export const LZNT1_BLOCK_BYTES = 4096;
const CHUNK_COMPRESSED = 0x8000;
const CHUNK_LENGTH_MASK = 0x0fff;

/** Decompresses one compression unit into `outputBytes` bytes (zeros after the last chunk); `at` names the data in errors. */
export function decompressLznt1(input: Uint8Array, outputBytes: number, at = 0): Uint8Array {
  const output = new Uint8Array(outputBytes);
  let inPos = 0;
  for (let block = 0; block * LZNT1_BLOCK_BYTES < outputBytes && inPos + 2 <= input.length; block++) {
    const header = (input[inPos] ?? 0) | ((input[inPos + 1] ?? 0) << 8);
    if (header === 0) break;
    const chunkEnd = inPos + (header & CHUNK_LENGTH_MASK) + 3;
    if (chunkEnd > input.length) throw corrupt('NTFS', 'LZNT1 chunk', at + inPos, `a ${chunkEnd - inPos}-byte chunk runs past the ${input.length} compressed bytes.`);
    const outStart = block * LZNT1_BLOCK_BYTES;
    const outEnd = Math.min(outStart + LZNT1_BLOCK_BYTES, outputBytes);
    if (header & CHUNK_COMPRESSED) decompressChunk(input, inPos + 2, chunkEnd, output, outStart, outEnd, at);
    else {
      const stored = Math.min(chunkEnd - inPos - 2, outEnd - outStart);
      output.set(input.subarray(inPos + 2, inPos + 2 + stored), outStart);
    }
    inPos = chunkEnd;
  }
  return output;
}

function decompressChunk(input: Uint8Array, start: number, end: number, output: Uint8Array, outStart: number, outEnd: number, at: number): void {
  let inPos = start;
  let outPos = outStart;
  while (inPos < end && outPos < outEnd) {
    const flags = input[inPos++] ?? 0;
    for (let bit = 0; bit < 8 && inPos < end && outPos < outEnd; bit++) {
      if ((flags & (1 << bit)) === 0) {
        output[outPos++] = input[inPos++] ?? 0;
        continue;
      }
      if (inPos + 2 > end) throw corrupt('NTFS', 'LZNT1 back-reference', at + inPos, 'the chunk ends inside a back-reference.');
      const token = (input[inPos] ?? 0) | ((input[inPos + 1] ?? 0) << 8);
      inPos += 2;
      const position = outPos - outStart;
      let lengthBits = 12;
      for (let i = position - 1; i >= 0x10; i >>= 1) lengthBits--;
      const distance = (token >>> lengthBits) + 1;
      const length = (token & ((1 << lengthBits) - 1)) + 3;
      if (distance > position) throw corrupt('NTFS', 'LZNT1 back-reference', at + inPos - 2, `a reference ${distance} bytes back from position ${position} of the block.`);
      const copyEnd = Math.min(outPos + length, outEnd);
      for (let from = outPos - distance; outPos < copyEnd; ) output[outPos++] = output[from++] ?? 0;
    }
  }
}
