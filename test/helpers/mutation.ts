// Seeded mutation of disk images for robustness tests and the fuzz script: patches laid over a
// real image (no copy), a recorder of the bytes a clean parse reads, and a per-case time limit.

import type { ByteSource } from '../../rescue/core/byte-source.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';

/** A small deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface Patch {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** The base source with patches laid over it and an optional shorter size. */
export function mutatedSource(base: ByteSource, patches: readonly Patch[], size: number): ByteSource {
  return {
    size,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new LifeboatError('LB_INPUT_READ_OUT_OF_RANGE', { offset, length, size });
      }
      const bytes = Uint8Array.from(await base.read(offset, length));
      for (const patch of patches) {
        for (let i = 0; i < patch.bytes.length; i++) {
          const at = patch.offset + i - offset;
          if (at >= 0 && at < length) bytes[at] = patch.bytes[i] ?? 0;
        }
      }
      return bytes;
    },
  };
}

/** Records the byte ranges a clean probe reads: where mutations matter most. */
export function recordingSource(base: ByteSource, ranges: Array<[number, number]>): ByteSource {
  return { size: base.size, read: async (offset, length) => (ranges.push([offset, length]), base.read(offset, length)) };
}

/** One to four patches: single bytes, integer fields set to extremes, runs of random bytes; mostly in `hot` ranges, else in the first `headBytes`. */
export function makePatches(random: () => number, hot: ReadonlyArray<[number, number]>, size: number, headBytes = 4 * 1024 * 1024): Patch[] {
  const pick = (): number => {
    if (hot.length > 0 && random() < 0.85) {
      const [start, length] = hot[Math.floor(random() * hot.length)] ?? [0, 1];
      return start + Math.floor(random() * Math.max(1, Math.min(length, 8192)));
    }
    return Math.floor(random() * Math.min(size, headBytes));
  };
  const patches: Patch[] = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    const offset = pick();
    const kind = random();
    if (kind < 0.4) {
      patches.push({ offset, bytes: Uint8Array.of(Math.floor(random() * 256)) }); // one random byte
    } else if (kind < 0.6) {
      const width = [2, 4, 8][Math.floor(random() * 3)] ?? 4; // an integer field set to an extreme
      const fill = [0x00, 0xff, 0x7f, 0x80][Math.floor(random() * 4)] ?? 0;
      patches.push({ offset: offset - (offset % width), bytes: new Uint8Array(width).fill(fill) });
    } else {
      const bytes = new Uint8Array(1 + Math.floor(random() * 64)); // a run of random bytes
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      patches.push({ offset, bytes });
    }
  }
  return patches;
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

