// The chunk workers (rescue/io/repository/compression-pool.ts): ids, zstd frames written straight
// into shared memory by a kept compression context, incompressible chunks, file hashing.
// Every frame is checked by decompressing it on its own (zlib and the zstd tool), since a kept
// context that leaked state from one frame into the next would make frames that only decode in order.

import test from 'ava';
import { execa } from 'execa';
import { createHash, createHmac, createCipheriv, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { ChunkWorkers } from '../../rescue/io/repository/compression-pool.ts';

const KiB = 1024;
const CHUNK = 512 * KiB;

/** Log-like text: compresses well. */
function text(bytes: number, seed: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const line = `2026-11-29T12:${String(i % 60).padStart(2, '0')}:00Z host-${(i * seed) % 17} app[${1000 + ((i * 7) % 300)}]: request ${i * seed} status=${i % 13 === 0 ? 500 : 200}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** Incompressible bytes, reproducible from `seed`. */
function noise(bytes: number, seed: number): Buffer {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(`seed-${seed}`).digest(), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(bytes));
}

function sharedCopy(bytes: Uint8Array, size = bytes.length): Uint8Array {
  const view = new Uint8Array(new SharedArrayBuffer(size));
  view.set(bytes);
  return view.subarray(0, bytes.length);
}

const workers = new ChunkWorkers(2);
test.after.always(() => workers.close());

test('on the pinned Node the workers keep one zstd context per level (the fast path is active)', async (t) => {
  // If a Node upgrade changes zlib's internals, the workers fall back to zstdCompressSync (correct,
  // ~45% slower): this test names that change.
  t.is(await workers.compressionPath(), 'native-handle');
});

test('on the pinned Node the workers open delta bases with one kept zstd context (the fast path is active)', async (t) => {
  // The fallback is zstdDecompressSync (correct, a context and fresh memory per base): this test
  // names a Node change that forces it.
  t.is(await workers.decodingPath(), 'native-handle');
});

test('ids are SHA-256, or HMAC-SHA-256 under the key, for shared and transferred bytes', async (t) => {
  const content = text(100 * KiB, 3);
  const key = randomBytes(32);
  t.is((await workers.hash(Buffer.from(content), undefined)).id, createHash('sha256').update(content).digest('hex'));
  t.is((await workers.hash(sharedCopy(content), undefined)).id, createHash('sha256').update(content).digest('hex'));
  t.is((await workers.hash(sharedCopy(content), key)).id, createHmac('sha256', key).update(content).digest('hex'));
  // A known value, independent of node:crypto: SHA-256 of "abc".
  t.is((await workers.hash(Buffer.from('abc'), undefined)).id, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  // RFC 4231 test case 2: HMAC-SHA-256 with key "Jefe".
  t.is((await workers.hash(Buffer.from('what do ya want for nothing?'), Buffer.from('Jefe'))).id, '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  const returned = await workers.hash(Buffer.from(content), undefined);
  t.deepEqual(Buffer.from(returned.data), content, 'transferred bytes come back intact');
});

test('frames written into shared output decode on their own, in any order, with zlib and the zstd tool', async (t) => {
  const inputs = [text(CHUNK, 1), text(CHUNK, 2), Buffer.concat([noise(CHUNK / 2, 1), text(CHUNK / 2, 9)]), text(CHUNK, 5), text(CHUNK - 4093, 7)];
  const frames: Buffer[] = [];
  // Twice through, so that each worker's kept context has made several frames before these.
  for (let round = 0; round < 2; round++) {
    for (const input of inputs) {
      const slot = sharedCopy(input, CHUNK);
      const output = new Uint8Array(new SharedArrayBuffer(CHUNK));
      const result = await workers.compress(slot, 3, output);
      t.is(result.compression, 'zstd');
      t.true(result.data.length < input.length);
      t.is(result.data.buffer, output.buffer, 'the frame lies in the given output');
      t.deepEqual(Buffer.from(result.input), input, 'the shared input is untouched and still usable');
      frames.push(Buffer.from(result.data));
    }
  }
  for (const [i, frame] of [...frames.entries()].reverse()) t.deepEqual(zstdDecompressSync(frame), inputs[i % inputs.length], `frame ${i}`);
  const folder = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-zstd-'));
  try {
    await writeFile(path.join(folder, 'f.zst'), frames[3] ?? Buffer.alloc(0));
    const decoded = await execa('zstd', ['-dc', path.join(folder, 'f.zst')], { encoding: 'buffer' });
    t.deepEqual(Buffer.from(decoded.stdout), inputs[3]);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test('incompressible chunks are stored as they are, and the next frame is still sound', async (t) => {
  const random = noise(CHUNK, 4);
  const slot = sharedCopy(random);
  const result = await workers.compress(slot, 3, new Uint8Array(new SharedArrayBuffer(CHUNK)));
  t.is(result.compression, 'none');
  t.deepEqual(Buffer.from(result.data), random);
  // Random blobs are compressed, do not fit, and the context gives up mid-frame. The frames after
  // it must be complete ones.
  const small = noise(100 * KiB, 5);
  for (let i = 0; i < 4; i++) {
    const attempt = await workers.compress(sharedCopy(small), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)));
    t.is(attempt.compression, 'none');
    t.deepEqual(Buffer.from(attempt.data), small);
    const good = text(CHUNK, 10 + i);
    const next = await workers.compress(sharedCopy(good), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)));
    t.is(next.compression, 'zstd');
    t.deepEqual(zstdDecompressSync(Buffer.from(next.data)), good);
  }
});

test('a chunk that is random but for a small piece of text is still compressed (no guess from samples)', async (t) => {
  // 48 KiB of text before 976 KiB of random bytes: samples spread over the chunk (eight of 8 KiB,
  // the first centred at 64 KiB) see only random bytes and would store it as is.
  const mixed = Buffer.concat([text(48 * KiB, 6), noise(CHUNK - 48 * KiB, 6)]);
  const result = await workers.compress(sharedCopy(mixed), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)));
  t.is(result.compression, 'zstd');
  t.true(result.data.length < CHUNK - 24 * KiB, `stored ${result.data.length} bytes`);
  t.deepEqual(zstdDecompressSync(Buffer.from(result.data)), mixed);
});

test('without shared memory the bytes are transferred: the frame comes back on its own buffer', async (t) => {
  const input = text(200 * KiB, 8);
  const result = await workers.compress(Buffer.from(input), 3);
  t.is(result.compression, 'zstd');
  t.deepEqual(zstdDecompressSync(Buffer.from(result.data)), input);
  t.deepEqual(Buffer.from(result.input), input);
  const opened = await workers.open(Buffer.from(result.data), 'zstd', input.length, undefined);
  t.is(opened.id, createHash('sha256').update(input).digest('hex'));
  t.deepEqual(Buffer.from(opened.data), input);
});

test('hashFile hashes a whole file on a worker', async (t) => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-hash-'));
  try {
    // Read from the device (O_DIRECT) where the folder's filesystem allows it, through the cache if not.
    let directWorks = true;
    await writeFile(path.join(folder, 'probe'), 'probe');
    try {
      closeSync(openSync(path.join(folder, 'probe'), constants.O_RDONLY | constants.O_DIRECT));
    } catch {
      directWorks = false;
    }
    // An odd size (a short direct read at the end) and a multiple of the 4 MiB read size.
    for (const content of [Buffer.concat([text(5 * 1024 * KiB, 2), noise(123_457, 3)]), noise(8 * 1024 * KiB, 4), Buffer.alloc(0)]) {
      await writeFile(path.join(folder, 'pack'), content);
      t.deepEqual(await workers.hashFile(path.join(folder, 'pack')), { hash: createHash('sha256').update(content).digest('hex'), bytes: content.length, direct: directWorks });
    }
    await t.throwsAsync(workers.hashFile(path.join(folder, 'absent')));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});

test('with a base, a chunk where a few blocks changed is stored as a small patch that opens to the chunk', async (t) => {
  const base = Buffer.concat([noise(CHUNK / 2, 11), text(CHUNK / 2, 11)]);
  const changed = Buffer.from(base);
  changed.fill(0x42, 5000, 9000); // blocks 1 and 2
  changed.fill(0x17, CHUNK - 10, CHUNK); // the last block
  const result = await workers.compress(sharedCopy(changed), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), base);
  t.true(result.delta);
  t.is(result.compression, 'zstd');
  t.true(result.data.length < 3 * 4096 + 200, `${result.data.length} bytes for three changed blocks`);
  const opened = await workers.open(Buffer.from(result.data), 'zstd', CHUNK, undefined, base);
  t.deepEqual(Buffer.from(opened.data), changed);
  t.is(opened.id, createHash('sha256').update(changed).digest('hex'));
  // Without the base, or against another base, the patch does not give the chunk back (the
  // repository then reports the id mismatch).
  t.not((await workers.open(Buffer.from(result.data), 'zstd', CHUNK, undefined)).id, opened.id);
  const other = Buffer.from(base);
  other.writeUInt8((other.readUInt8(100_000) ^ 1), 100_000);
  t.not((await workers.open(Buffer.from(result.data), 'zstd', CHUNK, undefined, other)).id, opened.id);
});

test('a base handed over as stored is opened and checked in the worker: the same patch, none when it does not check out', async (t) => {
  const base = Buffer.concat([noise(CHUNK / 2, 21), text(CHUNK / 2, 21)]);
  const changed = Buffer.from(base);
  changed.fill(0x42, 70_000, 71_000);
  const id = createHash('sha256').update(base).digest('hex');
  const stored = (bytes: Buffer) => ({ id, stored: new Uint8Array(bytes), compression: 'zstd' as const, rawLength: CHUNK, key: undefined });
  const fromOpened = await workers.compress(sharedCopy(changed), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), base);
  const fromStored = await workers.compress(sharedCopy(changed), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), stored(zstdCompressSync(base)));
  t.true(fromStored.delta);
  t.deepEqual(Buffer.from(fromStored.data), Buffer.from(fromOpened.data));
  t.deepEqual(Buffer.from((await workers.open(Buffer.from(fromStored.data), 'zstd', CHUNK, undefined, base)).data), changed);
  // Stored as is, and under a key (HMAC ids, as in encrypted repositories).
  t.true((await workers.compress(sharedCopy(changed), 3, undefined, { ...stored(base), compression: 'none' })).delta);
  const key = randomBytes(32);
  // (a fresh StoredBase each time: its bytes are handed over)
  const keyed = () => ({ ...stored(zstdCompressSync(base)), id: createHmac('sha256', key).update(base).digest('hex'), key });
  t.true((await workers.compress(sharedCopy(changed), 3, undefined, keyed())).delta);
  t.false((await workers.compress(sharedCopy(changed), 3, undefined, { ...keyed(), key: randomBytes(32) })).delta, 'another key');
  // A base that does not match its id, does not decompress or has another length: stored whole.
  const other = Buffer.from(base);
  other.writeUInt8(other.readUInt8(5) ^ 1, 5);
  for (const [what, bad] of [
    ['altered content', stored(zstdCompressSync(other))],
    ['not zstd', stored(Buffer.from(base.subarray(0, 1000)))],
    ['wrong length', { ...stored(zstdCompressSync(base)), rawLength: CHUNK - 1 }],
  ] as const) {
    const result = await workers.compress(sharedCopy(changed), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), bad);
    t.false(result.delta, what);
    t.deepEqual(zstdDecompressSync(Buffer.from(result.data)), changed, what);
  }
});

test('a worker that failed to open a base opens the next one: truncated, overlong, garbage and empty frames in turn', async (t) => {
  // One worker, so that every base goes through the same kept context.
  const single = new ChunkWorkers(1);
  t.teardown(() => single.close());
  const base = Buffer.concat([noise(CHUNK / 2, 33), text(CHUNK / 2, 33)]);
  const changed = Buffer.from(base);
  changed.fill(0x17, 500_000, 501_000);
  const id = createHash('sha256').update(base).digest('hex');
  const frame = zstdCompressSync(base);
  const stored = (bytes: Uint8Array, rawLength = CHUNK) => ({ id, stored: new Uint8Array(bytes), compression: 'zstd' as const, rawLength, key: undefined });
  const longer = zstdCompressSync(Buffer.concat([base, Buffer.from('more')]));
  for (const [what, bad] of [
    ['truncated frame', stored(frame.subarray(0, frame.length - 200))],
    ['frame of more bytes than the base', stored(longer)],
    ['garbage', stored(randomBytes(5000))],
    ['frame header only', stored(frame.subarray(0, 6))],
    ['two frames', stored(Buffer.concat([frame, frame]))],
  ] as const) {
    const failed = await single.compress(sharedCopy(changed), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), bad);
    t.false(failed.delta, what);
    t.deepEqual(zstdDecompressSync(Buffer.from(failed.data)), changed, what);
    const next = await single.compress(sharedCopy(changed), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), stored(frame));
    t.true(next.delta, `a sound base after ${what}`);
    t.deepEqual(Buffer.from((await single.open(Buffer.from(next.data), 'zstd', CHUNK, undefined, base)).data), changed, `after ${what}`);
  }
});

test('no patch when over half the blocks differ or the base has another length; a malformed patch is refused', async (t) => {
  const base = text(CHUNK, 12);
  const mostlyNew = text(CHUNK, 13);
  const whole = await workers.compress(sharedCopy(mostlyNew), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), base);
  t.false(whole.delta);
  t.deepEqual(zstdDecompressSync(Buffer.from(whole.data)), mostlyNew);
  const shorter = await workers.compress(sharedCopy(base.subarray(0, CHUNK - 4096)), 3, new Uint8Array(new SharedArrayBuffer(CHUNK)), base);
  t.false(shorter.delta);
  const header = Buffer.alloc(24);
  header.write('LBPATCH1', 0, 'latin1');
  header.writeUInt32LE(4096, 8);
  header.writeUInt32LE(CHUNK, 12);
  header.writeUInt32LE(1, 16);
  for (const [name, patch] of [
    ['block index past the end', Buffer.concat([Buffer.from(header.subarray(0, 20)), Buffer.from([0xff, 0xff, 0, 0]), Buffer.alloc(4096)])],
    ['missing block bytes', Buffer.concat([header.subarray(0, 20), Buffer.alloc(4)])],
    ['wrong length', (() => { const copy = Buffer.from(header); copy.writeUInt32LE(CHUNK / 2, 12); return Buffer.concat([copy, Buffer.alloc(4096)]); })()],
    ['wrong magic', Buffer.concat([Buffer.from('LBPATCH2'), header.subarray(8), Buffer.alloc(4096)])],
  ] as const) {
    const frame = (await import('node:zlib')).zstdCompressSync(patch);
    await t.throwsAsync(workers.open(frame, 'zstd', CHUNK, undefined, base), undefined, name);
  }
});

test('openInto: a restore opens many frames one after another into the same shared memory, each whole and with its id; a wrong length or a damaged frame is refused', async (t) => {
  const slot = new Uint8Array(new SharedArrayBuffer(CHUNK + 1));
  const stored = new Uint8Array(new SharedArrayBuffer(CHUNK + 1024));
  const key = randomBytes(32);
  // Text, noise, zeros and a short last chunk, in turns through the same memory: a context or a
  // buffer that kept bytes of the previous frame would show in the content or its id.
  const contents = [text(CHUNK, 5), noise(CHUNK, 6), Buffer.alloc(CHUNK), text(CHUNK, 7), text(CHUNK / 2 + 13, 8), noise(CHUNK / 4, 9), text(CHUNK, 10)];
  for (const [index, content] of contents.entries()) {
    const frame = zstdCompressSync(content);
    stored.set(frame);
    slot.fill(0xa5);
    const withKey = index % 2 === 0 ? key : undefined;
    const opened = await workers.openInto(stored.subarray(0, frame.length), slot, 'zstd', content.length, withKey);
    t.true(opened.fits, `frame ${index}`);
    t.true(Buffer.from(slot.subarray(0, content.length)).equals(content), `frame ${index} content`);
    t.is(opened.id, (withKey ? createHmac('sha256', withKey) : createHash('sha256')).update(content).digest('hex'), `frame ${index} id`);
  }
  // Stored as is, read straight into the slot: hashed in place.
  const plain = noise(CHUNK, 11);
  slot.set(plain);
  const asIs = await workers.openInto(slot.subarray(0, plain.length), slot, 'none', plain.length, undefined);
  t.deepEqual(asIs, { id: createHash('sha256').update(plain).digest('hex'), fits: true });
  t.true(Buffer.from(slot.subarray(0, plain.length)).equals(plain));
  // Stored as is elsewhere: copied into the slot.
  const other = text(1000, 12);
  stored.set(other);
  t.true((await workers.openInto(stored.subarray(0, other.length), slot, 'none', other.length, undefined)).fits);
  t.true(Buffer.from(slot.subarray(0, other.length)).equals(other));
  // A frame of another length than the index says: not the chunk.
  const frame = zstdCompressSync(contents[0]!);
  stored.set(frame);
  t.false((await workers.openInto(stored.subarray(0, frame.length), slot, 'zstd', CHUNK - 1, undefined)).fits);
  t.false((await workers.openInto(stored.subarray(0, frame.length), slot, 'zstd', CHUNK / 2, undefined)).fits);
  t.false((await workers.openInto(stored.subarray(0, 100), slot, 'none', 99, undefined)).fits);
  // A damaged frame: refused (or, should zstd decode it, a content whose id differs), and the next frame opens fine.
  const damaged = Buffer.from(frame);
  damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
  stored.set(damaged);
  const bad = await workers.openInto(stored.subarray(0, damaged.length), slot, 'zstd', CHUNK, undefined).catch(() => ({ id: '', fits: false }));
  t.false(bad.fits && bad.id === createHash('sha256').update(contents[0]!).digest('hex'));
  stored.set(frame);
  const again = await workers.openInto(stored.subarray(0, frame.length), slot, 'zstd', CHUNK, undefined);
  t.deepEqual(again, { id: createHash('sha256').update(contents[0]!).digest('hex'), fits: true });
  // Room for rawLength + 1 bytes is required.
  await t.throwsAsync(workers.openInto(stored.subarray(0, frame.length), slot.subarray(0, CHUNK), 'zstd', CHUNK, undefined));
});
