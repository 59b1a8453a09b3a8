// Shrinks a filesystem without writing its source: the source (a device or image opened read-only,
// or a snapshot's volume) gets a copy-on-write overlay, served over NBD on a unix socket in a private
// folder, shown as a file by qemu-storage-daemon's FUSE export, and the filesystem's own tools shrink
// it there (ext: e2fsck -f -y then resize2fs; NTFS: ntfsresize --no-action then ntfsresize; FAT and
// exFAT are made again smaller in a scratch file and their files copied from the view:
// io/rebuild-filesystem.ts). The
// result is read from the overlay directly (never through the FUSE file: this process's file calls
// would wait in the threads the NBD server needs). The daemon, its mount, the socket and the scratch
// file are gone when this returns or fails, or when the signal aborts. All of them live in one private
// folder named with the process id: what a killed Lifeboat left (the kernel ends the daemon with it)
// is removed by the next shrink in the same scratch folder.

import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS, shrinkProgramsFor } from '../core/external-programs.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { shrinksByCopy } from '../core/shrink-estimate.ts';
import { openCopyOnWriteOverlay, type OverlayBudget } from './copy-on-write-overlay.ts';
import { openByteSource } from './file-source.ts';
import { isMountPoint, mountVolumeFile } from './fuse-volume-file.ts';
import { processAlive } from './process-alive.ts';
import { startNbdServer } from './nbd-server.ts';
import { rebuildSmaller } from './rebuild-filesystem.ts';
import { checkPrograms, describeExit, runProgram, succeeded, type ProgramResult } from './run-program.ts';

/** What to shrink, to what size, with how much room. */
export interface ShrinkViewRequest {
  readonly source: ByteSource;
  readonly filesystem: string;
  /** The filesystem's new size in bytes (a multiple of 4096; at least the tool's minimum). */
  readonly newSize: number;
  readonly budget: OverlayBudget;
  readonly signal?: AbortSignal;
}

/** The shrunk filesystem: its first newSize bytes as they now read. */
export interface ShrunkView {
  readonly view: ByteSource;
  readonly usage: { readonly blocks: number; readonly memoryBytes: number; readonly scratchBytes: number };
  close(): Promise<void>;
}

function toolFailed(result: ProgramResult, what: string): LifeboatError {
  return new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `${what}: ${describeExit(result)}`, program: result.command.split(' ')[0], exitCode: result.exitCode, signal: result.signal });
}

async function shrinkExt(file: string, newSize: number): Promise<void> {
  // e2fsck: 0 clean, 1 corrected, 2 corrected and reboot advised; resize2fs insists on a fresh check.
  const check = await runProgram(PROGRAMS.e2fsck, ['-f', '-y', file]);
  if (check.exitCode === undefined || check.exitCode > 2 || check.signal !== undefined) throw toolFailed(check, 'Before shrinking');
  const resize = await runProgram(PROGRAMS.resize2fs, [file, `${Math.floor(newSize / 1024)}K`]);
  if (!succeeded(resize)) throw toolFailed(resize, 'Shrinking');
}

async function shrinkNtfs(file: string, newSize: number): Promise<void> {
  const trial = await runProgram(PROGRAMS.ntfsresize, ['--no-action', '--force', '--no-progress-bar', '--size', String(newSize), file], { input: 'y\n' });
  if (!succeeded(trial)) throw toolFailed(trial, 'Trying the shrink (--no-action)');
  const resize = await runProgram(PROGRAMS.ntfsresize, ['--force', '--no-progress-bar', '--size', String(newSize), file], { input: 'y\n' });
  if (!succeeded(resize)) throw toolFailed(resize, 'Shrinking');
}

const PRIVATE_FOLDER = /^lifeboat-shrink-(\d+)-[A-Za-z0-9]{6}$/;

/** Removes the private folders (and the disconnected mounts in them) of shrinks whose process is gone; returns their names. */
export async function removeLeftShrinks(scratchFolder: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(scratchFolder).catch(() => [] as string[])) {
    const pid = Number(PRIVATE_FOLDER.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    const volume = path.join(scratchFolder, name, 'volume');
    if (isMountPoint(volume)) await runProgram(PROGRAMS.umount, ['-l', volume]);
    await rm(path.join(scratchFolder, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Shrinks the filesystem of `request.source` on an overlay; the source is only read. */
export async function shrinkOnView(request: ShrinkViewRequest): Promise<ShrunkView> {
  const programs = shrinkProgramsFor(request.filesystem);
  if (!programs) throw new LifeboatError('LB_INTERNAL', { detail: `No shrink for ${request.filesystem} filesystems.`, filesystem: request.filesystem });
  if (!Number.isSafeInteger(request.newSize) || request.newSize <= 0 || request.newSize > request.source.size || request.newSize % 4096 !== 0) {
    throw new LifeboatError('LB_INTERNAL', { detail: `A shrink to ${request.newSize} bytes of a ${request.source.size}-byte source.`, newSize: request.newSize });
  }
  await checkPrograms(programs);
  const parent = request.budget.scratchFolder ?? os.tmpdir();
  await removeLeftShrinks(parent);
  const folder = await mkdtemp(path.join(parent, `lifeboat-shrink-${process.pid}-`));
  // The scratch file goes into the private folder too (the same filesystem as the room measured).
  const overlay = openCopyOnWriteOverlay(request.source, { ...request.budget, scratchFolder: request.budget.scratchFolder === undefined ? undefined : folder });
  const closeAll = async () => {
    await overlay.close();
    await rm(folder, { recursive: true, force: true });
  };
  let rebuilt: string | undefined;
  try {
    const socketPath = path.join(folder, 'nbd.sock');
    const server = await startNbdServer({ socketPath, exportName: 'lifeboat-shrink', volume: overlay });
    try {
      const file = await mountVolumeFile({ socketPath, exportName: 'lifeboat-shrink', mountPath: path.join(folder, 'volume'), signal: request.signal });
      try {
        if (shrinksByCopy(request.filesystem)) {
          const probe = await probeFilesystem(request.source);
          if (!probe) throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `The source holds no ${request.filesystem} filesystem.` });
          rebuilt = await rebuildSmaller({ sourceFile: file.path, source: request.source, probe, newSize: request.newSize, folder, signal: request.signal });
        } else if (request.filesystem === 'ntfs') await shrinkNtfs(file.path, request.newSize);
        else await shrinkExt(file.path, request.newSize);
      } catch (error) {
        // A tool that met the overlay's limit reports an I/O error: the limit is the cause to tell.
        throw overlay.refusal ?? (request.signal?.aborted ? new LifeboatError('LB_INPUT_STOPPED', { detail: 'Stopped while the filesystem was being shrunk; the source was not written.' }, { cause: error }) : error);
      } finally {
        await file.stop();
      }
    } finally {
      await server.close();
    }
    if (overlay.refusal) throw overlay.refusal;
    if (rebuilt) {
      const made = await openByteSource(rebuilt);
      const { blocks } = await stat(rebuilt);
      return { view: sliceSource(made, 0, request.newSize), usage: { blocks: 0, memoryBytes: 0, scratchBytes: blocks * 512 }, close: async () => { await made.close(); await closeAll(); } };
    }
    return { view: sliceSource(overlay, 0, request.newSize), usage: overlay.usage(), close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
