// A source that reads some blocks from elsewhere in the same source: the ext journal replay
// (file-trees/ext-journal-replay.ts) shows each logged block's newest committed copy in place of its
// stale home block, without writing anything.

import { checkRange, readInto, type ByteSource } from './byte-source.ts';

/** One replaced block: read `blockSize` bytes from block `from` instead; `firstWord` replaces bytes 0..3. */
export interface OverlayBlock {
  readonly from: number;
  readonly firstWord?: Uint8Array;
}

/** `source` with every block of `overlay` (block number -> replacement) read from its replacement. */
export function overlaySource(source: ByteSource, blockSize: number, overlay: ReadonlyMap<number, OverlayBlock>): ByteSource {
  const blocks = [...overlay.keys()].sort((a, b) => a - b);
  const patch = async (target: Uint8Array, offset: number): Promise<void> => {
    const end = offset + target.length;
    const firstBlock = Math.floor(offset / blockSize);
    let low = 0;
    let high = blocks.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (blocks[middle]! < firstBlock) low = middle + 1;
      else high = middle;
    }
    for (let i = low; i < blocks.length && blocks[i]! * blockSize < end; i++) {
      const block = blocks[i]!;
      const replacement = overlay.get(block)!;
      const copy = new Uint8Array(blockSize);
      await readInto(source, copy, replacement.from * blockSize);
      if (replacement.firstWord) copy.set(replacement.firstWord, 0);
      const from = Math.max(offset, block * blockSize);
      const to = Math.min(end, (block + 1) * blockSize);
      target.set(copy.subarray(from - block * blockSize, to - block * blockSize), from - offset);
    }
  };
  return {
    size: source.size,
    read: async (offset, length) => {
      checkRange(source.size, offset, length);
      const target = new Uint8Array(length);
      await readInto(source, target, offset);
      await patch(target, offset);
      return target;
    },
    readInto: async (target, offset) => {
      checkRange(source.size, offset, target.length);
      await readInto(source, target, offset);
      await patch(target, offset);
    },
    ...(source.allocateReadBuffer ? { allocateReadBuffer: (length: number) => source.allocateReadBuffer!(length) } : {}),
  };
}
