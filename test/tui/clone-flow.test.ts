// The TUI's Clone action driven by keys only in tmux (80x25, TERM=linux), on a loop device and
// image files: a disk clone onto a larger image through the fit, the plan (the lines `clone
// --dry-run` prints), the typed confirmation and the result; the copy checked with sfdisk, e2fsck
// and debugfs. Escape at the confirmation writes nothing; a target too small and the source itself
// are refused with their codes and leave the targets' bytes unchanged; the clone leaves its run log;
// i gives the copy new ids. A partition clone onto the other, larger partition of a loop disk. A
// disk onto a smaller image: the ext4 shrinks (the plan says so, with its room), clean, same files.

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI_ENTRY } from '../helpers/repository-harness.ts';
import { openLifeboatTui, quitTui, typeLine as type, type TerminalSession } from '../helpers/tmux.ts';
import { attachLoop, makeBlankDisk, makeExt4Disk, makeTwoPartitionDisk, MiB, sampleFiles } from '../helpers/tui-disks.ts';

const LONG_MS = 180_000;
const STEP_MS = 60_000;

/** The screen as one line: box edges and line breaks (wraps) become single spaces. */
const flat = (screen: string) => screen.replace(/│/g, ' ').replace(/\s+/g, ' ');

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** Moves up a list from its end until `text` is on screen (the machine's disks and other tests' loop devices come first). */
async function findRow(session: TerminalSession, text: RegExp): Promise<string> {
  await session.sendKeys('End');
  let screen = await session.screen();
  for (let tries = 0; !text.test(screen) && tries < 60; tries++) {
    await session.sendKeys('Up');
    await new Promise((resolve) => setTimeout(resolve, 100));
    screen = await session.screen();
  }
  return screen;
}

test.serial('Clone: a loop disk onto a larger image through fit, plan and typed confirmation; Escape writes nothing; too small and the source itself are refused with their codes', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-clone-'));
  const files = sampleFiles(4 * MiB);
  const sourceImage = await makeExt4Disk(dir, 'source.img', 48 * MiB, 'CLONESRC', files);
  const loop = await attachLoop(sourceImage);
  const target = await makeBlankDisk(dir, 'target.img', 80 * MiB);
  // Below any minimum the planner may find for the source's ext4 (it holds ~4.5 MiB of files), shrink or not.
  const small = await makeBlankDisk(dir, 'small.img', 3 * MiB);
  const logDir = path.join(dir, 'logs');
  const session = await openLifeboatTui({ env: { LIFEBOAT_LOG_DIR: logDir } });
  let copy: Awaited<ReturnType<typeof attachLoop>> | undefined;
  t.teardown(async () => {
    await session.close();
    await copy?.detach();
    await loop.detach();
    await rm(dir, { recursive: true, force: true });
  });
  const sourceBefore = await sha256(sourceImage);
  const targetBefore = await sha256(target);
  const smallBefore = await sha256(small);

  const home = await session.waitFor(/Actions[\s\S]*Model/, STEP_MS);
  t.regex(home, /c\s+Clone/);
  /** Clone disk: the kind, the source (typed), the target (typed) and, when given, the fit; resolves with the screen that follows. */
  const startClone = async (targetPath: string, fitKey: string | undefined, next: RegExp) => {
    await session.sendKeys('c');
    const kinds = await session.waitFor(/What to clone\?/);
    t.regex(kinds, /d\s+A whole disk/);
    t.regex(kinds, /p\s+One partition/);
    await session.sendKeys('d');
    await session.waitFor(/Clone disk: source[\s\S]*(Type a device|\/dev\/)/, STEP_MS);
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, loop.device);
    await session.waitFor(/Clone disk: target[\s\S]*(Type a device|\/dev\/)/, STEP_MS);
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, targetPath);
    if (fitKey) {
      const fits = await session.waitFor(/Clone: fit/, STEP_MS);
      t.regex(fits, /l\s+Largest/);
      t.regex(fits, /k\s+Keep/);
      await session.sendKeys(fitKey);
    }
    return session.waitFor(next, STEP_MS);
  };

  // The target list shows the source as refused.
  await session.sendKeys('c');
  await session.waitFor(/What to clone\?/);
  await session.sendKeys('d');
  await session.waitFor(/Clone disk: source[\s\S]*(Type a device|\/dev\/)/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, loop.device);
  await session.waitFor(/Clone disk: target[\s\S]*(Type a device|\/dev\/)/, STEP_MS);
  const listed = await findRow(session, new RegExp(`${loop.device}\\s+48\\.0 MiB`));
  t.regex(listed, new RegExp(`${loop.device}\\s+48\\.0 MiB\\s+loop\\s+-\\s+\\(refused: the source\\)`));
  // Typed anyway: refused with its code when it is planned.
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, loop.device);
  const refusedSource = await session.waitFor(/Clone refused/, STEP_MS);
  t.regex(refusedSource, /LB_DEVICE_TARGET_IS_SOURCE/);
  await session.sendKeys('Enter');
  await session.waitFor(/Clone disk: target/, STEP_MS);
  await session.sendKeys('Escape');
  await session.waitFor(/What to clone\?/);
  await session.sendKeys('Escape');
  await session.waitFor(/Actions/);

  // Too small: refused with its code, detail and fix.
  const tooSmall = await startClone(small, 'l', /Clone refused/);
  t.regex(tooSmall, /LB_DEVICE_TARGET_(BELOW_MINIMUM|TOO_SMALL)/);
  t.regex(tooSmall, /small\.img holds 3\.00 MiB/);
  t.regex(tooSmall, /Fix: /);
  t.notRegex(tooSmall, /at .*\.ts:\d+/, 'no stack trace');
  await session.sendKeys('Enter');
  await session.waitFor(/Clone disk: target/);
  await session.sendKeys('Escape');
  await session.waitFor(/What to clone\?/);
  await session.sendKeys('Escape');
  await session.waitFor(/Actions/);
  t.is(await sha256(small), smallBefore, 'the refused target is unchanged');

  // The system of a disk that holds none: refused with its code (LB_INPUT_NO_SYSTEM) before the target is opened.
  await session.sendKeys('c');
  t.regex(await session.waitFor(/What to clone\?/), /s\s+The system/);
  await session.sendKeys('s');
  await session.waitFor(/Clone system: source/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, loop.device);
  await session.waitFor(/Clone system: target/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, small);
  await session.waitFor(/Clone: fit/, STEP_MS);
  await session.sendKeys('l');
  t.regex(await session.waitFor(/Clone refused/, STEP_MS), /LB_INPUT_NO_SYSTEM/);
  await session.sendKeys('Enter');
  await session.waitFor(/Clone system: target/);
  await session.sendKeys('Escape');
  await session.waitFor(/What to clone\?/);
  await session.sendKeys('Escape');
  await session.waitFor(/Actions/);
  t.is(await sha256(small), smallBefore, 'unchanged after the system refusal');

  // The plan, then Escape at the confirmation: nothing is written.
  const plan = await startClone(target, 'l', /Clone plan/);
  t.regex(plan, /Before \(now on the target\):/);
  t.regex(plan, /After:/);
  t.regex(plan, /\|1 ext4 CLONESRC/);
  // Long lines wrap anywhere (a path included): matched with the spaces and box edges taken out.
  t.regex(plan.replace(/[\s│]/g, ''), new RegExp(`Clonedisk${loop.device}\\(48\\.0MiB\\)onto/.*/target\\.img\\(80\\.0MiB\\)`));
  const planText = flat(plan);
  t.regex(planText, /New layout \(MBR, 80\.0 MiB; the largest data partition takes up the difference/);
  t.regex(planText, /1: ext4, 47\.0 MiB -> 79\.0 MiB at 1 MiB, grows/);
  t.regex(planText, /Steps: 1\. clear the target's old partition tables .* 3\. grow ext4 of partition 1 to 79\.0 MiB .* write the MBR partition table \(last\)/);
  await session.sendKeys('Enter');
  const confirmation = await session.waitFor(/Confirm: overwrite the target/, STEP_MS);
  t.regex(confirmation, /Size:\s+80\.0 MiB/);
  t.regex(confirmation, /Type target\.img and press Enter/);
  await type(session, 'sda');
  await session.waitFor(/You typed "sda", not "target\.img"/);
  await session.sendKeys('Enter');
  await session.waitFor(/Confirm: overwrite the target/);
  await session.sendKeys('Escape');
  await session.waitFor(/Clone disk: target/);
  t.is(await sha256(target), targetBefore, 'nothing written after a wrong name and Escape');

  // Again, confirmed: the clone runs and says what it copied.
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, target);
  await session.waitFor(/Clone: fit/, STEP_MS);
  await session.sendKeys('l');
  t.regex(await session.waitFor(/Clone plan/, STEP_MS), /i new ids/);
  // i: new disk and filesystem ids (--new-ids), shown in the plan's steps.
  await session.sendKeys('i');
  await session.waitFor(/i keep the ids/, STEP_MS);
  await session.sendKeys('End');
  t.regex(flat(await session.waitFor(/fstab/, STEP_MS)), /give the copy new ids and rewrite its fstab/);
  await session.sendKeys('Enter');
  await session.waitFor(/Confirm: overwrite the target/, STEP_MS);
  t.is(await sha256(target), targetBefore, 'still unchanged on the confirmation screen');
  await type(session, 'target.img');
  const done = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(done.replace(/[\s│]/g, ''), new RegExp(`Cloned${loop.device}onto/.*/target\\.img:[\\d.]+MiBcopied`));
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  t.is(await quitTui(session), 0);

  // The copy, read with real tools: the table (partition 1 from 1 MiB to the end), a clean grown ext4 with the source's files.
  t.is(await sha256(sourceImage), sourceBefore, 'the source is unchanged');
  const table = (await execa('sfdisk', ['-d', target])).stdout;
  t.regex(table, /target\.img1 : start=\s*2048, size=\s*161792, type=83/);
  const labelId = (text: string) => /label-id: (\S+)/.exec(text)?.[1];
  t.not(labelId(table), labelId((await execa('sfdisk', ['-d', sourceImage])).stdout), 'a new MBR disk signature');
  copy = await attachLoop(target);
  const partition = `${copy.device}p1`;
  const fsck = await execa('e2fsck', ['-fn', partition], { reject: false });
  t.is(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  const uuidOf = async (device: string) => /Filesystem UUID:\s+(\S+)/.exec((await execa('dumpe2fs', ['-h', device])).stdout)?.[1];
  t.not(await uuidOf(partition), await uuidOf(`${loop.device}p1`), 'a new filesystem UUID');
  const blocks = Number(/Block count:\s+(\d+)/.exec((await execa('dumpe2fs', ['-h', partition])).stdout)?.[1]);
  const blockSize = Number(/Block size:\s+(\d+)/.exec((await execa('dumpe2fs', ['-h', partition])).stdout)?.[1]);
  t.is(blocks * blockSize, 79 * MiB, 'the filesystem grew to fill the partition');
  for (const file of ['readme.txt', 'docs/letter.txt']) {
    const read = await execa('debugfs', ['-R', `cat /${file}`, partition], { encoding: 'buffer', stripFinalNewline: false });
    t.deepEqual(Buffer.from(read.stdout), files[file], file);
  }
  const logs = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'logs', 'list', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } })).stdout) as { logs: Array<{ name: string; outcome: string }> };
  t.deepEqual(logs.logs.map((log) => [log.name.replace(/^\S+?Z-/, ''), log.outcome]), [['clone-disk.log', 'success']]);
});

test.serial('Clone partition: one partition of a loop disk onto its other, larger partition; no fit asked; clean, grown, with the source\'s label and files', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-clone-'));
  const files = sampleFiles(MiB);
  const { disk } = await makeTwoPartitionDisk(dir, 'two.img', 48 * MiB, files);
  const loop = await attachLoop(disk);
  const session = await openLifeboatTui();
  t.teardown(async () => {
    await session.close();
    await loop.detach();
    await rm(dir, { recursive: true, force: true });
  });
  const source = `${loop.device}p1`;
  const target = `${loop.device}p2`;
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('c');
  await session.waitFor(/What to clone\?/);
  await session.sendKeys('p');
  await session.waitFor(/Clone partition: source[\s\S]*(Type a partition|\/dev\/)/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, source);
  await session.waitFor(/Clone partition: target/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, target);
  const plan = flat(await session.waitFor(/Clone plan/, STEP_MS));
  t.regex(plan, new RegExp(`Clone partition ${source} \\(23\\.0 MiB\\) onto ${target} \\(24\\.0 MiB\\)`));
  t.regex(plan, /grow ext4 to 24\.0 MiB/);
  await session.sendKeys('Enter');
  await session.waitFor(/Confirm: overwrite the target/, STEP_MS);
  await type(session, path.basename(target));
  await session.waitFor(/100%\s+done/, LONG_MS);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  t.is(await quitTui(session), 0);
  const fsck = await execa('e2fsck', ['-fn', target], { reject: false });
  t.is(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  const header = (await execa('dumpe2fs', ['-h', target])).stdout;
  t.regex(header, /Filesystem volume name:\s+FIRST/);
  t.is(Number(/Block count:\s+(\d+)/.exec(header)?.[1]) * Number(/Block size:\s+(\d+)/.exec(header)?.[1]), 24 * MiB, 'grown to fill the partition');
  const read = await execa('debugfs', ['-R', 'cat /docs/letter.txt', target], { encoding: 'buffer', stripFinalNewline: false });
  t.deepEqual(Buffer.from(read.stdout), files['docs/letter.txt']);
});

test.serial('Clone disk onto a SMALLER image: the plan shrinks the ext4 with its room line; confirmed, the copy is clean with the source\'s files and the source unchanged', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-clone-'));
  const files = sampleFiles(4 * MiB);
  const source = await makeExt4Disk(dir, 'large.img', 64 * MiB, 'SHRINKME', files);
  const target = await makeBlankDisk(dir, 'smaller.img', 32 * MiB);
  const session = await openLifeboatTui({ env: { LIFEBOAT_TMPDIR: dir } });
  let copy: Awaited<ReturnType<typeof attachLoop>> | undefined;
  t.teardown(async () => {
    await session.close();
    await copy?.detach();
    await rm(dir, { recursive: true, force: true });
  });
  const sourceBefore = await sha256(source);
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('c');
  await session.waitFor(/What to clone\?/);
  await session.sendKeys('d');
  await session.waitFor(/Clone disk: source[\s\S]*(Type a device|\/dev\/)/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, source);
  await session.waitFor(/Clone disk: target[\s\S]*(Type a device|\/dev\/)/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, target);
  await session.waitFor(/Clone: fit/, STEP_MS);
  await session.sendKeys('l');
  const plan = flat(await session.waitFor(/Clone plan/, LONG_MS));
  t.regex(plan, /1: ext4, 63\.0 MiB -> 31\.0 MiB at 1 MiB, shrinks/);
  let screen = await session.screen();
  for (let tries = 0; !/Shrink room/.test(screen) && tries < 30; tries++) {
    await session.sendKeys('Down');
    await new Promise((resolve) => setTimeout(resolve, 100));
    screen = await session.screen();
  }
  const planEnd = flat(screen);
  t.regex(planEnd, /shrink partition 1 from 63\.0 MiB to 31\.0 MiB \(its minimum [\d.]+ MiB\) on a copy-on-write view of the source/);
  t.regex(planEnd, /Shrink room: about [\d.]+ MiB of rewritten blocks at most/);
  await session.sendKeys('Enter');
  await session.waitFor(/Confirm: overwrite the target/, STEP_MS);
  await type(session, 'smaller.img');
  await session.waitFor(/100%\s+done/, LONG_MS);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  t.is(await quitTui(session), 0);
  t.is(await sha256(source), sourceBefore, 'the source is unchanged');
  copy = await attachLoop(target);
  const partition = `${copy.device}p1`;
  const fsck = await execa('e2fsck', ['-fn', partition], { reject: false });
  t.is(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  const header = (await execa('dumpe2fs', ['-h', partition])).stdout;
  t.is(Number(/Block count:\s+(\d+)/.exec(header)?.[1]) * Number(/Block size:\s+(\d+)/.exec(header)?.[1]), 31 * MiB, 'shrunk to its partition');
  for (const file of ['readme.txt', 'docs/letter.txt', 'bulk.bin']) {
    const read = await execa('debugfs', ['-R', `cat /${file}`, partition], { encoding: 'buffer', stripFinalNewline: false });
    t.deepEqual(Buffer.from(read.stdout), files[file], file);
  }
});
