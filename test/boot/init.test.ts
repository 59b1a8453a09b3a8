// The medium's init and unattended mode, booted in QEMU straight from the ISO's own kernel and
// initramfs (-kernel/-initrd, so each case can set its own kernel parameters): power actions,
// the shell hand-over, bad parameters, and the data partition on a late USB disk.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extractRunOutput } from '../../rescue/core/kernel-cmdline.ts';
import type { DiskSummary } from '../../rescue/core/disk-facts.ts';
import { extractKernelAndInitrd, requireMedia, SERIAL_CONSOLE_APPEND, TEST_MEDIA } from '../helpers/media.ts';
import { bootVm, createLimiter, type BootOptions, type ExtraDisk } from '../helpers/qemu.ts';

const MiB = 1024 * 1024;
const limit = createLimiter(2);
const CONSOLE = SERIAL_CONSOLE_APPEND;

let workDir = '';
let kernel = '';
let initrd = '';

test.before(async () => {
  const iso = await requireMedia(TEST_MEDIA.runIso);
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-init-'));
  ({ kernel, initrd } = await extractKernelAndInitrd(iso, workDir));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function boot(t: { teardown: (fn: () => Promise<void>) => void }, append: string, extra: Partial<BootOptions> = {}, disks: ExtraDisk[] = []) {
  const dir = await mkdtemp(path.join(workDir, 'vm-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const target = path.join(dir, 'target.img');
  await execa('truncate', ['-s', String(32 * MiB), target]);
  return limit(() =>
    bootVm({ firmware: 'seabios', medium: { kind: 'kernel', file: kernel, initrd, append: `${CONSOLE} ${append}` }, disks: [{ file: target, serial: 'LBINIT0001' }, ...disks], timeoutMs: 240_000, ...extra }),
  );
}

test('QEMU init: lifeboat.then=reboot restarts the machine after the run', async (t) => {
  const result = await boot(t, 'lifeboat.run="errors LB_INPUT_USAGE" lifeboat.then=reboot');
  const run = extractRunOutput(result.transcript);
  t.truthy(run, result.transcript.slice(-2000));
  t.is(run?.exitCode, 0);
  t.regex(run?.output ?? '', /LB_INPUT_USAGE \(input, exit 2\)/);
  t.regex(result.transcript, /reboot: Restarting system/);
  t.true(result.poweredOff, 'QEMU (-no-reboot) ended by itself');
});

test('QEMU init: a failing run reports its exit code; lifeboat.then=shell gives the consoles a shell', async (t) => {
  const result = await boot(t, 'lifeboat.run="disks --bogus" lifeboat.then=shell', { until: /Lifeboat rescue shell/ });
  const run = extractRunOutput(result.transcript);
  t.is(run?.exitCode, 2, result.transcript.slice(-2000));
  t.regex(run?.output ?? '', /LB_INPUT_USAGE/);
  t.not(result.matchedAfterSeconds, undefined, 'the shell banner appeared on the serial console');
});

test('QEMU init: a malformed lifeboat.run is reported with its code, and the TUI still comes up', async (t) => {
  const result = await boot(t, 'lifeboat.run="disks', { until: (text) => text.includes('quit') && text.includes('/dev/vda') });
  t.regex(result.transcript, /LB_INPUT_BAD_CMDLINE/);
  t.not(result.matchedAfterSeconds, undefined, result.transcript.slice(-2000));
});

test('QEMU init: the LIFEBOAT data partition (exFAT on a late USB disk) is found and mounted', async (t) => {
  const dir = await mkdtemp(path.join(workDir, 'data-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const partition = path.join(dir, 'part.img');
  const disk = path.join(dir, 'stick.img');
  await execa('truncate', ['-s', String(40 * MiB), partition]);
  await execa('mkfs.exfat', ['-L', 'LIFEBOAT', partition]);
  await execa('truncate', ['-s', String(48 * MiB), disk]);
  await execa('sfdisk', ['--quiet', disk], { input: 'label: gpt\nstart=2048, size=81920, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="LIFEBOAT"\n' });
  await execa('dd', [`if=${partition}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none']);
  const result = await boot(t, 'lifeboat.run="disks --json" lifeboat.then=poweroff', {}, [{ file: disk, serial: 'LBDATA0001', bus: 'usb' }]);
  t.regex(result.transcript, /lifeboat: data partition \/dev\/sd[a-z]1 \(exfat\) mounted on \/mnt\/lifeboat-data/, result.transcript.slice(-2000));
  const run = extractRunOutput(result.transcript);
  const disks = (JSON.parse(run?.output ?? '{"disks":[]}') as { disks: DiskSummary[] }).disks;
  const stick = disks.find((entry) => entry.transport === 'usb');
  t.like(stick, { sizeBytes: 48 * MiB, holdsMedium: true });
  t.deepEqual(stick?.partitions.map((partition) => [partition.number, partition.startBytes, partition.sizeBytes, partition.mountPoints]), [[1, 1 * MiB, 40 * MiB, ['/mnt/lifeboat-data']]]);
  t.like(disks.find((entry) => entry.serial === 'LBINIT0001'), { holdsMedium: false, partitions: [] });
});
