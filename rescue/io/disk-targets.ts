// Turns what the user named (a block device or an image file) into a disk summary and its
// contents, read through a ByteSource.

import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DiskSummary } from '../core/disk-facts.ts';
import { LifeboatError } from '../core/errors.ts';
import { openFailure } from './device-endpoints.ts';
import { openByteSource, type FileByteSource } from './file-source.ts';
import { listDisks } from './sysfs-disks.ts';

/** The summary of a named device or image file (an image file is a disk of transport "file"). */
export async function describeTarget(target: string): Promise<DiskSummary> {
  const info = await stat(target).catch((error: unknown) => {
    throw openFailure(error, target);
  });
  if (info.isBlockDevice()) {
    const name = path.basename(target);
    const disk = (await listDisks({ includeVirtual: true })).find((entry) => entry.name === name);
    if (disk) return disk;
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target} is not a whole disk (name its disk, or the image file).`, path: target });
  }
  if (!info.isFile()) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${target} is neither a block device nor a file.`, path: target });
  return {
    name: path.basename(target),
    path: path.resolve(target),
    model: 'image file',
    serial: '',
    sizeBytes: info.size,
    transport: 'file',
    removable: false,
    readOnly: (info.mode & 0o222) === 0,
    rotational: false,
    logicalSectorSize: 512,
    physicalSectorSize: 512,
    mountPoints: [],
    partitions: [],
    holdsMedium: false,
  };
}

/** Opens a disk or image read-only, runs `use`, and closes it; a refused open is LB_DEVICE_UNREADABLE. */
export async function withByteSource<T>(target: string, use: (source: FileByteSource) => Promise<T>): Promise<T> {
  const source = await openByteSource(target).catch((error: unknown) => {
    const errno = (error as { code?: string }).code;
    if (errno && ['EACCES', 'EPERM', 'ENOENT', 'ENXIO', 'EIO', 'ENOMEDIUM', 'EBUSY'].includes(errno)) {
      throw new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `${target}: ${errno}.`, path: target, errno }, { cause: error });
    }
    throw error;
  });
  try {
    return await use(source);
  } finally {
    await source.close();
  }
}
