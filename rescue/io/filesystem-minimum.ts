// The minimum size of a partition's filesystem, for the layout planner (core/layout/plan-layout.ts):
// ext2/3/4 from `resize2fs -P` and NTFS from `ntfsresize --info`, each run on a read-only loop
// device over the partition's bytes (losetup --read-only --offset --sizelimit), so the source is
// never written; FAT and exFAT read from their own structures (core/layout/filesystem-minimum.ts);
// XFS cannot shrink: its size. Anything else has no minimum (the planner never shrinks it).

import type { ByteSource } from '../core/byte-source.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import type { FilesystemProbe } from '../core/filesystems/probe-types.ts';
import { exfatMinimumBytes, fatMinimumBytes } from '../core/layout/filesystem-minimum.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';

/** Where the partition is: the disk, device or image holding it, its offset and size, and its bytes. */
export interface MinimumRequest {
  readonly path: string;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly probe: FilesystemProbe | undefined;
  /** The partition's bytes (for FAT, read in place). */
  readonly source: ByteSource;
}

/** A filesystem's minimum, or why there is none (then the planner keeps the partition's size). */
export interface MinimumSize {
  readonly bytes: number | undefined;
  /** How it was found, or why not: "resize2fs -P", "ntfsresize --info: the volume is dirty". */
  readonly how: string;
}

const EXT = new Set(['ext2', 'ext3', 'ext4']);

async function withReadOnlyLoop<T>(request: MinimumRequest, use: (device: string) => Promise<T>): Promise<T> {
  const attach = await runProgram(PROGRAMS.losetup, ['--find', '--show', '--read-only', '--offset', String(request.offset), '--sizelimit', String(request.sizeBytes), request.path]);
  const device = attach.stdout.trim();
  if (!succeeded(attach) || !device.startsWith('/dev/')) {
    throw new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `No read-only loop device over ${request.path} at byte ${request.offset} to measure its filesystem: ${describeExit(attach)}`, path: request.path, exitCode: attach.exitCode, signal: attach.signal });
  }
  try {
    return await use(device);
  } finally {
    await runProgram(PROGRAMS.losetup, ['-d', device]);
  }
}

/** resize2fs -P: "Estimated minimum size of the filesystem: N" in filesystem blocks. */
async function extMinimum(request: MinimumRequest, blockSize: number): Promise<MinimumSize> {
  return withReadOnlyLoop(request, async (device) => {
    const result = await runProgram(PROGRAMS.resize2fs, ['-P', device]);
    const blocks = /Estimated minimum size of the filesystem: (\d+)/.exec(result.stdout)?.[1];
    if (!succeeded(result) || blocks === undefined) return { bytes: undefined, how: `resize2fs -P gave no estimate: ${describeExit(result)}` };
    return { bytes: Math.min(Number(blocks) * blockSize, request.sizeBytes), how: 'resize2fs -P' };
  });
}

/** ntfsresize --info (it only reads): "You might resize at N bytes"; a volume it cannot shrink keeps its size. */
async function ntfsMinimum(request: MinimumRequest): Promise<MinimumSize> {
  return withReadOnlyLoop(request, async (device) => {
    const result = await runProgram(PROGRAMS.ntfsresize, ['--info', '--no-action', '--no-progress-bar', device]);
    const bytes = /You might resize at (\d+) bytes/.exec(result.stdout)?.[1];
    if (bytes !== undefined) return { bytes: Math.min(Number(bytes), request.sizeBytes), how: 'ntfsresize --info' };
    const said = result.all.split('\n').map((line) => line.trim()).filter((line) => line && !/^ntfsresize v|^Device name|^NTFS volume version|^Cluster size|^Current (volume|device) size|^Checking|^Accounting|^Collecting/.test(line)).slice(0, 2).join(' ');
    return { bytes: undefined, how: `ntfsresize --info gave no size: ${said || describeExit(result)}` };
  });
}

/** The minimum size of the filesystem of one partition. */
export async function measureMinimumSize(request: MinimumRequest): Promise<MinimumSize> {
  const probe = request.probe;
  if (!probe) return { bytes: undefined, how: 'no known filesystem' };
  if (EXT.has(probe.type)) return extMinimum(request, probe.blockSize ?? 1024);
  if (probe.type === 'ntfs') return ntfsMinimum(request);
  if (probe.type === 'vfat') {
    const fat = await fatMinimumBytes(request.source);
    return fat ? { bytes: fat.bytes, how: `FAT metadata and ${fat.usedClusters} used clusters` } : { bytes: undefined, how: 'the FAT could not be read' };
  }
  if (probe.type === 'exfat') {
    const bytes = exfatMinimumBytes(probe);
    return { bytes, how: bytes === undefined ? 'exFAT without a readable allocation bitmap' : 'exFAT used clusters, a new FAT and boot region (copied file by file)' };
  }
  if (probe.type === 'xfs') return { bytes: probe.sizeBytes ?? request.sizeBytes, how: 'XFS cannot shrink' };
  return { bytes: undefined, how: `${probe.type} is never shrunk` };
}
