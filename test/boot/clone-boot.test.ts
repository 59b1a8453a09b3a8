// The proof that a clone boots: the bootable test systems (test/helpers/bootable-systems.ts) are
// cloned by `lifeboat clone disk` onto larger image files (the largest data partition grows, the
// partitions after it move, a GPT gets its backup at the new end, the GRUB BIOS core in the gap
// after the MBR is copied as it is), and each copy boots in QEMU with its firmware (SeaBIOS for the
// MBR disk, OVMF for the GPT disk) to the marker its init prints, with the facts of the copy: root
// by UUID at its new start, every fstab mount by UUID, the data file. Every filesystem of the copy
// checks clean after the boot and has the source's tree; the source's bytes are unchanged. Each
// system is also cloned onto a SMALLER file just above the planner's minimum (2 MiB over the
// minimum a clone refused onto a 1 MiB file reports): its ext4 filesystems are shrunk on a
// copy-on-write view of the source, and the copy boots the same way.

import test from 'ava';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootSystem, expectedMarker, makeBootableSystem, systemVolume, type BootableSystem, type SystemKind } from '../helpers/bootable-systems.ts';
import { compareVolumes, diffListings, fsckVolume, readPartitionTable, readTree, type TreeListing, type Volume } from '../helpers/disk-fixtures.ts';
import { createLimiter } from '../helpers/qemu.ts';
import { bootWindowsStandIn, makeWindowsShapedDisk } from '../helpers/windows-shaped-disk.ts';
import { describe, errorCode, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const limit = createLimiter(2);

/** The copy's partitions: the source's, at the places the copy's table gives them. */
async function copiedSystem(source: BootableSystem, file: string): Promise<BootableSystem> {
  const table = await readPartitionTable(file);
  const partitions = source.partitions.map((partition) => {
    const entry = table.partitions.find((candidate) => candidate.number === partition.number);
    return { ...partition, startSector: entry?.start ?? -1, sizeSectors: entry?.size ?? -1 };
  });
  return { ...source, file, partitions };
}

/** The planner's minimum for `source`: the details of a clone refused onto a 1 MiB file. */
async function plannerMinimum(dir: string, source: string): Promise<number> {
  const tiny = path.join(dir, 'tiny.img');
  await writeFile(tiny, '');
  await truncate(tiny, MiB);
  const result = await lifeboat(['clone', 'disk', source, tiny, '--yes', '--json']);
  if (errorCode(result) !== 'LB_DEVICE_TARGET_BELOW_MINIMUM') throw new Error(`expected LB_DEVICE_TARGET_BELOW_MINIMUM: ${describe(result)}`);
  await rm(tiny);
  return (JSON.parse(result.stderr.trim().split('\n').at(-1) ?? '{}') as { error: { details: { minimumBytes: number } } }).error.details.minimumBytes;
}

/** resize2fs gives directories whose entries name a moved inode a new mtime, and a file can gain an extent block: those may differ in a shrunk copy. */
const normalise = (listing: TreeListing) => new Map([...listing].filter(([key]) => key !== '<free space>')
  .map(([key, line]) => [key, line.replace(/ blocks=\d+/, '').replace(/^(dir .*) mtime=\d+/, '$1')] as const));

const CASES: ReadonlyArray<{ kind: SystemKind; targetMiB: number | 'minimum'; fit: string[]; grows: string; growing: number; moving: number; shrinking: number }> = [
  { kind: 'mbr-bios', targetMiB: 96, fit: [], grows: 'root grows', growing: 1, moving: 0, shrinking: 0 },
  { kind: 'gpt-uefi', targetMiB: 192, fit: ['--fit', 'proportional'], grows: '--fit proportional: /boot, root and data grow, root and data move', growing: 3, moving: 2, shrinking: 0 },
  { kind: 'mbr-bios', targetMiB: 'minimum', fit: [], grows: 'root shrinks', growing: 0, moving: 0, shrinking: 1 },
  { kind: 'gpt-uefi', targetMiB: 'minimum', fit: [], grows: '/boot, root and data shrink, root and data move', growing: 0, moving: 2, shrinking: 3 },
];

for (const { kind, targetMiB, fit, grows, growing, moving, shrinking } of CASES) {
  const size = targetMiB === 'minimum' ? 'a smaller image file just above the planner\'s minimum' : `a ${targetMiB} MiB image file`;
  test(`QEMU: ${kind} cloned onto ${size} (${grows}) boots to its marker, clean and with the source's trees`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), `lifeboat-clone-boot-${kind}-`));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const source = await makeBootableSystem(kind, { file: path.join(dir, 'source.img') });
    const before = await sha256File(source.file);
    const targetBytes = targetMiB === 'minimum' ? (await plannerMinimum(dir, source.file)) + 2 * MiB : targetMiB * MiB;
    if (targetMiB === 'minimum') t.true(targetBytes < source.sizeBytes, `${targetBytes} below the source's ${source.sizeBytes}`);
    const target = path.join(dir, 'copy.img');
    await writeFile(target, '');
    await truncate(target, targetBytes);
    const result = await lifeboat(['clone', 'disk', source.file, target, ...fit, '--yes']);
    t.is(result.exitCode, 0, describe(result));
    t.is(await sha256File(source.file), before, 'the source is unchanged');
    const copy = await copiedSystem(source, target);
    const grown = copy.partitions.filter((partition, index) => partition.sizeSectors > (source.partitions[index]?.sizeSectors ?? 0));
    const shrunk = copy.partitions.filter((partition, index) => partition.sizeSectors < (source.partitions[index]?.sizeSectors ?? 0));
    const moved = copy.partitions.filter((partition, index) => partition.startSector !== source.partitions[index]?.startSector);
    t.is(grown.length, growing, `partitions grown: ${JSON.stringify(copy.partitions)}`);
    t.is(shrunk.length, shrinking, `partitions shrunk: ${JSON.stringify(copy.partitions)}`);
    t.is(moved.length, moving, `partitions moved: ${JSON.stringify(copy.partitions)}`);
    for (const partition of source.partitions) {
      const from: Volume = systemVolume(source, partition.role);
      const to: Volume = systemVolume(copy, partition.role);
      if (shrunk.some((entry) => entry.role === partition.role)) {
        const fsck = await fsckVolume(to);
        t.true(fsck.clean, `${partition.role} (shrunk) before the boot: ${fsck.output}`);
        t.deepEqual(diffListings(normalise(await readTree(from)), normalise(await readTree(to))), [], `${partition.role} (shrunk): the source's tree`);
      } else {
        t.deepEqual(await compareVolumes(from, to, { facts: false }), [], `${partition.role} before the boot`);
      }
    }
    const boot = await limit(() => bootSystem(target, { firmware: copy.firmware }));
    const sizes = (partitions: typeof grown) => partitions.map((partition) => `${partition.role} ${((partition.sizeSectors * SECTOR) / MiB).toFixed(1)} MiB`).join(', ') || 'none';
    t.log(`${kind} copy (${(targetBytes / MiB).toFixed(1)} MiB): marker after ${boot.seconds.toFixed(1)} s; grown: ${sizes(grown)}; shrunk: ${sizes(shrunk)}; moved: ${moved.map((partition) => partition.role).join(', ') || 'none'}`);
    t.deepEqual(boot.marker, expectedMarker(copy), `the copy boots to its marker; the console's end:\n${boot.transcript.slice(-2000)}`);
    for (const partition of copy.partitions) {
      const fsck = await fsckVolume(systemVolume(copy, partition.role));
      t.true(fsck.clean, `${partition.role} after the boot: ${fsck.output}`);
    }
  });
}

test('QEMU: the Windows-shaped disk cloned onto a 384 MiB image file (C: grows, recovery moves) boots its ESP loader stand-in under OVMF, which finds C: by its NTFS serial', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-boot-windows-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = await makeWindowsShapedDisk({ file: path.join(dir, 'source.img') });
  const before = await sha256File(source.file);
  const target = path.join(dir, 'copy.img');
  await writeFile(target, '');
  await truncate(target, 384 * MiB);
  const result = await lifeboat(['clone', 'disk', source.file, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.is(await sha256File(source.file), before, 'the source is unchanged');
  const table = await readPartitionTable(target);
  const recovery = source.partitions.find((partition) => partition.role === 'recovery');
  t.not(table.partitions.find((entry) => entry.number === recovery?.number)?.start, recovery?.startSector, 'the recovery partition moved');
  const boot = await limit(() => bootWindowsStandIn(target));
  t.log(`Windows-shaped copy: stand-in after ${boot.seconds.toFixed(1)} s`);
  t.true(boot.found, `the stand-in finds C: on the copy; the console's end:\n${boot.transcript.slice(-2000)}`);
});
