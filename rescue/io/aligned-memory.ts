// Shared memory aligned for O_DIRECT on one device, for the reads of file-source.ts and the writes
// of direct-writes.ts. O_DIRECT moves whole blocks at block offsets from memory aligned as the
// device asks; JavaScript cannot see a buffer's address, so the kernel is asked: one small direct
// read at each candidate start of a new buffer until one is accepted (EINVAL means misaligned).

import type { FileHandle } from 'node:fs/promises';

/** Offsets and lengths of direct reads and writes are multiples of this (of every logical sector size, 512 or 4096). */
export const DIRECT_BLOCK_BYTES = 4096;
/** Steps at which a buffer's start is tried for the alignment O_DIRECT needs. */
const ALIGNMENT_PROBE_STEP = 16;

/** The errno code of a failed call, if any. */
export function errnoOf(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

/** Buffers for direct I/O on one device, and which memory is aligned. */
export interface AlignedMemory {
  /** Shared memory of `length` bytes, aligned when `through` (an O_DIRECT descriptor) accepts a start; else unaligned. */
  allocate(length: number, through: FileHandle | undefined): Promise<Uint8Array>;
  /** True when `bytes` starts on a block boundary of memory from allocate that a device accepted. */
  isAligned(bytes: Uint8Array): boolean;
}

/**
 * Where each buffer's accepted start lies, for every device's buffers: memory one device accepted is
 * tried for direct I/O on another too (a clone reads into a source's buffer and writes it onto the
 * target). A device that asks more alignment refuses with EINVAL, and its caller goes through the
 * cache from then on, as for any refusal.
 */
const alignedStarts = new WeakMap<ArrayBufferLike, number>();

/** Buffers probed on one device (devices may ask different alignments; see alignedStarts). */
export function alignedMemory(): AlignedMemory {
  // The start that worked for the previous buffer is tried first: buffers of one size come from the
  // allocator with the same misalignment (8 chunk slots: 8 probes instead of ~250).
  let lastStart: number | undefined;
  return {
    async allocate(length, through) {
      const buffer = new SharedArrayBuffer(length + DIRECT_BLOCK_BYTES);
      const candidates = [...(lastStart === undefined ? [] : [lastStart]), ...Array.from({ length: DIRECT_BLOCK_BYTES / ALIGNMENT_PROBE_STEP }, (_, i) => i * ALIGNMENT_PROBE_STEP)];
      for (const start of candidates) {
        if (!through) break;
        try {
          await through.read(new Uint8Array(buffer, start, DIRECT_BLOCK_BYTES), 0, DIRECT_BLOCK_BYTES, 0);
        } catch (error) {
          if (errnoOf(error) === 'EINVAL') continue;
          break;
        }
        alignedStarts.set(buffer, start);
        lastStart = start;
        return new Uint8Array(buffer, start, length);
      }
      return new Uint8Array(buffer, 0, length);
    },
    isAligned(bytes) {
      const start = alignedStarts.get(bytes.buffer);
      return start !== undefined && (bytes.byteOffset - start) % DIRECT_BLOCK_BYTES === 0;
    },
  };
}
