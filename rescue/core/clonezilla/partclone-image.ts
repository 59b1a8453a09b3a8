// A streaming reader of partclone images (versions 0001 and 0002): the header facts, then the used
// blocks as runs of consecutive blocks at their byte offset in the partition, every checksum
// verified on the way. Input is the decompressed image as chunks; memory is the bitmap plus one run.

import { ByteStreamReader } from './byte-stream-reader.ts';
import { PARTCLONE_CRC_SEED, updatePartcloneCrc, updatePartcloneCrc0001 } from './partclone-checksum.ts';
import {
  PARTCLONE_V1_HEADER_BYTES,
  PARTCLONE_V2_HEADER_BYTES,
  parsePartcloneV1Header,
  parsePartcloneV2Header,
  partcloneError,
  readPartcloneVersion,
  type PartcloneHeader,
} from './partclone-header.ts';

export type { PartcloneHeader } from './partclone-header.ts';

/** Consecutive used blocks: where they go in the partition and their bytes. */
export interface UsedBlockRun {
  /** Byte offset in the partition (block number times block size). */
  readonly offset: number;
  readonly bytes: Uint8Array;
}

/** An opened image: its header, the used-block count from its bitmap, and its runs (iterable once). */
export interface PartcloneImageReader {
  readonly header: PartcloneHeader;
  /** Blocks set in the bitmap: what `runs()` yields, and what the header's count is checked against. */
  readonly usedBlocks: number;
  /** usedBlocks times the block size: the total for progress. */
  readonly usedBytes: number;
  runs(): AsyncIterable<UsedBlockRun>;
  /** Stops the input early (the runs' iteration does it itself when left). */
  close(): Promise<void>;
}

/** How large one yielded run may grow. */
export interface OpenPartcloneOptions {
  /** At most this many bytes per run (rounded down to whole blocks, at least one block); 4 MiB by default. */
  readonly maxRunBytes?: number;
}

const DEFAULT_RUN_BYTES = 4 * 1024 * 1024;
const BIT_MAGIC = 'BiTmAgIc';
const BYTE_BITMAP_CHUNK = 64 * 1024;

/** Reads the header and bitmap of a partclone image from its decompressed chunks; the blocks follow through `runs()`. */
export async function openPartcloneImage(chunks: AsyncIterable<Uint8Array>, options: OpenPartcloneOptions = {}): Promise<PartcloneImageReader> {
  const where: { block: number | undefined; part: string } = { block: undefined, part: 'header' };
  const reader: ByteStreamReader = new ByteStreamReader(chunks, (wanted: number, got: number): Error =>
    partcloneError(`truncated in the ${where.part}${where.block === undefined ? '' : ` at block ${where.block}`} (wanted ${wanted} more bytes, got ${got})`, {
      block: where.block,
      imageOffset: reader.consumed,
    }, 'LB_INPUT_IMAGE_TRUNCATED'),
  );
  try {
    const start = await reader.read(PARTCLONE_V2_HEADER_BYTES);
    let header: PartcloneHeader;
    if (readPartcloneVersion(start) === 2) header = parsePartcloneV2Header(start);
    else {
      const v1 = new Uint8Array(PARTCLONE_V1_HEADER_BYTES);
      v1.set(start);
      await reader.readInto(v1, start.length, PARTCLONE_V1_HEADER_BYTES - start.length);
      header = parsePartcloneV1Header(v1);
    }
    where.part = 'bitmap';
    const bitmap = await readBitmap(reader, header);
    const usedBlocks = countBits(bitmap, header.totalBlocks);
    // partclone 0002 writes the header count from this same bitmap; 0001 restores trusted the bitmap.
    if (header.imageVersion === 2 && usedBlocks !== header.usedBlocks) {
      throw partcloneError(`bitmap marks ${usedBlocks} used blocks, the header says ${header.usedBlocks}`);
    }
    const runBlocks = Math.max(1, Math.floor((options.maxRunBytes ?? DEFAULT_RUN_BYTES) / header.blockSize));
    let started = false;
    return {
      header,
      usedBlocks,
      usedBytes: usedBlocks * header.blockSize,
      runs: () => {
        if (started) throw new Error('the runs of a partclone image can be read only once');
        started = true;
        return readRuns({ reader, header, bitmap, runBlocks, where });
      },
      close: () => reader.close(),
    };
  } catch (error) {
    await reader.close();
    throw error;
  }
}

async function readBitmap(reader: ByteStreamReader, header: PartcloneHeader): Promise<Uint8Array> {
  const total = header.totalBlocks;
  if (header.bitmap === 'none') {
    const all = new Uint8Array(Math.ceil(total / 8)).fill(0xff);
    return all;
  }
  if (header.bitmap === 'bit') {
    const bitmap = await reader.read(header.bitmapBytes);
    const stored = new DataView((await reader.read(4)).buffer).getUint32(0, true);
    const crc = updatePartcloneCrc(PARTCLONE_CRC_SEED, bitmap);
    if (crc !== stored) throw partcloneError(`bitmap CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${crc.toString(16)})`);
    return bitmap;
  }
  // One byte per block (1 = used), turned into bits as it streams in, then the "BiTmAgIc" mark.
  const bitmap = new Uint8Array(Math.ceil(total / 8));
  const chunk = new Uint8Array(Math.min(BYTE_BITMAP_CHUNK, total));
  for (let done = 0; done < total; ) {
    const length = Math.min(chunk.length, total - done);
    await reader.readInto(chunk, 0, length);
    for (let i = 0; i < length; i += 1) {
      if (chunk[i] === 1) bitmap[(done + i) >>> 3] = (bitmap[(done + i) >>> 3] as number) | (1 << ((done + i) & 7));
    }
    done += length;
  }
  const magic = String.fromCharCode(...(await reader.read(BIT_MAGIC.length)));
  if (magic !== BIT_MAGIC) throw partcloneError('the byte bitmap does not end with "BiTmAgIc"');
  return bitmap;
}

interface RunState {
  readonly reader: ByteStreamReader;
  readonly header: PartcloneHeader;
  readonly bitmap: Uint8Array;
  readonly runBlocks: number;
  readonly where: { block: number | undefined; part: string };
}

async function* readRuns({ reader, header, bitmap, runBlocks, where }: RunState): AsyncGenerator<UsedBlockRun> {
  const { blockSize, totalBlocks, checksum, checksumBytes, blocksPerChecksum, reseedChecksum } = header;
  const update = checksum === 'crc32-0001' ? updatePartcloneCrc0001 : updatePartcloneCrc;
  const stored = new Uint8Array(Math.max(checksumBytes, 1));
  let state = PARTCLONE_CRC_SEED;
  let inGroup = 0;
  let groupFirst = 0;
  const verify = async (lastBlock: number): Promise<void> => {
    where.part = 'checksum';
    await reader.readInto(stored, 0, checksumBytes);
    if (checksum !== 'none') {
      const value = new DataView(stored.buffer).getUint32(0, true);
      if (value !== state) {
        throw partcloneError(`checksum mismatch at block ${lastBlock} (group of blocks ${groupFirst}..${lastBlock})`, {
          block: lastBlock,
          firstBlock: groupFirst,
          stored: value,
          computed: state,
        });
      }
    }
    inGroup = 0;
    if (reseedChecksum) state = PARTCLONE_CRC_SEED;
  };
  try {
    let lastBlock = -1;
    for (let block = nextSetBit(bitmap, 0, totalBlocks); block < totalBlocks; ) {
      let length = 1;
      while (length < runBlocks && block + length < totalBlocks && isSet(bitmap, block + length)) length += 1;
      const bytes = new Uint8Array(length * blockSize);
      for (let i = 0; i < length; i += 1) {
        where.part = 'block data';
        where.block = block + i;
        const slot = bytes.subarray(i * blockSize, (i + 1) * blockSize);
        await reader.readInto(bytes, i * blockSize, blockSize);
        if (inGroup === 0) groupFirst = block + i;
        if (checksum !== 'none') state = update(state, slot);
        if (blocksPerChecksum > 0 && ++inGroup === blocksPerChecksum) await verify(block + i);
      }
      lastBlock = block + length - 1;
      yield { offset: block * blockSize, bytes };
      block = nextSetBit(bitmap, block + length, totalBlocks);
    }
    // A last group shorter than blocks_per_checksum still gets its checksum.
    if (inGroup > 0) await verify(lastBlock);
  } finally {
    await reader.close();
  }
}

function isSet(bitmap: Uint8Array, block: number): boolean {
  return (((bitmap[block >>> 3] as number) >>> (block & 7)) & 1) === 1;
}

/** The first used block at or after `from`, or `total` when there is none (whole zero bytes skipped). */
function nextSetBit(bitmap: Uint8Array, from: number, total: number): number {
  let block = from;
  while (block < total) {
    if ((block & 7) === 0 && bitmap[block >>> 3] === 0) {
      block += 8;
      continue;
    }
    if (isSet(bitmap, block)) return block;
    block += 1;
  }
  return total;
}

const POPCOUNT = (() => {
  const table = new Uint8Array(256);
  for (let i = 1; i < 256; i += 1) table[i] = (i & 1) + (table[i >>> 1] as number);
  return table;
})();

function countBits(bitmap: Uint8Array, total: number): number {
  const whole = Math.floor(total / 8);
  let count = 0;
  for (let i = 0; i < whole; i += 1) count += POPCOUNT[bitmap[i] as number] as number;
  for (let block = whole * 8; block < total; block += 1) if (isSet(bitmap, block)) count += 1;
  return count;
}
