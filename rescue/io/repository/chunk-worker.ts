// A chunk worker (a worker thread of compression-pool.ts): hashes (SHA-256 or HMAC), compresses,
// makes and applies delta patches, opens stored blobs and hashes pack files, so the main thread only
// reads, writes and encrypts. In a checkout Node runs this file as it is; the single executable
// carries it bundled at build time (builder/bundle.ts, chunk-worker-code.ts).

import { createHash, createHmac } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import zlib from 'node:zlib';
import { applyPatch, makePatch, patchBound } from '../../core/repository/delta-patch.ts';
import type { ChunkAnswer, ChunkTask } from './chunk-worker-protocol.ts';
import { hashFileDirect } from './hash-file-direct.ts';
import { KeptZstd } from './kept-zstd.ts';

type CompressTask = Extract<ChunkTask, { op: 'compress' }>;

const port = parentPort;
if (!port) throw new Error('chunk-worker.ts runs as a worker thread (compression-pool.ts starts it)');

const zstd = new KeptZstd();

const idOf = (data: Uint8Array, key: Uint8Array | undefined): string => (key ? createHmac('sha256', key) : createHash('sha256')).update(data).digest('hex');

// A base handed over as it is stored (a delta's base is never a delta itself): opened here, next to
// the patch made against it, and checked against its id. Opening it on the main thread cost a copy
// of it each way and, through those buffers, most of a second backup's major garbage collections.
function openStoredBase(task: CompressTask): Uint8Array | null {
  try {
    const stored = task.baseStored!;
    const content = task.baseCompression === 'zstd'
      ? zstd.decompressIntoScratch(stored, task.baseRawLength!)
      : task.baseCompression === 'none' ? stored : null;
    return content && content.length === task.baseRawLength && idOf(content, task.key) === task.baseId ? content : null;
  } catch {
    return null; // no patch: the chunk is stored whole (check reports the damaged base)
  }
}

let scratch = Buffer.allocUnsafe(0);
function scratchOf(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(bytes);
  return scratch.subarray(0, bytes);
}

/** Bytes that own their whole buffer (safe to transfer); others are copied. */
function own(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

const shared = (bytes: Uint8Array): boolean => bytes.buffer instanceof SharedArrayBuffer;

function post(answer: ChunkAnswer, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(answer, transfer);
}

/** Answers with `data` handed back: transferred, unless it is shared (then it stays in place). */
function reply(answer: ChunkAnswer, data: Uint8Array): void {
  if (shared(data)) post(answer);
  else post({ ...answer, data }, [data.buffer as ArrayBuffer]);
}

function compress(task: CompressTask): void {
  // The input goes back as 'input' unless it is shared; the output is 'data', or 'length' bytes
  // written into the shared 'output'.
  const input = shared(task.data) ? {} : { input: task.data };
  const transfer = shared(task.data) ? [] : [task.data.buffer as ArrayBuffer];
  // Compressed bytes must be fewer than the input's, or the chunk is stored as is.
  const room = Math.max(0, task.data.length - 1);
  const intoOutput = task.output !== undefined && task.output.length >= room;
  const out = intoOutput ? task.output!.subarray(0, room) : scratchOf(room);
  // With a base, the patch against it is tried first (a chunk of random bytes that equals its
  // base but for one block makes a tiny patch). Then the whole chunk: there is no guess from a
  // sample whether it is worth it. zstd gives up on random data at ~1 GB/s, so compressing all
  // of the incompressible chunks of an NTFS test volume cost 0.75 s of CPU, and sampling every
  // chunk had cost 0.56 s while storing 1.1 MB more (chunks of random data holding a small
  // compressible part, which eight 8 KiB or 64 1 KiB samples both missed).
  const base = task.baseStored ? openStoredBase(task) : task.base;
  const patch = task.level > 0 && room > 0 && base ? makePatch(task.data, base) : null;
  const patchLength = patch ? zstd.compressInto(patch, task.level, out) : -1;
  const delta = patchLength >= 0 ? { delta: true } : {};
  const length = patchLength >= 0 ? patchLength
    : task.level <= 0 || room <= 0 ? -1
    : zstd.compressInto(task.data, task.level, out);
  if (length < 0) {
    post({ id: task.id, ok: true, compression: 'none', ...input }, transfer);
  } else if (!intoOutput) {
    const copy = new Uint8Array(out.subarray(0, length));
    post({ id: task.id, ok: true, compression: 'zstd', data: copy, ...delta, ...input }, [copy.buffer, ...transfer]);
  } else {
    post({ id: task.id, ok: true, compression: 'zstd', length, ...delta, ...input }, transfer);
  }
}

// Many small blobs in one message (a batch of small files): each is hashed and compressed; the
// answer holds the ids, and the bytes to store back to back in one buffer.
function storeBatch(task: Extract<ChunkTask, { op: 'store-batch' }>): void {
  const count = task.pieces.length / 2;
  const ids: string[] = [];
  const lengths = new Uint32Array(count);
  const compressed = new Uint8Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) total += task.pieces[2 * i + 1]!;
  const output = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const data = task.data.subarray(task.pieces[2 * i]!, task.pieces[2 * i]! + task.pieces[2 * i + 1]!);
    ids.push(idOf(data, task.key));
    const room = data.length - 1;
    const length = task.level > 0 && room > 0 ? zstd.compressInto(data, task.level, output.subarray(at, at + room), true) : -1;
    if (length < 0) output.set(data, at);
    compressed[i] = length < 0 ? 0 : 1;
    lengths[i] = length < 0 ? data.length : length;
    at += lengths[i]!;
  }
  const data = new Uint8Array(output.buffer.slice(output.byteOffset, output.byteOffset + at));
  post({ id: task.id, ok: true, ids, lengths, compressed, data }, [data.buffer]);
}

/** Decompresses a stored payload (a delta's patch applied to its base) and hashes it. */
function open(task: Extract<ChunkTask, { op: 'open' }>): void {
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

// A restore's chunk: read into shared memory by the main thread, opened into shared memory kept
// for the whole restore and hashed there. Opening into fresh memory per chunk (open) cost a
// restore of 1.2 GB ~1.4 GB of page faults, more system CPU than the decoding itself.
function openInto(task: Extract<ChunkTask, { op: 'open-into' }>): void {
  let content: Uint8Array;
  if (task.compression === 'zstd') {
    if (!zstd.decompressInto(task.data, task.rawLength, task.output)) {
      post({ id: task.id, ok: true, length: -1 });
      return;
    }
    content = task.output.subarray(0, task.rawLength);
  } else {
    if (task.data.length !== task.rawLength) {
      post({ id: task.id, ok: true, length: -1 });
      return;
    }
    content = task.data;
    if (content.buffer !== task.output.buffer || content.byteOffset !== task.output.byteOffset) task.output.set(content);
  }
  post({ id: task.id, ok: true, hash: idOf(content, task.key), length: task.rawLength });
}

function handle(task: ChunkTask): void {
  switch (task.op) {
    case 'hash':
      reply({ id: task.id, ok: true, hash: idOf(task.data, task.key) }, task.data);
      return;
    case 'compress':
      compress(task);
      return;
    case 'store-batch':
      storeBatch(task);
      return;
    case 'info':
      post({ id: task.id, ok: true, compression: zstd.compressionPath, decoding: zstd.decodingPath });
      return;
    case 'hash-file':
      post({ id: task.id, ok: true, ...hashFileDirect(task.file) });
      return;
    case 'open':
      open(task);
      return;
    case 'open-into':
      openInto(task);
      return;
    default:
      throw new Error(`unknown chunk task ${(task as { op?: unknown }).op}`);
  }
}

port.on('message', (task: ChunkTask) => {
  try {
    handle(task);
  } catch (error) {
    post({ id: task.id, ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
