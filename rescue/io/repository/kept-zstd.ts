// zstd for the chunk workers with contexts kept for the worker's life, writing straight into the
// caller's buffer: each frame is one writeSync on the engine's native handle with ZSTD_e_end (zstd
// starts the next frame on the same context). zstdCompressSync makes a context and an output buffer
// per call: on 1 MiB chunks ~45% more CPU (page faults of fresh memory). The handle is internal to
// Node, so KeptZstd checks it on start against zstdCompressSync's format and falls back to that.

import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';

const C = zlib.constants;

/** What a zstd engine holds inside Node (not public API: checked on start, with a portable fallback). */
interface EngineInternals {
  readonly _handle: { writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, output: Uint8Array, outOffset: number, outLength: number): void } | null;
  /** [output bytes left, input bytes left] after the last write. */
  readonly _writeState: Uint32Array;
  readonly destroyed: boolean;
  reset(): void;
}

const internals = (engine: zlib.ZstdCompress | zlib.ZstdDecompress): EngineInternals => engine as unknown as EngineInternals;

// Level 3 (the default) with a chain table of 2^17 entries instead of 2^16: 0.1% smaller chunks of
// an NTFS test volume (0.5 MB of 553), no CPU cost measurable on 1 MiB chunks. Level 4 (also a
// larger hash table) gained 0.2% for ~40% more CPU.
const paramsFor = (level: number): Record<number, number> =>
  level === 3 ? { [C.ZSTD_c_compressionLevel]: 3, [C.ZSTD_c_chainLog]: 17 } : { [C.ZSTD_c_compressionLevel]: level };
// Blobs of small files (batches): plain level parameters. The larger chain table is cleared for
// every frame whatever the input's size: on the files of /usr/share/doc it cost 60% more CPU.
const plainParams = (level: number): Record<number, number> => ({ [C.ZSTD_c_compressionLevel]: level });

/** Log-like text with a random tail: what the start-up checks compress (the decoding check takes a tenth: it runs in `ls`). */
const probeText = (repeats = 20000): Buffer => Buffer.from('lifeboat '.repeat(repeats) + randomBytes(4096).toString('hex'));

/**
 * One thread's zstd: kept compression contexts per level, one kept decoding context and buffer. Each
 * path is checked on its first use (the compression check alone took ~8 ms of `ls`, which only decodes).
 */
export class KeptZstd {
  private readonly engines = new Map<string, zlib.ZstdCompress>();
  private decoder: zlib.ZstdDecompress | undefined;
  private decoded = Buffer.allocUnsafe(0);
  private compression: 'native-handle' | 'portable' | undefined;
  private decoding: 'native-handle' | 'portable' | undefined;

  /** 'native-handle' (kept contexts, the fast path) or 'portable' (zstdCompressSync). */
  get compressionPath(): 'native-handle' | 'portable' {
    return (this.compression ??= this.fastPathWorks() ? 'native-handle' : 'portable');
  }

  /** 'native-handle' (a kept context and buffer) or 'portable' (zstdDecompressSync). */
  get decodingPath(): 'native-handle' | 'portable' {
    return (this.decoding ??= this.fastDecodeWorks() ? 'native-handle' : 'portable');
  }

  /** Compresses `data` into `out` as one zstd frame; its length, or -1 when it does not fit. `plain`: a batch of small files. */
  compressInto(data: Uint8Array, level: number, out: Uint8Array, plain = false): number {
    return this.compressionPath === 'native-handle' ? this.compressIntoFast(data, level, out, plain) : compressIntoPortable(data, level, out, plain);
  }

  /** The content of one zstd frame of exactly `rawLength` bytes (in a buffer the next call reuses); null when it is not that. */
  decompressIntoScratch(data: Uint8Array, rawLength: number): Buffer | null {
    return this.decodingPath === 'native-handle' ? this.decompressIntoScratchFast(data, rawLength) : decompressIntoScratchPortable(data, rawLength);
  }

  /**
   * Decodes one zstd frame of exactly `rawLength` bytes into `out` (at least rawLength + 1 bytes: a
   * frame that fills them holds more); false when it is not that (`out` then holds garbage).
   */
  decompressInto(data: Uint8Array, rawLength: number, out: Uint8Array): boolean {
    if (out.length <= rawLength) throw new Error(`decompressInto needs ${rawLength + 1} bytes of room, has ${out.length}`);
    if (this.decodingPath === 'native-handle') return this.decodeFast(data, rawLength, out);
    const content = decompressIntoScratchPortable(data, rawLength);
    if (!content) return false;
    out.set(content);
    return true;
  }

  private engineFor(level: number, plain: boolean): zlib.ZstdCompress {
    const key = `${plain ? 'plain' : ''}${level}`;
    let engine = this.engines.get(key);
    if (!engine) {
      engine = new zlib.ZstdCompress({ params: plain ? plainParams(level) : paramsFor(level) });
      this.engines.set(key, engine);
    }
    return engine;
  }

  private compressIntoFast(data: Uint8Array, level: number, out: Uint8Array, plain: boolean): number {
    const engine = internals(this.engineFor(level, plain));
    engine._handle!.writeSync(C.ZSTD_e_end, data, 0, data.length, out, 0, out.length);
    const availOut = engine._writeState[0]!;
    const availIn = engine._writeState[1]!;
    if (availIn !== 0 || availOut === 0) {
      engine.reset();
      return -1;
    }
    return out.length - availOut;
  }

  private fastPathWorks(): boolean {
    try {
      const text = probeText();
      const out = Buffer.allocUnsafe(text.length);
      for (let round = 0; round < 2; round++) {
        const length = this.compressIntoFast(text, 3, out, false);
        if (length <= 0 || !zlib.zstdDecompressSync(out.subarray(0, length)).equals(text)) return false;
      }
      return this.compressIntoFast(randomBytes(4096), 3, Buffer.allocUnsafe(1024), false) === -1 && this.compressIntoFast(text, 3, out, false) > 0;
    } catch {
      return false;
    }
  }

  // A delta's base is opened into memory kept for the worker's life, with one zstd context kept too
  // (the decoding twin of compressIntoFast): zstdDecompressSync makes a context and a fresh output
  // buffer per call, and the page faults of that memory made opening a 1 MiB base cost ~10 times the
  // decoding itself (NTFS bench volume, second backup: 264 bases, ~0.9 s of the workers' CPU). What
  // comes out is only used as a base, and it is checked against the base's id, so a frame the kept
  // context decodes wrongly costs a patch, never a wrong chunk. A failed frame closes the engine's
  // handle (its 'error' event is caught): the next base gets a new context.
  private decompressIntoScratchFast(data: Uint8Array, rawLength: number): Buffer | null {
    const room = rawLength + 1; // a frame that fills the room holds more than rawLength
    if (this.decoded.length < room) this.decoded = Buffer.allocUnsafe(room);
    return this.decodeFast(data, rawLength, this.decoded) ? this.decoded.subarray(0, rawLength) : null;
  }

  /** One frame into `out` (rawLength + 1 bytes of room or more) on the kept context. */
  private decodeFast(data: Uint8Array, rawLength: number, out: Uint8Array): boolean {
    const room = rawLength + 1;
    if (!this.decoder) {
      this.decoder = new zlib.ZstdDecompress();
      this.decoder.on('error', () => undefined);
    }
    const engine = internals(this.decoder);
    let failed = false;
    try {
      engine._handle!.writeSync(C.ZSTD_e_end, data, 0, data.length, out, 0, room);
    } catch {
      failed = true;
    }
    // A failed write, a closed engine, input left over or another length: the context may have
    // stopped inside a frame, so it is not reused.
    if (failed || engine.destroyed || !engine._handle || engine._writeState[1] !== 0 || room - engine._writeState[0]! !== rawLength) {
      this.decoder = undefined;
      return false;
    }
    return true;
  }

  private fastDecodeWorks(): boolean {
    try {
      const text = probeText(2000);
      const frame = zlib.zstdCompressSync(text);
      for (let round = 0; round < 2; round++) {
        const content = this.decompressIntoScratchFast(frame, text.length);
        if (!content || !content.equals(text)) return false;
      }
      if (this.decompressIntoScratchFast(frame.subarray(0, frame.length - 100), text.length) !== null) return false;
      if (this.decompressIntoScratchFast(frame, text.length - 1) !== null) return false;
      const again = this.decompressIntoScratchFast(frame, text.length);
      return again !== null && again.equals(text);
    } catch {
      return false;
    }
  }
}

function compressIntoPortable(data: Uint8Array, level: number, out: Uint8Array, plain: boolean): number {
  const compressed = zlib.zstdCompressSync(data, { chunkSize: Math.max(64 * 1024, out.length + 1024), params: plain ? plainParams(level) : paramsFor(level) });
  if (compressed.length > out.length) return -1;
  out.set(compressed);
  return compressed.length;
}

function decompressIntoScratchPortable(data: Uint8Array, rawLength: number): Buffer | null {
  const content = zlib.zstdDecompressSync(data, { chunkSize: Math.max(64 * 1024, rawLength), maxOutputLength: Math.max(1, rawLength) });
  return content.length === rawLength ? content : null;
}
