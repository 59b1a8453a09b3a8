// Chunk work on worker threads (chunk-worker.ts): hashing (SHA-256 or HMAC), zstd compression and
// decompression. The main thread only reads, writes and encrypts; one worker per core does the rest. Bytes on a
// SharedArrayBuffer (the backup's chunk slots) are shared with the worker, neither copied nor
// transferred, and compressed output can be written into a shared slot too: a backup then makes no
// per-chunk allocation on the main thread (no garbage, so no major collections; measured: ~3 s of
// CPU on a 2 GiB backup). Other buffers are transferred and come back with the answer.
// (Node's asynchronous zstd runs as a stream in 16 KiB steps and scaled badly: ~50 MB/s with four
// calls at once; WebCrypto's digest runs on the main thread.)

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { BUNDLED_CHUNK_WORKER, CHUNK_WORKER_FILE } from './chunk-worker-code.ts';
import type { ChunkAnswer, ChunkTaskRequest } from './chunk-worker-protocol.ts';

interface Pending {
  readonly resolve: (answer: ChunkAnswer) => void;
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
    const worker = BUNDLED_CHUNK_WORKER !== undefined ? new Worker(BUNDLED_CHUNK_WORKER, { eval: true }) : new Worker(CHUNK_WORKER_FILE);
    const entry: PoolWorker = { worker, busy: 0 };
    worker.on('message', (message: ChunkAnswer) => {
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

  private run(task: ChunkTaskRequest, handOver: ArrayBuffer[] = []): Promise<ChunkAnswer> {
    return new Promise((resolve, reject) => {
      const entry = this.worker();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      if (entry.busy === 0) entry.worker.ref();
      entry.busy++;
      if (!('data' in task) || task.data.buffer instanceof SharedArrayBuffer) {
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
    let answer: ChunkAnswer;
    if (base === undefined || base instanceof Uint8Array) {
      answer = await this.run({ op: 'compress', data, level, output: sharedOutput, base });
    } else {
      const stored = transferable(base.stored);
      const task = { op: 'compress', data, level, output: sharedOutput, baseStored: stored, baseCompression: base.compression, baseRawLength: base.rawLength, baseId: base.id, key: base.key } as const;
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
    const answer = await this.run({ op: 'store-batch', data, pieces, level, key });
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

  /**
   * Opens a stored payload into `output` and hashes it there: both on SharedArrayBuffers (nothing is
   * copied or allocated per chunk), `output` at least rawLength + 1 bytes; `data` may be `output`
   * itself for an uncompressed payload. The id, and whether the content was rawLength bytes.
   */
  async openInto(data: Uint8Array, output: Uint8Array, compression: 'zstd' | 'none', rawLength: number, key: Uint8Array | undefined): Promise<{ id: string; fits: boolean }> {
    const answer = await this.run({ op: 'open-into', data, output, compression, rawLength, key });
    return { id: answer.hash ?? '', fits: answer.length === rawLength };
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((entry) => entry.worker.terminate()));
    this.workers.length = 0;
  }
}
