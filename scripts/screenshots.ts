// Renders the TUI's main screens into PNG files (images/screenshots/; the design card keeps the
// top level to its fixed folders) as a user sees them on the monitor: the interactive test ISO,
// built first, boots in QEMU on a machine with a Windows-shaped SSD, a Linux disk, a backup drive
// holding a repository and a new blank SSD (scripts/screenshot-disks.ts), and each picture is
// QEMU's screendump of the VGA text console (tty1, TERM=linux). Keys are typed through QMP; the
// backups the Restore and Browse screens list are made by the TUI itself on that machine.
// `npm run screenshots` (setup.sh screenshots installs QEMU and the disk tools).
//
// The screens: home, backup options, backup progress (done), the snapshot list, restore plan, the
// typed-name confirmation, browse, the clone plan.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildLinux } from '../builder/build-linux.ts';
import { PROJECT_ROOT } from '../builder/paths.ts';
import { TEST_MEDIA } from '../test/helpers/media.ts';
import { makeMachineDisks } from './screenshot-disks.ts';
import { startScreenMachine, startScreenReader, type ScreenMachine } from './screenshot-vm.ts';

const OUTPUT_DIR = path.join(PROJECT_ROOT, 'images', 'screenshots');
/** What the pictures must never show: the development host's disks, loop devices, an unreadable disk. */
const FORBIDDEN = /LB_DEVICE_UNREADABLE|\/dev\/loop|\/dev\/vd[a-z]|unreadable/;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until tty1 shows `pattern` and has stood still for a moment, checks it, and saves the picture. */
async function snap(machine: ScreenMachine, name: string, pattern: RegExp): Promise<void> {
  let text = await machine.waitFor(pattern, 300_000);
  for (let steady = 0; steady < 3;) {
    await pause(700);
    const now = machine.screen();
    steady = now === text ? steady + 1 : 0;
    text = now;
  }
  if (!pattern.test(text)) throw new Error(`${name}: the screen changed away from ${pattern}:\n${text}`);
  if (FORBIDDEN.test(text)) throw new Error(`${name}: the screen shows ${FORBIDDEN}:\n${text}`);
  const png = path.join(OUTPUT_DIR, `${name}.png`);
  await machine.screendump(png);
  console.log(path.relative(PROJECT_ROOT, png));
}

/** Presses `keys` once the screen shows `pattern`, then gives the TUI a moment. */
async function on(machine: ScreenMachine, pattern: RegExp, ...keys: string[]): Promise<void> {
  await machine.waitFor(pattern, 300_000);
  await machine.press(...keys);
  await pause(800);
}

/** Types a line into the text box the screen shows once it matches `pattern`. */
async function typeLine(machine: ScreenMachine, pattern: RegExp, text: string): Promise<void> {
  await machine.waitFor(pattern);
  await machine.type(text);
  await machine.press('ret');
  await pause(800);
}

/** Escape until the home screen is back. */
async function home(machine: ScreenMachine): Promise<void> {
  for (let tries = 0; !/## Actions/.test(machine.screen()); tries++) {
    if (tries > 10) throw new Error(`no way back home from:\n${machine.screen()}`);
    await machine.press('esc');
    await pause(2500);
  }
}

/** A disk backup through the TUI: source row `down` steps below the first, the repository found on the backup drive. */
async function backUp(machine: ScreenMachine, options: { down: number; note: string; picture: boolean }): Promise<void> {
  await on(machine, /## Actions/, 'b');
  await on(machine, /What to back up\?/, 'd');
  await machine.waitFor(/Backup disk: source[\s\S]*\/dev\/sdd/, 120_000);
  await machine.press(...Array<string>(options.down).fill('down'), 'ret');
  await on(machine, /Backup: repository[\s\S]*sdc1, ext4 "Backups"/, 'ret');
  const next = await machine.waitFor(/Mounted for writing|Backup: options/, 120_000);
  if (/Mounted for writing/.test(next)) await machine.press('ret');
  await on(machine, /Note:\s+\(none\)/, 'n');
  await typeLine(machine, /A note/, options.note);
  await on(machine, /Tag:\s+\(none\)/, 't');
  await typeLine(machine, /A tag/, 'weekly');
  if (options.picture) await snap(machine, 'backup-options', /Tag:\s+weekly/);
  else await machine.waitFor(/Tag:\s+weekly/);
  await machine.press('s');
  if (options.picture) await snap(machine, 'backup-progress', /100%\s+done[\s\S]*Press Enter to continue/);
  else await machine.waitFor(/Press Enter to continue/, 600_000);
  await machine.press('ret');
  await machine.waitFor(/## Actions/, 60_000);
}

async function main(): Promise<void> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const log = (line: string) => console.log(`build: ${line}`);
  await buildLinux({ kernel: undefined, cache: undefined, compressionLevel: undefined, menuTimeout: 1, output: TEST_MEDIA.interactiveIso, append: undefined }, log);
  const work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-screens-'));
  let machine: ScreenMachine | undefined;
  try {
    const disks = await makeMachineDisks(work);
    machine = await startScreenMachine({ iso: TEST_MEDIA.interactiveIso, disks, work });
    await startScreenReader(machine, /rescue toolkit/);
    await snap(machine, 'home', /## Actions[\s\S]*\/dev\/sdd[\s\S]*no partitions[\s\S]*sdc1, ext4 "Backups", read-only: \/lifeboat/);
    // Two snapshots for Restore and Browse: the Windows SSD (pictured), then the Linux disk.
    await backUp(machine, { down: 0, note: 'before the Windows update', picture: true });
    await backUp(machine, { down: 1, note: 'Debian 12, before the kernel update', picture: false });
    await on(machine, /## Actions/, 'r');
    await on(machine, /## Repository[\s\S]*sdc1, ext4 "Backups"/, 'ret');
    await snap(machine, 'restore-snapshots', /Restore: snapshot[\s\S]*disk\s+sdb[\s\S]*disk\s+sda/);
    await machine.press('down', 'ret');
    await on(machine, /Restore: what[\s\S]*The whole disk/, 'w');
    await machine.waitFor(/Restore: target[\s\S]*\/dev\/sdd/, 120_000);
    await machine.press('down', 'down', 'down', 'ret');
    await snap(machine, 'restore-plan', /Restore plan[\s\S]*Restore onto \/dev\/sdd/);
    await machine.press('ret');
    await snap(machine, 'restore-confirm', /Confirm: overwrite the target[\s\S]*Type sdd/);
    await home(machine);
    await on(machine, /## Actions/, 'f');
    await on(machine, /What to browse\?/, 's');
    await on(machine, /## Repository[\s\S]*sdc1, ext4 "Backups"/, 'ret');
    await machine.waitFor(/Browse: snapshot[\s\S]*disk\s+sda/, 120_000);
    await machine.press('down', 'ret');
    await machine.waitFor(/Browse: partition[\s\S]*ntfs "Windows"/, 120_000);
    await machine.press('down', 'down', 'ret');
    await on(machine, /"Windows"\s+\/\s[\s\S]*Windows\//, 'down', 'ret');
    await on(machine, /"Windows"\s+\/Windows\s[\s\S]*System32\//, 'down', 'ret');
    await on(machine, /"Windows"\s+\/Windows\/System32\s[\s\S]*config\//, 'home', 'ret');
    await on(machine, /\/Windows\/System32\/config\s[\s\S]*SYSTEM/, 'down', 'spc', 'down', 'spc');
    await snap(machine, 'browse', /2 marked/);
    await home(machine);
    await on(machine, /## Actions/, 'c');
    await on(machine, /What to clone\?/, 'd');
    await machine.waitFor(/Clone disk: source[\s\S]*\/dev\/sdd/, 120_000);
    await machine.press('ret');
    await machine.waitFor(/Clone disk: target[\s\S]*\/dev\/sdd/, 120_000);
    await machine.press('down', 'down', 'down', 'ret');
    await on(machine, /Clone: fit/, 'l');
    await snap(machine, 'clone-plan', /Clone plan[\s\S]*onto \/dev\/sdd/);
  } finally {
    await machine?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
