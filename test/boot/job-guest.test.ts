// An unattended job on the booted medium (QEMU, the ISO's own kernel and initramfs): the kernel
// parameter lifeboat.job names a job file on a second virtual disk (an ext4 LIFEBOAT data disk
// holding the job and a folder for the repository); after the countdown the job backs up a third
// disk, verifies the repository and powers the VM off. The host then opens the repository and
// finds the snapshot, and reads the backed-up file out of it.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { RUN_MARKERS } from '../../rescue/core/kernel-cmdline.ts';
import { extractKernelAndInitrd, requireMedia, SERIAL_CONSOLE_APPEND, TEST_MEDIA } from '../helpers/media.ts';
import { bootVm } from '../helpers/qemu.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');
const SHELL_BANNER = 'Lifeboat rescue shell.';

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-job-guest-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('QEMU lifeboat.job: after the countdown the job on the data disk backs up the third disk, verifies, and powers the VM off', async (t) => {
  const iso = await requireMedia(TEST_MEDIA.runIso);
  const { kernel, initrd } = await extractKernelAndInitrd(iso, workDir);

  // The source: an 8 MiB FAT filesystem with a file, on a plain virtio disk.
  const source = path.join(workDir, 'source.img');
  const numbers = path.join(workDir, 'numbers.txt');
  await execa('sh', ['-c', `seq 1 50000 > '${numbers}'`]);
  await execa('truncate', ['-s', '8M', source]);
  await execa('mkfs.vfat', ['-n', 'JOBSOURCE', source]);
  await execa('mcopy', ['-i', source, numbers, '::/numbers.txt']);

  // The data disk: ext4 labelled LIFEBOAT (the init mounts it on /mnt/lifeboat-data) with the job
  // and an empty folder for the repository; the job names the repository relative to its own folder.
  const content = path.join(workDir, 'data-content');
  await mkdir(path.join(content, 'jobs'), { recursive: true });
  await mkdir(path.join(content, 'repo'));
  await writeFile(path.join(content, 'jobs', 'nightly.json'), `${JSON.stringify({
    description: 'back up the source disk, check it, switch off',
    repository: '../repo',
    steps: [
      { do: 'backup', kind: 'partition', source: '/dev/vdb', options: { tag: 'job', note: 'from the QEMU job test' } },
      { do: 'verify' },
    ],
    then: 'poweroff',
  }, null, 2)}\n`);
  const data = path.join(workDir, 'data.img');
  await execa('truncate', ['-s', '64M', data]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'LIFEBOAT', '-d', content, data]);

  const result = await bootVm({
    firmware: 'seabios',
    medium: { kind: 'kernel', file: kernel, initrd, append: `${SERIAL_CONSOLE_APPEND} lifeboat.job=jobs/nightly.json` },
    disks: [{ file: data, serial: 'LBJOBDATA1' }, { file: source, serial: 'LBJOBSRC01' }],
    timeoutMs: 400_000,
    until: (text) => text.includes(SHELL_BANNER),
  });
  const transcript = result.transcript.replace(/\r/g, '');
  const tail = transcript.slice(-3000);
  t.log(`boot to power-off: ${result.seconds.toFixed(0)} s`);
  t.regex(transcript, /lifeboat: data partition \/dev\/vda \(ext4\) mounted on \/mnt\/lifeboat-data/, tail);
  // The countdown, second by second, then the job.
  const what = 'Job /mnt/lifeboat-data/jobs/nightly.json (backup, verify; then poweroff)';
  for (const left of [10, 9, 2, 1]) t.true(transcript.includes(`${what} starts in ${left} s; press any key to cancel.`), `${left} s\n${tail}`);
  t.true(transcript.includes(`${what} starts now.`), tail);
  const run = transcript.slice(transcript.indexOf(RUN_MARKERS.begin));
  t.regex(run, /job \/mnt\/lifeboat-data\/jobs\/nightly\.json: 2 step\(s\), then poweroff\./, tail);
  t.regex(run, /== step 1\/2 \(backup\): lifeboat backup partition \/dev\/vdb -r \/mnt\/lifeboat-data\/repo --tag job --note 'from the QEMU job test'/, tail);
  t.regex(run, /snapshot [0-9a-f]{8} saved: .*verified\./, tail);
  t.regex(run, /== step 2\/2 \(verify\) done\./, tail);
  t.regex(run, /powering off\./, tail);
  t.true(result.poweredOff, 'the job powered the VM off');
  t.false(result.timedOut);
  t.false(transcript.includes(SHELL_BANNER));

  // On the host: the repository on the data disk holds the snapshot, and the file comes back out.
  const mountPoint = path.join(workDir, 'mnt');
  await mkdir(mountPoint);
  // Read-write: the VM was switched off with the disk mounted, so ext4 replays its journal first.
  await execa('mount', ['-o', 'loop', data, mountPoint]);
  try {
    const env = { LIFEBOAT_LOG_DIR: path.join(workDir, 'host-logs') };
    const snapshots = await execa('node', [LIFEBOAT, 'snapshots', '-r', path.join(mountPoint, 'repo'), '--json'], { env });
    const entries = JSON.parse(snapshots.stdout) as Array<{ kind: string; tags: string[]; note: string; source: { serial: string } }>;
    t.is(entries.length, 1, snapshots.stdout);
    t.is(entries[0]?.kind, 'partition');
    t.is(entries[0]?.source.serial, 'LBJOBSRC01', 'the snapshot is of the VM\'s third disk');
    t.deepEqual(entries[0]?.tags, ['job']);
    t.is(entries[0]?.note, 'from the QEMU job test');
    const out = path.join(workDir, 'out');
    const get = await execa('node', [LIFEBOAT, 'get', '-r', path.join(mountPoint, 'repo'), 'latest', '/numbers.txt', out], { env, reject: false });
    t.is(get.exitCode, 0, get.stderr);
    t.deepEqual(await readFile(path.join(out, 'numbers.txt')), await readFile(numbers));
  } finally {
    await execa('umount', [mountPoint]);
  }
});
