// The io of `convert`: the disk opened for reading and synced writing (block device or image file),
// the undo file written and synced (never over another file, never on the disk being converted),
// where the undo file goes by default, and mkfs.fat on the new ESP.

import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { DATA_PARTITION_MOUNT } from '../core/attached-repositories.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import type { ConvertDisk, ConvertPorts } from '../core/convert/convert-ports.ts';
import { describeTarget } from './disk-targets.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';

/** Opens a disk or image: read-only for a plan, read-write (each write synced) to convert or undo. */
export async function openConvertDisk(device: string, options: { writable: boolean }): Promise<ConvertDisk & { close(): Promise<void> }> {
  const summary = await describeTarget(device);
  const handle = await open(device, options.writable ? 'r+' : 'r').catch((error: unknown) => {
    throw new LifeboatError(options.writable ? 'LB_DEVICE_WRITE_FAILED' : 'LB_DEVICE_UNREADABLE', { detail: `${device}: ${(error as { code?: string }).code ?? String(error)}.`, path: device }, { cause: error });
  });
  const size = summary.transport === 'file' ? (await handle.stat()).size : summary.sizeBytes;
  return {
    path: device,
    size,
    sectorSize: summary.logicalSectorSize,
    physicalSectorSize: summary.physicalSectorSize,
    ...(summary.serial ? { serial: summary.serial } : {}),
    read: async (offset, length) => {
      if (offset < 0 || offset + length > size) throw new LifeboatError('LB_INPUT_READ_OUT_OF_RANGE', { detail: `${length} bytes at ${offset} of ${device} (${size} bytes).`, path: device });
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      if (bytesRead !== length) throw new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `Short read at ${offset} of ${device}.`, path: device });
      return buffer;
    },
    write: async (offset, bytes) => {
      try {
        const { bytesWritten } = await handle.write(bytes, 0, bytes.length, offset);
        if (bytesWritten !== bytes.length) throw Object.assign(new Error(`short write (${bytesWritten} of ${bytes.length} bytes)`), { code: 'EIO' });
        await handle.datasync();
      } catch (error) {
        throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `Writing ${bytes.length} bytes at byte ${offset} of ${device}: ${(error as { code?: string }).code ?? (error as Error).message}.`, path: device, offset }, { cause: error });
      }
    },
    close: () => handle.close(),
  };
}

/** The undo file's default place: the medium's data partition when it is mounted and writable; else undefined. */
export async function defaultUndoFile(device: string, now: Date): Promise<string | undefined> {
  const ok = await access(DATA_PARTITION_MOUNT, constants.W_OK).then(() => true, () => false);
  if (!ok) return undefined;
  return path.join(DATA_PARTITION_MOUNT, `convert-undo-${path.basename(device)}-${now.toISOString().replace(/[:.]/g, '-')}.lbundo`);
}

/** Refuses (LB_INPUT_CONVERT_UNDO_ON_TARGET) an undo file on the disk being converted (or the image itself). */
export async function refuseUndoOnTarget(undoFile: string, device: string): Promise<void> {
  const target = await realpath(device);
  const folder = await realpath(path.dirname(path.resolve(undoFile))).catch(() => path.dirname(path.resolve(undoFile)));
  const refuse = (why: string) => new LifeboatError('LB_INPUT_CONVERT_UNDO_ON_TARGET', { detail: `${undoFile} ${why}.`, undoFile, device });
  if (path.resolve(undoFile) === target || (await realpath(undoFile).catch(() => '')) === target) throw refuse(`is ${device} itself`);
  const info = await stat(target);
  if (!info.isBlockDevice()) return;
  const holder = await stat(folder);
  const major = Math.floor(holder.dev / 256) & 0xfff;
  const minor = (holder.dev & 0xff) | ((Math.floor(holder.dev / 4096) & 0xfff00));
  const sysPath = await realpath(`/sys/dev/block/${major}:${minor}`).catch(() => '');
  const name = path.basename(target);
  if (sysPath && (path.basename(sysPath) === name || path.basename(path.dirname(sysPath)) === name)) throw refuse(`lies in a filesystem of ${device}`);
}

/** The ports the operation uses, on this machine. */
export function convertPorts(notice: (message: string) => void): ConvertPorts {
  return {
    sha256: (bytes) => createHash('sha256').update(bytes).digest('hex'),
    saveUndoFile: async (file, bytes) => {
      const handle = await open(file, 'wx').catch((error: unknown) => {
        throw new LifeboatError('LB_INPUT_DESTINATION_EXISTS', { detail: `The undo file ${file} cannot be made (${(error as { code?: string }).code}); name a new file.`, path: file }, { cause: error });
      });
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const folder = await open(path.dirname(path.resolve(file)), 'r');
      await folder.sync().finally(() => folder.close());
    },
    formatEsp: async (request) => {
      const sectors = request.offset / request.sectorSize;
      const result = await runProgram(PROGRAMS.mkfsFat, ['-F', '32', '-n', request.label, '-S', String(request.sectorSize), '-h', String(sectors), `--offset=${sectors}`, request.device, String(Math.floor(request.sizeBytes / 1024))]);
      if (!succeeded(result)) throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `Formatting the ESP failed: ${describeExit(result)}`, path: request.device });
    },
    notice,
  };
}

/** A random GUID in the form GPT entries print. */
export function newGuid(): string {
  return randomUUID().toUpperCase();
}

/** Reads a whole undo file (they are a few MiB: the first and last MiB, EBRs, the ESP's non-zero MiBs). */
export async function readUndoFile(file: string): Promise<Uint8Array> {
  return readFile(file).catch((error: unknown) => {
    throw new LifeboatError('LB_INPUT_PATH_NOT_FOUND', { detail: `The undo file ${file} cannot be read (${(error as { code?: string }).code}).`, path: file }, { cause: error });
  });
}
