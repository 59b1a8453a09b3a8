// zstd on worker threads. Node's asynchronous zstd runs as a stream in 16 KiB steps and scales
// badly (measured: ~50 MB/s with 4 calls at once, against ~200 MB/s for one synchronous call), so
// chunks are compressed and decompressed synchronously, each on a worker, one worker per core.

import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** The worker's code: plain CommonJS, so it runs the same from a checkout and inside the SEA. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
parentPort.on('message', (task) => {
  try {
    const options = { chunkSize: Math.max(64 * 1024, task.outputBytes) };
    const out = task.op === 'compress'
      ? zlib.zstdCompressSync(task.data, { ...options, params: { [zlib.constants.ZSTD_c_compressionLevel]: task.level } })
      : zlib.zstdDecompressSync(task.data, { ...options, maxOutputLength: Math.max(1, task.outputBytes) });
    const copy = new Uint8Array(out.length);
    copy.set(out);
    parentPort.postMessage({ id: task.id, ok: true, data: copy }, [copy.buffer]);
  } catch (error) {
    parentPort.postMessage({ id: task.id, ok: false, message: String(error && error.message) });
  }
});
`;

interface Pending {
  readonly resolve: (bytes: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

interface PoolWorker {
  readonly worker: Worker;
  busy: number;
}

/** A pool of zstd workers; idle workers do not keep the process alive. */
export class CompressionPool {
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
      worker.on('message', (message: { id: number; ok: boolean; data?: Uint8Array; message?: string }) => {
        const waiting = this.pending.get(message.id);
        this.pending.delete(message.id);
        entry.busy--;
        if (entry.busy === 0) worker.unref();
        if (!waiting) return;
        if (message.ok && message.data) waiting.resolve(message.data);
        else waiting.reject(new Error(message.message ?? 'zstd failed'));
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

  private run(op: 'compress' | 'decompress', data: Uint8Array, outputBytes: number, level: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const entry = this.worker();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      if (entry.busy === 0) entry.worker.ref();
      entry.busy++;
      entry.worker.postMessage({ id, op, data, outputBytes, level });
    });
  }

  /** zstd at `level`. */
  compress(data: Uint8Array, level: number): Promise<Uint8Array> {
    return this.run('compress', data, data.length + 1024, level);
  }

  /** Decompresses at most `rawLength` bytes (a longer frame fails). */
  decompress(data: Uint8Array, rawLength: number): Promise<Uint8Array> {
    return this.run('decompress', data, rawLength, 0);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((entry) => entry.worker.terminate()));
    this.workers.length = 0;
  }
}
