// Nothing is cut at 80 columns: the TUI in tmux at 80x25 (TERM=linux) walks every screen its flows
// reach with long, realistic values (an image file's long path, a repository deep in a USB stick,
// a 32-character NTFS label, a long note and tag, a long file name, a symlink to a long path, a
// log folder's long path) and each screen is judged by cutProblems (test/helpers/screen-fit.ts):
// frames whole, no text against a right border or the last column, each value shown whole.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI_ENTRY } from '../helpers/repository-harness.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { cutProblems } from '../helpers/screen-fit.ts';
import { leaveToHome, openLifeboatTui, quitTui, scrollUntilRow, typeLine as type, type TerminalSession } from '../helpers/tmux.ts';
import { attachLoop, makeBlankDisk, MiB } from '../helpers/tui-disks.ts';

const LONG_MS = 180_000;
const STEP_MS = 60_000;
/** Where the home screen's disks and repositories start (the actions take the left). */
const HOME_RIGHT_COLUMN = 22;

const EXT4_LABEL = 'Backups-2024-Q4x';
const NTFS_LABEL = "System volume of Alice's laptop!";
const NOTE = 'Before the Windows 11 upgrade: everything as it was on Friday evening, with the new printer drivers';
const TAG = 'before-windows-11-upgrade-friday';
const LONG_FILE = 'Quarterly report for the board meeting of November - final version (2).docx';
const LINK_TARGET = '/home/alice/Documents/Projects/2024/lifeboat/reports/quarterly-report-for-the-board.docx';

/** Asserts the screen has no cut; resolves with it. */
async function judge(t: ExecutionContext, session: TerminalSession, name: string, wait: RegExp, values: readonly string[], columns?: { from: number }): Promise<string> {
  const screen = await session.waitFor(wait, LONG_MS);
  const problems = cutProblems(screen, values, columns);
  t.deepEqual(problems, [], `${name}:\n${screen}`);
  return screen;
}

test('every screen the flows reach fits 80 columns with long values: nothing is cut', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-fit-'));
  // A disk image with a long name: MBR, an ext4 (long file name, symlink) and an NTFS with a 32-character label.
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'docs'), { recursive: true });
  await writeFile(path.join(tree, 'docs', LONG_FILE), 'report\n');
  await symlink(LINK_TARGET, path.join(tree, 'latest-report'));
  const image = await sparseFile(path.join(dir, 'laptop-disk-image-taken-before-the-windows-11-upgrade.img'), 64 * MiB);
  await execa('sfdisk', ['--quiet', image], { input: 'label: dos\nstart=2048, size=38MiB, type=83\nsize=24MiB, type=7\n' });
  const loop = await attachLoop(image);
  t.teardown(() => loop.detach());
  await execa('mkfs.ext4', ['-q', '-F', '-L', EXT4_LABEL, '-d', tree, `${loop.device}p1`]);
  await execa('mkntfs', ['-q', '-Q', '-F', '-L', NTFS_LABEL, `${loop.device}p2`]);
  const repo = path.join(dir, 'usb-stick-SanDisk-Extreme-PRO-64GB', 'backups-of-alices-laptop', 'lifeboat-repository');
  await execa(process.execPath, [CLI_ENTRY, 'init', '-r', repo]);
  const logDir = path.join(dir, 'logs-of-the-rescue-session-on-alices-laptop', 'run-logs-kept-in-memory');
  const target = await makeBlankDisk(dir, 'replacement-disk-Samsung-SSD-870-EVO-1TB-serial-S6PNNS0T123456.img', 64 * MiB);
  const small = await makeBlankDisk(dir, 'much-too-small-usb-stick-Kingston-DataTraveler-Exodia-8GB.img', 8 * MiB);
  const session = await openLifeboatTui({ env: { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_LOG_DIR: logDir } });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  const loopPattern = loop.device.replace(/\//g, '\\/');

  // Home: the loop disk's legend with both labels, the repository's long path. The map scrolls
  // (Tab, Down) past the machine's other disks until this disk's first line is its top line, or
  // to its end.
  // The map is drawn once every disk was read; the repository appears when the search ends.
  await session.waitFor(/Model[\s\S]*\/dev\/[\s\S]*Repositories[\s\S]*lifeboat-/, STEP_MS);
  await session.sendKeys('Tab');
  await scrollUntilRow(session, loop.device, 3);
  await judge(t, session, 'home', new RegExp(`${loopPattern}[\\s\\S]*Repositories`), [loop.device, EXT4_LABEL, NTFS_LABEL, repo], { from: HOME_RIGHT_COLUMN });
  await session.sendKeys('Tab');

  // Backup: a source that does not exist is refused on its own screen, its path whole.
  await session.sendKeys('b');
  await session.waitFor(/What to back up\?/);
  await session.sendKeys('d');
  await judge(t, session, 'backup source', /Backup disk: source[\s\S]*Type a device/, [loop.device]);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  const missing = path.join(dir, 'the-disk-image-that-was-never-copied-from-the-old-laptop.img');
  await type(session, missing);
  await judge(t, session, 'backup repository', /Backup: repository/, [repo]);
  await session.sendKeys('Enter');
  await judge(t, session, 'source refused', /Source refused/, [missing, 'LB_DEVICE_NOT_FOUND']);
  await session.sendKeys('Enter');
  await session.waitFor(/Backup disk: source/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, image);
  await session.waitFor(/Backup: repository/);
  await session.sendKeys('Enter');
  await judge(t, session, 'backup options', /Backup: options/, [image, repo]);
  await session.sendKeys('n');
  await session.waitFor(/A note kept with the snapshot/);
  await type(session, NOTE);
  await session.waitFor(/Note:\s+Before/);
  await session.sendKeys('t');
  await session.waitFor(/A tag for the snapshot/);
  await type(session, TAG);
  await session.waitFor(/Tag:\s+before-/);
  await session.sendKeys('Up');
  await judge(t, session, 'backup options with a note and a tag', /Note: Before/, [image, repo, NOTE, TAG]);
  await session.sendKeys('s');
  await judge(t, session, 'backup progress', /100%\s+done/, ['Press Enter to continue.']);
  await session.sendKeys('Enter');

  // Restore: the snapshot list, the partition choice, a target too small, the plan, the confirmation.
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('r');
  await judge(t, session, 'restore repository', /Repository/, [repo]);
  await session.sendKeys('Enter');
  const snapshots = await judge(t, session, 'snapshot list', /Restore: snapshot/, [image, NOTE, TAG]);
  // The row shows the tags in brackets before the note (shortened here), the details below show them whole.
  t.regex(snapshots, /Size\s+\[Tags\] Note/);
  t.regex(snapshots, /MiB\s+\[before-w/);
  t.regex(snapshots, new RegExp(`Tags: ${TAG}`));
  await session.sendKeys('Enter');
  await judge(t, session, 'restore what', /Restore: what/, [NTFS_LABEL, EXT4_LABEL]);
  await session.sendKeys('w');
  await judge(t, session, 'restore target', /Restore: target[\s\S]*Type a device/, [loop.device]);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, small);
  // A disk smaller than the snapshot's is planned with the largest fit: refused with the minimum the partitions can shrink to.
  await judge(t, session, 'restore refused', /Restore refused/, [small, 'LB_DEVICE_TARGET_BELOW_MINIMUM', '8.00 MiB (8388608 bytes)']);
  await session.sendKeys('Enter');
  await session.waitFor(/Restore: target/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, target);
  await judge(t, session, 'restore plan', /Restore plan/, [image, target, EXT4_LABEL, NTFS_LABEL, 'at 1 MiB']);
  await session.sendKeys('Enter');
  await judge(t, session, 'confirmation', /Confirm: overwrite the target/, [target, `Type ${path.basename(target)} and press Enter`]);
  await leaveToHome(session, /Confirm: overwrite the target/, /Restore: target/, /Restore: snapshot/);

  // Browse: the partition choice, a long file name and a symlink to a long path.
  await session.sendKeys('f');
  await session.waitFor(/What to browse\?/);
  await session.sendKeys('s');
  await session.waitFor(/Repository/);
  await session.sendKeys('Enter');
  await judge(t, session, 'browse snapshot list', /Browse: snapshot/, [NOTE, TAG]);
  await session.sendKeys('Enter');
  await judge(t, session, 'browse partition', /Browse: partition/, [EXT4_LABEL, NTFS_LABEL]);
  await session.sendKeys('Enter');
  await session.waitFor(/latest-report/, STEP_MS);
  await session.sendKeys('End');
  await judge(t, session, 'browse: a symlink', /^\s*│\s*latest-report -> /m, [`latest-report -> ${LINK_TARGET}`]);
  await session.sendKeys('Home', 'Enter');
  await session.waitFor(/\/docs/, STEP_MS);
  await judge(t, session, 'browse: a long file name', /^\s*│\s*Quarterly report/m, [LONG_FILE]);
  await leaveToHome(session, /Browse /, /Browse: snapshot/);

  // Verify, Disks and Logs.
  await session.sendKeys('v');
  await session.waitFor(/Repository/);
  await session.sendKeys('Enter');
  await session.waitFor(/How thoroughly\?/);
  await session.sendKeys('q');
  await judge(t, session, 'verify progress', /100%\s+done/, ['no problems.']);
  await session.sendKeys('Enter');
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('d');
  await session.waitFor(/sectors \d+\/\d+ B/, STEP_MS);
  await scrollUntilRow(session, loop.device, 2);
  await judge(t, session, 'disks', new RegExp(`Disks[\\s\\S]*${loopPattern}`), [loop.device, EXT4_LABEL, NTFS_LABEL]);
  await session.sendKeys('Escape');
  await session.waitFor(/Actions/, STEP_MS);
  await session.sendKeys('l');
  await judge(t, session, 'logs', /run log\(s\) in/, [logDir]);
  await session.sendKeys('Escape');
  await session.waitFor(/letters act/, STEP_MS);
  t.is(await quitTui(session), 0);
});
