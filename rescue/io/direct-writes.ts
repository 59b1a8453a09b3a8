// Writes around the page cache (O_DIRECT) onto a block device that a restore writes. Through the
// cache, every restored byte was copied into the device's page cache, held dirty and written back
// behind the restore (a loop device's worker then copied it once more into its backing file's cache),
// and a restore onto a loop device took about twice as long as onto an image file. O_DIRECT needs
// whole blocks at block offsets from memory aligned as the device asks; JavaScript cannot see an
// address, so the kernel is asked, as file-source.ts does for reads: one small direct read at each
// candidate start of a new buffer until one is accepted (EINVAL means misaligned). Writes that are
// not whole blocks, or memory not from allocate, go through the cache as before.

import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Offsets and lengths of direct writes are multiples of this (of every logical sector size, 512 or 4096). */
const DIRECT_BLOCK_BYTES = 4096;
/** Steps at which a buffer's start is tried for the alignment O_DIRECT needs. */
const ALIGNMENT_PROBE_STEP = 16;

/** Direct writes onto one block device. */
export interface DirectWrites {
  /** Shared memory of `length` bytes, aligned for direct writes where the device allows them. */
  allocate(length: number): Promise<Uint8Array>;
  /** Writes `bytes` at `position` around the cache; false when they cannot go so (the caller writes them through the cache). */
  write(bytes: Uint8Array, position: number): Promise<boolean>;
  close(): Promise<void>;
}

const errorCode = (error: unknown): string | undefined => (error as { code?: string } | undefined)?.code;

/** Direct writes onto `device` (opened on first use, without O_EXCL: the caller's own descriptor holds that). */
export function directWrites(device: string): DirectWrites {
  let handle: Promise<FileHandle | undefined> | undefined;
  let works = true;
  const alignedStarts = new WeakMap<ArrayBufferLike, number>();
  let lastStart: number | undefined;
  const opened = () => (handle ??= open(device, constants.O_RDWR | constants.O_DIRECT).catch(() => undefined));
  return {
    async allocate(length) {
      const buffer = new SharedArrayBuffer(length + DIRECT_BLOCK_BYTES);
      const through = await opened();
      // The start that worked for the previous buffer first: buffers of one size come from the
      // allocator with the same misalignment.
      const candidates = [...(lastStart === undefined ? [] : [lastStart]), ...Array.from({ length: DIRECT_BLOCK_BYTES / ALIGNMENT_PROBE_STEP }, (_, i) => i * ALIGNMENT_PROBE_STEP)];
      for (const start of candidates) {
        if (!through || !works) break;
        try {
          await through.read(new Uint8Array(buffer, start, DIRECT_BLOCK_BYTES), 0, DIRECT_BLOCK_BYTES, 0);
        } catch (error) {
          if (errorCode(error) === 'EINVAL') continue;
          break;
        }
        alignedStarts.set(buffer, start);
        lastStart = start;
        return new Uint8Array(buffer, start, length);
      }
      return new Uint8Array(buffer, 0, length);
    },
    async write(bytes, position) {
      const start = alignedStarts.get(bytes.buffer);
      if (!works || start === undefined || (bytes.byteOffset - start) % DIRECT_BLOCK_BYTES !== 0 || position % DIRECT_BLOCK_BYTES !== 0 || bytes.length % DIRECT_BLOCK_BYTES !== 0 || bytes.length === 0) return false;
      const through = await opened();
      if (!through) return false;
      try {
        let done = 0;
        while (done < bytes.length) done += (await through.write(bytes, done, bytes.length - done, position + done)).bytesWritten;
        return true;
      } catch (error) {
        if (errorCode(error) !== 'EINVAL') throw error;
        works = false; // refused after all: through the cache from now on (the caller writes these bytes again)
        return false;
      }
    },
    async close() {
      await (await handle)?.close();
    },
  };
}
