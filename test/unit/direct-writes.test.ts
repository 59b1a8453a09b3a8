// Direct writes onto a block device (io/direct-writes.ts, with io/aligned-memory.ts): memory from
// allocate, whole 4 KiB blocks at 4 KiB offsets, reaches the device at once (its sectors-written
// count moves before any sync); anything else is refused (write returns false) so the caller writes
// it through the cache. Memory a source device accepted for its direct reads is written straight
// onto another device too (a clone's copy). Judged on a loop device's /sys/block/NAME/stat. Needs
// root (losetup).

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { allocateReadBuffer, readInto } from '../../rescue/core/byte-source.ts';
import { directWrites } from '../../rescue/io/direct-writes.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { withLoop } from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;

/** Sectors written to a block device so far (the seventh field of /sys/block/NAME/stat). */
async function sectorsWritten(device: string): Promise<number> {
  const stat = await readFile(`/sys/block/${path.basename(device)}/stat`, 'utf8');
  return Number(stat.trim().split(/\s+/)[6]);
}

test('aligned whole blocks from allocate go straight to the device; unaligned memory, offsets and lengths are refused', async (t) => {
  if (process.getuid?.() !== 0) t.fail('needs root: it attaches a loop device');
  const dir = await mkdtemp(path.join('/var/tmp', 'lifeboat-direct-writes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'disk.img');
  const handle = await open(file, 'w');
  await handle.truncate(8 * MiB);
  await handle.close();
  const content = randomBytes(MiB);
  await withLoop(file, async (device) => {
    const writes = directWrites(device);
    try {
      const buffer = await writes.allocate(2 * MiB);
      t.true(buffer.buffer instanceof SharedArrayBuffer, 'chunk workers decode into it in place');
      const aligned = buffer.subarray(8192, 8192 + MiB);
      aligned.set(content);
      const before = await sectorsWritten(device);
      t.true(await writes.write(aligned, 2 * MiB), 'an aligned whole-block write goes around the cache');
      t.true((await sectorsWritten(device)) - before >= 2048, 'the device saw the megabyte before any sync');
      for (const [label, bytes, position] of [
        ['memory off a block boundary', buffer.subarray(100, 100 + 8192), 0],
        ['a position off a block', buffer.subarray(0, 8192), 512],
        ['a length of part of a block', buffer.subarray(0, 5000), 0],
        ['memory not from allocate', new Uint8Array(8192), 0],
        ['nothing', buffer.subarray(0, 0), 0],
      ] as const) {
        t.false(await writes.write(bytes, position), label);
      }
    } finally {
      await writes.close();
    }
  });
  const onDisk = await readFile(file);
  t.deepEqual(onDisk.subarray(2 * MiB, 3 * MiB), content, 'the bytes are on the disk');
  t.true(onDisk.subarray(0, 2 * MiB).every((byte) => byte === 0), 'the refused writes wrote nothing');
});

test('memory a source device accepted for its direct reads goes straight onto another device too (a clone\'s copy)', async (t) => {
  if (process.getuid?.() !== 0) t.fail('needs root: it attaches loop devices');
  const dir = await mkdtemp(path.join('/var/tmp', 'lifeboat-direct-writes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [sourceFile, targetFile] = [path.join(dir, 'source.img'), path.join(dir, 'target.img')];
  const content = randomBytes(MiB);
  const handle = await open(sourceFile, 'w');
  await handle.truncate(4 * MiB);
  await handle.write(content, 0, MiB, MiB);
  await handle.close();
  const target = await open(targetFile, 'w');
  await target.truncate(4 * MiB);
  await target.close();
  await withLoop(sourceFile, (sourceDevice) => withLoop(targetFile, async (targetDevice) => {
    const source = await openByteSource(sourceDevice);
    const writes = directWrites(targetDevice);
    try {
      const buffer = await allocateReadBuffer(source, MiB);
      await readInto(source, buffer, MiB);
      t.deepEqual(Buffer.from(buffer), content, 'read from the source');
      const before = await sectorsWritten(targetDevice);
      t.true(await writes.write(buffer, 2 * MiB), 'the source\'s buffer goes around the target\'s cache');
      t.true((await sectorsWritten(targetDevice)) - before >= 2048, 'the target saw the megabyte before any sync');
    } finally {
      await writes.close();
      await source.close();
    }
  }));
  t.deepEqual((await readFile(targetFile)).subarray(2 * MiB, 3 * MiB), content, 'the bytes are on the target');
});
