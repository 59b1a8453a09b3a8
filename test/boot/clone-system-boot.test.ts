// The proof that `clone system` makes a copy that boots: the gpt-uefi test system (GPT: ESP, /boot,
// root and a data partition; test/helpers/bootable-systems.ts), its fstab's /data line made
// without nofail (debugfs, on the test's own copy before it is cloned), is cloned with `lifeboat
// clone system` onto an image file smaller than the source disk but larger than its system
// partitions. The plan (--dry-run --json first) names the data partition as left out, warns that
// the fstab mounts it without nofail and plans the fstab-nofail step; the copy's table holds exactly
// ESP, /boot and root, its fstab has nofail on /data with Lifeboat's comment (the source's is as it
// was: its sha256 is unchanged), each volume checks clean with the source's tree (but for
// /etc/fstab), and under OVMF the copy boots to its marker with /data absent: the guest's init stops
// the boot on a missing fstab entry without nofail, so the marker shows the edit took.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootSystem, expectedMarker, makeBootableSystem, systemVolume, type BootableSystem } from '../helpers/bootable-systems.ts';
import { compareVolumes, fsckVolume, readPartitionTable, verifyGpt } from '../helpers/disk-fixtures.ts';
import { describe, jsonEvents, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const TARGET_MIB = 96;

test(`QEMU: clone system of gpt-uefi (128 MiB, with a data partition) onto a ${TARGET_MIB} MiB image file holds ESP, /boot and root only, and boots to its marker under OVMF`, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-system-boot-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = await makeBootableSystem('gpt-uefi', { file: path.join(dir, 'source.img') });
  const data = source.partitions.find((partition) => partition.role === 'data');
  const lastSystemEnd = Math.max(...source.partitions.filter((partition) => partition.role !== 'data').map((partition) => partition.startSector + partition.sizeSectors));
  t.true(TARGET_MIB * MiB < source.sizeBytes && TARGET_MIB * MiB > lastSystemEnd * 512, 'the target is smaller than the source, larger than its system partitions');
  const root = source.partitions.find((partition) => partition.role === 'root');
  const rootAt = (file: string, startSector: number) => `${file}?offset=${startSector * 512}`;
  const fstab = (await execa('debugfs', ['-R', 'cat /etc/fstab', rootAt(source.file, root?.startSector ?? 0)])).stdout;
  t.regex(fstab, /\/data ext4 defaults,nofail 0 2/);
  const strict = fstab.replace('defaults,nofail', 'defaults');
  // execa drops the output's last newline; the guest's init reads whole lines only.
  await writeFile(path.join(dir, 'fstab'), `${strict}\n`);
  await execa('debugfs', ['-w', '-f', '-', rootAt(source.file, root?.startSector ?? 0)], { input: `rm /etc/fstab\nwrite ${path.join(dir, 'fstab')} /etc/fstab\nsif /etc/fstab mode 0100644\n` });
  t.is((await execa('debugfs', ['-R', 'cat /etc/fstab', rootAt(source.file, root?.startSector ?? 0)])).stdout, strict, 'the source\'s /data line has no nofail');
  const before = await sha256File(source.file);
  const target = path.join(dir, 'copy.img');
  await writeFile(target, '');
  await truncate(target, TARGET_MIB * MiB);

  const dry = await lifeboat(['clone', 'system', source.file, target, '--dry-run', '--json']);
  t.is(dry.exitCode, 0, describe(dry));
  const plan = jsonEvents(dry.stdout).find((event) => event.event === 'plan')?.plan as { kind: string; steps: Array<{ kind: string; partition?: number }>; system: { leftOut: Array<{ partition: number; role: string }>; missingMounts: Array<{ partition: number; mountPoint: string; nofail: boolean }> } } | undefined;
  t.is(plan?.kind, 'system');
  t.deepEqual(plan?.system.leftOut.map((entry) => [entry.partition, entry.role]), [[data?.number, 'data']]);
  t.deepEqual(plan?.system.missingMounts.map((mount) => [mount.partition, mount.mountPoint, mount.nofail]), [[data?.number, '/data', false]]);
  t.deepEqual(plan?.steps.slice(-2).map((step) => [step.kind, step.partition]), [['fstab-nofail', root?.number], ['table', undefined]], 'nofail is added before the table is written');

  const result = await lifeboat(['clone', 'system', source.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /^ +4 {2}left out {4}data /m);
  t.regex(result.stdout, /^warning: partition 4 is left out, but the fstab of the Linux root \(partition 3\) mounts it on \/data .*has no nofail, so it gets nofail in the copy's \/etc\/fstab/m);
  t.regex(result.stdout + result.stderr, /nofail added to 1 line of the copy's \/etc\/fstab \(\/data\)/);
  t.is(await sha256File(source.file), before, 'the source is unchanged');

  const table = await readPartitionTable(target);
  t.deepEqual(table.partitions.map((entry) => entry.number), [1, 2, 3], 'ESP, /boot and root; no data partition');
  const verify = await verifyGpt(target);
  t.true(verify.clean, verify.output);
  const copy: BootableSystem = {
    ...source, file: target, sizeBytes: TARGET_MIB * MiB,
    partitions: source.partitions.filter((partition) => partition.role !== 'data').map((partition) => {
      const entry = table.partitions.find((candidate) => candidate.number === partition.number);
      return { ...partition, startSector: entry?.start ?? -1, sizeSectors: entry?.size ?? -1 };
    }),
  };
  const copiedRoot = copy.partitions.find((partition) => partition.role === 'root');
  const copiedFstab = (await execa('debugfs', ['-R', 'cat /etc/fstab', rootAt(target, copiedRoot?.startSector ?? 0)])).stdout;
  t.is(copiedFstab, strict.replace(/^(UUID=\S+ \/data ext4) defaults (0 2)$/m, `# lifeboat clone system: nofail added, partition ${data?.number} was left out of this copy\n$1 defaults,nofail $2`), 'the copy\'s fstab: nofail on /data, with the comment');
  for (const partition of copy.partitions) {
    const differences = await compareVolumes(systemVolume(source, partition.role), systemVolume(copy, partition.role), { facts: false });
    t.deepEqual(differences.filter((line) => !/^differs: etc\/fstab\n/.test(line)), [], `${partition.role}: the source's tree (but for /etc/fstab in root)`);
  }
  const boot = await bootSystem(target, { firmware: copy.firmware });
  t.log(`clone system copy: ${copy.partitions.map((partition) => `${partition.role} ${((partition.sizeSectors * 512) / MiB).toFixed(1)} MiB at ${partition.startSector}`).join(', ')}; marker after ${boot.seconds.toFixed(1)} s`);
  t.deepEqual(boot.marker, expectedMarker(copy, { withoutData: true }), `the copy boots to its marker without /data; the console's end:\n${boot.transcript.slice(-2000)}`);
  for (const partition of copy.partitions) {
    const fsck = await fsckVolume(systemVolume(copy, partition.role));
    t.true(fsck.clean, `${partition.role} after the boot: ${fsck.output}`);
  }
});
