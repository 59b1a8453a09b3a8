// Renders the TUI's main screens into PNG files (images/screenshots/; the design card keeps the top level to its fixed folders): the TUI runs in tmux at 80x25
// with TERM=linux and an empty locale (as on the medium's console), each screen is captured with
// its colours (tmux capture-pane -e), turned into CP437 ANSI art and drawn by ansilove with the
// VGA font the Linux console uses. `npm run screenshots` (setup.sh screenshots installs ansilove).
//
// The screens: home, backup options, backup progress (done), the snapshot list, restore plan, the
// typed-name confirmation, browse, the clone plan.

import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../builder/paths.ts';
import { leaveToHome, openLifeboatTui, typeLine as type, type TerminalSession } from '../test/helpers/tmux.ts';
import { makeBlankDisk, makeExt4Disk, MiB, sampleFiles } from '../test/helpers/tui-disks.ts';

const COLUMNS = 80;
const OUTPUT_DIR = path.join(PROJECT_ROOT, 'images', 'screenshots');

/** Visible width of a captured line (SGR sequences take no room). */
function visibleLength(line: string): number {
  return [...line.replace(/\x1b\[[0-9;]*m/g, '')].length;
}

/** tmux's capture as ANSI art ansilove reads: default colours made explicit, CR LF, no newline after a full line (it wraps by itself). */
export function captureToAnsi(capture: string): string {
  const lines = capture.replace(/\x1b\[39m/g, '\x1b[37m').replace(/\x1b\[49m/g, '\x1b[40m').split('\n');
  return lines.map((line, index) => `\x1b[0m${line}${index === lines.length - 1 || visibleLength(line) >= COLUMNS ? '' : '\r\n'}`).join('');
}

async function snap(session: TerminalSession, name: string, work: string): Promise<void> {
  const ansi = captureToAnsi(await session.styledScreen());
  const encoded = (await execa('iconv', ['-f', 'UTF-8', '-t', 'CP437//TRANSLIT'], { input: ansi, encoding: 'buffer' })).stdout;
  const ansFile = path.join(work, `${name}.ans`);
  await writeFile(ansFile, encoded);
  const png = path.join(OUTPUT_DIR, `${name}.png`);
  await execa('ansilove', ['-q', '-c', String(COLUMNS), '-o', png, ansFile]);
  console.log(path.relative(PROJECT_ROOT, png));
}

async function main(): Promise<void> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-screens-'));
  const source = await makeExt4Disk(work, 'laptop.img', 64 * MiB, 'ROOT', sampleFiles(8 * MiB));
  const target = await makeBlankDisk(work, 'new-disk.img', 64 * MiB);
  const larger = await makeBlankDisk(work, 'ssd.img', 128 * MiB);
  const repo = path.join(work, 'backups');
  const session = await openLifeboatTui({ columns: COLUMNS, env: { LANG: 'C', LC_ALL: 'C' } });
  try {
    await session.waitFor(/Device\s+Size\s+Bus\s+Model[\s\S]*\[/, 60_000);
    await snap(session, 'home', work);
    await session.sendKeys('b');
    await session.waitFor(/What to back up\?/);
    await session.sendKeys('d');
    await session.waitFor(/Type a device/, 60_000);
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, source);
    await session.waitFor(/Backup: repository/);
    await session.sendKeys('t');
    await session.waitFor(/The folder of the repository/);
    await type(session, repo);
    await session.waitFor(/empty or missing/);
    await session.sendKeys('p');
    await session.waitFor(/Start the backup/);
    await session.sendKeys('n');
    await session.waitFor(/A note kept/);
    await type(session, 'before the upgrade');
    await session.waitFor(/Note:\s+before/);
    await session.sendKeys('t');
    await session.waitFor(/A tag for the snapshot/);
    await type(session, 'weekly');
    await session.waitFor(/Tag:\s+weekly/);
    await snap(session, 'backup-options', work);
    await session.sendKeys('s');
    await session.waitFor(/100%\s+done/, 300_000);
    await snap(session, 'backup-progress', work);
    await session.sendKeys('Enter');
    await session.waitFor(/Actions/);
    await session.sendKeys('r');
    await session.waitFor(/Repository/);
    await session.sendKeys('Enter');
    await session.waitFor(/Restore: snapshot/, 60_000);
    await snap(session, 'restore-snapshots', work);
    await session.sendKeys('Enter');
    await session.waitFor(/Type a device/, 60_000);
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, target);
    await session.waitFor(/Restore plan/, 60_000);
    await snap(session, 'restore-plan', work);
    await session.sendKeys('Enter');
    await session.waitFor(/Confirm: overwrite the target/);
    await snap(session, 'restore-confirm', work);
    await leaveToHome(session, /Confirm: overwrite the target/, /Restore: target/, /Restore: snapshot/);
    await session.sendKeys('f');
    await session.waitFor(/What to browse\?/);
    await session.sendKeys('s');
    await session.waitFor(/Repository/);
    await session.sendKeys('Enter');
    await session.waitFor(/Browse: snapshot/, 60_000);
    await session.sendKeys('Enter');
    await session.waitFor(/readme\.txt/, 60_000);
    await session.sendKeys('Home', 'Enter');
    await session.waitFor(/letter\.txt/);
    await session.sendKeys('Space');
    await session.waitFor(/1 marked/);
    await snap(session, 'browse', work);
    await leaveToHome(session, /1 marked/, /Browse: snapshot/);
    await session.sendKeys('c');
    await session.waitFor(/What to clone\?/);
    await session.sendKeys('d');
    await session.waitFor(/Clone disk: source/, 60_000);
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, source);
    await session.waitFor(/Clone disk: target/, 60_000);
    await session.sendKeys('t');
    await session.waitFor(/A block device or an image file/);
    await type(session, larger);
    await session.waitFor(/Clone: fit/, 60_000);
    await session.sendKeys('l');
    await session.waitFor(/Clone plan/, 60_000);
    await snap(session, 'clone-plan', work);
  } finally {
    await session.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
