// Restore and backup inside the booted medium (QEMU, the ISO's own kernel and initramfs, driven
// by lifeboat.run): restore refuses the disk that holds the medium's data partition but restores
// the same snapshot onto another disk; `backup --then poweroff` switches the machine off after a
// successful backup, and only then (a failed one leaves the init's default: a shell).

import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { ERROR_CATALOGUE } from '../../rescue/core/errors.ts';
import { extractRunOutput, RUN_MARKERS } from '../../rescue/core/kernel-cmdline.ts';
import { EXIT_CODES } from '../../rescue/ui/cli/exit-codes.ts';
import { extractKernelAndInitrd, requireMedia, SERIAL_CONSOLE_APPEND, TEST_MEDIA } from '../helpers/media.ts';
import { bootVm, createLimiter, type BootOptions, type ExtraDisk } from '../helpers/qemu.ts';

const MiB = 1024 * 1024;
const limit = createLimiter(2);
const CONSOLE = SERIAL_CONSOLE_APPEND;
const FIXTURE = path.join(PROJECT_ROOT, 'test/fixtures/repository-v1');
/** The data partition on the stick: 1 MiB .. 41 MiB of a 48 MiB disk. */
const DATA_START = 1 * MiB;
const DATA_SIZE = 40 * MiB;
const STICK_SIZE = 48 * MiB;
const SHELL_BANNER = 'Lifeboat rescue shell.';

let workDir = '';
let kernel = '';
let initrd = '';

test.before(async () => {
  const iso = await requireMedia(TEST_MEDIA.runIso);
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-repo-guest-'));
  ({ kernel, initrd } = await extractKernelAndInitrd(iso, workDir));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

type Teardown = { teardown: (fn: () => Promise<void>) => void };

async function tempDir(t: Teardown, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(workDir, prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function boot(append: string, disks: ExtraDisk[], extra: Partial<BootOptions> = {}) {
  return limit(() => bootVm({ firmware: 'seabios', medium: { kind: 'kernel', file: kernel, initrd, append: `${CONSOLE} ${append}` }, disks, timeoutMs: 300_000, ...extra }));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function fileSha256(file: string, start = 0, end?: number): Promise<string> {
  const bytes = await readFile(file);
  return sha256(bytes.subarray(start, end));
}

/**
 * sha256 of every file under `dir` by relative path. Folders are left out: git keeps no empty
 * folders, so a clean checkout of the fixture lacks the empty locks/ and keys/ a repository has
 * (and the restore on the medium creates locks/ for its lock).
 */
async function treeDigest(dir: string): Promise<Record<string, string>> {
  const digest: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory()) continue;
    const full = path.join(entry.parentPath, entry.name);
    digest[path.relative(dir, full)] = await fileSha256(full);
  }
  return digest;
}

/** Exit code the CLI gives an error code (rescue/ui/cli/exit-codes.ts). */
function exitCodeOf(code: keyof typeof ERROR_CATALOGUE): number {
  return EXIT_CODES[ERROR_CATALOGUE[code].group];
}

/** The text after the run's begin marker (all of it: a run that powers off writes no end marker). */
function afterRunBegin(transcript: string): string | undefined {
  const text = transcript.replace(/\r/g, '');
  const begin = text.indexOf(RUN_MARKERS.begin);
  return begin < 0 ? undefined : text.slice(begin + RUN_MARKERS.begin.length);
}

test('QEMU restore: the disk holding the data partition is refused (LB_DEVICE_TARGET_IS_MEDIUM) and left alone; the same snapshot restores onto another disk', async (t) => {
  const dir = await tempDir(t, 'restore-');
  // The frozen fixture repository (a 4 MiB disk snapshot) on a FAT LIFEBOAT data partition of a USB stick.
  const partition = path.join(dir, 'part.img');
  const stick = path.join(dir, 'stick.img');
  await execa('truncate', ['-s', String(DATA_SIZE), partition]);
  await execa('mkfs.vfat', ['-n', 'LIFEBOAT', partition]);
  await execa('mcopy', ['-s', '-i', partition, path.join(FIXTURE, 'plain'), '::/repo']);
  await execa('truncate', ['-s', String(STICK_SIZE), stick]);
  await execa('sfdisk', ['--quiet', stick], { input: `label: gpt\nstart=${DATA_START / 512}, size=${DATA_SIZE / 512}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="LIFEBOAT"\n` });
  await execa('dd', [`if=${partition}`, `of=${stick}`, 'bs=1M', `seek=${DATA_START / MiB}`, 'conv=notrunc', 'status=none']);
  const tableBefore = await fileSha256(stick, 0, DATA_START);
  const tailBefore = await fileSha256(stick, DATA_START + DATA_SIZE);
  // A plain virtio disk the size of the fixture's source disk.
  const target = path.join(dir, 'target.img');
  await execa('truncate', ['-s', String(4 * MiB), target]);
  const expected = /sha256 ([0-9a-f]{64})/.exec(await readFile(path.join(FIXTURE, 'README.md'), 'utf8'))?.[1];
  t.truthy(expected, 'the fixture README records the source disk sha256');
  t.not(await fileSha256(target), expected ?? 'no recorded sha256');

  // lifeboat.run restores onto the stick; without lifeboat.then the init hands the consoles a shell,
  // where the restore onto the virtio disk is typed (same boot, same repository), then power off.
  const result = await boot('lifeboat.run="restore -r /mnt/lifeboat-data/repo latest /dev/sda --yes"', [
    { file: target, serial: 'LBTARGET01' },
    { file: stick, serial: 'LBDATA0002', bus: 'usb' },
  ], {
    input: [{
      when: new RegExp(`${SHELL_BANNER.replace('.', '\\.')}[^]*lifeboat:\\S*# `),
      text: 'lifeboat restore -r /mnt/lifeboat-data/repo latest /dev/vda --yes; echo "typed restore exit=$?"; sync; poweroff -f\n',
    }],
  });
  const tail = result.transcript.slice(-3000);
  t.regex(result.transcript, /lifeboat: data partition \/dev\/sda1 \(vfat\) mounted on \/mnt\/lifeboat-data/, tail);

  const refused = extractRunOutput(result.transcript);
  t.truthy(refused, tail);
  t.is(refused?.exitCode, exitCodeOf('LB_DEVICE_TARGET_IS_MEDIUM'), refused?.output);
  t.regex(refused?.output ?? '', /LB_DEVICE_TARGET_IS_MEDIUM/);
  t.regex(refused?.output ?? '', /\/dev\/sda holds the running Lifeboat medium/);
  t.notRegex(refused?.output ?? '', /Restored snapshot/);

  const typed = result.transcript.replace(/\r/g, '').slice(result.transcript.replace(/\r/g, '').indexOf(SHELL_BANNER));
  t.regex(typed, /typed restore exit=0\n/, tail);
  const snapshotId = (await readdir(path.join(FIXTURE, 'plain', 'snapshots')))[0]?.replace(/\.json$/, '') ?? '';
  t.regex(snapshotId, /^[0-9a-f]{64}$/);
  t.regex(typed, new RegExp(`Restored snapshot ${snapshotId.slice(0, 8)} onto .*; every chunk was verified\\.`));
  t.true(result.poweredOff, 'the typed poweroff ended the VM');
  t.false(result.timedOut);

  // On the host: the stick's partition table (first MiB) and everything after the data partition
  // are byte-identical, and the repository on the data partition still matches the fixture file for
  // file (the filesystem itself changes: the medium mounts it read-write and restore takes a lock).
  t.is(await fileSha256(stick, 0, DATA_START), tableBefore, 'the stick partition table was not overwritten');
  t.is(await fileSha256(stick, DATA_START + DATA_SIZE), tailBefore, 'the stick backup GPT was not overwritten');
  t.is((await stat(stick)).size, STICK_SIZE);
  const readBack = path.join(dir, 'read-back');
  await execa('mcopy', ['-s', '-n', '-i', `${stick}@@${DATA_START}`, '::/repo', readBack]);
  t.deepEqual(await treeDigest(readBack), await treeDigest(path.join(FIXTURE, 'plain')));
  // The other disk holds the fixture's source disk, byte for byte.
  t.is(await fileSha256(target), expected ?? 'no recorded sha256');
});

/** An 8 MiB FAT filesystem with a few files, as the backup source on a virtio disk. */
async function sourceFilesystem(dir: string): Promise<string> {
  const image = path.join(dir, 'source.img');
  await execa('truncate', ['-s', String(8 * MiB), image]);
  await execa('mkfs.vfat', ['-n', 'SOURCE', image]);
  const file = path.join(dir, 'numbers.txt');
  await execa('sh', ['-c', `seq 1 50000 > '${file}'`]);
  await execa('mcopy', ['-i', image, file, '::/numbers.txt']);
  return image;
}

test('QEMU backup --then poweroff: the machine switches off right after a successful backup', async (t) => {
  const dir = await tempDir(t, 'backup-ok-');
  const source = await sourceFilesystem(dir);
  // Stopped early if the init's shell comes up (--then ignored) instead of waiting for the timeout.
  const result = await boot('lifeboat.run="backup partition /dev/vda -r /tmp/repo --then poweroff"', [{ file: source, serial: 'LBSOURCE01' }], {
    until: (text) => text.includes(SHELL_BANNER),
  });
  const tail = result.transcript.slice(-3000);
  const run = afterRunBegin(result.transcript);
  t.truthy(run, tail);
  t.regex(run ?? '', /Created repository \/tmp\/repo/);
  // The same amounts as a backup of the same image on the host.
  const host = await execa('node', [path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs'), 'backup', 'partition', source, '-r', path.join(dir, 'host-repo')]);
  const amounts = /saved: (.* backed up, .* new in the repository),/.exec(host.stdout)?.[1];
  t.truthy(amounts, host.stdout);
  t.true((run ?? '').replace(/\r/g, '').includes(`saved: ${amounts},`), tail);
  t.regex(run ?? '', /snapshot [0-9a-f]{8} saved: .*, verified\./, tail);
  t.true(result.poweredOff, 'QEMU (-no-reboot) ended by itself');
  t.false(result.timedOut);
  t.regex(run ?? '', /reboot: Power down/);
  // The power-off came from inside the run (the boot command never wrote its end marker), not from
  // the init: no lifeboat.then was given, whose default is a shell.
  t.is(extractRunOutput(result.transcript), undefined);
  t.false(result.transcript.includes(SHELL_BANNER));
});

test('QEMU backup --then poweroff: a failed backup does not power off; the init gives the consoles a shell', async (t) => {
  const dir = await tempDir(t, 'backup-fail-');
  const source = await sourceFilesystem(dir);
  const result = await boot('lifeboat.run="backup partition /dev/vdz -r /tmp/repo --then poweroff"', [{ file: source, serial: 'LBSOURCE02' }], {
    until: (text) => text.includes(RUN_MARKERS.begin) && text.includes(SHELL_BANNER),
  });
  const run = extractRunOutput(result.transcript);
  t.truthy(run, result.transcript.slice(-3000));
  t.is(run?.exitCode, exitCodeOf('LB_DEVICE_NOT_FOUND'), run?.output);
  t.regex(run?.output ?? '', /LB_DEVICE_NOT_FOUND.*\/dev\/vdz does not exist/);
  t.notRegex(run?.output ?? '', /saved:/);
  t.not(result.matchedAfterSeconds, undefined, 'the shell banner appeared on the serial console');
  t.false(result.poweredOff, 'the VM was still running when the shell came up');
  t.false(/reboot: Power down/.test(result.transcript));
});
