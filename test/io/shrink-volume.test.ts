// shrinkVolumeOnto (ops/shrink-volume.ts) with the real shrink view (io/shrink-view.ts): an ext4
// made by mkfs.ext4 and an NTFS made by mkntfs and filled through ntfs-3g, each with data past the
// new end, shrunk to just above resize2fs -P / ntfsresize --info's minimum and written at 1 MiB into
// a smaller image: the source's sha256 is unchanged, the copy passes e2fsck -fn / ntfsfix -n and its
// file tree equals the source's. Too little room is refused before anything runs, the target untouched.

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readUsedBlockMap } from '../../rescue/core/block-maps/read-used-block-map.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { probeFilesystem } from '../../rescue/core/filesystems/probe-filesystem.ts';
import type { ProgressReporter } from '../../rescue/core/progress.ts';
import { openBackupSource } from '../../rescue/io/device-endpoints.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { initRepository, openRepository } from '../../rescue/io/repository/folder-repository.ts';
import { shrinkOnView } from '../../rescue/io/shrink-view.ts';
import { backup } from '../../rescue/ops/backup.ts';
import { shrinkVolumeOnto } from '../../rescue/ops/shrink-volume.ts';
import { openSnapshotVolume } from '../../rescue/ops/snapshot-source.ts';
import { fileTarget } from '../helpers/filesystem-images.ts';
import { diffListings, fsckVolume, makeFilesystemImage, readTree, type FilesystemKind } from '../helpers/disk-fixtures.ts';

const MiB = 1024 * 1024;
const START = MiB;

async function scratch(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-shrink-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * resize2fs gives each directory whose entries name a moved inode a new mtime, and a file can gain
 * an extent block: those two fields may differ; names, types, sizes, contents, owners, modes, links
 * and file times must not.
 */
const normalise = (listing: ReadonlyMap<string, string>) => new Map([...listing].filter(([key]) => key !== '<free space>')
  .map(([key, line]) => [key, line.replace(/ blocks=\d+/, '').replace(/^(dir .*) mtime=\d+/, '$1')] as const));

const quiet: ProgressReporter = { progress: () => undefined, notice: () => undefined };

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** The tool's minimum in bytes: resize2fs -P (4 KiB blocks) or ntfsresize --info. */
async function minimumBytes(kind: FilesystemKind, file: string): Promise<number> {
  if (kind === 'ext4') {
    const { stdout } = await execa('resize2fs', ['-P', file]);
    return Number(/minimum size of the filesystem: (\d+)/.exec(stdout)![1]) * 4096;
  }
  const { stdout } = await execa('ntfsresize', ['--info', '--force', '--no-progress-bar', file]);
  return Number(/You might resize at (\d+) bytes/.exec(stdout)![1]);
}


for (const kind of ['ext4', 'ntfs'] as const) {
  test(`${kind}: shrunk on the view to just above its minimum, written into a smaller image; the source unchanged`, async (t) => {
    const dir = await scratch(t);
    const sourceFile = path.join(dir, 'source.img');
    const sourceVolume = await makeFilesystemImage(kind, sourceFile, { sizeMiB: 160, seed: 16, bulkMiB: 48 });
    const before = await sha256(sourceFile);
    const minimum = await minimumBytes(kind, sourceFile);
    const newSize = Math.ceil((minimum + 4 * MiB) / MiB) * MiB;
    t.true(newSize < sourceVolume.sizeBytes, `${newSize} below ${sourceVolume.sizeBytes}`);
    const source = await openByteSource(sourceFile);
    t.teardown(() => source.close());
    // The test means something only when data lies past the new end.
    let pastEnd = 0;
    for await (const extent of (await readUsedBlockMap(source, await probeFilesystem(source))).extents()) {
      if (extent.offset + extent.length > newSize) pastEnd += extent.offset + extent.length - Math.max(extent.offset, newSize);
    }
    t.true(pastEnd > 4 * MiB, `${pastEnd} bytes used past the new end`);
    const targetFile = path.join(dir, 'target.img');
    await writeFile(targetFile, '');
    await truncate(targetFile, START + newSize + MiB);
    const target = await fileTarget(targetFile);
    t.teardown(() => target.close());
    const result = await shrinkVolumeOnto({ source, filesystem: kind, newSize, target, targetOffset: START, room: { memoryBytes: 256 * MiB }, shrinkOnView });
    t.log(`${kind}: ${sourceVolume.sizeBytes / MiB} MiB -> ${newSize / MiB} MiB (minimum ${minimum}), ${pastEnd} bytes past the end; overlay ${result.overlay.blocks} blocks (${result.overlay.memoryBytes} B), estimate ${result.estimate.overlayBytes}, written ${result.writtenBytes}`);
    t.true(result.overlay.memoryBytes <= result.estimate.overlayBytes, 'the estimate covers what the overlay took');
    t.is(await sha256(sourceFile), before, 'the source is byte-identical');
    await target.close();
    const copy = { kind, file: targetFile, offset: START, sizeBytes: newSize };
    const fsck = await fsckVolume(copy);
    t.true(fsck.clean, fsck.output);
    t.deepEqual(diffListings(normalise(await readTree(sourceVolume)), normalise(await readTree(copy))), []);
  });
}

test('restore: a snapshot\'s ext4 volume (read from the repository) shrunk onto a smaller image', async (t) => {
  const dir = await scratch(t);
  const sourceFile = path.join(dir, 'source.img');
  const sourceVolume = await makeFilesystemImage('ext4', sourceFile, { sizeMiB: 128, seed: 21, bulkMiB: 40 });
  const repo = path.join(dir, 'repo');
  await initRepository(repo, {});
  const repository = await openRepository(repo, async () => undefined);
  t.teardown(() => repository.close());
  await repository.acquireLock(true, 'test');
  const { source: backupSource, facts } = await openBackupSource(sourceFile, 'partition');
  let saved;
  try {
    saved = await backup({ kind: 'partition', source: backupSource, facts, tags: [], note: '', sectorBySector: false, compressionLevel: 1, verify: false, host: 'test', lifeboatVersion: 'test' }, repository, quiet);
  } finally {
    await backupSource.close();
  }
  const manifest = (await repository.loadSnapshot(saved.id)).manifest;
  const volume = await openSnapshotVolume(repository, manifest.volumes[0]!.content, manifest.chunkBytes);
  const newSize = Math.ceil((await minimumBytes('ext4', sourceFile) + 4 * MiB) / MiB) * MiB;
  const targetFile = path.join(dir, 'target.img');
  await writeFile(targetFile, '');
  await truncate(targetFile, newSize);
  const target = await fileTarget(targetFile);
  t.teardown(() => target.close());
  const result = await shrinkVolumeOnto({ source: volume, filesystem: 'ext4', newSize, target, room: { memoryBytes: 4 * MiB, scratchFolder: dir, scratchBytes: 512 * MiB }, shrinkOnView });
  t.log(`snapshot ext4 128 MiB -> ${newSize / MiB} MiB: overlay ${result.overlay.memoryBytes} B in memory, ${result.overlay.scratchBytes} B in the scratch file; written ${result.writtenBytes}`);
  t.true(result.overlay.scratchBytes > 0, 'past 4 MiB the overlay spilled to the scratch folder');
  await target.close();
  const copy = { kind: 'ext4' as const, file: targetFile, offset: 0, sizeBytes: newSize };
  const fsck = await fsckVolume(copy);
  t.true(fsck.clean, fsck.output);
  t.deepEqual(diffListings(normalise(await readTree(sourceVolume)), normalise(await readTree(copy))), []);
});

test('too little room is refused with the figures before anything runs; the target is untouched', async (t) => {
  const dir = await scratch(t);
  const sourceFile = path.join(dir, 'source.img');
  await makeFilesystemImage('ext4', sourceFile, { sizeMiB: 96, seed: 3, bulkMiB: 40 });
  const source = await openByteSource(sourceFile);
  t.teardown(() => source.close());
  const targetFile = path.join(dir, 'target.img');
  await writeFile(targetFile, Buffer.alloc(64 * MiB, 0x5a));
  const before = await sha256(targetFile);
  const target = await fileTarget(targetFile);
  t.teardown(() => target.close());
  let viewed = false;
  const refused = await t.throwsAsync(shrinkVolumeOnto({
    source, filesystem: 'ext4', newSize: 60 * MiB, target, room: { memoryBytes: 8 * MiB, scratchFolder: dir, scratchBytes: 16 * MiB },
    shrinkOnView: async (request) => {
      viewed = true;
      return shrinkOnView(request);
    },
  }), { instanceOf: LifeboatError });
  t.is(refused?.code, 'LB_DEVICE_SCRATCH_TOO_SMALL');
  t.true(Number(refused?.details.neededBytes) > 24 * MiB);
  t.is(refused?.details.memoryBytes, 8 * MiB);
  t.is(refused?.details.scratchBytes, 16 * MiB);
  t.false(viewed, 'no view was made');
  t.is(await sha256(targetFile), before);
});
