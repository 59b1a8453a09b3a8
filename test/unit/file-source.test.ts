// openByteSource over a regular file and over a block device (a loop device): same size, same bytes.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readInto, sliceSource } from '../../rescue/core/byte-source.ts';
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
