// Content-defined chunking (FastCDC: gear hash with normalized chunking) for file backups: a cut
// point depends only on the 32 bytes before it, so inserting or deleting bytes in a file moves the
// cut points near the edit only and every chunk after it keeps its id (deduplication across
// versions of an edited file). Pure: bytes in, chunk lengths out.
//
// Sizes: min 512 KiB, average 1 MiB, max 4 MiB. The average equals the repository's disk chunk
// size (DEFAULT_CHUNK_BYTES), so per-blob overhead (index entry, footer entry, 32-byte id in a tree)
// stays the same for file and disk snapshots; smaller chunks dedup edited big files a bit better
// (an insertion costs ~1 average chunk), but most files are smaller than the minimum and then are
// one chunk each whatever the parameters (on /usr/share/doc 98% of files are below 64 KiB), so a
// smaller average mostly adds index size. A 64 KiB average is the usual choice for tiny edits; the
// parameters are arguments so a caller can pick them, and every chunk id stays a plain content hash.

/** Chunking parameters (bytes). */
export interface CdcParameters {
  readonly minBytes: number;
  readonly averageBytes: number;
  readonly maxBytes: number;
}

/** The parameters file backups use. */
export const FILE_CHUNK_PARAMETERS: CdcParameters = { minBytes: 512 * 1024, averageBytes: 1024 * 1024, maxBytes: 4 * 1024 * 1024 };

/** Seed of the gear table (ASCII "LBCD"); changing it changes every cut point (and every file chunk id). */
export const GEAR_SEED = 0x4c424344;

/** 256 pseudo-random 32-bit values from splitmix32 seeded with GEAR_SEED: fixed, so chunking is deterministic. */
export const GEAR_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  let state = GEAR_SEED >>> 0;
  for (let i = 0; i < 256; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    table[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return table;
})();

/** A mask with the `bits` highest bits of 32 set (the high bits of a gear hash depend on the most bytes). */
function highBitsMask(bits: number): number {
  return bits >= 32 ? 0xffffffff : ((0xffffffff << (32 - bits)) >>> 0);
}

/** Checks the parameters: min <= average <= max, average a power of two. */
function checkParameters(parameters: CdcParameters): void {
  const { minBytes, averageBytes, maxBytes } = parameters;
  if (!(minBytes > 0 && minBytes <= averageBytes && averageBytes <= maxBytes) || (averageBytes & (averageBytes - 1)) !== 0) {
    throw new RangeError(`Bad chunking parameters ${minBytes}/${averageBytes}/${maxBytes}.`);
  }
}

/**
 * The length of the chunk that starts at data[0]: a content-defined cut, or `maxBytes`, or
 * data.length when `final` (the end of the stream) comes first. Returns 0 when more data is needed
 * (data shorter than maxBytes and not final).
 */
export function nextChunkLength(data: Uint8Array, final: boolean, parameters: CdcParameters = FILE_CHUNK_PARAMETERS): number {
  checkParameters(parameters);
  const { minBytes, averageBytes, maxBytes } = parameters;
  if (data.length <= minBytes) return final ? data.length : 0;
  if (data.length < maxBytes && !final) {
    // A cut may lie in what we have; if none is found, wait for more.
    const cut = scan(data, minBytes, averageBytes, data.length);
    return cut > 0 ? cut : 0;
  }
  const end = Math.min(data.length, maxBytes);
  const cut = scan(data, minBytes, averageBytes, end);
  return cut > 0 ? cut : end;
}

/** The gear table as signed 32-bit values (same bits): the hash then stays a small integer for V8. */
const GEAR_INT32 = new Int32Array(GEAR_TABLE.buffer, GEAR_TABLE.byteOffset, GEAR_TABLE.length);

/**
 * Normalized chunking: a harder mask before the average size, an easier one after it. The hash is
 * kept as int32 (`| 0`) rather than uint32 (`>>> 0`, which leaves V8's integer range half the time
 * and made the loop ~2x slower); the bits, and so every cut, are the same.
 */
function scan(data: Uint8Array, minBytes: number, averageBytes: number, end: number): number {
  const bits = Math.log2(averageBytes);
  const maskHard = highBitsMask(bits + 2) | 0;
  const maskEasy = highBitsMask(bits - 2) | 0;
  const gear = GEAR_INT32;
  let hash = 0;
  // The hash of the 32 bytes before minBytes, so a cut at minBytes already sees a full window.
  for (let i = Math.max(0, minBytes - 32); i < minBytes; i++) hash = ((hash << 1) + gear[data[i]!]!) | 0;
  const middle = Math.min(averageBytes, end);
  let i = minBytes;
  for (; i < middle; i++) {
    hash = ((hash << 1) + gear[data[i]!]!) | 0;
    if ((hash & maskHard) === 0) return i + 1;
  }
  for (; i < end; i++) {
    hash = ((hash << 1) + gear[data[i]!]!) | 0;
    if ((hash & maskEasy) === 0) return i + 1;
  }
  return 0;
}

/** Cuts a whole buffer into chunk lengths (tests and small inputs; backups stream with nextChunkLength). */
export function chunkLengths(data: Uint8Array, parameters: CdcParameters = FILE_CHUNK_PARAMETERS): number[] {
  const lengths: number[] = [];
  let offset = 0;
  while (offset < data.length) {
    const length = nextChunkLength(data.subarray(offset), true, parameters);
    lengths.push(length);
    offset += length;
  }
  return lengths;
}
