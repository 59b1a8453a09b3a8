// Runs of set bits in a little-endian allocation bitmap that arrives in chunks (exFAT's allocation
// bitmap, NTFS's $Bitmap): bit i is byte i>>3, bit i&7. Whole 0x00 and 0xFF bytes are skipped at once.

/** A run of set bits [start, end). */
export interface BitRun {
  readonly start: number;
  readonly end: number;
}

/** Set-bit runs among the first `bitCount` bits of a bitmap read as consecutive chunks; runs span chunks. */
export async function* setBitRuns(chunks: AsyncIterable<Uint8Array>, bitCount: number): AsyncIterable<BitRun> {
  let base = 0;
  let runStart = -1;
  for await (const chunk of chunks) {
    const bytes = Math.min(chunk.length, Math.ceil((bitCount - base) / 8));
    for (let i = 0; i < bytes; i++) {
      const byte = chunk[i] ?? 0;
      const bitBase = base + i * 8;
      if (byte === 0xff && bitBase + 8 <= bitCount) {
        if (runStart < 0) runStart = bitBase;
        continue;
      }
      if (byte === 0 && bitBase + 8 <= bitCount) {
        if (runStart >= 0) {
          yield { start: runStart, end: bitBase };
          runStart = -1;
        }
        continue;
      }
      const bits = Math.min(8, bitCount - bitBase);
      for (let bit = 0; bit < bits; bit++) {
        const set = (byte >> bit) & 1;
        if (set && runStart < 0) runStart = bitBase + bit;
        else if (!set && runStart >= 0) {
          yield { start: runStart, end: bitBase + bit };
          runStart = -1;
        }
      }
    }
    base += chunk.length * 8;
    if (base >= bitCount) break;
  }
  if (runStart >= 0) yield { start: runStart, end: Math.min(base, bitCount) };
}
