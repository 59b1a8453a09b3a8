// The minimum size of a filesystem that is not a file or device of its own (a snapshot's volume in
// a repository): the volume is served over NBD from a copy-on-write overlay (so nothing reaches the
// source) and shown as a file by qemu-storage-daemon, where resize2fs -P or ntfsresize --info
// measure it as on an image (io/filesystem-minimum.ts); FAT and exFAT are read in place. The
// daemon, mount and folder are gone when this returns or fails.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ByteSource } from '../core/byte-source.ts';
import { minimumProgramsFor, PROGRAMS } from '../core/external-programs.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { openCopyOnWriteOverlay } from './copy-on-write-overlay.ts';
import { measureMinimumSize, type MinimumSize } from './filesystem-minimum.ts';
import { mountVolumeFile } from './fuse-volume-file.ts';
import { startNbdServer } from './nbd-server.ts';
import { checkPrograms } from './run-program.ts';

/** Memory the overlay may take for what the measuring tools write (they only read: a margin). */
const MEASURE_OVERLAY_BYTES = 16 * 1024 * 1024;

/** Measures the minimum size of `source`'s filesystem through a FUSE view of it; the source is only read. */
export async function measureMinimumOnView(request: { readonly source: ByteSource; readonly filesystem: string; readonly signal?: AbortSignal }): Promise<MinimumSize> {
  const probe = await probeFilesystem(request.source);
  // FAT and exFAT are measured from their own structures: no tool, no view.
  if (minimumProgramsFor(request.filesystem).length === 0) return measureMinimumSize({ path: '(bytes)', offset: 0, sizeBytes: request.source.size, probe, source: request.source });
  await checkPrograms([PROGRAMS.qemuStorageDaemon, ...minimumProgramsFor(request.filesystem)]);
  const folder = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-measure-'));
  const overlay = openCopyOnWriteOverlay(request.source, { memoryBytes: MEASURE_OVERLAY_BYTES });
  try {
    const socketPath = path.join(folder, 'nbd.sock');
    const server = await startNbdServer({ socketPath, exportName: 'lifeboat-measure', volume: overlay });
    try {
      const file = await mountVolumeFile({ socketPath, exportName: 'lifeboat-measure', mountPath: path.join(folder, 'volume'), ...(request.signal ? { signal: request.signal } : {}) });
      try {
        return await measureMinimumSize({ path: file.path, offset: 0, sizeBytes: request.source.size, probe, source: request.source });
      } finally {
        await file.stop();
      }
    } finally {
      await server.close();
    }
  } finally {
    await overlay.close();
    await rm(folder, { recursive: true, force: true });
  }
}
