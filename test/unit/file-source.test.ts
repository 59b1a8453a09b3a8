// openByteSource over a regular file and over a block device (a loop device): same size, same bytes;
// bulk reads of a disk go around the page cache, of an image file through it.

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { allocateReadBuffer, readInto, sliceSource } from '../../rescue/core/byte-source.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { withLoop } from '../helpers/filesystem-images.ts';

test('a file and the loop device over it read the same bytes at any offset and length', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-source-'));
  try {
    const content = randomBytes(3 * 1024 * 1024 + 512);
    const file = path.join(dir, 'data.img');
    await writeFile(file, content);
    await withLoop(file, async (device) => {
      for (const name of [file, device]) {
        const source = await openByteSource(name);
        try {
          t.is(source.size, content.length, name);
          t.is(source.isBlockDevice, name === device);
          for (const [offset, length] of [[0, 512], [65530, 20], [100, 2 * 1024 * 1024], [content.length - 1, 1], [1234567, 70000], [5, 0]] as const) {
            t.deepEqual(Buffer.from(await source.read(offset, length)), content.subarray(offset, offset + length), `${name} ${offset}+${length}`);
          }
          const error = await t.throwsAsync(source.read(content.length - 10, 11), { instanceOf: LifeboatError });
          t.is(error?.code, 'LB_INPUT_READ_OUT_OF_RANGE');
          // readInto (what a backup reads chunks with): straight into shared memory, also through a slice.
          const slice = sliceSource(source, 4096, content.length - 4096);
          for (const [offset, length] of [[0, 512], [65530, 20], [100, 2 * 1024 * 1024], [content.length - 4097, 1]] as const) {
            const target = new Uint8Array(new SharedArrayBuffer(length + 8)).subarray(4, 4 + length);
            await readInto(slice, target, offset);
            t.deepEqual(Buffer.from(target), content.subarray(4096 + offset, 4096 + offset + length), `${name} readInto ${offset}+${length}`);
          }
          const past = await t.throwsAsync(readInto(slice, new Uint8Array(11), content.length - 4096 - 10), { instanceOf: LifeboatError });
          t.is(past?.code, 'LB_INPUT_READ_OUT_OF_RANGE');
        } finally {
          await source.close();
        }
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Bytes of `file` in the page cache (fincore). */
async function cachedBytes(file: string): Promise<number> {
  const { stdout } = await execa('fincore', ['--bytes', '--noheadings', '--output', 'RES', file]);
  return Number(stdout.trim());
}

/** Drops `file` from the page cache (after writing it back). */
async function evict(file: string): Promise<void> {
  await execa('sync', [file]);
  await execa('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/** Sectors read from a block device so far (the third field of /sys/block/NAME/stat). */
async function sectorsRead(device: string): Promise<number> {
  const stat = await readFile(`/sys/block/${path.basename(device)}/stat`, 'utf8');
  return Number(stat.trim().split(/\s+/)[2]);
}

test('a block device: reads into buffers from allocateReadBuffer go around the page cache, at aligned places only', async (t) => {
  const dir = await mkdtemp(path.join('/var/tmp', 'lifeboat-direct-'));
  try {
    const content = randomBytes(8 * 1024 * 1024);
    const file = path.join(dir, 'data.img');
    await writeFile(file, content);
    await withLoop(file, async (device) => {
      const source = await openByteSource(device);
      try {
        const slice = sliceSource(source, 1024 * 1024, 6 * 1024 * 1024);
        const buffer = await allocateReadBuffer(slice, 2 * 1024 * 1024);
        t.true(buffer.buffer instanceof SharedArrayBuffer, 'chunk workers read the buffer in place');
        // Aligned (whole 4 KiB blocks at 4 KiB offsets, into the buffer at a 4 KiB offset), read twice:
        // the second read reaches the device again, as nothing was kept in the page cache.
        const aligned = buffer.subarray(8192, 8192 + 1024 * 1024);
        await readInto(slice, aligned, 2 * 1024 * 1024);
        const before = await sectorsRead(device);
        await readInto(slice, aligned, 2 * 1024 * 1024);
        t.deepEqual(Buffer.from(aligned), content.subarray(3 * 1024 * 1024, 4 * 1024 * 1024));
        t.true((await sectorsRead(device)) - before >= 2048, 'an aligned bulk read of a disk was served from the page cache');
        // Not aligned (offset, length or place in the buffer): buffered, and the bytes are the same.
        for (const [at, offset, length] of [[0, 512, 65536], [100, 4096, 8192], [4096, 4096, 5000]] as const) {
          const target = buffer.subarray(at, at + length);
          await readInto(slice, target, offset);
          t.deepEqual(Buffer.from(target), content.subarray(1024 * 1024 + offset, 1024 * 1024 + offset + length), `${at} ${offset}+${length}`);
        }
        // A plain buffer is read buffered: read twice, the second time from the page cache (so the
        // check above can fail).
        const plain = new Uint8Array(1024 * 1024);
        await readInto(slice, plain, 4 * 1024 * 1024);
        const cachedBefore = await sectorsRead(device);
        await readInto(slice, plain, 4 * 1024 * 1024);
        t.deepEqual(Buffer.from(plain), content.subarray(5 * 1024 * 1024, 6 * 1024 * 1024));
        t.is((await sectorsRead(device)) - cachedBefore, 0, 'a buffered read of a cached range reached the device');
      } finally {
        await source.close();
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an image file is read through the page cache, also into buffers from allocateReadBuffer', async (t) => {
  // Under /var/tmp (a disk): on tmpfs every read is cached anyway.
  const dir = await mkdtemp(path.join('/var/tmp', 'lifeboat-cached-'));
  try {
    const content = randomBytes(8 * 1024 * 1024);
    const file = path.join(dir, 'data.img');
    await writeFile(file, content);
    await evict(file);
    t.true((await cachedBytes(file)) < 1024 * 1024, 'the test could not drop the file from the page cache');
    const source = await openByteSource(file);
    try {
      const slice = sliceSource(source, 1024 * 1024, 6 * 1024 * 1024);
      const buffer = await allocateReadBuffer(slice, 2 * 1024 * 1024);
      t.true(buffer.buffer instanceof SharedArrayBuffer, 'chunk workers read the buffer in place');
      const before = await cachedBytes(file);
      await readInto(slice, buffer.subarray(8192, 8192 + 1024 * 1024), 2 * 1024 * 1024);
      t.deepEqual(Buffer.from(buffer.subarray(8192, 8192 + 1024 * 1024)), content.subarray(3 * 1024 * 1024, 4 * 1024 * 1024));
      t.true((await cachedBytes(file)) - before >= 1024 * 1024, 'a bulk read of an image file went around the page cache');
    } finally {
      await source.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
