// `clone disk --new-ids` proved by booting the copy: each bootable test system
// (test/helpers/bootable-systems.ts) is cloned with new ids, every id of the copy differs from its
// source's (sfdisk's disk id and partition UUIDs, blkid's filesystem UUIDs), the copy's fstab,
// grub.cfg and (gpt-uefi) the ESP's stub grub.cfg name only the new ones, the source's bytes are
// unchanged, and the copy boots (SeaBIOS / OVMF) to the marker its init prints with the new root
// UUID and every fstab mount found by its new UUID; after the boot each filesystem checks clean.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootSystem, expectedMarker, makeBootableSystem, systemVolume, type BootableSystem, type SystemKind, type SystemPartition } from '../helpers/bootable-systems.ts';
import { fsckVolume } from '../helpers/disk-fixtures.ts';
import { createLimiter } from '../helpers/qemu.ts';
import { describe, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const limit = createLimiter(2);

interface TableIds {
  readonly id: string;
  readonly partitions: ReadonlyArray<{ readonly number: number; readonly start: number; readonly size: number; readonly uuid: string }>;
}

/** The disk's id and each partition's place and PARTUUID as sfdisk reads them. */
async function tableIds(file: string): Promise<TableIds> {
  const { stdout } = await execa('sfdisk', ['-J', file]);
  const table = (JSON.parse(stdout) as { partitiontable: { id: string; partitions: Array<{ node: string; start: number; size: number; uuid?: string }> } }).partitiontable;
  const label = table.id.replace(/^0x/, '');
  return {
    id: table.id,
    partitions: table.partitions.map((entry) => {
      const number = Number(/(\d+)$/.exec(entry.node)?.[1]);
      return { number, start: entry.start, size: entry.size, uuid: entry.uuid ?? `${label}-${number.toString(16).padStart(2, '0')}` };
    }),
  };
}

async function blkidUuid(file: string, startSector: number): Promise<string> {
  return (await execa('blkid', ['-p', '-O', String(startSector * SECTOR), '-s', 'UUID', '-o', 'value', file])).stdout.trim();
}

async function extFile(file: string, partition: SystemPartition, name: string): Promise<string> {
  return (await execa('debugfs', ['-R', `cat ${name}`, `${file}?offset=${partition.startSector * SECTOR}`], { stderr: 'ignore' })).stdout;
}

const CASES: ReadonlyArray<{ kind: SystemKind; targetMiB: number; note: string }> = [
  { kind: 'mbr-bios', targetMiB: 96, note: 'a larger image file (root grows)' },
  { kind: 'gpt-uefi', targetMiB: 128, note: 'a same-size image file' },
];

for (const { kind, targetMiB, note } of CASES) {
  test(`QEMU: ${kind} cloned with --new-ids onto ${note}: every id is new, fstab and grub.cfg name the new ones, the source is unchanged, the copy boots to its marker`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), `lifeboat-new-ids-${kind}-`));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const source = await makeBootableSystem(kind, { file: path.join(dir, 'source.img') });
    const before = await sha256File(source.file);
    const target = path.join(dir, 'copy.img');
    await writeFile(target, '');
    await truncate(target, targetMiB * MiB);
    const result = await lifeboat(['clone', 'disk', source.file, target, '--new-ids', '--yes']);
    t.is(result.exitCode, 0, describe(result));
    t.regex(result.stdout, /Ids: new \(--new-ids/, 'the plan says the ids are new');
    t.is(await sha256File(source.file), before, 'the source is unchanged');

    const [from, to] = [await tableIds(source.file), await tableIds(target)];
    t.not(to.id.toLowerCase(), from.id.toLowerCase(), `the disk id (${from.id} -> ${to.id})`);
    const partitions: SystemPartition[] = [];
    for (const partition of source.partitions) {
      const entry = to.partitions.find((candidate) => candidate.number === partition.number);
      const old = from.partitions.find((candidate) => candidate.number === partition.number);
      if (!entry || !old) throw new Error(`partition ${partition.number} missing`);
      t.not(entry.uuid.toLowerCase(), old.uuid.toLowerCase(), `partition ${partition.number} PARTUUID`);
      const uuid = await blkidUuid(target, entry.start);
      t.is(await blkidUuid(source.file, partition.startSector), partition.uuid);
      t.not(uuid, partition.uuid, `${partition.role}: a new filesystem UUID`);
      t.regex(uuid, partition.filesystem === 'vfat' ? /^[0-9A-F]{4}-[0-9A-F]{4}$/ : /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      partitions.push({ ...partition, uuid, startSector: entry.start, sizeSectors: entry.size });
    }
    const uuidOf = (role: SystemPartition['role']) => partitions.find((partition) => partition.role === role)?.uuid ?? 'none';
    const oldUuids = source.partitions.map((partition) => partition.uuid);
    const copy: BootableSystem = {
      ...source, file: target, partitions, rootUuid: uuidOf('root'),
      mounts: Object.fromEntries(Object.entries(source.mounts).map(([point, uuid]) => [point, partitions[source.partitions.findIndex((partition) => partition.uuid === uuid)]?.uuid ?? 'none'])),
    };

    // The copy's files name the new ids and none of the old.
    const root = partitions.find((partition) => partition.role === 'root') as SystemPartition;
    const fstab = await extFile(target, root, '/etc/fstab');
    for (const partition of partitions.filter((candidate) => candidate.role === 'root' || Object.values(copy.mounts).includes(candidate.uuid))) {
      t.true(fstab.includes(`UUID=${partition.uuid} `), `fstab names ${partition.role} by its new UUID:\n${fstab}`);
    }
    const grubHome = partitions.find((partition) => partition.role === 'boot') ?? root;
    const grub = await extFile(target, grubHome, grubHome.role === 'boot' ? '/grub/grub.cfg' : '/boot/grub/grub.cfg');
    t.true(grub.includes(`root=UUID=${copy.rootUuid} `), `grub.cfg boots the new root UUID:\n${grub}`);
    const esp = partitions.find((partition) => partition.role === 'esp');
    const stub = esp ? (await execa('mtype', ['-i', `${target}@@${esp.startSector * SECTOR}`, '::/EFI/BOOT/grub.cfg'])).stdout : '';
    if (esp) t.true(stub.includes(`--fs-uuid --set=root ${uuidOf('boot')}`), `the ESP's stub finds /boot by its new UUID:\n${stub}`);
    else t.true(grub.includes(`--fs-uuid --set=root ${copy.rootUuid}`), `grub.cfg searches the new root UUID:\n${grub}`);
    for (const text of [fstab, grub, stub]) for (const old of oldUuids) t.false(text.toLowerCase().includes(old.toLowerCase()), `an old id is still named: ${old}`);

    const boot = await limit(() => bootSystem(target, { firmware: copy.firmware }));
    t.log(`${kind} copy with new ids: marker after ${boot.seconds.toFixed(1)} s; disk id ${from.id} -> ${to.id}; root ${source.rootUuid} -> ${copy.rootUuid}`);
    t.deepEqual(boot.marker, expectedMarker(copy), `the copy boots to its marker with its new ids; the console's end:\n${boot.transcript.slice(-2000)}`);
    for (const partition of partitions) {
      const fsck = await fsckVolume(systemVolume(copy, partition.role));
      t.true(fsck.clean, `${partition.role} after the boot: ${fsck.output}`);
    }
  });
}
