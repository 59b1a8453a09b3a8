// Chunk work on worker threads: hashing (SHA-256 or HMAC), zstd compression and decompression.
// The main thread only reads, writes and encrypts; one worker per core does the rest. Buffers are
// transferred, not copied, and come back with the answer when the caller still needs them.
// (Node's asynchronous zstd runs as a stream in 16 KiB steps and scaled badly: ~50 MB/s with four
// calls at once; WebCrypto's digest runs on the main thread.)

import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** The worker's code: plain CommonJS, so it runs the same from a checkout and inside the SEA. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const SAMPLE = 64 * 1024;
const idOf = (data, key) => (key ? crypto.createHmac('sha256', key) : crypto.createHash('sha256')).update(data).digest('hex');
const zstd = (data, level, outputBytes) => zlib.zstdCompressSync(data, { chunkSize: Math.max(64 * 1024, outputBytes), params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
// Level-1 zstd on a 64 KiB sample from the middle: random or already compressed data is stored as is.
const worthCompressing = (data) => {
  if (data.length <= SAMPLE * 2) return true;
  const middle = Math.floor(data.length / 2 / SAMPLE) * SAMPLE;
  return zstd(data.subarray(middle, middle + SAMPLE), 1, SAMPLE + 1024).length < SAMPLE * 0.97;
};
const own = (bytes) => {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
};
parentPort.on('message', (task) => {
  try {
    if (task.op === 'hash') {
      const id = idOf(task.data, task.key);
      parentPort.postMessage({ id: task.id, ok: true, hash: id, data: task.data }, [task.data.buffer]);
    } else if (task.op === 'compress') {
      let out = null;
      if (task.level > 0 && worthCompressing(task.data)) {
        const compressed = zstd(task.data, task.level, task.data.length + 1024);
        if (compressed.length < task.data.length) out = own(compressed);
      }
      if (out) parentPort.postMessage({ id: task.id, ok: true, compression: 'zstd', data: out }, [out.buffer]);
      else parentPort.postMessage({ id: task.id, ok: true, compression: 'none', data: task.data }, [task.data.buffer]);
    } else {
      let content = task.data;
      if (task.compression === 'zstd') content = own(zlib.zstdDecompressSync(task.data, { chunkSize: Math.max(64 * 1024, task.rawLength), maxOutputLength: Math.max(1, task.rawLength) }));
      const id = idOf(content, task.key);
      parentPort.postMessage({ id: task.id, ok: true, hash: id, data: content }, [content.buffer]);
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
  readonly compression?: 'zstd' | 'none';
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

/** A pool of chunk workers; idle workers do not keep the process alive. */
export class ChunkWorkers {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly size: number;

  constructor(size = Math.max(1, os.availableParallelism())) {
    this.size = size;
  }

  private worker(): PoolWorker {
    if (this.workers.length < this.size && this.workers.every((entry) => entry.busy > 0)) {
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
    return this.workers.reduce((best, entry) => (entry.busy < best.busy ? entry : best));
  }

  private run(task: Record<string, unknown> & { data: Uint8Array }): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const entry = this.worker();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      if (entry.busy === 0) entry.worker.ref();
      entry.busy++;
      const data = transferable(task.data);
      entry.worker.postMessage({ ...task, id, data }, [data.buffer as ArrayBuffer]);
    });
  }

  /** The chunk id (SHA-256, or HMAC-SHA-256 under `key`); `data` is handed over and returned. */
  async hash(data: Uint8Array, key: Uint8Array | undefined): Promise<{ id: string; data: Uint8Array }> {
    const answer = await this.run({ op: 'hash', data, key });
    return { id: answer.hash ?? '', data: answer.data ?? new Uint8Array(0) };
  }

  /** zstd at `level` unless a sample shows the data incompressible; `data` is handed over. */
  async compress(data: Uint8Array, level: number): Promise<{ data: Uint8Array; compression: 'zstd' | 'none' }> {
    const answer = await this.run({ op: 'compress', data, level });
    return { data: answer.data ?? new Uint8Array(0), compression: answer.compression ?? 'none' };
  }

  /** Decompresses (at most `rawLength` bytes) and hashes a stored payload. */
  async open(data: Uint8Array, compression: 'zstd' | 'none', rawLength: number, key: Uint8Array | undefined): Promise<{ id: string; data: Uint8Array }> {
    const answer = await this.run({ op: 'open', data, compression, rawLength, key });
    return { id: answer.hash ?? '', data: answer.data ?? new Uint8Array(0) };
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((entry) => entry.worker.terminate()));
    this.workers.length = 0;
  }
}
