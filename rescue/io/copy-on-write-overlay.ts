// A writable view of a read-only source: writes land in an overlay Lifeboat keeps (4 KiB blocks, in
// memory up to a budget, then in a scratch file), reads see the overlay's blocks over the source's.
// A filesystem can be shrunk on it (resize2fs, ntfsresize through the NBD export of nbd-server.ts)
// while the source is never opened for writing. The overlay refuses to outgrow its budget with
// LB_DEVICE_SCRATCH_TOO_SMALL, and keeps that error so the operation can report it after the tool
// that met it (as ENOSPC) has failed.

import { open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { checkRange, readInto, type ByteSource } from '../core/byte-source.ts';
import { LifeboatError } from '../core/errors.ts';

/** The overlay's unit: a write of part of a block copies the rest of it from the source first. */
export const OVERLAY_BLOCK_BYTES = 4096;
/** Memory blocks are handed out of slabs of this size. */
const SLAB_BYTES = 1024 * 1024;

/** Where the overlay may keep what is written, and how much. */
export interface OverlayBudget {
  /** Bytes of written blocks kept in memory before spilling to the scratch file. */
  readonly memoryBytes: number;
  /** A folder for the scratch file (removed at close); without it nothing spills. */
  readonly scratchFolder?: string;
  /** Bytes the scratch file may grow to. */
  readonly scratchBytes?: number;
}

/** A source one can also write: what the NBD server exports. */
export interface WritableVolume extends ByteSource {
  write(data: Uint8Array, offset: number): Promise<void>;
  flush(): Promise<void>;
}

/** The overlay over one source. */
export interface CopyOnWriteOverlay extends WritableVolume {
  /** Blocks written so far, and where they are kept. */
  usage(): { readonly blocks: number; readonly memoryBytes: number; readonly scratchBytes: number };
  /** The first write refused for lack of room, if any (reported after the tool that met it fails). */
  readonly refusal: LifeboatError | undefined;
  /** Frees the memory and removes the scratch file; the source is left open (the caller's). */
  close(): Promise<void>;
}

/** Where a written block is: memory, or its byte offset in the scratch file. */
type Place = Uint8Array | number;

/** Opens an overlay over `source` (which it only reads). */
export function openCopyOnWriteOverlay(source: ByteSource, budget: OverlayBudget): CopyOnWriteOverlay {
  const blocks = new Map<number, Place>();
  let slab: Uint8Array | undefined;
  let slabUsed = SLAB_BYTES;
  let memoryBytes = 0;
  let scratchBytes = 0;
  let scratch: Promise<FileHandle> | undefined;
  let scratchPath: string | undefined;
  let refusal: LifeboatError | undefined;

  const scratchFile = (): Promise<FileHandle> => {
    if (!scratch) {
      scratchPath = path.join(budget.scratchFolder!, `lifeboat-overlay-${process.pid}-${Date.now()}.bin`);
      scratch = open(scratchPath, 'wx+', 0o600);
    }
    return scratch;
  };

  const refuse = (): never => {
    refusal ??= new LifeboatError('LB_DEVICE_SCRATCH_TOO_SMALL', {
      detail: `The shrink's overlay outgrew its room: ${memoryBytes} bytes in memory (budget ${budget.memoryBytes}) and ${scratchBytes} in the scratch file (budget ${budget.scratchBytes ?? 0}${budget.scratchFolder ? `, in ${budget.scratchFolder}` : ', no scratch folder'}).`,
      memoryBytes, memoryBudget: budget.memoryBytes, scratchBytes, scratchBudget: budget.scratchBytes ?? 0,
    });
    throw refusal;
  };

  /** A new place for a block not yet written. */
  const place = async (): Promise<Place> => {
    if (memoryBytes + OVERLAY_BLOCK_BYTES <= budget.memoryBytes) {
      if (slabUsed === SLAB_BYTES) {
        slab = new Uint8Array(SLAB_BYTES);
        slabUsed = 0;
      }
      const block = slab!.subarray(slabUsed, slabUsed + OVERLAY_BLOCK_BYTES);
      slabUsed += OVERLAY_BLOCK_BYTES;
      memoryBytes += OVERLAY_BLOCK_BYTES;
      return block;
    }
    if (budget.scratchFolder === undefined || scratchBytes + OVERLAY_BLOCK_BYTES > (budget.scratchBytes ?? 0)) return refuse();
    const offset = scratchBytes;
    scratchBytes += OVERLAY_BLOCK_BYTES;
    return offset;
  };

  const loadBlock = async (where: Place, into: Uint8Array): Promise<void> => {
    if (typeof where !== 'number') {
      into.set(where);
      return;
    }
    const handle = await scratchFile();
    let done = 0;
    while (done < into.length) {
      const { bytesRead } = await handle.read(into, done, into.length - done, where + done);
      if (bytesRead === 0) throw new LifeboatError('LB_DEVICE_READ_FAILED', { detail: `The overlay's scratch file ${scratchPath} ends early at byte ${where + done}.`, path: scratchPath });
      done += bytesRead;
    }
  };

  const storeBlock = async (where: Place, bytes: Uint8Array): Promise<void> => {
    if (typeof where !== 'number') {
      where.set(bytes);
      return;
    }
    const handle = await scratchFile();
    try {
      let done = 0;
      while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done, where + done)).bytesWritten;
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOSPC') refuse();
      throw error;
    }
  };

  /** The bytes of block `index` as the view shows them, read into `into` (a whole block, or its tail at the source's end). */
  const readBlock = async (index: number, into: Uint8Array): Promise<void> => {
    const where = blocks.get(index);
    if (where !== undefined) await loadBlock(where, into);
    else await readInto(source, into, index * OVERLAY_BLOCK_BYTES);
  };

  const viewInto = async (target: Uint8Array, offset: number): Promise<void> => {
    checkRange(source.size, offset, target.length);
    const end = offset + target.length;
    let position = offset;
    while (position < end) {
      const index = Math.floor(position / OVERLAY_BLOCK_BYTES);
      const where = blocks.get(index);
      if (where === undefined) {
        // A run of blocks the overlay does not hold: one read of the source.
        let runEnd = Math.min(end, (index + 1) * OVERLAY_BLOCK_BYTES);
        while (runEnd < end && !blocks.has(runEnd / OVERLAY_BLOCK_BYTES)) runEnd = Math.min(end, runEnd + OVERLAY_BLOCK_BYTES);
        await readInto(source, target.subarray(position - offset, runEnd - offset), position);
        position = runEnd;
        continue;
      }
      const blockStart = index * OVERLAY_BLOCK_BYTES;
      const blockEnd = Math.min(end, blockStart + OVERLAY_BLOCK_BYTES);
      if (position === blockStart && blockEnd === blockStart + OVERLAY_BLOCK_BYTES && typeof where !== 'number') {
        target.set(where, position - offset);
      } else {
        const whole = new Uint8Array(Math.min(OVERLAY_BLOCK_BYTES, source.size - blockStart));
        await loadBlock(where, whole);
        target.set(whole.subarray(position - blockStart, blockEnd - blockStart), position - offset);
      }
      position = blockEnd;
    }
  };

  const write = async (data: Uint8Array, offset: number): Promise<void> => {
    checkRange(source.size, offset, data.length);
    const end = offset + data.length;
    let position = offset;
    const whole = new Uint8Array(OVERLAY_BLOCK_BYTES);
    while (position < end) {
      const index = Math.floor(position / OVERLAY_BLOCK_BYTES);
      const blockStart = index * OVERLAY_BLOCK_BYTES;
      const blockBytes = Math.min(OVERLAY_BLOCK_BYTES, source.size - blockStart);
      const blockEnd = Math.min(end, blockStart + blockBytes);
      const block = whole.subarray(0, blockBytes);
      const covered = position === blockStart && blockEnd === blockStart + blockBytes;
      if (!covered) await readBlock(index, block);
      block.set(data.subarray(position - offset, blockEnd - offset), position - blockStart);
      let where = blocks.get(index);
      if (where === undefined) {
        where = await place();
        if (typeof where !== 'number' && blockBytes < OVERLAY_BLOCK_BYTES) where = where.subarray(0, blockBytes);
        blocks.set(index, where);
      }
      await storeBlock(where, block);
      position = blockEnd;
    }
  };

  return {
    size: source.size,
    read: async (offset, length) => {
      const target = new Uint8Array(length);
      await viewInto(target, offset);
      return target;
    },
    readInto: viewInto,
    write,
    flush: async () => {
      // The overlay lives only as long as the operation: nothing to make durable.
    },
    usage: () => ({ blocks: blocks.size, memoryBytes, scratchBytes }),
    get refusal() {
      return refusal;
    },
    close: async () => {
      blocks.clear();
      slab = undefined;
      if (scratch) {
        const handle = await scratch.catch(() => undefined);
        await handle?.close();
        if (scratchPath) await rm(scratchPath, { force: true });
      }
    },
  };
}
