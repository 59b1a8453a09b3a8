// A source that fails part-way (a disk that vanishes or returns read errors; here: an image file
// cut short under a running backup) must end the backup quickly with LB_DEVICE_READ_FAILED and
// leave the repository as it was: no snapshot, check passes, earlier snapshots still restore.

import test from 'ava';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const CLI = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

function lifeboat(args: readonly string[]) {
  return execa('node', [CLI, ...args], { reject: false });
}

test('a source cut short during the backup ends it with LB_DEVICE_READ_FAILED; the repository stays sound', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-source-failure-'));
  try {
    const source = path.join(dir, 'source.img');
    const repo = path.join(dir, 'repo');
    // Text made of random base64: compressible, so zstd -19 takes a while on it.
    const text = Buffer.from(randomBytes(48 * 1024 * 1024).toString('base64'));
    await writeFile(source, text.subarray(0, 64 * 1024 * 1024));
    const first = await lifeboat(['backup', 'partition', source, '-r', repo, '--compression', '1']);
    t.is(first.exitCode, 0, first.stderr);
    const restoredFirst = path.join(dir, 'first.img');
    t.is((await lifeboat(['restore', '-r', repo, 'latest', restoredFirst])).exitCode, 0);
    const expected = createHash('sha256').update(await readFile(restoredFirst)).digest('hex');

    await writeFile(source, Buffer.concat([text.subarray(1024), text.subarray(0, 1024)]).subarray(0, 64 * 1024 * 1024));
    const running = execa('node', [CLI, 'backup', 'partition', source, '-r', repo, '--compression', '19', '--json'], { reject: false });
    let cut = false;
    const lines = createInterface({ input: running.stdout! });
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event: string; bytesDone?: number };
      if (!cut && event.event === 'progress' && (event.bytesDone ?? 0) >= 4 * 1024 * 1024) {
        cut = true;
        void truncate(source, 16 * 1024 * 1024);
      }
    });
    const result = await running;
    t.true(cut, 'the source was cut while the backup ran');
    t.is(result.exitCode, 3, result.stderr);
    t.regex(result.stderr, /LB_DEVICE_READ_FAILED/);

    const listed = await lifeboat(['snapshots', '-r', repo, '--json']);
    t.is((JSON.parse(listed.stdout) as unknown[]).length, 1, 'no snapshot was saved by the failed run');
    const check = await lifeboat(['check', '-r', repo, '--read-data']);
    t.is(check.exitCode, 0, check.stdout + check.stderr);
    const again = path.join(dir, 'again.img');
    t.is((await lifeboat(['restore', '-r', repo, 'latest', again])).exitCode, 0);
    t.is(createHash('sha256').update(await readFile(again)).digest('hex'), expected);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
