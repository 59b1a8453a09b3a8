// FAT and exFAT shrink by being made again (io/rebuild-filesystem.ts through shrinkVolumeOnto and
// the real shrink view): a FAT32 (mkfs.fat, 512-byte clusters, filled with mtools: long names,
// hidden and system attributes, times) and an exFAT (mkfs.exfat, filled through exfat-fuse) with
// data past the new end are landed at 1 MiB in a smaller image, sized just above the planner's
// minimum (core/layout/filesystem-minimum.ts). The copy must pass its checker, list the same tree
// (names, sizes, contents, times, FAT attributes), keep the label and serial number, and the
// source's sha256 must not change. Memory cannot hold a copy: without scratch room it is refused.

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readUsedBlockMap } from '../../rescue/core/block-maps/read-used-block-map.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { probeFilesystem } from '../../rescue/core/filesystems/probe-filesystem.ts';
import { exfatMinimumBytes, fatMinimumBytes } from '../../rescue/core/layout/filesystem-minimum.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { shrinkOnView } from '../../rescue/io/shrink-view.ts';
import { shrinkVolumeOnto } from '../../rescue/ops/shrink-volume.ts';
import { fileTarget } from '../helpers/filesystem-images.ts';
import { diffListings, fsckVolume, makeFilesystemImage, readTree, seededBytes, withMountedVolume, type Volume } from '../helpers/disk-fixtures.ts';

const MiB = 1024 * 1024;
const START = MiB;

async function scratch(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-rebuild-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');


/** The volume's blkid fields that must survive: type, label, serial. */
async function identity(file: string, offset: number): Promise<string> {
  const { stdout } = await execa('blkid', ['-p', '-o', 'export', '-O', String(offset), file], { reject: false });
  return stdout.split('\n').filter((line) => /^(TYPE|LABEL|UUID|VERSION)=/.test(line)).sort().join(' ');
}

/** Puts a file far from the start: a filler, then the file, then the filler removed (mtools for FAT, exfat-fuse for exFAT). */
async function dataPastTheEnd(volume: Volume, dir: string): Promise<void> {
  const filler = path.join(dir, 'filler.bin');
  const late = path.join(dir, 'Late file.bin');
  await writeFile(filler, Buffer.alloc(48 * MiB, 1));
  await writeFile(late, seededBytes(77, 6 * MiB));
  if (volume.kind === 'fat32') {
    await execa('mcopy', ['-i', volume.file, filler, '::/filler.bin']);
    await execa('mcopy', ['-m', '-i', volume.file, late, '::/Late file.bin']);
    await execa('mattrib', ['-i', volume.file, '+h', '+s', '::/Late file.bin']);
    await execa('mdel', ['-i', volume.file, '::/filler.bin']);
  } else {
    await withMountedVolume(volume, 'rw', async (root) => {
      await execa('cp', [filler, path.join(root, 'filler.bin')]);
      await execa('cp', ['-p', late, path.join(root, 'Late file.bin')]);
      await rm(path.join(root, 'filler.bin'));
    });
  }
  await rm(filler);
  await rm(late);
}

for (const kind of ['fat32', 'exfat'] as const) {
  test(`${kind}: made again just above its minimum in a smaller image, with the same tree, label and serial; the source unchanged`, async (t) => {
    const dir = await scratch(t);
    const sourceFile = path.join(dir, 'source.img');
    const sourceVolume = await makeFilesystemImage(kind, sourceFile, { sizeMiB: 128, seed: 31, bulkMiB: 12 });
    await dataPastTheEnd(sourceVolume, dir);
    const before = await sha256(sourceFile);
    const source = await openByteSource(sourceFile);
    t.teardown(() => source.close());
    const probe = (await probeFilesystem(source))!;
    const minimum = kind === 'fat32' ? (await fatMinimumBytes(source))!.bytes : exfatMinimumBytes(probe)!;
    const newSize = Math.ceil((minimum + 2 * MiB) / MiB) * MiB;
    t.true(newSize < sourceVolume.sizeBytes, `${newSize} below ${sourceVolume.sizeBytes}`);
    // The test means something only when data lies past the new end.
    let pastEnd = 0;
    for await (const extent of (await readUsedBlockMap(source, probe)).extents()) {
      if (extent.offset + extent.length > newSize) pastEnd += extent.offset + extent.length - Math.max(extent.offset, newSize);
    }
    t.true(pastEnd > MiB, `${pastEnd} bytes used past the new end`);
    const targetFile = path.join(dir, 'target.img');
    await writeFile(targetFile, '');
    await truncate(targetFile, START + newSize + MiB);
    const target = await fileTarget(targetFile);
    t.teardown(() => target.close());
    const filesystem = probe.type;
    const result = await shrinkVolumeOnto({ source, filesystem, newSize, target, targetOffset: START, room: { memoryBytes: 0, scratchFolder: dir, scratchBytes: 512 * MiB }, shrinkOnView });
    t.log(`${kind}: ${sourceVolume.sizeBytes / MiB} MiB -> ${newSize / MiB} MiB (minimum ${minimum}), ${pastEnd} bytes past the end; scratch ${result.overlay.scratchBytes} B, estimate ${result.estimate.overlayBytes}, written ${result.writtenBytes}`);
    t.true(result.estimate.scratchOnly);
    t.true(result.overlay.scratchBytes <= result.estimate.overlayBytes, 'the estimate covers the scratch file');
    t.is(await sha256(sourceFile), before, 'the source is byte-identical');
    await target.close();
    const copy = { kind, file: targetFile, offset: START, sizeBytes: newSize };
    const fsck = await fsckVolume(copy);
    t.true(fsck.clean, fsck.output);
    t.is(await identity(targetFile, START), await identity(sourceFile, 0));
    t.regex(await identity(targetFile, START), /UUID=/);
    const withoutFree = (listing: ReadonlyMap<string, string>) => new Map([...listing].filter(([key]) => key !== '<free space>'));
    t.deepEqual(diffListings(withoutFree(await readTree(sourceVolume)), withoutFree(await readTree(copy))), []);
  });
}

test('a FAT copy needs scratch room, not memory: refused with the figures before anything runs, the target untouched', async (t) => {
  const dir = await scratch(t);
  const sourceFile = path.join(dir, 'source.img');
  await makeFilesystemImage('fat32', sourceFile, { sizeMiB: 64, seed: 32, bulkMiB: 8 });
  const source = await openByteSource(sourceFile);
  t.teardown(() => source.close());
  const targetFile = path.join(dir, 'target.img');
  await writeFile(targetFile, Buffer.alloc(48 * MiB, 0xa5));
  const before = await sha256(targetFile);
  const target = await fileTarget(targetFile);
  t.teardown(() => target.close());
  let ran = false;
  const error = await t.throwsAsync(shrinkVolumeOnto({
    source, filesystem: 'vfat', newSize: 40 * MiB, target, room: { memoryBytes: 1024 * MiB, scratchFolder: dir, scratchBytes: MiB },
    shrinkOnView: async (request) => { ran = true; return shrinkOnView(request); },
  }), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_DEVICE_SCRATCH_TOO_SMALL');
  t.regex(error?.message ?? '', /makes it again in a scratch file/);
  t.false(ran, 'nothing ran');
  await target.close();
  t.is(await sha256(targetFile), before);
});
