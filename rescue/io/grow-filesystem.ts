// Grows a restored filesystem to fill its enlarged partition with the filesystem's own tool
// (resize2fs, ntfsresize, fatresize), run on a loop device over the partition's bytes.

import { execa } from 'execa';
import { LifeboatError } from '../core/errors.ts';

/** What to grow: the file or device holding the partition, where it starts, its new size. */
export interface GrowRequest {
  readonly backingPath: string;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly filesystem: string;
}

async function withLoop<T>(request: GrowRequest, use: (device: string) => Promise<T>): Promise<T> {
  const { stdout } = await execa('losetup', ['--find', '--show', '--offset', String(request.offset), '--sizelimit', String(request.sizeBytes), request.backingPath]);
  const device = stdout.trim();
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

async function run(command: string, args: readonly string[], input?: string): Promise<void> {
  const result = await execa(command, [...args], { reject: false, input: input ?? '', all: true });
  if (result.exitCode !== 0) {
    throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `${command} ${args.join(' ')} exited with ${String(result.exitCode)}: ${String(result.all).slice(-600)}`, command });
  }
}

/** Grows the filesystem; returns a notice when its type has no grow tool. */
export async function growFilesystem(request: GrowRequest): Promise<string | undefined> {
  const type = request.filesystem;
  if (['ext2', 'ext3', 'ext4'].includes(type)) {
    await withLoop(request, async (device) => {
      const check = await execa('e2fsck', ['-f', '-p', device], { reject: false });
      if ((check.exitCode ?? 8) > 2) throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `e2fsck -f -p exited with ${String(check.exitCode)} before growing.` });
      await run('resize2fs', [device]);
    });
    return undefined;
  }
  if (type === 'ntfs') {
    await withLoop(request, (device) => run('ntfsresize', ['--force', '--no-progress-bar', device], 'y\n'));
    return undefined;
  }
  if (type === 'vfat') {
    await withLoop(request, (device) => run('fatresize', ['--size', 'max', device]));
    return undefined;
  }
  return `The ${type} filesystem has no grow tool here; the partition was enlarged but the filesystem keeps its size.`;
}
