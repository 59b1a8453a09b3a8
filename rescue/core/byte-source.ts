// Random-access bytes, the one way core parsers read a disk, a partition or an image file.
// io/ supplies sources over files and block devices; tests and nested views use the helpers here.

import { LifeboatError } from './errors.ts';

/** Bytes that can be read at any offset; size is the readable length. */
export interface ByteSource {
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; a read past the end is an error. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Optional: reads exactly `target.length` bytes at `offset` straight into `target` (no copy). */
  readInto?(target: Uint8Array, offset: number): Promise<void>;
  /**
   * Optional: a buffer of `length` bytes on a SharedArrayBuffer that `readInto` can fill straight from
   * the device, bypassing the page cache (O_DIRECT), where whole aligned blocks are read into it.
   */
  allocateReadBuffer?(length: number): Promise<Uint8Array>;
}

/** A shared buffer for reads from `source`: one the source can fill directly where it offers that. */
export async function allocateReadBuffer(source: ByteSource, length: number): Promise<Uint8Array> {
  return source.allocateReadBuffer ? source.allocateReadBuffer(length) : new Uint8Array(new SharedArrayBuffer(length));
}

/** Fills `target` with the bytes at `offset`: straight through `readInto` where the source has it. */
export async function readInto(source: ByteSource, target: Uint8Array, offset: number): Promise<void> {
  if (source.readInto) await source.readInto(target, offset);
  else target.set(await source.read(offset, target.length));
}

/** A source over bytes in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => {
      checkRange(bytes.length, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A window of another source (a partition inside a disk). */
export function sliceSource(source: ByteSource, start: number, size: number): ByteSource {
  checkRange(source.size, start, size);
  return {
    size,
    read: async (offset, length) => {
      checkRange(size, offset, length);
      return source.read(start + offset, length);
    },
    readInto: async (target, offset) => {
      checkRange(size, offset, target.length);
      await readInto(source, target, start + offset);
    },
    ...(source.allocateReadBuffer ? { allocateReadBuffer: (length: number) => allocateReadBuffer(source, length) } : {}),
  };
}

/** Throws LB_INPUT_READ_OUT_OF_RANGE unless [offset, offset+length) lies inside [0, size). */
export function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new LifeboatError('LB_INPUT_READ_OUT_OF_RANGE', { detail: `offset ${offset} + ${length} bytes, size ${size}.`, offset, length, size });
  }
}
