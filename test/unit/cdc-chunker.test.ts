// Content-defined chunking: cut points follow the content (an insertion near the start moves only
// the first chunk or two), sizes stay within bounds, and the same bytes always give the same chunks.

import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { prng } from '../helpers/mutation.ts';
import { chunkLengths, FILE_CHUNK_PARAMETERS, GEAR_TABLE, nextChunkLength, type CdcParameters } from '../../rescue/core/repository/cdc-chunker.ts';

const SMALL: CdcParameters = { minBytes: 2048, averageBytes: 8192, maxBytes: 32768 };

function chunkHashes(data: Uint8Array, parameters: CdcParameters): string[] {
  const hashes: string[] = [];
  let offset = 0;
  for (const length of chunkLengths(data, parameters)) {
    hashes.push(createHash('sha256').update(data.subarray(offset, offset + length)).digest('hex'));
    offset += length;
  }
  return hashes;
}

test('the gear table is fixed (documented seed) and has no repeated values', (t) => {
  t.is(GEAR_TABLE.length, 256);
  t.is(new Set(GEAR_TABLE).size, 256);
  // Changing these changes every file chunk id in every repository.
  t.deepEqual([...GEAR_TABLE.slice(0, 4)], [3779525064, 800355718, 1432131210, 247068692]);
});

test('sizes stay within bounds and cover the input exactly', (t) => {
  const data = randomBytes(2 * 1024 * 1024);
  const lengths = chunkLengths(data, SMALL);
  t.is(lengths.reduce((a, b) => a + b, 0), data.length);
  for (const length of lengths.slice(0, -1)) t.true(length >= SMALL.minBytes && length <= SMALL.maxBytes, `length ${length}`);
  const mean = data.length / lengths.length;
  t.true(mean > SMALL.averageBytes / 2 && mean < SMALL.averageBytes * 2, `mean ${mean}`);
  // Zeros have no cut points: every chunk is max long.
  t.deepEqual(chunkLengths(new Uint8Array(100_000), SMALL), [32768, 32768, 32768, 100_000 - 3 * 32768]);
});

test('the default parameters give chunks between 512 KiB and 4 MiB on random data', (t) => {
  const data = randomBytes(24 * 1024 * 1024);
  const lengths = chunkLengths(data);
  for (const length of lengths.slice(0, -1)) t.true(length >= FILE_CHUNK_PARAMETERS.minBytes && length <= FILE_CHUNK_PARAMETERS.maxBytes);
  t.true(lengths.length >= 8 && lengths.length <= 40, `${lengths.length} chunks`);
});

test('identical input gives identical chunks; streaming pieces give the same cuts as the whole', (t) => {
  const data = randomBytes(1024 * 1024);
  t.deepEqual(chunkLengths(data, SMALL), chunkLengths(Buffer.from(data), SMALL));
  // Feed the chunker growing prefixes, as a reader filling its buffer does.
  const streamed: number[] = [];
  let offset = 0;
  let available = 0;
  while (offset < data.length) {
    available = Math.min(data.length, available + 5000);
    const length = nextChunkLength(data.subarray(offset, available), available === data.length, SMALL);
    if (length === 0) continue;
    streamed.push(length);
    offset += length;
  }
  t.deepEqual(streamed, chunkLengths(data, SMALL));
});

test('an insertion changes only the chunks around it: content-defined cuts find their places again', (t) => {
  // Seeded data (unseeded random data made this test fail now and then): the cut after an edit
  // usually falls back into step at once, but the minimum-size skip can carry a shift over a few
  // chunks. Over 20 sources: every edit costs at least one chunk and never a cascade, one on average.
  const seeded = (bytes: number, seed: number) => {
    const random = prng(seed);
    const out = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) out[i] = Math.floor(random() * 256);
    return out;
  };
  const lostNearStart: number[] = [];
  const lostInMiddle: number[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const data = seeded(1024 * 1024, seed);
    const before = chunkHashes(data, SMALL);
    t.true(before.length > 50);
    const start = new Set(chunkHashes(Buffer.concat([data.subarray(0, 1000), seeded(100, seed + 1000), data.subarray(1000)]), SMALL));
    lostNearStart.push(before.filter((hash) => !start.has(hash)).length);
    const middle = new Set(chunkHashes(Buffer.concat([data.subarray(0, 500_000), seeded(7, seed + 2000), data.subarray(500_000)]), SMALL));
    lostInMiddle.push(before.filter((hash) => !middle.has(hash)).length);
  }
  for (const lost of [...lostNearStart, ...lostInMiddle]) t.true(lost >= 1 && lost <= 8, `${lost} chunks changed`);
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  t.true(mean(lostNearStart) <= 2 && mean(lostInMiddle) <= 2, `mean chunks changed: ${mean(lostNearStart)} near the start, ${mean(lostInMiddle)} in the middle`);
});

test('bad parameters are refused', (t) => {
  t.throws(() => nextChunkLength(new Uint8Array(10), true, { minBytes: 10, averageBytes: 1000, maxBytes: 2000 }));
  t.throws(() => nextChunkLength(new Uint8Array(10), true, { minBytes: 4096, averageBytes: 1024, maxBytes: 8192 }));
});
