// Issue 5, system backup: `lifeboat backup system` on a BIOS+MBR Linux disk (GRUB-like boot code
// and gap, ext4 /boot, ext4 root whose fstab mounts / and /boot by UUID, swap, ext4 data) and on a
// UEFI+GPT Windows-like disk (ESP with bootmgfw.efi, MSR, NTFS with Windows/System32, NTFS
// recovery partition, NTFS data) chooses the system partitions and says why; the snapshot holds
// only those. Restores: onto a copy of the original disk whose data partition, table names/ids and
// system partitions were changed (system partitions and boot code come back, the table and data
// partition stay as they were), and onto a blank disk (a table with only the chosen partitions,
// each filesystem clean and byte-identical).

import test from 'ava';
import { execa } from 'execa';
import { copyFile, mkdir, mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fsckVolume, hashRange, readPartitionTable, verifyGpt, type Volume, withMountedVolume } from '../helpers/disk-fixtures.ts';
import { writeAt } from '../helpers/filesystem-images.ts';
import { describe, jsonEvents, lifeboat, pseudoRandomBytes } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const SECTOR = 512;
const BOOT_UUID = '3e7c1a52-6d0b-4f2e-9a11-0b5c2d7e8f01';
const ROOT_UUID = '9a4f2c13-2b7e-4d61-8c0a-5e3b1f6d7a22';
const DATA_UUID = '5c2e8b71-0f4a-4a3d-b6e9-7d1c3a2f9b44';

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-system-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Part {
  readonly number: number;
  readonly offset: number;
  readonly sizeBytes: number;
}

async function partitions(file: string): Promise<Part[]> {
  return (await readPartitionTable(file)).partitions.map((entry) => ({ number: entry.number, offset: entry.start * SECTOR, sizeBytes: entry.size * SECTOR }));
}

function part(parts: readonly Part[], number: number): Part {
  const found = parts.find((entry) => entry.number === number);
  if (!found) throw new Error(`no partition ${number}`);
  return found;
}

/** Copies a partition image into the disk at `offset`, holes kept. */
async function place(image: string, disk: string, offset: number): Promise<void> {
  await execa('dd', [`if=${image}`, `of=${disk}`, 'bs=1M', `seek=${offset / MiB}`, 'conv=notrunc,sparse', 'status=none']);
}

async function emptyFile(file: string, bytes: number): Promise<string> {
  await writeFile(file, '');
  await truncate(file, bytes);
  return file;
}

/** An ext4 image of `sizeBytes` holding the files of `tree` (made with mkfs.ext4 -d). */
async function ext4Image(file: string, sizeBytes: number, uuid: string, label: string, tree: Record<string, string | Buffer>): Promise<string> {
  const dir = `${file}.d`;
  for (const [name, content] of Object.entries(tree)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  await emptyFile(file, sizeBytes);
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-L', label, '-U', uuid, '-E', `lazy_itable_init=0,lazy_journal_init=0,hash_seed=${uuid}`, '-d', dir, file]);
  await rm(dir, { recursive: true, force: true });
  return file;
}

/** BIOS+MBR Linux disk: p1 ext4 /boot, p2 ext4 root, p3 swap, p4 ext4 data; GRUB-like boot code and gap. */
async function makeLinuxDisk(file: string): Promise<Part[]> {
  await emptyFile(file, 160 * MiB);
  const script = 'label: dos\nlabel-id: 0x1b2c3d4e\nunit: sectors\n\nsize=24MiB, type=83, bootable\nsize=56MiB, type=83\nsize=16MiB, type=82\ntype=83\n';
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', file], { input: script });
  const parts = await partitions(file);
  const fstab = `# /etc/fstab\nUUID=${ROOT_UUID} / ext4 errors=remount-ro 0 1\nUUID=${BOOT_UUID}  /boot  ext4  defaults 0 2\n/dev/sda3 none swap sw 0 0\nUUID=${DATA_UUID} /srv/data ext4 defaults 0 2\n`;
  const images = path.join(workDir, 'linux-parts');
  await mkdir(images, { recursive: true });
  await place(await ext4Image(path.join(images, 'boot.img'), part(parts, 1).sizeBytes, BOOT_UUID, 'boot', { 'vmlinuz-6.1.0': pseudoRandomBytes('kernel', 3 * MiB), 'grub/grub.cfg': 'linux /vmlinuz-6.1.0 root=UUID=x\n' }), file, part(parts, 1).offset);
  await place(await ext4Image(path.join(images, 'root.img'), part(parts, 2).sizeBytes, ROOT_UUID, 'root', {
    'etc/fstab': fstab, 'etc/os-release': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n', 'bin/sh': pseudoRandomBytes('sh', 120_000), 'usr/lib/libc.so.6': pseudoRandomBytes('libc', 2 * MiB),
  }), file, part(parts, 2).offset);
  const swap = await emptyFile(path.join(images, 'swap.img'), part(parts, 3).sizeBytes);
  await execa('mkswap', ['-q', swap]);
  await place(swap, file, part(parts, 3).offset);
  await place(await ext4Image(path.join(images, 'data.img'), part(parts, 4).sizeBytes, DATA_UUID, 'data', { 'photos/a.jpg': pseudoRandomBytes('photo', 4 * MiB) }), file, part(parts, 4).offset);
  await rm(images, { recursive: true, force: true });
  await writeAt(file, 0, pseudoRandomBytes('grub boot.img', 440));
  await writeAt(file, SECTOR, pseudoRandomBytes('grub core.img', part(parts, 1).offset - SECTOR));
  return parts;
}

/** An NTFS image (mkntfs, filled through ntfs-3g FUSE). */
async function ntfsImage(file: string, sizeBytes: number, startSector: number, label: string, tree: Record<string, string | Buffer>): Promise<string> {
  await emptyFile(file, sizeBytes);
  await execa('mkntfs', ['-Q', '-F', '-q', '-L', label, '-s', '512', '-p', String(startSector), '-H', '255', '-S', '63', file]);
  const volume: Volume = { kind: 'ntfs', file, offset: 0, sizeBytes };
  await withMountedVolume(volume, 'rw', async (root) => {
    for (const [name, content] of Object.entries(tree)) {
      await mkdir(path.dirname(path.join(root, name)), { recursive: true });
      await writeFile(path.join(root, name), content);
    }
  });
  return file;
}

/** UEFI+GPT Windows-like disk: p1 ESP (FAT32), p2 MSR, p3 NTFS Windows, p4 NTFS recovery, p5 NTFS data. */
async function makeWindowsDisk(file: string): Promise<Part[]> {
  await emptyFile(file, 192 * MiB);
  await execa('sgdisk', ['-o', '-U', '6E0C5A2B-1F3D-4A8B-9C7E-2D4F6A8B0C1E',
    '-n', '1:2048:+40M', '-t', '1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B', '-c', '1:EFI system partition',
    '-n', '2:0:+16M', '-t', '2:E3C9E316-0B5C-4DB8-817D-F92DF00215AE', '-c', '2:Microsoft reserved partition',
    '-n', '3:0:+64M', '-t', '3:EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', '-c', '3:Basic data partition',
    '-n', '4:0:+24M', '-t', '4:DE94BBA4-06D1-4D40-A16A-BFD50179D6AC', '-c', '4:Recovery',
    '-n', '5:0:0', '-t', '5:EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', '-c', '5:Data', file]);
  const parts = await partitions(file);
  const images = path.join(workDir, 'windows-parts');
  await mkdir(images, { recursive: true });
  const esp = await emptyFile(path.join(images, 'esp.img'), part(parts, 1).sizeBytes);
  await execa('mkfs.fat', ['-F', '32', '-s', '1', '-n', 'SYSTEM', '-i', '4a3b2c1d', '-h', String(part(parts, 1).offset / SECTOR), esp]);
  const loader = path.join(images, 'bootmgfw.efi');
  await writeFile(loader, pseudoRandomBytes('bootmgfw', 1_500_000));
  await writeFile(path.join(images, 'BCD'), pseudoRandomBytes('bcd', 32_768));
  await execa('mmd', ['-i', esp, '::/EFI', '::/EFI/Microsoft', '::/EFI/Microsoft/Boot', '::/EFI/Boot']);
  await execa('mcopy', ['-i', esp, loader, path.join(images, 'BCD'), '::/EFI/Microsoft/Boot/']);
  await execa('mcopy', ['-i', esp, loader, '::/EFI/Boot/bootx64.efi']);
  await place(esp, file, part(parts, 1).offset);
  await place(await ntfsImage(path.join(images, 'windows.img'), part(parts, 3).sizeBytes, part(parts, 3).offset / SECTOR, 'Windows', {
    'Windows/System32/ntoskrnl.exe': pseudoRandomBytes('ntoskrnl', 6 * MiB), 'Windows/System32/config/SYSTEM': pseudoRandomBytes('hive', 2 * MiB), 'Users/Public/desktop.ini': '[.ShellClassInfo]\r\n',
  }), file, part(parts, 3).offset);
  await place(await ntfsImage(path.join(images, 'recovery.img'), part(parts, 4).sizeBytes, part(parts, 4).offset / SECTOR, 'Recovery', { 'Recovery/WindowsRE/Winre.wim': pseudoRandomBytes('winre', 5 * MiB) }), file, part(parts, 4).offset);
  await place(await ntfsImage(path.join(images, 'data.img'), part(parts, 5).sizeBytes, part(parts, 5).offset / SECTOR, 'Data', { 'Documents/report.docx': pseudoRandomBytes('report', 3 * MiB) }), file, part(parts, 5).offset);
  await rm(images, { recursive: true, force: true });
  await writeAt(file, 0, pseudoRandomBytes('windows boot code', 440));
  return parts;
}

interface Choice {
  readonly partition: number;
  readonly role: string;
  readonly chosen: boolean;
  readonly reason: string;
}

/** Backs up DISK with `backup system --json`; returns the selection event and the snapshot id. */
async function backupSystem(disk: string, repo: string): Promise<{ choices: Choice[]; id: string; text: string }> {
  const result = await lifeboat(['backup', 'system', disk, '-r', repo, '--json', '--tag', 'system']);
  if (result.exitCode !== 0) throw new Error(describe(result));
  const events = jsonEvents(result.stdout);
  const selection = events.find((event) => event.event === 'selection') as { partitions: Choice[] } | undefined;
  const done = events.find((event) => event.event === 'done') as { snapshot: { id: string; kind: string } } | undefined;
  if (!selection || !done) throw new Error(`no selection or done event:\n${describe(result)}`);
  if (done.snapshot.kind !== 'system') throw new Error(`snapshot kind ${done.snapshot.kind}`);
  return { choices: selection.partitions, id: done.snapshot.id, text: result.stdout };
}

function roles(choices: readonly Choice[]): string[] {
  return choices.map((choice) => `${choice.partition}:${choice.role}:${choice.chosen ? 'chosen' : 'left out'}`);
}

/** The snapshot's manifest as `snapshots --json` and the stored volumes tell it. */
async function snapshotKindAndVolumes(repo: string, id: string): Promise<{ kind: string; volumes: number[] }> {
  const listed = await lifeboat(['snapshots', '-r', repo, '--json']);
  const entry = (JSON.parse(listed.stdout) as Array<{ id: string; kind: string }>).find((snapshot) => snapshot.id === id);
  const ls = await lifeboat(['restore', '-r', repo, id.slice(0, 8), path.join(workDir, `dry-${id.slice(0, 8)}.img`), '--dry-run']);
  const volumes = [...ls.stdout.matchAll(/partition (\d+) \(/g)].map((match) => Number(match[1]));
  return { kind: entry?.kind ?? 'missing', volumes: [...new Set(volumes)].sort() };
}

// ---------------------------------------------------------------------------------------------

test.serial('BIOS+MBR Linux disk: /boot and root chosen by fstab, swap and data left out', async (t) => {
  const disk = path.join(workDir, 'linux.img');
  const parts = await makeLinuxDisk(disk);
  const repo = path.join(workDir, 'repo-linux');
  const { choices, id } = await backupSystem(disk, repo);
  t.deepEqual(roles(choices), ['1:linux-boot:chosen', '2:linux-root:chosen', '3:swap:left out', '4:data:left out']);
  t.regex(choices[0]?.reason ?? '', /mounts it on \/boot/);
  t.regex(choices[1]?.reason ?? '', /fstab/);
  const text = await lifeboat(['backup', 'system', disk, '-r', repo, '--no-verify']);
  t.is(text.exitCode, 0, describe(text));
  t.regex(text.stdout, /linux-root .*Linux root/);
  t.regex(text.stdout, /left out .*swap/);
  const stored = await snapshotKindAndVolumes(repo, id);
  t.is(stored.kind, 'system');
  t.deepEqual(stored.volumes, [1, 2]);
  await restoreChecks(t, { disk, parts, repo, id, label: 'dos', chosen: [1, 2], data: 4, kinds: { 1: 'ext4', 2: 'ext4' } });
});

test.serial('UEFI+GPT Windows-like disk: ESP, MSR, Windows and recovery chosen, data left out', async (t) => {
  const disk = path.join(workDir, 'windows.img');
  const parts = await makeWindowsDisk(disk);
  const repo = path.join(workDir, 'repo-windows');
  const { choices, id } = await backupSystem(disk, repo);
  t.deepEqual(roles(choices), ['1:esp:chosen', '2:msr:chosen', '3:windows:chosen', '4:windows-recovery:chosen', '5:data:left out']);
  t.regex(choices[2]?.reason ?? '', /System32/);
  t.regex(choices[3]?.reason ?? '', /repair/);
  const stored = await snapshotKindAndVolumes(repo, id);
  t.is(stored.kind, 'system');
  t.deepEqual(stored.volumes, [1, 2, 3, 4]);
  await restoreChecks(t, { disk, parts, repo, id, label: 'gpt', chosen: [1, 2, 3, 4], data: 5, kinds: { 1: 'fat32', 3: 'ntfs', 4: 'ntfs' } });
});

// ---------------------------------------------------------------------------------------------
// Restores

interface RestoreCase {
  readonly disk: string;
  readonly parts: readonly Part[];
  readonly repo: string;
  readonly id: string;
  readonly label: 'dos' | 'gpt';
  readonly chosen: readonly number[];
  readonly data: number;
  readonly kinds: Readonly<Record<number, 'ext4' | 'fat32' | 'ntfs'>>;
}

async function restoreChecks(t: import('ava').ExecutionContext, options: RestoreCase): Promise<void> {
  await restoreOntoOriginal(t, options);
  await restoreOntoBlank(t, options);
  await restoreOntoOtherLayout(t, options);
}

/** The table as sfdisk reports it in full (ids, types, GUIDs, names). */
async function sfdiskJson(file: string): Promise<{ label: string; id?: string; partitions: Array<{ node: string; start: number; size: number; type: string; uuid?: string; name?: string }> }> {
  const { stdout } = await execa('sfdisk', ['-J', file]);
  const table = (JSON.parse(stdout) as { partitiontable: { label: string; id?: string; partitions?: Array<{ node: string; start: number; size: number; type: string; uuid?: string; name?: string }> } }).partitiontable;
  return { ...table, partitions: (table.partitions ?? []).map((entry) => ({ ...entry, node: entry.node.slice(file.length) })) };
}

/** A target table of the snapshot's kind with one partition, numbered `number`, where the data partition was. */
async function otherDisk(file: string, { disk, parts, label, data }: RestoreCase, number: number): Promise<string> {
  const target = await emptyFile(file, (await stat(disk)).size);
  const place = part(parts, data);
  if (label === 'gpt') {
    await execa('sgdisk', ['-n', `${number}:${place.offset / SECTOR}:${(place.offset + place.sizeBytes) / SECTOR - 1}`, '-t', `${number}:0700`, '-c', `${number}:Other data`, target]);
  } else {
    await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', target], { input: `label: dos\nlabel-id: 0x0badcafe\n\n${target}${number} : start=${place.offset / SECTOR}, size=${place.sizeBytes / SECTOR}, type=83\n` });
  }
  await writeAt(target, place.offset, pseudoRandomBytes('other disk data', place.sizeBytes));
  return target;
}

/**
 * Onto another disk of the same table kind holding one partition of its own where the snapshot's
 * data partition was: the chosen partitions are added to its table at their places, its partition
 * keeps its entry and content. With its partition numbered like a chosen one: refused, nothing written.
 */
async function restoreOntoOtherLayout(t: import('ava').ExecutionContext, options: RestoreCase): Promise<void> {
  const { disk, parts, repo, id, label, chosen, data, kinds } = options;
  const target = await otherDisk(`${disk}.merge`, options, data);
  const place = part(parts, data);
  const theirs = (await sfdiskJson(target)).partitions.find((entry) => entry.node === String(data));
  const contentBefore = await hashRange(target, place.offset, place.sizeBytes);
  const dry = await lifeboat(['restore', '-r', repo, id.slice(0, 8), target, '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /added to it/i, describe(dry));
  const result = await lifeboat(['restore', '-r', repo, id.slice(0, 8), target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  const table = await sfdiskJson(target);
  t.is(table.label, label);
  t.deepEqual(table.partitions.map((entry) => Number(entry.node)).sort(), [...chosen, data].sort(), 'the chosen partitions and the target\'s own');
  t.truthy(theirs);
  t.deepEqual(table.partitions.find((entry) => entry.node === String(data)), theirs, 'the target\'s partition keeps its entry (place, type, GUID, name)');
  const original = await sfdiskJson(disk);
  for (const number of chosen) t.deepEqual(table.partitions.find((entry) => entry.node === String(number)), original.partitions.find((entry) => entry.node === String(number)), `partition ${number}'s entry as in the snapshot`);
  t.is(await hashRange(target, place.offset, place.sizeBytes), contentBefore, 'the target\'s partition keeps its content');
  t.is(await hashRange(target, 0, 440), await hashRange(disk, 0, 440), 'boot code restored');
  if (label === 'gpt') {
    const gpt = await verifyGpt(target);
    t.true(gpt.clean, gpt.output);
    t.is(table.id, original.id, 'the disk GUID is the snapshot\'s');
  } else {
    t.is(await hashRange(target, 440, 4), await hashRange(disk, 440, 4), 'the disk signature is the snapshot\'s');
    const head = part(parts, 1).offset;
    t.is(await hashRange(target, SECTOR, head - SECTOR), await hashRange(disk, SECTOR, head - SECTOR), 'boot gap restored');
  }
  await chosenRestored(t, target, { disk, parts, chosen, kinds });
  await rm(target, { force: true });
  // The same disk with its partition numbered like the first chosen one: refused, nothing written.
  const clash = await otherDisk(`${disk}.clash`, options, chosen[0] ?? 1);
  const before = await hashRange(clash, 0, (await stat(clash)).size);
  const refused = await lifeboat(['restore', '-r', repo, id.slice(0, 8), clash, '--yes']);
  t.not(refused.exitCode, 0, describe(refused));
  t.regex(refused.stderr, /LB_INPUT_USAGE.*cannot be added/s, describe(refused));
  t.is(await hashRange(clash, 0, (await stat(clash)).size), before, 'a refused restore writes nothing');
  await rm(clash, { force: true });
}

/** Onto a copy of the original disk: system partitions zeroed, boot code gone, data partition and table changed. */
async function restoreOntoOriginal(t: import('ava').ExecutionContext, { disk, parts, repo, id, label, chosen, data }: RestoreCase): Promise<void> {
  const copy = `${disk}.copy`;
  await copyFile(disk, copy);
  const head = part(parts, 1).offset;
  const dataPart = part(parts, data);
  if (label === 'dos') await execa('sfdisk', ['--disk-id', copy, '0x5a5a5a5a'], { reject: true });
  else await execa('sgdisk', ['-c', `${data}:Renamed data`, copy]);
  await writeAt(copy, 0, Buffer.alloc(440));
  if (label === 'dos') await writeAt(copy, SECTOR, Buffer.alloc(head - SECTOR));
  for (const number of chosen) await writeAt(copy, part(parts, number).offset, Buffer.alloc(part(parts, number).sizeBytes));
  await writeAt(copy, dataPart.offset + 4 * MiB, pseudoRandomBytes('changed data', MiB));
  const tableBefore = await execa('sfdisk', ['-d', copy]);
  const dataBefore = await hashRange(copy, dataPart.offset, dataPart.sizeBytes);

  const dry = await lifeboat(['restore', '-r', repo, id.slice(0, 8), copy, '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /original layout/i, describe(dry));
  t.notRegex(dry.stdout, new RegExp(`partition ${data} \\(`));
  const refused = await lifeboat(['restore', '-r', repo, id.slice(0, 8), copy]);
  t.not(refused.exitCode, 0, 'restore without --yes and without a terminal must refuse');
  const result = await lifeboat(['restore', '-r', repo, id.slice(0, 8), copy, '--yes']);
  t.is(result.exitCode, 0, describe(result));

  t.is((await execa('sfdisk', ['-d', copy])).stdout, tableBefore.stdout, 'the partition table is left as it was');
  t.is(await hashRange(copy, dataPart.offset, dataPart.sizeBytes), dataBefore, 'the data partition is left as it was');
  t.is(await hashRange(copy, 0, 440), await hashRange(disk, 0, 440), 'boot code restored');
  if (label === 'dos') t.is(await hashRange(copy, SECTOR, head - SECTOR), await hashRange(disk, SECTOR, head - SECTOR), 'boot gap restored');
  for (const number of chosen) {
    const { offset, sizeBytes } = part(parts, number);
    t.is(await hashRange(copy, offset, sizeBytes), await hashRange(disk, offset, sizeBytes), `partition ${number} restored byte-identical`);
  }
  await rm(copy, { force: true });
}

/** Each chosen partition of `target` equals the source disk's, and its filesystem checks clean. */
async function chosenRestored(t: import('ava').ExecutionContext, target: string, { disk, parts, chosen, kinds }: Pick<RestoreCase, 'disk' | 'parts' | 'chosen' | 'kinds'>): Promise<void> {
  for (const number of chosen) {
    const { offset, sizeBytes } = part(parts, number);
    t.is(await hashRange(target, offset, sizeBytes), await hashRange(disk, offset, sizeBytes), `partition ${number} byte-identical`);
    const kind = kinds[number];
    if (!kind) continue;
    const fsck = await fsckVolume({ kind, file: target, offset, sizeBytes });
    t.true(fsck.clean, fsck.output);
  }
}

/** Onto a blank disk of the same size: a table with only the chosen partitions, each clean and identical. */
async function restoreOntoBlank(t: import('ava').ExecutionContext, { disk, parts, repo, id, label, chosen, kinds }: RestoreCase): Promise<void> {
  const blank = await emptyFile(`${disk}.blank`, (await stat(disk)).size);
  const dry = await lifeboat(['restore', '-r', repo, id.slice(0, 8), blank, '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /data partitions .*not created/i, describe(dry));
  const result = await lifeboat(['restore', '-r', repo, id.slice(0, 8), blank, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  const table = await readPartitionTable(blank);
  t.is(table.label, label);
  t.deepEqual(table.partitions.map((entry) => `${entry.number}:${entry.start * SECTOR}:${entry.size * SECTOR}`), chosen.map((number) => `${number}:${part(parts, number).offset}:${part(parts, number).sizeBytes}`));
  if (label === 'gpt') {
    const gpt = await verifyGpt(blank);
    t.true(gpt.clean, gpt.output);
  }
  await chosenRestored(t, blank, { disk, parts, chosen, kinds });
  // A target with other partitions where the chosen ones go is refused.
  const other = await emptyFile(`${disk}.other`, (await stat(disk)).size);
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', other], { input: 'label: dos\n\nstart=4096, size=8MiB, type=83\n' });
  const overlap = await lifeboat(['restore', '-r', repo, id.slice(0, 8), other, '--yes']);
  t.is(overlap.exitCode === 0, false, describe(overlap));
  t.regex(overlap.stdout + overlap.stderr, /LB_INPUT_USAGE|LB_DEVICE_/);
  await rm(blank, { force: true });
  await rm(other, { force: true });
}
