// The proof that `clone system` makes a copy that boots: the gpt-uefi test system (GPT: ESP, /boot,
// root and a data partition its fstab mounts on /data with nofail; test/helpers/bootable-systems.ts)
// is cloned with `lifeboat clone system` onto an image file smaller than the source disk but larger
// than its system partitions. The plan (--dry-run --json first) names the data partition as left
// out and warns that the fstab mounts it; the copy's table holds exactly ESP, /boot and root (the
// gap closed: nothing past root), each checks clean with the source's tree, the source's bytes are
// unchanged, and under OVMF the copy boots to its marker with /data absent (the nofail line does not
// hold the boot up).

import test from 'ava';
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
  const before = await sha256File(source.file);
  const target = path.join(dir, 'copy.img');
  await writeFile(target, '');
  await truncate(target, TARGET_MIB * MiB);

  const dry = await lifeboat(['clone', 'system', source.file, target, '--dry-run', '--json']);
  t.is(dry.exitCode, 0, describe(dry));
  const plan = jsonEvents(dry.stdout).find((event) => event.event === 'plan')?.plan as { kind: string; system: { leftOut: Array<{ partition: number; role: string }>; missingMounts: Array<{ partition: number; mountPoint: string; nofail: boolean }> } } | undefined;
  t.is(plan?.kind, 'system');
  t.deepEqual(plan?.system.leftOut.map((entry) => [entry.partition, entry.role]), [[data?.number, 'data']]);
  t.deepEqual(plan?.system.missingMounts.map((mount) => [mount.partition, mount.mountPoint, mount.nofail]), [[data?.number, '/data', true]]);

  const result = await lifeboat(['clone', 'system', source.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /^ +4 {2}left out {4}data /m);
  t.regex(result.stdout, /^warning: partition 4 is left out, but the fstab of the Linux root \(partition 3\) mounts it on \/data .*has nofail/m);
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
  for (const partition of copy.partitions) {
    t.deepEqual(await compareVolumes(systemVolume(source, partition.role), systemVolume(copy, partition.role), { facts: false }), [], `${partition.role}: the source's tree`);
  }
  const boot = await bootSystem(target, { firmware: copy.firmware });
  t.log(`clone system copy: ${copy.partitions.map((partition) => `${partition.role} ${((partition.sizeSectors * 512) / MiB).toFixed(1)} MiB at ${partition.startSector}`).join(', ')}; marker after ${boot.seconds.toFixed(1)} s`);
  t.deepEqual(boot.marker, expectedMarker(copy, { withoutData: true }), `the copy boots to its marker without /data; the console's end:\n${boot.transcript.slice(-2000)}`);
  for (const partition of copy.partitions) {
    const fsck = await fsckVolume(systemVolume(copy, partition.role));
    t.true(fsck.clean, `${partition.role} after the boot: ${fsck.output}`);
  }
});
