// Makes a FAT or exFAT smaller by copying it (issue 16): no tool shrinks exFAT, and fatresize
// (libparted) refuses FAT32 volumes it could shrink and moves clusters in place. A new filesystem of
// the new size is made in a scratch file with the source's geometry, label and serial number, and
// the files are copied into it: FAT with mtools from drive to drive (names, long names, attributes
// and modification times kept), exFAT through exfat-fuse on loop devices with cp -a (names and
// times kept; exFAT's hidden and system attributes are not carried by the FUSE driver). The source
// is only read (a file, here the shrink view's FUSE file), never through this process's own file
// calls (they would wait in the threads the NBD server behind the view needs).

import { mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ByteSource } from '../core/byte-source.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS, type ExternalProgram } from '../core/external-programs.ts';
import { readFatVolume } from '../core/filesystems/fat.ts';
import type { FilesystemProbe } from '../core/filesystems/probe-types.ts';
import { describeExit, runProgram, succeeded, type RunProgramOptions } from './run-program.ts';

/** What to copy where. */
export interface RebuildRequest {
  /** The source filesystem as a file (read only, by the tools). */
  readonly sourceFile: string;
  /** The same filesystem as this process reads it (its boot sector), never through sourceFile. */
  readonly source: ByteSource;
  /** The source's probe (label, serial, cluster size). */
  readonly probe: FilesystemProbe;
  readonly newSize: number;
  /** A private folder for the new filesystem's file, the mount points and mtools' configuration. */
  readonly folder: string;
  readonly signal?: AbortSignal;
}

function failed(result: Awaited<ReturnType<typeof runProgram>>, what: string): LifeboatError {
  return new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `${what}: ${describeExit(result)}`, program: result.command.split(' ')[0], exitCode: result.exitCode, signal: result.signal });
}

async function run(program: ExternalProgram, args: readonly string[], what: string, options: RunProgramOptions = {}): Promise<string> {
  const result = await runProgram(program, args, options);
  if (!succeeded(result)) throw failed(result, what);
  return result.all;
}

async function sizedFile(file: string, size: number): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** mkfs.fat's options for a new FAT of the source's variant and geometry, label and serial. */
export async function fatFormatOptions(source: ByteSource, probe: FilesystemProbe): Promise<string[]> {
  const volume = await readFatVolume(source);
  if (!volume) throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: 'The source holds no FAT boot sector.' });
  const { bs, geometry } = volume;
  const serial = probe.uuid?.replace('-', '');
  return [
    '-F', String(geometry.variant), '-S', String(geometry.bytesPerSector), '-s', String(geometry.clusterSize / geometry.bytesPerSector),
    '-R', String(bs.u16(0x0e, 'reserved sectors')), '-f', String(bs.u8(0x10, 'FAT count')), '-M', `0x${bs.u8(0x15, 'media').toString(16)}`,
    ...(geometry.variant === 32 ? [] : ['-r', String(bs.u16(0x11, 'root entries'))]),
    ...(serial ? ['-i', serial] : []),
    ...(probe.label ? ['-n', probe.label] : []),
    '-a',
  ];
}

async function rebuildFat(request: RebuildRequest, file: string): Promise<void> {
  await run(PROGRAMS.mkfsFat, [...(await fatFormatOptions(request.source, request.probe)), file], 'Making the smaller FAT');
  // Two drives in one mtools configuration: the copy goes straight from the source to the new volume.
  const config = path.join(request.folder, 'mtoolsrc');
  const quoted = (value: string) => `"${value.replace(/"/g, '')}"`;
  await writeFile(config, `drive s: file=${quoted(request.sourceFile)}\ndrive t: file=${quoted(file)}\nmtools_skip_check=1\n`, { mode: 0o600 });
  const env = { ...process.env, MTOOLSRC: config };
  await run(PROGRAMS.mcopy, ['-s', '-p', '-m', '-n', '-Q', 's:/', 't:/'], 'Copying the files into the smaller FAT', { env });
}

async function withLoop<T>(file: string, readOnly: boolean, use: (device: string) => Promise<T>): Promise<T> {
  const device = (await run(PROGRAMS.losetup, ['--find', '--show', ...(readOnly ? ['--read-only'] : []), file], 'Attaching a loop device')).trim();
  try {
    return await use(device);
  } finally {
    await runProgram(PROGRAMS.losetup, ['-d', device]);
  }
}

async function withExfatMount<T>(device: string, mountPoint: string, readOnly: boolean, use: () => Promise<T>): Promise<T> {
  await mkdir(mountPoint);
  await run(PROGRAMS.mountExfatFuse, [...(readOnly ? ['-o', 'ro'] : []), device, mountPoint], 'Mounting an exFAT');
  try {
    return await use();
  } finally {
    await runProgram(PROGRAMS.umount, [mountPoint]);
  }
}

async function rebuildExfat(request: RebuildRequest, file: string): Promise<void> {
  const cluster = request.probe.blockSize;
  await run(PROGRAMS.mkfsExfat, [...(cluster ? ['-c', String(cluster)] : []), ...(request.probe.label ? ['-L', request.probe.label] : []), file], 'Making the smaller exFAT');
  if (request.probe.uuid) await run(PROGRAMS.tuneExfat, ['-I', `0x${request.probe.uuid.replace('-', '').toLowerCase()}`, file], 'Setting the exFAT serial number');
  await withLoop(request.sourceFile, true, (sourceDevice) => withLoop(file, false, (targetDevice) =>
    withExfatMount(sourceDevice, path.join(request.folder, 'from'), true, () =>
      withExfatMount(targetDevice, path.join(request.folder, 'to'), false, () =>
        run(PROGRAMS.cp, ['-a', `${path.join(request.folder, 'from')}/.`, `${path.join(request.folder, 'to')}/`], 'Copying the files into the smaller exFAT')))));
}

/** Makes the new, smaller filesystem in a file in request.folder and copies the source's files into it; returns the file. */
export async function rebuildSmaller(request: RebuildRequest): Promise<string> {
  const file = path.join(request.folder, 'rebuilt.img');
  await sizedFile(file, request.newSize);
  if (request.signal?.aborted) throw new LifeboatError('LB_INPUT_STOPPED', { detail: 'Stopped before the smaller filesystem was made; the source was not written.' });
  if (request.probe.type === 'vfat') await rebuildFat(request, file);
  else if (request.probe.type === 'exfat') await rebuildExfat(request, file);
  else throw new LifeboatError('LB_INTERNAL', { detail: `No copy rebuild for ${request.probe.type} filesystems.`, filesystem: request.probe.type });
  return file;
}
