// Chunk work on worker threads: hashing (SHA-256 or HMAC), zstd compression and decompression.
// The main thread only reads, writes and encrypts; one worker per core does the rest. Bytes on a
// SharedArrayBuffer (the backup's chunk slots) are shared with the worker, neither copied nor
// transferred, and compressed output can be written into a shared slot too: a backup then makes no
// per-chunk allocation on the main thread (no garbage, so no major collections; measured: ~3 s of
// CPU on a 2 GiB backup). Other buffers are transferred and come back with the answer.
// (Node's asynchronous zstd runs as a stream in 16 KiB steps and scaled badly: ~50 MB/s with four
// calls at once; WebCrypto's digest runs on the main thread.)

import os from 'node:os';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const fs = require('node:fs');
const C = zlib.constants;
const idOf = (data, key) => (key ? crypto.createHmac('sha256', key) : crypto.createHash('sha256')).update(data).digest('hex');

// zstd with one context per level kept for the worker's life, writing straight into the caller's
// buffer: each frame is one writeSync on the engine's native handle with ZSTD_e_end (zstd starts
// the next frame on the same context). zstdCompressSync makes a context and an output buffer per
// call: on 1 MiB chunks ~45% more CPU (page faults of fresh memory). The handle is internal to
// Node, so the worker checks it on start against zstdCompressSync's format and falls back to that.
// Level 3 (the default) with a chain table of 2^17 entries instead of 2^16: 0.1% smaller chunks of
// an NTFS test volume (0.5 MB of 553), no CPU cost measurable on 1 MiB chunks. Level 4 (also a
// larger hash table) gained 0.2% for ~40% more CPU.
const paramsFor = (level) => (level === 3 ? { [C.ZSTD_c_compressionLevel]: 3, [C.ZSTD_c_chainLog]: 17 } : { [C.ZSTD_c_compressionLevel]: level });
const engines = new Map();
// Blobs of small files (batches): plain level parameters. The larger chain table is cleared for
// every frame whatever the input's size: on the files of /usr/share/doc it cost 60% more CPU.
const plainParams = (level) => ({ [C.ZSTD_c_compressionLevel]: level });
const engineFor = (level, plain) => {
  const key = plain ? 'plain' + level : level;
  let engine = engines.get(key);
  if (!engine) {
    engine = new zlib.ZstdCompress({ params: plain ? plainParams(level) : paramsFor(level) });
    engines.set(key, engine);
  }
  return engine;
};
/** Compresses data into out as one zstd frame; its length, or -1 when it does not fit. */
const compressIntoFast = (data, level, out, plain) => {
  const engine = engineFor(level, plain);
  engine._handle.writeSync(C.ZSTD_e_end, data, 0, data.length, out, 0, out.length);
  const availOut = engine._writeState[0];
  const availIn = engine._writeState[1];
  if (availIn !== 0 || availOut === 0) {
    engine.reset();
    return -1;
  }
  return out.length - availOut;
};
const compressIntoPortable = (data, level, out, plain) => {
  const compressed = zlib.zstdCompressSync(data, { chunkSize: Math.max(64 * 1024, out.length + 1024), params: plain ? plainParams(level) : paramsFor(level) });
  if (compressed.length > out.length) return -1;
  out.set(compressed);
  return compressed.length;
};
const fastPathWorks = () => {
  try {
    const text = Buffer.from('lifeboat '.repeat(20000) + crypto.randomBytes(4096).toString('hex'));
    const out = Buffer.allocUnsafe(text.length);
    for (let round = 0; round < 2; round++) {
      const length = compressIntoFast(text, 3, out);
      if (length <= 0 || !zlib.zstdDecompressSync(out.subarray(0, length)).equals(text)) return false;
    }
    return compressIntoFast(crypto.randomBytes(4096), 3, Buffer.allocUnsafe(1024)) === -1 && compressIntoFast(text, 3, out) > 0;
  } catch {
    return false;
  }
};
const FAST = fastPathWorks();
const compressInto = FAST ? compressIntoFast : compressIntoPortable;
// Delta blobs (repository format 2, FORMAT.md): the blocks of a chunk that differ from its base,
// as a patch, compressed like any blob. Comparing blocks is a memcmp per block; zstd against the
// whole base as a dictionary cost ~14 ms per chunk (indexing the dictionary each time).
const PATCH_MAGIC = 'LBPATCH1';
const PATCH_HEADER = 20;
const PATCH_BLOCK = 4096;
/** The patch turning base into data, or null when over half the blocks differ (not worth it). */
const makePatch = (data, base) => {
  if (base.length !== data.length) return null;
  const blocks = Math.ceil(data.length / PATCH_BLOCK);
  const changed = [];
  for (let i = 0; i < blocks; i++) {
    const start = i * PATCH_BLOCK;
    const end = Math.min(start + PATCH_BLOCK, data.length);
    if (Buffer.compare(data.subarray(start, end), base.subarray(start, end)) !== 0) changed.push(i);
  }
  if (changed.length * 2 > blocks) return null;
  const header = PATCH_HEADER + 4 * changed.length;
  let bytes = header;
  for (const i of changed) bytes += Math.min(PATCH_BLOCK, data.length - i * PATCH_BLOCK);
  const patch = Buffer.allocUnsafe(bytes);
  patch.write(PATCH_MAGIC, 0, 'latin1');
  patch.writeUInt32LE(PATCH_BLOCK, 8);
  patch.writeUInt32LE(data.length, 12);
  patch.writeUInt32LE(changed.length, 16);
  let at = header;
  changed.forEach((block, k) => {
    patch.writeUInt32LE(block, PATCH_HEADER + 4 * k);
    const start = block * PATCH_BLOCK;
    const end = Math.min(start + PATCH_BLOCK, data.length);
    patch.set(data.subarray(start, end), at);
    at += end - start;
  });
  return patch;
};
/** The largest patch of a chunk of rawLength bytes (every block listed). */
const patchBound = (rawLength) => PATCH_HEADER + 4 * Math.ceil(rawLength / 512) + rawLength;
/** Applies a patch to a copy of base; throws on any inconsistency. */
const applyPatch = (patch, base, rawLength) => {
  const bad = (why) => { throw new Error('bad patch: ' + why); };
  if (patch.length < PATCH_HEADER || Buffer.from(patch.buffer, patch.byteOffset, 8).toString('latin1') !== PATCH_MAGIC) bad('magic');
  const view = new DataView(patch.buffer, patch.byteOffset, patch.byteLength);
  const block = view.getUint32(8, true);
  const length = view.getUint32(12, true);
  const count = view.getUint32(16, true);
  if (block < 512 || block > 65536 || (block & (block - 1)) !== 0) bad('block size');
  if (length !== rawLength || base.length !== rawLength) bad('length');
  const blocks = Math.ceil(length / block);
  if (count > blocks || patch.length < PATCH_HEADER + 4 * count) bad('count');
  const out = new Uint8Array(length);
  out.set(base);
  let at = PATCH_HEADER + 4 * count;
  let previous = -1;
  for (let k = 0; k < count; k++) {
    const index = view.getUint32(PATCH_HEADER + 4 * k, true);
    if (index <= previous || index >= blocks) bad('block index');
    previous = index;
    const size = Math.min(block, length - index * block);
    if (at + size > patch.length) bad('short');
    out.set(patch.subarray(at, at + size), index * block);
    at += size;
  }
  if (at !== patch.length) bad('trailing bytes');
  return out;
};
// A delta's base is opened into memory kept for the worker's life, with one zstd context kept too
// (the decoding twin of compressIntoFast): zstdDecompressSync makes a context and a fresh output
// buffer per call, and the page faults of that memory made opening a 1 MiB base cost ~10 times the
// decoding itself (NTFS bench volume, second backup: 264 bases, ~0.9 s of the workers' CPU). What
// comes out is only used as a base, and it is checked against the base's id, so a frame the kept
// context decodes wrongly costs a patch, never a wrong chunk. A failed frame closes the engine's
// handle (its 'error' event is caught): the next base gets a new context.
let decoder;
let decoded = Buffer.allocUnsafe(0);
/** The content of one zstd frame of exactly rawLength bytes, in the kept buffer; null when it is not that. */
const decompressIntoScratchFast = (data, rawLength) => {
  const room = rawLength + 1; // a frame that fills the room holds more than rawLength
  if (decoded.length < room) decoded = Buffer.allocUnsafe(room);
  if (!decoder) {
    decoder = new zlib.ZstdDecompress();
    decoder.on('error', () => undefined);
  }
  const engine = decoder;
  let failed = false;
  try {
    engine._handle.writeSync(C.ZSTD_e_end, data, 0, data.length, decoded, 0, room);
  } catch {
    failed = true;
  }
  // A failed write, a closed engine, input left over or another length: the context may have
  // stopped inside a frame, so it is not reused.
  if (failed || engine.destroyed || !engine._handle || engine._writeState[1] !== 0 || room - engine._writeState[0] !== rawLength) {
    decoder = undefined;
    return null;
  }
  return decoded.subarray(0, rawLength);
};
const decompressIntoScratchPortable = (data, rawLength) => {
  const content = zlib.zstdDecompressSync(data, { chunkSize: Math.max(64 * 1024, rawLength), maxOutputLength: Math.max(1, rawLength) });
  return content.length === rawLength ? content : null;
};
const fastDecodeWorks = () => {
  try {
    const text = Buffer.from('lifeboat '.repeat(20000) + crypto.randomBytes(4096).toString('hex'));
    const frame = zlib.zstdCompressSync(text);
    for (let round = 0; round < 2; round++) {
      const content = decompressIntoScratchFast(frame, text.length);
      if (!content || !content.equals(text)) return false;
    }
    if (decompressIntoScratchFast(frame.subarray(0, frame.length - 100), text.length) !== null) return false;
    if (decompressIntoScratchFast(frame, text.length - 1) !== null) return false;
    const again = decompressIntoScratchFast(frame, text.length);
    return again !== null && again.equals(text);
  } catch {
    return false;
  }
};
const FAST_DECODE = fastDecodeWorks();
const decompressIntoScratch = FAST_DECODE ? decompressIntoScratchFast : decompressIntoScratchPortable;
// A base handed over as it is stored (a delta's base is never a delta itself): opened here, next to
// the patch made against it, and checked against its id. Opening it on the main thread cost a copy
// of it each way and, through those buffers, most of a second backup's major garbage collections.
const openStoredBase = (task) => {
  try {
    const content = task.baseCompression === 'zstd'
      ? decompressIntoScratch(task.baseStored, task.baseRawLength)
      : task.baseCompression === 'none' ? task.baseStored : null;
    return content && content.length === task.baseRawLength && idOf(content, task.key) === task.baseId ? content : null;
  } catch {
    return null; // no patch: the chunk is stored whole (check reports the damaged base)
  }
};
let scratch = Buffer.allocUnsafe(0);
const scratchOf = (bytes) => {
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(bytes);
  return scratch.subarray(0, bytes);
};

const own = (bytes) => {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
};
const shared = (bytes) => bytes.buffer instanceof SharedArrayBuffer;
const reply = (message, data) => parentPort.postMessage(data && !shared(data) ? { ...message, data } : message, data && !shared(data) ? [data.buffer] : []);
// A pack is verified by reading it back from the device, not from the page cache that still holds
// what was written (a medium that lost the write, like a failing or fake-capacity USB stick, is
// caught only so): O_DIRECT reads into a buffer whose start the kernel accepts, found by trying
// (JavaScript cannot see addresses) once per worker. Where O_DIRECT is refused (tmpfs, some FUSE
// filesystems), or fails midway, the rest is read through the page cache.
const HASH_PIECE = 4 * 1024 * 1024;
const DIRECT_ALIGN = 4096;
let directPiece;
const alignedPiece = (fd) => {
  if (directPiece !== undefined) return directPiece;
  const raw = Buffer.allocUnsafeSlow(HASH_PIECE + DIRECT_ALIGN);
  directPiece = null;
  for (let start = 0; start < DIRECT_ALIGN; start += 16) {
    try {
      fs.readSync(fd, raw, start, DIRECT_ALIGN, 0);
      directPiece = raw.subarray(start, start + HASH_PIECE);
      break;
    } catch (error) {
      if (error.code !== 'EINVAL') break;
    }
  }
  return directPiece;
};
const openDirect = (file) => {
  try {
    return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch {
    return undefined;
  }
};
const hashFile = (file) => {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  let direct = false; // the whole file came from the device
  const directFd = openDirect(file);
  if (directFd !== undefined) {
    try {
      const piece = alignedPiece(directFd);
      while (piece) {
        const read = fs.readSync(directFd, piece, 0, HASH_PIECE, bytes);
        hash.update(piece.subarray(0, read));
        bytes += read;
        if (read < HASH_PIECE) { // a direct read is short only at the end of the file
          direct = true;
          break;
        }
      }
    } catch {
      // refused midway: the rest through the page cache
    } finally {
      fs.closeSync(directFd);
    }
  }
  if (!direct) {
    const fd = fs.openSync(file, 'r');
    try {
      const piece = Buffer.allocUnsafe(HASH_PIECE);
      for (let read; (read = fs.readSync(fd, piece, 0, piece.length, bytes)) > 0; bytes += read) hash.update(piece.subarray(0, read));
    } finally {
      fs.closeSync(fd);
    }
  }
  return { hash: hash.digest('hex'), bytes, direct };
};

parentPort.on('message', (task) => {
  try {
    if (task.op === 'hash') {
      reply({ id: task.id, ok: true, hash: idOf(task.data, task.key) }, task.data);
    } else if (task.op === 'compress') {
      // The input goes back as 'input' unless it is shared; the output is 'data', or 'length' bytes
      // written into the shared 'output'.
      const input = shared(task.data) ? {} : { input: task.data };
      const transfer = shared(task.data) ? [] : [task.data.buffer];
      // Compressed bytes must be fewer than the input's, or the chunk is stored as is.
      const room = Math.max(0, task.data.length - 1);
      const intoOutput = task.output !== undefined && task.output.length >= room;
      const out = intoOutput ? task.output.subarray(0, room) : scratchOf(room);
      // With a base, the patch against it is tried first (a chunk of random bytes that equals its
      // base but for one block makes a tiny patch). Then the whole chunk: there is no guess from a
      // sample whether it is worth it. zstd gives up on random data at ~1 GB/s, so compressing all
      // of the incompressible chunks of an NTFS test volume cost 0.75 s of CPU, and sampling every
      // chunk had cost 0.56 s while storing 1.1 MB more (chunks of random data holding a small
      // compressible part, which eight 8 KiB or 64 1 KiB samples both missed).
      const base = task.baseStored ? openStoredBase(task) : task.base;
      const patch = task.level > 0 && room > 0 && base ? makePatch(task.data, base) : null;
      const patchLength = patch ? compressInto(patch, task.level, out) : -1;
      const delta = patchLength >= 0 ? { delta: true } : {};
      const length = patchLength >= 0 ? patchLength
        : task.level <= 0 || room <= 0 ? -1
        : compressInto(task.data, task.level, out);
      if (length < 0) {
        parentPort.postMessage({ id: task.id, ok: true, compression: 'none', ...input }, transfer);
      } else if (!intoOutput) {
        const copy = new Uint8Array(out.subarray(0, length));
        parentPort.postMessage({ id: task.id, ok: true, compression: 'zstd', data: copy, ...delta, ...input }, [copy.buffer, ...transfer]);
      } else {
        parentPort.postMessage({ id: task.id, ok: true, compression: 'zstd', length, ...delta, ...input }, transfer);
      }
    } else if (task.op === 'store-batch') {
      // Many small blobs in one message (a batch of small files): each is hashed and compressed;
      // the answer holds the ids, and the bytes to store back to back in one buffer.
      const count = task.pieces.length / 2;
      const ids = [];
      const lengths = new Uint32Array(count);
      const compressed = new Uint8Array(count);
      let total = 0;
      for (let i = 0; i < count; i++) total += task.pieces[2 * i + 1];
      const output = Buffer.allocUnsafe(total);
      let at = 0;
      for (let i = 0; i < count; i++) {
        const data = task.data.subarray(task.pieces[2 * i], task.pieces[2 * i] + task.pieces[2 * i + 1]);
        ids.push(idOf(data, task.key));
        const room = data.length - 1;
        const length = task.level > 0 && room > 0 ? compressInto(data, task.level, output.subarray(at, at + room), true) : -1;
        if (length < 0) output.set(data, at);
        compressed[i] = length < 0 ? 0 : 1;
        lengths[i] = length < 0 ? data.length : length;
        at += lengths[i];
      }
      const data = new Uint8Array(output.buffer.slice(output.byteOffset, output.byteOffset + at));
      parentPort.postMessage({ id: task.id, ok: true, ids, lengths, compressed, data }, [data.buffer]);
    } else if (task.op === 'info') {
      parentPort.postMessage({ id: task.id, ok: true, compression: FAST ? 'native-handle' : 'portable', decoding: FAST_DECODE ? 'native-handle' : 'portable' });
    } else if (task.op === 'hash-file') {
      parentPort.postMessage({ id: task.id, ok: true, ...hashFile(task.file) });
    } else {
      let content = task.data;
      if (task.base) {
        if (task.compression !== 'zstd') throw new Error('a delta blob must be zstd');
        const bound = patchBound(task.rawLength);
        content = applyPatch(zlib.zstdDecompressSync(task.data, { chunkSize: Math.min(bound, 1024 * 1024), maxOutputLength: bound }), task.base, task.rawLength);
      } else if (task.compression === 'zstd') {
        content = own(zlib.zstdDecompressSync(task.data, { chunkSize: Math.max(64 * 1024, task.rawLength), maxOutputLength: Math.max(1, task.rawLength) }));
      }
      reply({ id: task.id, ok: true, hash: idOf(content, task.key) }, content);
    }
  } catch (error) {
    parentPort.postMessage({ id: task.id, ok: false, message: String(error && error.message) });
  }
});
`;

interface Answer {
  readonly id: number;
  readonly ok: boolean;
  readonly data?: Uint8Array;
  readonly hash?: string;
  readonly input?: Uint8Array;
  readonly length?: number;
  readonly bytes?: number;
  readonly compression?: string;
  readonly decoding?: string;
  readonly delta?: boolean;
  readonly direct?: boolean;
  readonly message?: string;
}

interface Pending {
  readonly resolve: (answer: Answer) => void;
  readonly reject: (error: Error) => void;
}

interface PoolWorker {
  readonly worker: Worker;
  busy: number;
}

/** Bytes that own their whole ArrayBuffer (safe to transfer); others are copied first. */
function transferable(data: Uint8Array): Uint8Array {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return data;
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return copy;
}

/**
 * A delta's base as it lies in its pack (decrypted): the worker opens it and checks it against `id`
 * (SHA-256, or HMAC under `key`); one that does not check out gives no patch. `stored` is handed over.
 */
export interface StoredBase {
  readonly id: string;
  readonly stored: Uint8Array;
  readonly compression: 'zstd' | 'none';
  readonly rawLength: number;
  readonly key: Uint8Array | undefined;
}

/** A pool of chunk workers; idle workers do not keep the process alive. */
export class ChunkWorkers {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly size: number;

  constructor(size = Math.max(1, os.availableParallelism())) {
    this.size = size;
  }

  /** Starts every worker now (idle, not keeping the process alive), ahead of the first task. */
  start(): void {
    while (this.workers.length < this.size) this.spawn();
  }

  private worker(): PoolWorker {
    if (this.workers.length < this.size && this.workers.every((entry) => entry.busy > 0)) this.spawn();
    return this.workers.reduce((best, entry) => (entry.busy < best.busy ? entry : best));
  }

  private spawn(): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const entry: PoolWorker = { worker, busy: 0 };
    worker.on('message', (message: Answer) => {
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      entry.busy--;
      if (entry.busy === 0) worker.unref();
      if (!waiting) return;
      if (message.ok) waiting.resolve(message);
      else waiting.reject(new Error(message.message ?? 'chunk worker failed'));
    });
    worker.on('error', (error) => {
      for (const [id, waiting] of this.pending) {
        this.pending.delete(id);
        waiting.reject(error);
      }
    });
    worker.unref();
    this.workers.push(entry);
  }

  private run(task: Record<string, unknown> & { data?: Uint8Array }, handOver: ArrayBuffer[] = []): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const entry = this.worker();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      if (entry.busy === 0) entry.worker.ref();
      entry.busy++;
      if (task.data === undefined || task.data.buffer instanceof SharedArrayBuffer) {
        entry.worker.postMessage({ ...task, id }, handOver);
      } else {
        const data = transferable(task.data);
        entry.worker.postMessage({ ...task, id, data }, [data.buffer as ArrayBuffer, ...handOver]);
      }
    });
  }

  /** The chunk id (SHA-256, or HMAC-SHA-256 under `key`); `data` is handed over and returned (shared bytes stay in place). */
  async hash(data: Uint8Array, key: Uint8Array | undefined): Promise<{ id: string; data: Uint8Array }> {
    const answer = await this.run({ op: 'hash', data, key });
    return { id: answer.hash ?? '', data: answer.data ?? data };
  }

  /**
   * zstd at `level`; stored as is when that is not smaller. With `base` (opened bytes, copied to
   * the worker; or a StoredBase, handed over and opened there), the patch against it is tried first (`delta` in the answer). `data` is handed over (shared bytes
   * stay in place); `output`, shared bytes, receives the compressed bytes when they fit. Returns the
   * bytes to store and `input`, the data given (usable again once the answer is in).
   */
  async compress(data: Uint8Array, level: number, output?: Uint8Array, base?: Uint8Array | StoredBase): Promise<{ data: Uint8Array; compression: 'zstd' | 'none'; input: Uint8Array; delta: boolean }> {
    const sharedOutput = output && output.buffer instanceof SharedArrayBuffer ? output : undefined;
    let answer: Answer;
    if (base === undefined || base instanceof Uint8Array) {
      answer = await this.run({ op: 'compress', data, level, output: sharedOutput, base });
    } else {
      const stored = transferable(base.stored);
      const task = { op: 'compress', data, level, output: sharedOutput, baseStored: stored, baseCompression: base.compression, baseRawLength: base.rawLength, baseId: base.id, key: base.key };
      answer = await this.run(task, [stored.buffer as ArrayBuffer]);
    }
    const input = answer.input ?? data;
    if (answer.compression !== 'zstd') return { data: input, compression: 'none', input, delta: false };
    return { data: answer.data ?? sharedOutput?.subarray(0, answer.length ?? 0) ?? new Uint8Array(0), compression: 'zstd', input, delta: answer.delta === true };
  }

  /**
   * Hashes and compresses many small blobs in one message: `pieces` are [offset, length] pairs into
   * `data` (handed over). Returns, per piece, its id and the bytes to store (zstd, or as is when that
   * is not smaller), as views into one buffer.
   */
  async storeBatch(data: Uint8Array, pieces: Uint32Array, level: number, key: Uint8Array | undefined): Promise<Array<{ id: string; payload: Uint8Array; compression: 'zstd' | 'none' }>> {
    const answer = (await this.run({ op: 'store-batch', data, pieces, level, key })) as Answer & { ids?: string[]; lengths?: Uint32Array; compressed?: Uint8Array };
    const out: Array<{ id: string; payload: Uint8Array; compression: 'zstd' | 'none' }> = [];
    let at = 0;
    const bytes = answer.data ?? new Uint8Array(0);
    for (let i = 0; i < (answer.ids?.length ?? 0); i++) {
      const length = answer.lengths![i]!;
      out.push({ id: answer.ids![i]!, payload: bytes.subarray(at, at + length), compression: answer.compressed![i] === 1 ? 'zstd' : 'none' });
      at += length;
    }
    return out;
  }

  /** How the workers compress: 'native-handle' (a kept zstd context, the fast path) or 'portable'. */
  async compressionPath(): Promise<string> {
    return (await this.run({ op: 'info' })).compression ?? '';
  }

  /** How the workers open delta bases: 'native-handle' (a kept zstd context and buffer) or 'portable'. */
  async decodingPath(): Promise<string> {
    return (await this.run({ op: 'info' })).decoding ?? '';
  }

  /** SHA-256 of a whole file, read by a worker in pieces; with its length. */
  async hashFile(file: string): Promise<{ hash: string; bytes: number; direct: boolean }> {
    const answer = await this.run({ op: 'hash-file', file });
    return { hash: answer.hash ?? '', bytes: answer.bytes ?? 0, direct: answer.direct === true };
  }

  /** Decompresses (at most `rawLength` bytes; a delta's patch applied to `base`) and hashes a stored payload. */
  async open(data: Uint8Array, compression: 'zstd' | 'none', rawLength: number, key: Uint8Array | undefined, base?: Uint8Array): Promise<{ id: string; data: Uint8Array }> {
    const answer = await this.run({ op: 'open', data, compression, rawLength, key, base });
    return { id: answer.hash ?? '', data: answer.data ?? data };
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((entry) => entry.worker.terminate()));
    this.workers.length = 0;
  }
}
