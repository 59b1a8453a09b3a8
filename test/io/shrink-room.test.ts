// measureShrinkRoom (io/shrink-room.ts): half of MemAvailable for the overlay, and a scratch
// folder's free space (as df counts it) less 64 MiB, except on tmpfs, which is memory already.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { measureShrinkRoom, SCRATCH_RESERVE_BYTES } from '../../rescue/io/shrink-room.ts';

const GiB = 1024 ** 3;

test('memory is half of MemAvailable; a disk folder adds its free space less the reserve; tmpfs adds nothing', async (t) => {
  const available = Number(/^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'))![1]) * 1024;
  const alone = await measureShrinkRoom();
  // MemAvailable moves while others run: within 1 GiB of half of it.
  t.true(Math.abs(alone.memoryBytes - available / 2) < GiB, `${alone.memoryBytes} against ${available / 2}`);
  t.is(alone.scratchBytes, undefined);
  const dir = await mkdtemp(path.join('/var/tmp', 'lifeboat-room-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { stdout } = await execa('df', ['--output=avail,fstype', '-B1', dir]);
  const [avail, type] = stdout.trim().split('\n')[1]!.trim().split(/\s+/);
  const room = await measureShrinkRoom({ scratchFolder: dir });
  t.is(room.scratchFolder, dir);
  if (type === 'tmpfs') t.is(room.scratchBytes, 0);
  else t.true(Math.abs(room.scratchBytes! - (Number(avail) - SCRATCH_RESERVE_BYTES)) < GiB, `${room.scratchBytes} against ${avail} - reserve`);
  const shm = await mkdtemp(path.join('/dev/shm', 'lifeboat-room-'));
  t.teardown(() => rm(shm, { recursive: true, force: true }));
  t.is((await measureShrinkRoom({ scratchFolder: shm })).scratchBytes, 0, '/dev/shm is tmpfs: memory, not scratch');
});
