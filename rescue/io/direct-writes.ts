// Writes around the page cache (O_DIRECT) onto a block device that a restore writes. Through the
// cache, every restored byte was copied into the device's page cache, held dirty and written back
// behind the restore (a loop device's worker then copied it once more into its backing file's cache),
// and a restore onto a loop device took about twice as long as onto an image file. O_DIRECT needs
// whole blocks at block offsets from memory aligned as the device asks; JavaScript cannot see an
// address, so the kernel is asked (aligned-memory.ts, shared with file-source.ts's reads). Writes
// that are not whole blocks, or memory no device accepted, go through the cache as before.

import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { alignedMemory, DIRECT_BLOCK_BYTES, errnoOf } from './aligned-memory.ts';

/** Direct writes onto one block device. */
export interface DirectWrites {
  /** Shared memory of `length` bytes, aligned for direct writes where the device allows them. */
  allocate(length: number): Promise<Uint8Array>;
  /** Writes `bytes` at `position` around the cache; false when they cannot go so (the caller writes them through the cache). */
  write(bytes: Uint8Array, position: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Direct writes onto `device` (opened on first use, without O_EXCL: the caller's own descriptor holds that). */
export function directWrites(device: string): DirectWrites {
  let handle: Promise<FileHandle | undefined> | undefined;
  let works = true;
  const memory = alignedMemory();
  const opened = () => (handle ??= open(device, constants.O_RDWR | constants.O_DIRECT).catch(() => undefined));
  return {
    async allocate(length) {
      return memory.allocate(length, works ? await opened() : undefined);
    },
    async write(bytes, position) {
      if (!works || !memory.isAligned(bytes) || position % DIRECT_BLOCK_BYTES !== 0 || bytes.length % DIRECT_BLOCK_BYTES !== 0 || bytes.length === 0) return false;
      const through = await opened();
      if (!through) return false;
      try {
        let done = 0;
        while (done < bytes.length) done += (await through.write(bytes, done, bytes.length - done, position + done)).bytesWritten;
        return true;
      } catch (error) {
        if (errnoOf(error) !== 'EINVAL') throw error;
        works = false; // refused after all: through the cache from now on (the caller writes these bytes again)
        return false;
      }
    },
    async close() {
      await (await handle)?.close();
    },
  };
}
