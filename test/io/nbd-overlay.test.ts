// The NBD server (rescue/io/nbd-server.ts) over a copy-on-write overlay (copy-on-write-overlay.ts),
// against a real client: qemu-storage-daemon connects to the socket and exports the volume as a FUSE
// file (fuse-volume-file.ts); reads and writes at odd offsets through that file must match a model
// kept in memory, the source file must stay byte-identical, the overlay must spill to its scratch
// file past its memory budget and refuse past its whole budget (ENOSPC to the client,
// LB_DEVICE_SCRATCH_TOO_SMALL kept), and the daemon and its mount are gone after stop.

import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openCopyOnWriteOverlay } from '../../rescue/io/copy-on-write-overlay.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { isMountPoint, mountVolumeFile } from '../../rescue/io/fuse-volume-file.ts';
import { startNbdServer } from '../../rescue/io/nbd-server.ts';
import { processAlive } from '../../rescue/io/process-alive.ts';

const SOURCE_BYTES = 8 * 1024 * 1024 + 1536; // not a whole number of overlay blocks

async function scratch(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-nbd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function ddWrite(file: string, offset: number, bytes: Buffer): Promise<void> {
  await execa('dd', [`of=${file}`, 'bs=64K', 'oflag=seek_bytes', `seek=${offset}`, 'conv=notrunc,fsync', 'status=none'], { input: bytes });
}

async function ddRead(file: string, offset: number, length: number): Promise<Buffer> {
  const { stdout } = await execa('dd', [`if=${file}`, 'bs=64K', 'iflag=skip_bytes,count_bytes', `skip=${offset}`, `count=${length}`, 'status=none'], { encoding: 'buffer' });
  return Buffer.from(stdout);
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

test('qemu-storage-daemon reads and writes the overlay at odd offsets; the source stays identical; spill, refusal, stop', async (t) => {
  const dir = await scratch(t);
  const sourcePath = path.join(dir, 'source.img');
  const model = randomBytes(SOURCE_BYTES);
  await writeFile(sourcePath, model);
  const before = await sha256(sourcePath);
  const source = await openByteSource(sourcePath);
  t.teardown(() => source.close());
  // 64 KiB in memory, then at most 256 KiB in the scratch file.
  const overlay = openCopyOnWriteOverlay(source, { memoryBytes: 64 * 1024, scratchFolder: dir, scratchBytes: 256 * 1024 });
  t.teardown(() => overlay.close());
  const socketPath = path.join(dir, 'nbd.sock');
  const server = await startNbdServer({ socketPath, exportName: 'view', volume: overlay });
  t.teardown(() => server.close());
  const view = await mountVolumeFile({ socketPath, exportName: 'view', mountPath: path.join(dir, 'view') });
  t.teardown(() => view.stop());

  // The view file is read and written by dd, another process, as resize2fs would: this process's
  // own file calls would wait in libuv's threads that the NBD server needs for the source's reads.
  t.is((await stat(view.path)).size, SOURCE_BYTES);
  // Writes at odd offsets and lengths, across block edges, one into the last partial block.
  const writes: Array<[number, number]> = [[1, 3], [4095, 2], [10_000, 70_001], [65_537, 12_345], [SOURCE_BYTES - 700, 700], [3 * 1024 * 1024 + 17, 100_003]];
  for (const [offset, length] of writes) {
    const bytes = randomBytes(length);
    await ddWrite(view.path, offset, bytes);
    bytes.copy(model, offset);
  }
  const reads: Array<[number, number]> = [[0, 5000], [4093, 9], [9_999, 80_000], [SOURCE_BYTES - 1000, 1000], [3 * 1024 * 1024, 200_000], [7 * 1024 * 1024 + 3, 65_536]];
  for (const [offset, length] of reads) {
    t.true((await ddRead(view.path, offset, length)).equals(model.subarray(offset, offset + length)), `read ${offset}+${length}`);
  }
  // Lifeboat reads the same through the overlay directly.
  t.true(Buffer.from(await overlay.read(0, SOURCE_BYTES)).equals(model), 'the overlay shows every write over the source');
  const usage = overlay.usage();
  t.is(usage.memoryBytes, 64 * 1024);
  t.true(usage.scratchBytes > 0, 'past 64 KiB the blocks went to the scratch file');
  // Past the whole budget the client gets an error (ENOSPC) and the overlay keeps why.
  const refused = await execa('dd', [`of=${view.path}`, 'bs=64K', 'oflag=seek_bytes', `seek=${5 * 1024 * 1024}`, 'conv=notrunc,fsync', 'status=none'], { input: randomBytes(512 * 1024), reject: false });
  t.not(refused.exitCode, 0, 'dd is told the write failed');
  t.is(overlay.refusal?.code, 'LB_DEVICE_SCRATCH_TOO_SMALL');
  t.true(server.failures > 0);
  const pid = view.pid;
  await view.stop();
  t.false(isMountPoint(view.path), 'the FUSE mount is gone');
  t.false(processAlive(pid), 'qemu-storage-daemon is gone');
  t.is(await sha256(sourcePath), before, 'the source file is byte-identical');
});

test('a client that never finishes the handshake is cut off; an unknown export name is refused', async (t) => {
  const dir = await scratch(t);
  await writeFile(path.join(dir, 'source.img'), Buffer.alloc(4096));
  const source = await openByteSource(path.join(dir, 'source.img'));
  t.teardown(() => source.close());
  const overlay = openCopyOnWriteOverlay(source, { memoryBytes: 4096 });
  const socketPath = path.join(dir, 'nbd.sock');
  const server = await startNbdServer({ socketPath, exportName: 'view', volume: overlay, handshakeTimeoutMs: 300 });
  t.teardown(() => server.close());
  const silent = net.createConnection(socketPath);
  silent.resume(); // reads the greeting, sends nothing
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    silent.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    silent.on('error', () => undefined);
  });
  t.true(closed, 'the silent client was disconnected');
  const refused = await t.throwsAsync(mountVolumeFile({ socketPath, exportName: 'other', mountPath: path.join(dir, 'view'), timeoutMs: 10_000 }));
  t.is((refused as { code?: string }).code, 'LB_DEVICE_FUSE_UNAVAILABLE');
  t.false(isMountPoint(path.join(dir, 'view')));
});
