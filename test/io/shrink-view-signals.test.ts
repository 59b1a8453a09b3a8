// A shrink stopped by SIGTERM (or Ctrl-C) leaves nothing behind: a Lifeboat process runs
// shrinkOnView under watchStopSignals (as main.ts runs operations); once qemu-storage-daemon has
// mounted the view the process gets SIGTERM; it must end with LB_INPUT_STOPPED, and the daemon,
// its FUSE mount and the private folder must be gone, the source byte-identical. A SIGKILL runs no
// handler: the kernel must end the daemon with the process (setpriv --pdeathsig), and the next shrink
// in the same scratch folder removes the private folder and the disconnected mount left behind.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { processAlive } from '../../rescue/io/process-alive.ts';
import { makeFilesystemImage } from '../helpers/disk-fixtures.ts';
import { removeLeftShrinks } from '../../rescue/io/shrink-view.ts';


const script = (root: string) => `
import { openByteSource } from '${root}/rescue/io/file-source.ts';
import { shrinkOnView } from '${root}/rescue/io/shrink-view.ts';
import { watchStopSignals } from '${root}/rescue/io/stop-signals.ts';
const [file, scratch] = process.argv.slice(2);
const stops = watchStopSignals({ stopping: (name) => console.error('stopping on ' + name), quit: () => process.exit(130) });
const source = await openByteSource(file);
try {
  const shrunk = await stops.stoppable((signal) => shrinkOnView({ source, filesystem: 'ext4', newSize: 48 * 1024 * 1024, budget: { memoryBytes: 128 * 1024 * 1024, scratchFolder: scratch, scratchBytes: 0 }, signal }));
  await shrunk.close();
  console.log('finished');
} catch (error) {
  console.log('error ' + error.code);
} finally {
  await source.close();
  stops.close();
}
`;

/** Process ids of qemu-storage-daemon processes whose arguments name `folder`. */
async function daemonsIn(folder: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('/usr/bin/qemu-storage-daemon') || cmdline.includes('qemu-storage-daemon\0')) if (cmdline.includes(folder)) pids.push(Number(entry));
  }
  return pids;
}

const mountsIn = async (folder: string) => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.split(' ')[4]?.startsWith(folder));

/** An ext4 image shrunk by a separate Lifeboat process (the script), until its view is mounted: the folder, the source, its sha256, the process and the daemons. */
async function shrinkUntilMounted(t: ExecutionContext, prefix: string, seed: number) {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sourceFile = path.join(dir, 'source.img');
  await makeFilesystemImage('ext4', sourceFile, { sizeMiB: 96, seed, bulkMiB: 24 });
  const before = createHash('sha256').update(await readFile(sourceFile)).digest('hex');
  const scriptFile = path.join(dir, 'shrink.ts');
  await writeFile(scriptFile, script(PROJECT_ROOT));
  const child = execa(process.execPath, [scriptFile, sourceFile, dir], { reject: false });
  let daemons: number[] = [];
  for (let tries = 0; tries < 400 && child.exitCode === null; tries++) {
    daemons = await daemonsIn(dir);
    if (daemons.length > 0 && (await mountsIn(dir)).length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.is(daemons.length, 1, 'qemu-storage-daemon mounted the view');
  return { dir, sourceFile, before, child, daemons };
}

test('SIGTERM while the view is mounted: LB_INPUT_STOPPED, the daemon and its mount gone, the source unchanged', async (t) => {
  const { dir, sourceFile, before, child, daemons } = await shrinkUntilMounted(t, 'lifeboat-shrink-signal-', 9);
  child.kill('SIGTERM');
  const result = await child;
  t.log(result.stdout, result.stderr);
  t.regex(result.stdout, /error LB_INPUT_STOPPED/);
  t.regex(result.stderr, /stopping on SIGTERM/);
  for (const pid of daemons) t.false(processAlive(pid), `qemu-storage-daemon ${pid} is gone`);
  t.deepEqual(await mountsIn(dir), [], 'no mount left');
  t.deepEqual((await readdir(dir)).filter((name) => name.startsWith('lifeboat-shrink-')), [], 'the private folder is removed');
  t.is(createHash('sha256').update(await readFile(sourceFile)).digest('hex'), before);
});

test('SIGKILL while the view is mounted: the kernel ends the daemon; the next shrink removes the folder and mount left; the source unchanged', async (t) => {
  const { dir, sourceFile, before, child, daemons } = await shrinkUntilMounted(t, 'lifeboat-shrink-kill-', 10);
  child.kill('SIGKILL');
  await child;
  for (let tries = 0; tries < 200 && daemons.some(processAlive); tries++) await new Promise((resolve) => setTimeout(resolve, 25));
  for (const pid of daemons) t.false(processAlive(pid), `qemu-storage-daemon ${pid} ended with the killed process`);
  const left = (await readdir(dir)).filter((name) => name.startsWith('lifeboat-shrink-'));
  t.is(left.length, 1, 'the killed process left its private folder');
  t.true((await mountsIn(dir)).length > 0, 'and the disconnected mount in it');
  t.deepEqual(await removeLeftShrinks(dir), left);
  t.deepEqual(await mountsIn(dir), [], 'no mount left');
  t.deepEqual((await readdir(dir)).filter((name) => name.startsWith('lifeboat-shrink-')), []);
  t.is(createHash('sha256').update(await readFile(sourceFile)).digest('hex'), before);
});
