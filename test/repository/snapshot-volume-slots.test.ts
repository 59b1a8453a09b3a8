// A volume inside a snapshot read as bytes (ops/snapshot-source.ts, what `ls` and `get` read through):
// its chunks are opened into shared memory kept for the volume's life, a slot going back to the
// pool once its chunk has left the cache and no read still copies from it. With 64 KiB chunks the
// cache (32 chunks) is 2 MiB, so reading a 40 MiB partition in many overlapping reads at once
// recycles every slot many times over: each read must still return the source's bytes, from a plain
// and from an encrypted repository (sealed chunks are opened through the kept slots too).

import test from 'ava';
import { randomInt } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ProgressReporter } from '../../rescue/core/progress.ts';
import { openBackupSource } from '../../rescue/io/device-endpoints.ts';
import { initRepository, openRepository } from '../../rescue/io/repository/folder-repository.ts';
import { backup } from '../../rescue/ops/backup.ts';
import { openSnapshotVolume } from '../../rescue/ops/snapshot-source.ts';
import { makeExt4Disk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

const quiet: ProgressReporter = { progress: () => undefined, notice: () => undefined };
const CHUNK_BYTES = 64 * 1024;
const PARTITION_START = MiB;

for (const password of [undefined, 'slots-password']) test(`chunks read through kept slots${password ? ' (encrypted repository)' : ''}: overlapping reads at once return the source bytes, and the memory is the cache's`, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-volume-slots-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const diskBytes = 41 * MiB;
  const disk = await makeExt4Disk(dir, 'source.img', diskBytes, 'SLOTS', sampleFiles(30 * MiB));
  const repo = path.join(dir, 'repo');
  await initRepository(repo, { chunkBytes: CHUNK_BYTES, ...(password ? { password } : {}) });
  const repository = await openRepository(repo, async () => password);
  t.teardown(() => repository.close());
  await repository.acquireLock(true, 'test');
  const { source, facts } = await openBackupSource(`${disk}:1`, 'partition');
  let saved;
  try {
    saved = await backup({ kind: 'partition', source, facts, tags: [], note: '', sectorBySector: false, compressionLevel: 1, verify: false, host: 'test', lifeboatVersion: 'test' }, repository, quiet);
  } finally {
    await source.close();
  }
  const manifest = (await repository.loadSnapshot(saved.id)).manifest;
  const content = manifest.volumes[0]!.content;

  // Which memory the chunks are opened into: every slot the volume hands the repository.
  const slots = new Set<ArrayBufferLike>();
  let intoCalls = 0;
  let plainCalls = 0;
  const reader = Object.create(repository) as typeof repository;
  reader.readBlobInto = async (id, into, options) => {
    intoCalls++;
    slots.add(into.buffer);
    return repository.readBlobInto(id, into, options);
  };
  reader.readBlob = async (id) => {
    plainCalls++;
    return repository.readBlob(id);
  };
  const volume = await openSnapshotVolume(reader, content, CHUNK_BYTES);
  plainCalls = 0; // the chunk lists are read once, with readBlob

  const handle = await open(disk, 'r');
  t.teardown(() => handle.close());
  const size = volume.size;
  const expected = async (offset: number, length: number) => {
    const bytes = Buffer.alloc(length);
    await handle.read(bytes, 0, length, PARTITION_START + offset);
    return bytes;
  };
  // Rounds of 24 reads at once, from 1 byte to 3 MiB (more than the cache), at random offsets,
  // crossing chunk boundaries; then the whole volume front to back in 1 MiB pieces.
  let mismatches = 0;
  for (let round = 0; round < 8; round++) {
    const reads = Array.from({ length: 24 }, () => {
      const length = randomInt(1, 3 * MiB);
      const offset = randomInt(0, size - length);
      return { offset, length, bytes: volume.read(offset, length) };
    });
    for (const read of reads) if (!Buffer.from(await read.bytes).equals(await expected(read.offset, read.length))) mismatches++;
  }
  const piece = new Uint8Array(MiB);
  for (let offset = 0; offset < size; offset += MiB) {
    const view = piece.subarray(0, Math.min(MiB, size - offset));
    await volume.readInto!(view, offset);
    if (!Buffer.from(view).equals(await expected(offset, view.length))) mismatches++;
  }
  t.is(mismatches, 0, 'every read returned the source partition\'s bytes');
  t.is(plainCalls, 0, 'no chunk was read into fresh memory');
  t.true(intoCalls > 2 * (size / CHUNK_BYTES), `chunks were opened again and again (${intoCalls} opens of ${size / CHUNK_BYTES} chunks)`);
  // The cache's 32 slots, and those held by reads under way when their chunk was evicted.
  t.true(slots.size < intoCalls / 4, `slots are reused: ${slots.size} slots for ${intoCalls} opens`);
  t.deepEqual([...slots].filter((buffer) => !(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== CHUNK_BYTES + 1), [], 'each slot is shared memory of a chunk and one byte');
});
