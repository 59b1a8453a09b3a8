// The TUI driven by keys only in a pseudo-terminal (tmux, 80x25, TERM=linux): a full backup of a
// loop device over a partitioned ext4 image, a restore onto an image file through the plan and the
// typed-name confirmation (nothing written before the name is typed), browsing the snapshot and
// restoring two files (each operation leaving its run log), a mounted disk refused as a restore
// target with its code, and Cancel of a disk backup and of a files backup.

import test from 'ava';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI_ENTRY } from '../helpers/repository-harness.ts';
import { leaveToHome, openLifeboatTui, quitTui, scrollUntilRow, typeLine as type, type TerminalSession } from '../helpers/tmux.ts';
import { attachLoop, makeBlankDisk, makeExt4Disk, makeTwoPartitionDisk, MiB, sampleFiles, type FileSet } from '../helpers/tui-disks.ts';

/** Generous: the machine is slow and shared. */
const LONG_MS = 180_000;
const STEP_MS = 60_000;

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

interface Fixture {
  dir: string;
  sourceImage: string;
  files: FileSet;
  loop: { device: string; detach: () => Promise<void> };
  repo: string;
  target: string;
}

async function makeFixture(): Promise<Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const files = sampleFiles(6 * MiB);
  const sourceImage = await makeExt4Disk(dir, 'source.img', 48 * MiB, 'TUISRC', files);
  const loop = await attachLoop(sourceImage);
  const target = await makeBlankDisk(dir, 'target.img', 48 * MiB);
  return { dir, sourceImage, files, loop, repo: path.join(dir, 'repo'), target };
}

function openTui(env: Record<string, string> = {}, term = 'linux'): Promise<TerminalSession> {
  return openLifeboatTui({ term, env });
}

test.serial('keys only: back up a loop disk, restore it onto an image through the confirmation, browse and restore two files', async (t) => {
  const fixture = await makeFixture();
  const logDir = path.join(fixture.dir, 'logs');
  const session = await openTui({ LIFEBOAT_LOG_DIR: logDir });
  t.teardown(async () => {
    await session.close();
    await fixture.loop.detach();
    await rm(fixture.dir, { recursive: true, force: true });
  });
  const loopName = path.basename(fixture.loop.device);

  // Home: the disk map shows the loop disk, its partition to scale with filesystem, label and use
  // (the map scrolls to it past the machine's other disks and other tests' loop devices).
  const top = await session.waitFor(new RegExp(`Model[\\s\\S]*\\/dev\\/[\\s\\S]*Repositories`), STEP_MS);
  t.regex(top, /Lifeboat \d+\.\d+\.\d+/);
  t.regex(top, /Actions/);
  t.regex(top, /b\s+Backup/);
  t.regex(top, /Device\s+Size\s+Bus\s+Model/);
  await session.sendKeys('Tab');
  await scrollUntilRow(session, fixture.loop.device, 3);
  const home = await session.waitFor(new RegExp(`${fixture.loop.device}[\\s\\S]*TUISRC`), STEP_MS);
  await session.sendKeys('Tab');
  t.regex(home, new RegExp(`${fixture.loop.device}\\s+48\\.0 MiB\\s+loop`));
  t.regex(home, /\[\.?\|1 ext4 TUISRC\s*\.?\]/, 'the bar: partition 1 from 1 MiB to the end');
  t.regex(home, /1: ext4 "TUISRC", [\d.]+ MiB used of 47\.0 MiB, Linux/);
  t.regex(home, /Repositories/);

  // Backup: kind -> source (typed device) -> repository (typed, created) -> options -> progress.
  await session.sendKeys('b');
  t.regex(await session.waitFor(/What to back up\?/), /s\s+System/);
  await session.sendKeys('d');
  t.regex(await session.waitFor(/Backup disk: source[\s\S]*Type a device/, STEP_MS), new RegExp(loopName));
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, fixture.loop.device);
  await session.waitFor(/Backup: repository/);
  await session.sendKeys('t');
  await session.waitFor(/The folder of the repository/);
  await type(session, fixture.repo);
  await session.waitFor(/empty or missing: create a repository/);
  await session.sendKeys('p');
  await session.waitFor(/Start the backup/);
  await session.sendKeys('n');
  await session.waitFor(/A note kept with the snapshot/);
  await type(session, 'tui note');
  await session.waitFor(/Note:\s+tui note/);
  await session.sendKeys('s');
  const backupDone = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(backupDone, new RegExp(`Backup of ${fixture.loop.device}`));
  t.regex(backupDone, /Snapshot [0-9a-f]{8} saved: [\d.]+ MiB backed up/);
  t.regex(backupDone, /[\d.]+ MiB of [\d.]+ MiB\s+[\d.]+ [KMG]?i?B\/s\s+ETA 0:00/);
  t.regex(backupDone, /When done: \[stay\]/);
  t.regex(backupDone, /Rate/);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/);

  // Restore: repository -> snapshot -> target (typed image) -> plan -> confirmation.
  await session.sendKeys('r');
  await session.waitFor(new RegExp(`Repository[\\s\\S]*${fixture.repo}`));
  await session.sendKeys('Enter');
  const snapshots = await session.waitFor(/Restore: snapshot/, STEP_MS);
  t.regex(snapshots, /Id\s+Time \(UTC\)\s+Kind\s+Source\s+Size\s+\[Tags\] Note/);
  t.regex(snapshots, new RegExp(`[0-9a-f]{8} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d disk\\s+${loopName}\\s+[\\d.]+ MiB\\s+tui note`));
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: target[\s\S]*Type a device/, STEP_MS);
  const before = await sha256(fixture.target);
  const pickTarget = async () => {
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, fixture.target);
    return session.waitFor(/Restore plan/, STEP_MS);
  };
  const plan = await pickTarget();
  t.regex(plan, /Before \(now on the target\):/);
  t.regex(plan, /no partitions/);
  t.regex(plan, /After:.*\n.*\|1 ext4 TUISRC/);
  t.regex(plan, /Restore onto .*target\.img \(48\.0 MiB; needs 48\.0[\s│]*MiB\)/);
  t.regex(plan, /partition 1 \(ext4 "TUISRC"/);
  t.regex(plan, /partition table, boot code and boot gap/);
  t.regex(plan, /used-blocks\)[\s│]*at[\s│]+1 MiB/, 'offsets for people');
  t.notRegex(plan, /at byte|\d{4,} (B|bytes)\b/, 'no raw byte counts');
  await session.sendKeys('Enter');
  const confirmation = await session.waitFor(/Confirm: overwrite the target/);
  t.regex(confirmation, /Everything on this target will be overwritten/);
  t.regex(confirmation, /Model:\s+image file/);
  t.regex(confirmation, /Size:\s+48\.0 MiB/);
  t.regex(confirmation, /Type target\.img and press Enter/);
  // A wrong name and then Escape: nothing is written.
  await type(session, 'sda');
  await session.waitFor(/You typed "sda", not "target\.img"/);
  await session.sendKeys('Enter');
  await session.waitFor(/Confirm: overwrite the target/);
  await session.sendKeys('Escape');
  await session.waitFor(/Restore: target/);
  t.is(await sha256(fixture.target), before, 'the target is unchanged after a wrong name and Escape');
  await pickTarget();
  await session.sendKeys('Enter');
  await session.waitFor(/Confirm: overwrite the target/);
  t.is(await sha256(fixture.target), before, 'still unchanged on the confirmation screen');
  await type(session, 'target.img');
  const restoreDone = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(restoreDone, /Restored snapshot [0-9a-f]{8} onto .*target\.img;[\s\S]*verified/);
  t.is(await sha256(fixture.target), await sha256(fixture.sourceImage), 'the restored image equals the source disk');
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/);

  // Browse the snapshot, mark readme.txt and docs/letter.txt, restore them into a folder.
  await session.sendKeys('f');
  await session.waitFor(/What to browse\?/);
  await session.sendKeys('s');
  await session.waitFor(new RegExp(`Repository[\\s\\S]*${fixture.repo}`));
  await session.sendKeys('Enter');
  await session.waitFor(/Browse: snapshot/, STEP_MS);
  await session.sendKeys('Enter');
  const root = await session.waitFor(/readme\.txt/, STEP_MS);
  t.regex(root, /ext4 "TUISRC"\s+\//);
  t.regex(root, /\[ \] docs\//);
  t.regex(root, /\[ \] lost\+found\//);
  t.regex(root, /\[ \] bulk\.bin\s+6\.00 MiB/);
  // Folders first, then files by name: docs/, lost+found/, bulk.bin, readme.txt.
  await session.sendKeys('End', 'Space');
  await session.waitFor(/\[x\] readme\.txt/);
  await session.sendKeys('Home', 'Enter');
  await session.waitFor(/\/docs[\s\S]*letter\.txt/);
  await session.sendKeys('Space');
  const marked = await session.waitFor(/2 marked/);
  t.regex(marked, /\[x\] letter\.txt/);
  await session.sendKeys('g');
  await session.waitFor(/The folder to restore them into/);
  const out = path.join(fixture.dir, 'out');
  await type(session, out);
  const filesDone = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(filesDone, /Restored 2 files/);
  t.deepEqual(await readFile(path.join(out, 'readme.txt')), fixture.files['readme.txt']);
  t.deepEqual(await readFile(path.join(out, 'letter.txt')), fixture.files['docs/letter.txt']);
  await session.sendKeys('Enter');
  await leaveToHome(session, /Browse /, /Browse: snapshot/);
  t.is(await quitTui(session), 0);
  // Each operation wrote its run log, as the same command typed in a shell would.
  const logs = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'logs', 'list', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } })).stdout) as { logs: Array<{ name: string; outcome: string }> };
  t.deepEqual(logs.logs.map((log) => [log.name.replace(/^\S+?Z-/, ''), log.outcome]), [['backup-disk.log', 'success'], ['restore.log', 'success'], ['get.log', 'success']]);
});

test.serial('a mounted disk is listed as in use and refused as a restore target with its code; nothing is written', async (t) => {
  const fixture = await makeFixture();
  const mountPoint = path.join(fixture.dir, 'mnt');
  await mkdir(mountPoint);
  await execa('mount', ['-o', 'ro', `${fixture.loop.device}p1`, mountPoint]);
  await mkdir(fixture.repo);
  // A repository with one snapshot, made by the CLI.
  await execa(process.execPath, [CLI_ENTRY, 'backup', 'disk', fixture.target, '-r', fixture.repo]);
  const session = await openTui({ LIFEBOAT_REPOSITORY: fixture.repo });
  t.teardown(async () => {
    await session.close();
    await execa('umount', [mountPoint], { reject: false });
    await fixture.loop.detach();
    await rm(fixture.dir, { recursive: true, force: true });
  });
  const before = await sha256(fixture.sourceImage);
  await session.waitFor(new RegExp(`Repositories[\\s\\S]*${fixture.repo}`), STEP_MS);
  await session.sendKeys('r');
  await session.waitFor(/Repository/);
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: snapshot/, STEP_MS);
  await session.sendKeys('Enter');
  const targets = await session.waitFor(/Restore: target[\s\S]*Type a device/, STEP_MS);
  t.regex(targets, new RegExp(`${fixture.loop.device}\\s+48\\.0 MiB\\s+loop\\s+-\\s+\\(in use: mounted\\)`));
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, fixture.loop.device);
  const refused = await session.waitFor(/Restore refused/, STEP_MS);
  t.regex(refused, /LB_DEVICE_TARGET_MOUNTED/);
  t.regex(refused, /Fix: Unmount every partition of the target/);
  t.notRegex(refused, /at .*\.ts:\d+/, 'no stack trace');
  // The image behind the mounted loop device is refused too.
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: target/);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, fixture.sourceImage);
  t.regex(await session.waitFor(/Restore refused/, STEP_MS), /LB_DEVICE_TARGET_MOUNTED/);
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: target/);
  t.is(await sha256(fixture.sourceImage), before);
  await leaveToHome(session, /Restore: target/, /Restore: snapshot/);
  t.is(await quitTui(session), 0);
});

test.serial('TERM=vt220: the home screen renders and the menu navigates by arrows, Enter and Escape; power actions are asked first', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const powerRecord = path.join(dir, 'power-actions');
  const session = await openTui({ LIFEBOAT_TEST_POWER_ACTION_FILE: powerRecord }, 'vt220');
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  const home = await session.waitFor(/Device\s+Size\s+Bus\s+Model[\s\S]*\[/, STEP_MS);
  t.regex(home, /Lifeboat \d+\.\d+\.\d+/);
  for (const label of ['Backup', 'Restore', 'Clone', 'Browse a backup', 'Verify', 'Disks', 'Logs', 'Shell', 'Power off', 'Reboot', 'Quit']) t.true(home.includes(label), label);
  t.regex(home, /q quit/);
  // One key at a time, as a person types them (a burst of escape sequences on a serial line is not the point here).
  for (const key of ['Down', 'Down', 'Down', 'Down', 'Enter']) {
    await session.sendKeys(key);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  await leaveToHome(session, /Verify|Repository/);
  await session.sendKeys('d');
  t.regex(await session.waitFor(/sectors \d+\/\d+ B/, STEP_MS), /Disks/);
  await leaveToHome(session, /Disks/);
  await session.sendKeys('l');
  await session.waitFor(/Logs/);
  await session.sendKeys('Enter');
  // Where the logs are wired in, the export's folder is asked next: Escape declines it.
  if (/Export logs/.test(await session.waitFor(/Actions|Export logs/))) await session.sendKeys('Escape');
  await session.waitFor(/Actions/);
  await session.sendKeys('o');
  await session.waitFor(/Reboot the machine now\?/);
  await session.sendKeys('n');
  await session.waitFor(/Actions/);
  await session.sendKeys('p');
  await session.waitFor(/Power the machine off now\?/);
  await session.sendKeys('y');
  await session.waitFor(/Actions/);
  t.is(await readFile(powerRecord, 'utf8'), 'poweroff\n', 'only the confirmed action ran');
  t.is(await quitTui(session), 0);
});

test.serial('progress: "when done" changes while running, Cancel asks then stops the backup cleanly; a finished backup withdraws an open Cancel question and runs the power action chosen', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  // Enough random data that the first backup is still running when the keys arrive.
  const image = await makeExt4Disk(dir, 'big.img', 320 * MiB, 'BIG', sampleFiles(256 * MiB));
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'init', '-r', repo]);
  const powerRecord = path.join(dir, 'power-actions');
  // The power action is recorded in a file instead of switching this machine off.
  const session = await openTui({ LIFEBOAT_REPOSITORY: repo, LIFEBOAT_TEST_POWER_ACTION_FILE: powerRecord });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  const startBackup = async (whenDone: 'stay' | 'poweroff') => {
    await session.waitFor(/Actions/, STEP_MS);
    await session.sendKeys('b');
    await session.waitFor(/What to back up\?/);
    await session.sendKeys('d');
    await session.waitFor(/Backup disk: source[\s\S]*Type a device/, STEP_MS);
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, image);
    await session.waitFor(new RegExp(`Backup: repository[\\s\\S]*${repo}`));
    await session.sendKeys('Enter');
    await session.waitFor(/Start the backup/);
    if (whenDone === 'poweroff') {
      await session.sendKeys('w');
      await session.waitFor(/When done:\s+power off/);
    }
    await session.sendKeys('s');
  };

  await startBackup('stay');
  await session.waitFor(/\d+%\s+running/, STEP_MS);
  await session.sendKeys('w');
  await session.waitFor(/When done: stay  \[power off\]  reboot/);
  await session.sendKeys('w');
  await session.waitFor(/When done: stay  power off  \[reboot\]/);
  await session.sendKeys('w');
  await session.waitFor(/When done: \[stay\]/);
  await session.sendKeys('c');
  const asked = await session.waitFor(/Cancel\?/);
  t.regex(asked, /y yes/);
  await session.sendKeys('y');
  // The gauge's state, not the question's own text ("A stopped backup leaves...").
  const stopped = await session.waitFor(/%\s+stopped/, LONG_MS);
  t.regex(stopped, /LB_INPUT_STOPPED/);
  t.regex(stopped, /stopped before it finished/);
  const listed = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'snapshots', '-r', repo, '--json'])).stdout) as unknown[];
  t.deepEqual(listed, [], 'the stopped backup saved no snapshot');
  await session.sendKeys('Enter');

  await startBackup('poweroff');
  // Cancel asked while it runs and left unanswered until the backup has finished.
  await session.waitFor(/\d+%\s+running/, STEP_MS);
  await session.sendKeys('c');
  await session.waitFor(/Cancel\?/);
  const done = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(done, /When done: stay  \[power off\]/);
  // Finished, there is nothing to cancel: the question is withdrawn, the keys line offers Enter only, c does nothing.
  const settled = await session.waitFor(/ Enter continue/);
  t.notRegex(settled, /Cancel\?|cancel/);
  await session.sendKeys('c');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.notRegex(await session.screen(), /Cancel\?|cancel/);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  t.is(await readFile(powerRecord, 'utf8'), 'poweroff\n');
  const check = await execa(process.execPath, [CLI_ENTRY, 'check', '-r', repo, '--read-data'], { reject: false });
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  t.is(await quitTui(session), 0);
});

test.serial('an encrypted repository: created with the password typed twice; Verify asks for it, a wrong one is shown with its code and fix', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const image = await makeExt4Disk(dir, 'small.img', 24 * MiB, 'SECRET', sampleFiles(MiB));
  const repo = path.join(dir, 'vault');
  const logDir = path.join(dir, 'logs');
  const session = await openTui({ LIFEBOAT_LOG_DIR: logDir });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('b');
  await session.waitFor(/What to back up\?/);
  await session.sendKeys('d');
  await session.waitFor(/Backup disk: source[\s\S]*Type a device/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, image);
  await session.waitFor(/Backup: repository/);
  await session.sendKeys('t');
  await session.waitFor(/The folder of the repository/);
  await type(session, repo);
  await session.waitFor(/empty or missing: create a repository/);
  await session.sendKeys('e');
  const first = await session.waitFor(/New repository password/);
  t.regex(first, /typed characters are hidden/);
  await type(session, 'correct horse');
  await session.waitFor(/Repeat the password/);
  t.false((await session.screen()).includes('correct horse'), 'the password is not shown');
  await type(session, 'correct horse');
  await session.waitFor(/Start the backup/);
  await session.sendKeys('s');
  // Opening the new repository asks for its password as every later opening does.
  await session.waitFor(/Repository password/, STEP_MS);
  await type(session, 'correct horse');
  const done = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(done, /Snapshot [0-9a-f]{8} saved/);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/);
  t.regex((await execa('cat', [path.join(repo, 'config.json')])).stdout, /"encryption": "(?!none)/);

  await session.sendKeys('v');
  await session.waitFor(new RegExp(`Repository[\\s\\S]*${repo}`));
  await session.sendKeys('Enter');
  await session.waitFor(/How thoroughly\?/);
  await session.sendKeys('q');
  await session.waitFor(/Repository password/, STEP_MS);
  await type(session, 'wrong horse');
  const wrong = await session.waitFor(/LB_REPO_WRONG_PASSWORD/, STEP_MS);
  t.regex(wrong, /Fix: Try again with the right password/);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('v');
  await session.waitFor(/Repository/);
  await session.sendKeys('Enter');
  await session.waitFor(/How thoroughly\?/);
  await session.sendKeys('a');
  await session.waitFor(/Repository password/, STEP_MS);
  await type(session, 'correct horse');
  const verified = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(verified, /1 snapshots and \d+ packs checked, \d+ chunks read: no problems/);
  await session.sendKeys('Enter');
  await leaveToHome(session);
  t.is(await quitTui(session), 0);
  // The backup and both checks (the wrong password, then the right one) left their run logs.
  const logs = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'logs', 'list', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } })).stdout) as { logs: Array<{ name: string; outcome: string }> };
  t.deepEqual(logs.logs.map((log) => [log.name.replace(/^\S+?Z-/, ''), log.outcome]), [['backup-disk.log', 'success'], ['check.log', 'LB_REPO_WRONG_PASSWORD'], ['check.log', 'success']]);
});

test.serial('browse a partition of a disk image outside any repository (DISK:N) and restore a folder', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const files = sampleFiles(MiB);
  const image = await makeExt4Disk(dir, 'plain.img', 24 * MiB, 'PLAIN', files);
  const session = await openTui();
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('f');
  await session.waitFor(/What to browse\?/);
  await session.sendKeys('p');
  await session.waitFor(/A partition device, an image file, DISK:N/);
  await type(session, `${image}:1`);
  const root = await session.waitFor(/readme\.txt/, STEP_MS);
  t.regex(root, /ext4 "PLAIN"\s+\//);
  // docs/ is the first row: mark the folder itself and restore it.
  await session.sendKeys('Space');
  await session.waitFor(/\[x\] docs\//);
  await session.sendKeys('g');
  await session.waitFor(/The folder to restore them into/);
  const out = path.join(dir, 'out');
  await type(session, out);
  t.regex(await session.waitFor(/100%\s+done/, LONG_MS), /Restored 2 files \([\d.]+ KiB\), 1 folders/);
  t.deepEqual(await readFile(path.join(out, 'docs', 'letter.txt')), files['docs/letter.txt']);
  t.deepEqual(await readFile(path.join(out, 'docs', 'photo.bin')), files['docs/photo.bin']);
  await session.sendKeys('Enter');
  await leaveToHome(session, /Browse /);
  t.is(await quitTui(session), 0);
});

test.serial('browsing a filesystem that was not unmounted cleanly shows the reader\'s notice first, then the files', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'kept.txt'), 'kept\n');
  // needs_recovery set on a filesystem without a journal: the reader can replay nothing and says so.
  const image = path.join(dir, 'crashed.img');
  await execa('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', '-L', 'CRASHED', '-d', tree, image, '16M']);
  await execa('debugfs', ['-w', '-R', 'feature needs_recovery', image]);
  const session = await openTui();
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('f');
  await session.waitFor(/What to browse\?/);
  await session.sendKeys('p');
  await session.waitFor(/A partition device, an image file, DISK:N/);
  await type(session, image);
  const notice = await session.waitFor(/its journal was not replayed/, STEP_MS);
  t.regex(notice, /needs_recovery is set but there is no/);
  t.notRegex(notice, /kept\.txt/, 'the notice comes before the files');
  await session.sendKeys('Enter');
  t.regex(await session.waitFor(/kept\.txt/, STEP_MS), /ext4 "CRASHED"/);
  await leaveToHome(session, /Browse /);
  t.is(await quitTui(session), 0);
});

test.serial('restore one partition of a two-partition disk snapshot into a new image file', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const { disk, second } = await makeTwoPartitionDisk(dir, 'two.img', 48 * MiB, sampleFiles(MiB));
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'backup', 'disk', disk, '-r', repo, '--note', 'two parts']);
  const session = await openTui({ LIFEBOAT_REPOSITORY: repo });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repo}`), STEP_MS);
  await session.sendKeys('r');
  await session.waitFor(/Repository/);
  await session.sendKeys('Enter');
  await session.waitFor(/two parts/, STEP_MS);
  await session.sendKeys('Enter');
  const what = await session.waitFor(/Restore: what/);
  t.regex(what, /w\s+The whole disk/);
  t.regex(what, /2\s+Partition 2 only: ext4 "SECOND"/);
  await session.sendKeys('Down', 'Down', 'Enter');
  await session.waitFor(/Restore: target/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  const out = path.join(dir, 'second.img');
  await type(session, out);
  const plan = await session.waitFor(/Restore plan/, STEP_MS);
  t.regex(plan, /Before:.*a new image file/);
  t.regex(plan, /\|ext4 SECOND/);
  t.regex(plan, /partition 2 \(ext4 "SECOND"/);
  await session.sendKeys('Enter');
  await session.waitFor(/Type second\.img and press Enter/);
  await type(session, 'second.img');
  await session.waitFor(/100%\s+done/, LONG_MS);
  const restored = await readFile(out);
  const source = await readFile(disk);
  t.is(restored.length, second.sizeBytes);
  t.true(restored.equals(source.subarray(second.offset, second.offset + second.sizeBytes)), 'the image holds partition 2 byte for byte');
  await session.sendKeys('Enter');
  await leaveToHome(session);
  t.is(await quitTui(session), 0);
});

test.serial('restore onto a larger image: g on the plan grows the last partition and its filesystem', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const disk = await makeExt4Disk(dir, 'small.img', 32 * MiB, 'GROWME', sampleFiles(MiB));
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'backup', 'disk', disk, '-r', repo]);
  const target = await makeBlankDisk(dir, 'large.img', 64 * MiB);
  const session = await openTui({ LIFEBOAT_REPOSITORY: repo });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repo}`), STEP_MS);
  await session.sendKeys('r');
  await session.waitFor(/Repository/);
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: snapshot/, STEP_MS);
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: target/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, target);
  const plain = await session.waitFor(/Restore plan/, STEP_MS);
  t.regex(plain, /g grow the last partition/);
  t.regex(plain, /stays[\s│]*unpartitioned/);
  await session.sendKeys('g');
  const grown = await session.waitFor(/grow the ext4 filesystem of partition 1/, STEP_MS);
  t.regex(grown, /1: ext4 "GROWME", [\d.]+ MiB used of 63\.0 MiB/, 'the after picture shows the grown partition');
  await session.sendKeys('Enter');
  await session.waitFor(/Type large\.img and press Enter/);
  await type(session, 'large.img');
  await session.waitFor(/100%\s+done/, LONG_MS);
  const listed = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'disks', target, '--json'])).stdout) as { disks: Array<{ table: { partitions: Array<{ sizeBytes: number; filesystem?: { sizeBytes?: number; label?: string } }> } }> };
  const partition = listed.disks[0]?.table.partitions[0];
  t.is(partition?.sizeBytes, 63 * MiB);
  t.is(partition?.filesystem?.sizeBytes, 63 * MiB, 'resize2fs grew the filesystem');
  t.is(partition?.filesystem?.label, 'GROWME');
  await session.sendKeys('Enter');
  await leaveToHome(session);
  t.is(await quitTui(session), 0);
});

test.serial('Logs: the run logs are listed (Esc goes back, as its footer says) and exported with a system report into a typed folder', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  const logDir = path.join(dir, 'logs');
  // One logged run to export.
  await execa(process.execPath, [CLI_ENTRY, 'disks', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } });
  const session = await openTui({ LIFEBOAT_LOG_DIR: logDir });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('l');
  const first = await session.waitFor(/run log\(s\) in/, STEP_MS);
  t.regex(first, /Enter export\s+Esc back/);
  // Esc does what the footer says: back to the home screen, no export asked.
  await session.sendKeys('Escape');
  t.notRegex(await session.waitFor(/letters act/), /Export logs/);
  await session.sendKeys('l');
  const listed = await session.waitFor(/run log\(s\) in/, STEP_MS);
  t.regex(listed, new RegExp(`1 run log\\(s\\) in ${logDir}`));
  await session.sendKeys('Enter');
  await session.waitFor(/The folder to write the logs archive into/);
  const out = path.join(dir, 'export');
  await mkdir(out);
  await type(session, out);
  t.regex(await session.waitFor(/Logs exported/, LONG_MS), new RegExp(`Written: ${out}/lifeboat-logs-`));
  const archives = (await readdir(out)).filter((name) => name.endsWith('.tar.gz'));
  t.is(archives.length, 1);
  const names = (await execa('tar', ['-tzf', path.join(out, archives[0] ?? '')])).stdout;
  t.regex(names, /\/logs\/.+/);
  t.regex(names, /\/system\/.+/);
  await session.sendKeys('Enter');
  await leaveToHome(session);
  t.is(await quitTui(session), 0);
  // The export from the TUI left a run log of its own.
  const logs = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'logs', 'list', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } })).stdout) as { logs: Array<{ name: string; outcome: string }> };
  t.deepEqual(logs.logs.map((log) => [log.name.replace(/^\S+?Z-/, ''), log.outcome]), [['disks.log', 'success'], ['logs-export.log', 'success']]);
});

test.serial('Cancel stops a files backup: no snapshot, the repository checks clean, the run log says LB_INPUT_STOPPED', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
  // Enough random data in large files that the backup is still running when the keys arrive.
  const folder = path.join(dir, 'documents');
  await mkdir(folder);
  for (let index = 0; index < 48; index++) await writeFile(path.join(folder, `scan-${index}.bin`), randomBytes(4 * MiB));
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'init', '-r', repo]);
  const logDir = path.join(dir, 'logs');
  const session = await openTui({ LIFEBOAT_REPOSITORY: repo, LIFEBOAT_LOG_DIR: logDir });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repo}`), STEP_MS);
  await session.sendKeys('b');
  await session.waitFor(/What to back up\?/);
  await session.sendKeys('f');
  await session.waitFor(/The folder \(or file\) to back up/);
  await type(session, folder);
  await session.waitFor(new RegExp(`Backup: repository[\\s\\S]*${repo}`));
  await session.sendKeys('Enter');
  await session.waitFor(/Start the backup/);
  await session.sendKeys('s');
  await session.waitFor(/running/, STEP_MS);
  await session.sendKeys('c');
  await session.waitFor(/Cancel\?/);
  await session.sendKeys('y');
  const stopped = await session.waitFor(/%\s+stopped/, LONG_MS);
  t.regex(stopped, /LB_INPUT_STOPPED/);
  t.notRegex(stopped, /cannot be stopped/);
  await session.sendKeys('Enter');
  await leaveToHome(session);
  t.is(await quitTui(session), 0);
  const listed = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'snapshots', '-r', repo, '--json'])).stdout) as unknown[];
  t.deepEqual(listed, [], 'the stopped backup saved no snapshot');
  const check = await execa(process.execPath, [CLI_ENTRY, 'check', '-r', repo, '--read-data'], { reject: false });
  t.is(check.exitCode, 0, check.stdout + check.stderr);
  const logs = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'logs', 'list', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } })).stdout) as { logs: Array<{ name: string; outcome: string }> };
  t.deepEqual(logs.logs.map((log) => [log.name.replace(/^\S+?Z-/, ''), log.outcome]), [['backup-files.log', 'LB_INPUT_STOPPED']]);
});
