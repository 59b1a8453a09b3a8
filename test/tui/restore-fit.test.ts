// The TUI's Restore plan screen offers the layout planner's fits (restore --fit), key f: driven by
// keys in tmux, a two-partition disk snapshot restored onto a larger image with the proportional
// fit, both partitions grown (sfdisk -d), both ext4 clean (e2fsck -fn), the run log saying --fit.
// Onto a smaller image the plan starts with the largest fit and shrinks the second ext4 (its room
// shown), both filesystems clean after.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI_ENTRY } from '../helpers/repository-harness.ts';
import { openLifeboatTui, quitTui, typeLine as type, type TerminalSession } from '../helpers/tmux.ts';
import { attachLoop, makeBlankDisk, makeTwoPartitionDisk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

const STEP_MS = 60_000;

/** The screen as one line: box edges and line breaks (wraps) become single spaces. */
const flat = (screen: string) => screen.replace(/│/g, ' ').replace(/\s+/g, ' ');

/** From the home screen to the plan of the repository's one snapshot, whole, onto `target` (typed). */
async function toRestorePlan(session: TerminalSession, repo: string, target: string): Promise<void> {
  await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repo}`), STEP_MS);
  await session.sendKeys('r');
  await session.waitFor(/Repository/);
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: snapshot/, STEP_MS);
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: what/, STEP_MS);
  await session.sendKeys('w');
  await session.waitFor(/Restore: target/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, target);
}

test.serial('Restore plan: f cycles the fit (largest, proportional, keep); proportional grows both partitions of a larger target', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-fit-'));
  const { disk } = await makeTwoPartitionDisk(dir, 'two.img', 48 * MiB, sampleFiles(MiB));
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'backup', 'disk', disk, '-r', repo]);
  const target = await makeBlankDisk(dir, 'large.img', 96 * MiB);
  const logDir = path.join(dir, 'logs');
  const session = await openLifeboatTui({ env: { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_LOG_DIR: logDir } });
  let copy: Awaited<ReturnType<typeof attachLoop>> | undefined;
  t.teardown(async () => {
    await session.close();
    await copy?.detach();
    await rm(dir, { recursive: true, force: true });
  });
  await toRestorePlan(session, repo, target);
  const plain = flat(await session.waitFor(/Restore plan/, STEP_MS));
  t.regex(plain, /f fit/);
  t.regex(plain, /Fit: none \(the partitions as in the snapshot\)/);
  await session.sendKeys('f');
  const largest = flat(await session.waitFor(/Fit: largest/, STEP_MS));
  // The after picture: only the largest partition (2) takes the difference.
  t.regex(largest, /1: ext4 "FIRST", [\d.]+ MiB used of 23\.0 MiB/);
  t.regex(largest, /2: ext4 "SECOND", [\d.]+ MiB used of 72\.0 MiB/);
  await session.sendKeys('f');
  const proportional = flat(await session.waitFor(/Fit: proportional/, STEP_MS));
  t.notRegex(proportional, /1: ext4 "FIRST", [\d.]+ MiB used of 23\.0 MiB/, 'partition 1 grows too');
  t.notRegex(proportional, /2: ext4 "SECOND", [\d.]+ MiB used of 72\.0 MiB/);
  await session.sendKeys('Enter');
  await session.waitFor(/Type large\.img and press Enter/, STEP_MS);
  await type(session, 'large.img');
  await session.waitFor(/100%\s+done/, 180_000);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  t.is(await quitTui(session), 0);

  // Both partitions grew (largest would have grown only the second), both filesystems are clean.
  const table = (await execa('sfdisk', ['-J', target])).stdout;
  const partitions = (JSON.parse(table) as { partitiontable: { partitions: Array<{ start: number; size: number }> } }).partitiontable.partitions;
  t.is(partitions.length, 2);
  t.true((partitions[0]?.size ?? 0) * 512 > 23 * MiB, `partition 1 grew: ${table}`);
  t.true((partitions[1]?.size ?? 0) * 512 > 24 * MiB, `partition 2 grew: ${table}`);
  copy = await attachLoop(target);
  for (const number of [1, 2]) {
    const fsck = await execa('e2fsck', ['-fn', `${copy.device}p${number}`], { reject: false });
    t.is(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  }
  const [log] = (await readdir(logDir)).filter((name) => name.endsWith('-restore.log'));
  t.regex(await readFile(path.join(logDir, log ?? 'missing'), 'utf8'), /--fit proportional/);
});

test.serial('Restore onto a SMALLER disk: the plan starts with the largest fit, shrinks the second ext4 with its room line; confirmed, both filesystems clean', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-fit-'));
  const { disk } = await makeTwoPartitionDisk(dir, 'two.img', 48 * MiB, sampleFiles(MiB));
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'backup', 'disk', disk, '-r', repo]);
  const target = await makeBlankDisk(dir, 'small.img', 36 * MiB);
  const session = await openLifeboatTui({ env: { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_TMPDIR: dir } });
  let copy: Awaited<ReturnType<typeof attachLoop>> | undefined;
  t.teardown(async () => {
    await session.close();
    await copy?.detach();
    await rm(dir, { recursive: true, force: true });
  });
  await toRestorePlan(session, repo, target);
  const plan = flat(await session.waitFor(/Restore plan/, 180_000));
  t.regex(plan, /Fit: largest/);
  let screen = await session.screen();
  for (let tries = 0; !/shrink room/.test(screen) && tries < 40; tries++) {
    await session.sendKeys('Down');
    await new Promise((resolve) => setTimeout(resolve, 100));
    screen = await session.screen();
  }
  const planEnd = flat(screen);
  t.regex(planEnd, /shrink room: partition 2 rewrites about [\d.]+ MiB on its view/);
  await session.sendKeys('Enter');
  await session.waitFor(/Type small\.img and press Enter/, STEP_MS);
  await type(session, 'small.img');
  await session.waitFor(/100%\s+done/, 180_000);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  t.is(await quitTui(session), 0);
  const table = (await execa('sfdisk', ['-J', target])).stdout;
  const partitions = (JSON.parse(table) as { partitiontable: { partitions: Array<{ start: number; size: number }> } }).partitiontable.partitions;
  t.is(partitions.length, 2);
  t.true((partitions[1]?.size ?? 0) * 512 < 24 * MiB, `partition 2 shrank: ${table}`);
  copy = await attachLoop(target);
  for (const number of [1, 2]) {
    const fsck = await execa('e2fsck', ['-fn', `${copy.device}p${number}`], { reject: false });
    t.is(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  }
});
