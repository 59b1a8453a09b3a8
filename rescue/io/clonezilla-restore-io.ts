// What restoring or importing a Clonezilla image needs from the operating system: the partition
// writer and the boot-gap bytes bound to one image and one target file or device, mkswap, and a
// scratch disk file in the temporary folder ($LIFEBOAT_TMPDIR, else the system's; never beside the image).

import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import type { ClonezillaRestoreIo, ClonezillaScratch } from '../core/clonezilla/clonezilla-ports.ts';
import { openClonezillaImage, type ClonezillaImage } from './clonezilla-image.ts';
import { openBackupSource, openRestoreTarget } from './device-endpoints.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';
import { writeClonezillaPartition } from './write-clonezilla-partition.ts';

/** The restore io for `image`, writing into `backing` (a file or device, at a byte offset). */
export function clonezillaRestoreIo(image: ClonezillaImage, backing: { path: string; offset: number }): ClonezillaRestoreIo {
  return {
    writePartition: async ({ partition: name, offset, onProgress }) => {
      const partition = image.partitions.find((entry) => entry.name === name);
      if (!partition) throw new LifeboatError('LB_INTERNAL', { detail: `No partition ${name} in ${image.directory}.` });
      const { bytesWritten } = await writeClonezillaPartition({ partition, target: backing.path, targetOffset: backing.offset + offset, onProgress });
      return { bytesWritten };
    },
    readBootGap: async (disk) => {
      const file = image.disks.find((entry) => entry.name === disk)?.files.hiddenDataAfterMbr;
      if (!file) throw new LifeboatError('LB_INTERNAL', { detail: `No hidden data after the MBR for ${disk}.` });
      return new Uint8Array(await readFile(file));
    },
    makeSwap: (request) => makeSwapArea({ ...request, path: backing.path, offset: backing.offset + request.offset }),
  };
}

/** Bytes of a new swap area mkswap writes (its header page; the rest of a fresh area is zero). */
const SWAP_HEADER_BYTES = 64 * 1024;

/** Makes a swap area with the saved UUID and label at a byte offset of a file or device: mkswap runs on
 * a scratch file of the partition's size (not every mkswap has --offset), then its header is copied in. */
export async function makeSwapArea(request: { path: string; offset: number; sizeBytes: number; uuid: string | undefined; label: string | undefined }): Promise<void> {
  const work = await mkdtemp(path.join(process.env.LIFEBOAT_TMPDIR ?? os.tmpdir(), 'lifeboat-swap-'));
  try {
    const scratch = path.join(work, 'swap.img');
    await writeFile(scratch, '');
    await truncate(scratch, request.sizeBytes);
    const args = ['-q', ...(request.uuid ? ['-U', request.uuid] : []), ...(request.label ? ['-L', request.label] : []), scratch];
    const result = await runProgram(PROGRAMS.mkswap, args);
    if (!succeeded(result)) {
      throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: describeExit(result, 300), path: request.path, exitCode: result.exitCode, signal: result.signal });
    }
    const header = (await readFile(scratch)).subarray(0, Math.min(SWAP_HEADER_BYTES, request.sizeBytes));
    const handle = await open(request.path, 'r+');
    try {
      for (let done = 0; done < header.length; ) done += (await handle.write(header, done, header.length - done, request.offset + done)).bytesWritten;
      await handle.sync();
    } catch (error) {
      throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `Writing the swap header at byte ${request.offset} of ${request.path} failed.`, path: request.path }, { cause: error });
    } finally {
      await handle.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A new sparse disk file of `sizeBytes` in the temporary folder, opened as a restore target with the image's io bound to it. */
export async function createClonezillaScratch(image: ClonezillaImage, sizeBytes: number, sectorSize: number): Promise<ClonezillaScratch> {
  const work = await mkdtemp(path.join(process.env.LIFEBOAT_TMPDIR ?? os.tmpdir(), 'lifeboat-import-'));
  const file = path.join(work, 'disk.img');
  try {
    const target = await openRestoreTarget(file, { createBytes: sizeBytes, sectorSize });
    let closed = false;
    const closeTarget = async () => {
      if (!closed) await target.close();
      closed = true;
    };
    return {
      target,
      io: clonezillaRestoreIo(image, { path: file, offset: 0 }),
      openSource: async (kind) => {
        await closeTarget();
        return (await openBackupSource(file, kind)).source;
      },
      remove: async () => {
        await closeTarget();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

/** Opens an image directory for restore and import: its layout, and the io bound to it. */
export async function openClonezillaForRestore(directory: string) {
  const image = await openClonezillaImage(directory);
  return {
    layout: image,
    restoreIo: (backing: { path: string; offset: number }) => clonezillaRestoreIo(image, backing),
    createScratch: (sizeBytes: number, sectorSize: number) => createClonezillaScratch(image, sizeBytes, sectorSize),
  };
}
