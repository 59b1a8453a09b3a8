// Delta blobs' patches (FORMAT.md, "Delta blobs"): the blocks of a chunk that differ from its base,
// back to back after a header. Comparing blocks is a memcmp per block; zstd against the whole base
// as a dictionary cost ~14 ms per chunk (indexing the dictionary each time). The chunk workers make
// and apply them (rescue/io/repository/chunk-worker.ts).

const PATCH_MAGIC = 'LBPATCH1';
const PATCH_HEADER_BYTES = 20;
/** The block size writers use. */
const PATCH_BLOCK_BYTES = 4096;

/** The patch turning `base` into `data`, or null when over half the blocks differ (not worth it). */
export function makePatch(data: Uint8Array, base: Uint8Array): Buffer | null {
  if (base.length !== data.length) return null;
  const blocks = Math.ceil(data.length / PATCH_BLOCK_BYTES);
  const changed: number[] = [];
  for (let i = 0; i < blocks; i++) {
    const start = i * PATCH_BLOCK_BYTES;
    const end = Math.min(start + PATCH_BLOCK_BYTES, data.length);
    if (Buffer.compare(data.subarray(start, end), base.subarray(start, end)) !== 0) changed.push(i);
  }
  if (changed.length * 2 > blocks) return null;
  const header = PATCH_HEADER_BYTES + 4 * changed.length;
  let bytes = header;
  for (const i of changed) bytes += Math.min(PATCH_BLOCK_BYTES, data.length - i * PATCH_BLOCK_BYTES);
  const patch = Buffer.allocUnsafe(bytes);
  patch.write(PATCH_MAGIC, 0, 'latin1');
  patch.writeUInt32LE(PATCH_BLOCK_BYTES, 8);
  patch.writeUInt32LE(data.length, 12);
  patch.writeUInt32LE(changed.length, 16);
  let at = header;
  changed.forEach((block, k) => {
    patch.writeUInt32LE(block, PATCH_HEADER_BYTES + 4 * k);
    const start = block * PATCH_BLOCK_BYTES;
    const end = Math.min(start + PATCH_BLOCK_BYTES, data.length);
    patch.set(data.subarray(start, end), at);
    at += end - start;
  });
  return patch;
}

/** The largest patch of a chunk of `rawLength` bytes (every block listed, at the smallest block size). */
export function patchBound(rawLength: number): number {
  return PATCH_HEADER_BYTES + 4 * Math.ceil(rawLength / 512) + rawLength;
}

/** Applies a patch to a copy of `base`; throws on any inconsistency. */
export function applyPatch(patch: Uint8Array, base: Uint8Array, rawLength: number): Uint8Array {
  const bad = (why: string): never => {
    throw new Error(`bad patch: ${why}`);
  };
  if (patch.length < PATCH_HEADER_BYTES || Buffer.from(patch.buffer, patch.byteOffset, 8).toString('latin1') !== PATCH_MAGIC) bad('magic');
  const view = new DataView(patch.buffer, patch.byteOffset, patch.byteLength);
  const block = view.getUint32(8, true);
  const length = view.getUint32(12, true);
  const count = view.getUint32(16, true);
  if (block < 512 || block > 65536 || (block & (block - 1)) !== 0) bad('block size');
  if (length !== rawLength || base.length !== rawLength) bad('length');
  const blocks = Math.ceil(length / block);
  if (count > blocks || patch.length < PATCH_HEADER_BYTES + 4 * count) bad('count');
  const out = new Uint8Array(length);
  out.set(base);
  let at = PATCH_HEADER_BYTES + 4 * count;
  let previous = -1;
  for (let k = 0; k < count; k++) {
    const index = view.getUint32(PATCH_HEADER_BYTES + 4 * k, true);
    if (index <= previous || index >= blocks) bad('block index');
    previous = index;
    const size = Math.min(block, length - index * block);
    if (at + size > patch.length) bad('short');
    out.set(patch.subarray(at, at + size), index * block);
    at += size;
  }
  if (at !== patch.length) bad('trailing bytes');
  return out;
}
