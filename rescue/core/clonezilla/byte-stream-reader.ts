// Exact-length reads from a stream of chunks (a decompressor's output): what the partclone image
// parser pulls its header, bitmap, blocks and checksums through, with no more than one chunk held.

/** Reads exact byte counts from an async stream of chunks; `onShort` builds the error for a stream that ends early. */
export class ByteStreamReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  readonly #onShort: (wanted: number, got: number) => Error;
  #chunk: Uint8Array = new Uint8Array(0);
  #position = 0;
  #done = false;
  /** Bytes consumed so far (for error details). */
  consumed = 0;

  constructor(chunks: AsyncIterable<Uint8Array>, onShort: (wanted: number, got: number) => Error) {
    this.#iterator = chunks[Symbol.asyncIterator]();
    this.#onShort = onShort;
  }

  /** Fills `target[start, start + length)` from the stream; an early end throws. */
  async readInto(target: Uint8Array, start: number, length: number): Promise<void> {
    let filled = 0;
    while (filled < length) {
      if (this.#position >= this.#chunk.length) {
        if (!(await this.#pull())) throw this.#onShort(length, filled);
        continue;
      }
      const take = Math.min(length - filled, this.#chunk.length - this.#position);
      target.set(this.#chunk.subarray(this.#position, this.#position + take), start + filled);
      this.#position += take;
      filled += take;
      this.consumed += take;
    }
  }

  /** A new array holding the next `length` bytes. */
  async read(length: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(length);
    await this.readInto(bytes, 0, length);
    return bytes;
  }

  /** Whether the stream has bytes left (pulls one chunk to find out). */
  async hasMore(): Promise<boolean> {
    while (this.#position >= this.#chunk.length) if (!(await this.#pull())) return false;
    return true;
  }

  /** Stops the underlying stream (a decompressor or a child process) when the reader is left early. */
  async close(): Promise<void> {
    if (!this.#done) {
      this.#done = true;
      await this.#iterator.return?.();
    }
  }

  async #pull(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.#done = true;
      return false;
    }
    this.#chunk = next.value;
    this.#position = 0;
    return true;
  }
}
