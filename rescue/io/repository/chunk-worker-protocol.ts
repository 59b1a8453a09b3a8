// The messages between the chunk workers' pool (compression-pool.ts) and a worker (chunk-worker.ts).
// Bytes on a SharedArrayBuffer stay in place; other buffers are transferred and come back.

/** Ids are SHA-256, or HMAC-SHA-256 under `key` (encrypted repositories). */
type Key = Uint8Array | undefined;

/** What a worker is asked to do; `id` pairs the answer with its task. */
export type ChunkTask =
  | { readonly op: 'hash'; readonly id: number; readonly data: Uint8Array; readonly key: Key }
  | {
      readonly op: 'compress';
      readonly id: number;
      readonly data: Uint8Array;
      readonly level: number;
      /** Shared bytes that receive the compressed frame when it fits. */
      readonly output: Uint8Array | undefined;
      /** An opened base: the patch against it is tried first. */
      readonly base?: Uint8Array | undefined;
      /** Or a base as stored (handed over), opened and checked in the worker. */
      readonly baseStored?: Uint8Array;
      readonly baseCompression?: 'zstd' | 'none';
      readonly baseRawLength?: number;
      readonly baseId?: string;
      readonly key?: Key;
    }
  | { readonly op: 'store-batch'; readonly id: number; readonly data: Uint8Array; readonly pieces: Uint32Array; readonly level: number; readonly key: Key }
  | { readonly op: 'info'; readonly id: number }
  | { readonly op: 'hash-file'; readonly id: number; readonly file: string }
  | {
      /** Opens a stored payload (shared bytes) into `output` (shared, at least rawLength + 1 bytes) and hashes it there; no delta. */
      readonly op: 'open-into';
      readonly id: number;
      readonly data: Uint8Array;
      readonly output: Uint8Array;
      readonly compression: 'zstd' | 'none';
      readonly rawLength: number;
      readonly key: Key;
    }
  | { readonly op: 'open'; readonly id: number; readonly data: Uint8Array; readonly compression: 'zstd' | 'none'; readonly rawLength: number; readonly key: Key; readonly base: Uint8Array | undefined };

/** A task before the pool numbers it. */
export type ChunkTaskRequest = ChunkTask extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never;

/** A worker's answer: `ok` with the fields of its operation, or the error's message. */
export interface ChunkAnswer {
  readonly id: number;
  readonly ok: boolean;
  readonly message?: string;
  /** hash, open, open-into: the id; hash-file: the file's SHA-256. */
  readonly hash?: string;
  /** Bytes handed back: the data (hash, open), or the compressed frame (compress, when not shared). */
  readonly data?: Uint8Array;
  /** compress: the input handed back (not shared). */
  readonly input?: Uint8Array;
  /** compress: the frame's length in the shared output; open-into: the content's length (-1: the frame is not rawLength bytes). */
  readonly length?: number;
  /** compress: 'zstd' or 'none'; info: the compression path. */
  readonly compression?: string;
  /** compress: the frame is a patch against the base. */
  readonly delta?: boolean;
  /** info: the decoding path. */
  readonly decoding?: string;
  /** hash-file: the file's length, and whether it was all read from the device. */
  readonly bytes?: number;
  readonly direct?: boolean;
  /** store-batch: per piece its id, stored length and whether compressed (1), back to back in `data`. */
  readonly ids?: string[];
  readonly lengths?: Uint32Array;
  readonly compressed?: Uint8Array;
}
