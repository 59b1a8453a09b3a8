// Restores one partition of a Clonezilla image into a file or a device at a byte offset: only the
// used blocks of a partclone image are written (a fresh image file stays sparse where the filesystem
// was free); a raw dd image is written whole. For NTFS the backup boot sector after the volume,
// which partclone does not carry, is written back as a copy of the boot sector when the partition's
// size is known (core/clonezilla/ntfs-backup-boot-sector.ts).

import { open, type FileHandle } from 'node:fs/promises';
import { LifeboatError } from '../core/errors.ts';
import { PARTCLONE_MAGIC } from '../core/clonezilla/partclone-header.ts';
import { ntfsBackupBootSector } from '../core/clonezilla/ntfs-backup-boot-sector.ts';
import { openPartcloneImage, type PartcloneHeader } from '../core/clonezilla/partclone-image.ts';
import { streamPartitionImage, type ClonezillaPartition } from './clonezilla-image.ts';
import { openByteSource } from './file-source.ts';

/** Where to write and whom to tell. */
export interface WriteClonezillaPartitionOptions {
  readonly partition: ClonezillaPartition;
  /** A regular file (created if absent, never truncated) or a block device. */
  readonly target: string;
  /** Byte offset of the partition in the target (its start on the disk for a whole-disk target). */
  readonly targetOffset?: number;
  /** Called after each run with bytes written and the image's used bytes (0 when a raw image's size is unknown). */
  readonly onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** What was written. */
export interface WriteClonezillaPartitionResult {
  readonly header: PartcloneHeader | undefined;
  readonly bytesWritten: number;
}

/** Writes the partition's used blocks (or a dd image's bytes) into the target. */
export async function writeClonezillaPartition(options: WriteClonezillaPartitionOptions): Promise<WriteClonezillaPartitionResult> {
  const { partition, target, targetOffset = 0, onProgress = () => undefined } = options;
  if (!Number.isSafeInteger(targetOffset) || targetOffset < 0) throw new LifeboatError('LB_INPUT_USAGE', { detail: `target offset ${targetOffset} is not a byte offset.` });
  const stream = peekable(streamPartitionImage(partition));
  const start = await stream.peek();
  const isPartclone = String.fromCharCode(...start.subarray(0, PARTCLONE_MAGIC.length)) === PARTCLONE_MAGIC;
  if (partition.kind === 'partclone' && !isPartclone) {
    await stream.close();
    throw new LifeboatError('LB_INPUT_IMAGE_CORRUPT', { detail: `the image of ${partition.name} does not start with the partclone magic.`, partition: partition.name });
  }
  const handle = await openTarget(target);
  try {
    if (!isPartclone) {
      const bytesWritten = await writeRaw(handle, stream.chunks, targetOffset, partition.sizeBytes ?? 0, onProgress);
      await syncTarget(handle, target);
      return { header: undefined, bytesWritten };
    }
    const image = await openPartcloneImage(stream.chunks);
    const { header } = image;
    await ensureRoom(handle, target, targetOffset + header.deviceSizeBytes, image);
    let done = 0;
    let bootSector: Uint8Array | undefined;
    for await (const run of image.runs()) {
      await writeAll(handle, run.bytes, targetOffset + run.offset);
      if (run.offset === 0) bootSector = run.bytes.slice(0, 4096);
      done += run.bytes.length;
      onProgress(done, image.usedBytes);
    }
    const backup = header.filesystem === 'NTFS' && bootSector && partition.sizeBytes ? ntfsBackupBootSector(bootSector, { imageBytes: header.totalBlocks * header.blockSize, partitionBytes: partition.sizeBytes }) : undefined;
    if (backup) await writeAll(handle, backup.bytes, targetOffset + backup.offset);
    await syncTarget(handle, target);
    return { header, bytesWritten: done };
  } catch (error) {
    await stream.close();
    throw error;
  } finally {
    await handle.close();
  }
}

/** Syncs what this handle wrote before it is closed: the restore's own target handle (maybe O_DIRECT) writes next. */
async function syncTarget(handle: FileHandle, target: string): Promise<void> {
  try {
    await handle.sync();
  } catch (error) {
    throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `Syncing ${target} after writing the partition failed.`, path: target }, { cause: error });
  }
}

async function openTarget(target: string): Promise<FileHandle> {
  try {
    return await open(target, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return open(target, 'w+');
    throw new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `Cannot open ${target} for writing.`, path: target }, { cause: error });
  }
}

/** A device must hold the whole partition; a regular file is grown (sparsely) to hold it. */
async function ensureRoom(handle: FileHandle, target: string, endBytes: number, image: { close(): Promise<void> }): Promise<void> {
  const stats = await handle.stat();
  if (stats.isFile()) {
    if (stats.size < endBytes) await handle.truncate(endBytes);
    return;
  }
  const source = await openByteSource(target);
  const size = source.size;
  await source.close();
  if (size < endBytes) {
    await image.close();
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${target} holds ${size} bytes; the partition needs ${endBytes}.`, path: target, size, needed: endBytes });
  }
}

async function writeRaw(handle: FileHandle, chunks: AsyncIterable<Uint8Array>, offset: number, total: number, onProgress: (done: number, total: number) => void): Promise<number> {
  let done = 0;
  for await (const chunk of chunks) {
    await writeAll(handle, chunk, offset + done);
    done += chunk.length;
    onProgress(done, total);
  }
  return done;
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    try {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
      written += bytesWritten;
    } catch (error) {
      throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `Writing at byte ${position + written} failed.`, position: position + written }, { cause: error });
    }
  }
}

/** A stream whose first chunk can be looked at before it is consumed. */
function peekable(source: AsyncGenerator<Uint8Array>) {
  let first: Uint8Array | undefined;
  return {
    async peek(): Promise<Uint8Array> {
      if (first === undefined) {
        const next = await source.next();
        first = next.done ? new Uint8Array(0) : next.value;
      }
      return first;
    },
    chunks: (async function* () {
      if (first && first.length > 0) yield first;
      yield* source;
    })(),
    close: async () => {
      await source.return(undefined);
    },
  };
}
