// `lifeboat convert uefi` and `convert undo` on real sfdisk-made MBR disks (image files, no QEMU):
// a Linux-like disk with a primary ext4 root (os-release, fstab, GRUB's i386-pc folder), an extended
// partition with swap, ext4 and FAT32 logicals, and free space at the end. After the conversion:
// `sgdisk -v` finds no problems, every partition keeps its first and last LBA, number and bytes,
// the types are mapped, the new ESP is FAT32 and fsck.fat-clean; `convert undo` gives back the
// byte-identical image; undo onto another disk is refused. Each refusal leaves the disk's sha256
// unchanged. Wall time ~3 min on the loaded 2-core machine (each command is a process).

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hashRange } from '../helpers/disk-fixtures.ts';
import { describe, errorCode, jsonEvents, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-convert-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface SfdiskPartition { node: string; start: number; size: number; type: string }

async function partitionsOf(file: string): Promise<SfdiskPartition[]> {
  const { stdout } = await execa('sfdisk', ['-J', file]);
  return (JSON.parse(stdout) as { partitiontable: { partitions: SfdiskPartition[] } }).partitiontable.partitions;
}

const numberOf = (node: string) => Number(/(\d+)$/.exec(node)?.[1]);

async function image(name: string, sizeMiB: number, table: string): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, '');
  await truncate(file, sizeMiB * MiB);
  await execa('sfdisk', ['-q', file], { input: table });
  return file;
}

/** Makes a filesystem in a scratch file and copies it into partition `number`. */
async function fill(file: string, number: number, make: (scratch: string, bytes: number) => Promise<unknown>): Promise<void> {
  const partition = (await partitionsOf(file)).find((entry) => numberOf(entry.node) === number);
  if (!partition) throw new Error(`no partition ${number} in ${file}`);
  const scratch = `${file}-p${number}`;
  await writeFile(scratch, '');
  await truncate(scratch, partition.size * 512);
  await make(scratch, partition.size * 512);
  await execa('dd', [`if=${scratch}`, `of=${file}`, 'bs=1M', `seek=${partition.start * 512}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  await rm(scratch);
}

/** The Linux-like disk: p1 ext4 root, p2 extended holding p5 swap, p6 ext4, p7 FAT32; ~300 MiB free at the end. */
async function makeLinuxDisk(name: string, seed: number): Promise<string> {
  const file = await image(name, 512, 'label: dos\nstart=2048, size=64MiB, type=83, bootable\nsize=120MiB, type=5\n5: size=16MiB, type=82\n6: size=40MiB, type=83\n7: size=40MiB, type=c\n');
  const root = path.join(workDir, `${name}-root`);
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(root, 'boot', 'grub', 'i386-pc'), { recursive: true });
  await writeFile(path.join(root, 'etc', 'os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
  await writeFile(path.join(root, 'etc', 'fstab'), `/dev/sda1 / ext4 defaults 0 1\n/dev/sda5 none swap sw 0 0\n/dev/sda6 /srv ext4 defaults 0 2\n# seed ${seed}\n`);
  await writeFile(path.join(root, 'boot', 'grub', 'grub.cfg'), 'set timeout=1\n');
  await fill(file, 1, (scratch) => execa('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', root, scratch]));
  await fill(file, 5, (scratch) => execa('mkswap', ['-L', 'swap', scratch]));
  await fill(file, 6, (scratch) => execa('mkfs.ext4', ['-q', '-F', '-L', 'srv', scratch]));
  await fill(file, 7, (scratch) => execa('mkfs.fat', ['-F', '32', '-n', 'DATA', scratch]));
  await execa('sfdisk', ['--disk-id', file, `0x${(0x1234500 + seed).toString(16)}`]);
  return file;
}

async function partitionHashes(file: string, partitions: readonly SfdiskPartition[]): Promise<Map<number, string>> {
  const hashes = new Map<number, string>();
  for (const partition of partitions) if (partition.type !== '5') hashes.set(numberOf(partition.node), await hashRange(file, partition.start * 512, partition.size * 512));
  return hashes;
}

const GPT_TYPES: Record<string, string> = {
  '83': '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  '82': '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
  c: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
};

test('convert uefi: a Linux MBR disk with logicals becomes a valid GPT with the same partitions and a FAT32 ESP; undo gives the same bytes back', async (t) => {
  const disk = await makeLinuxDisk('linux.img', 1);
  const original = await sha256File(disk);
  const before = await partitionsOf(disk);
  const hashes = await partitionHashes(disk, before);
  const undoFile = path.join(workDir, 'linux.lbundo');

  const dry = await lifeboat(['convert', 'uefi', disk, '--undo-file', undoFile, '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /Debian GNU\/Linux 12 \(bookworm\), boot loader GRUB \(BIOS\)/);
  t.regex(dry.stdout, / 5 {2}LBA \d+\.\.\d+ .*MBR 0x82 -> Linux swap/);
  t.regex(dry.stdout, /Dry run: nothing was written/);
  t.is(await sha256File(disk), original, 'a dry run writes nothing');

  const run = await lifeboat(['convert', 'uefi', disk, '--undo-file', undoFile, '--yes', '--json']);
  t.is(run.exitCode, 0, describe(run));
  const events = jsonEvents(run.stdout);
  const plan = events.find((event) => event.event === 'plan')?.plan as { esp: { number: number; firstLba: number; lastLba: number } };
  t.truthy(events.find((event) => event.event === 'done'));
  t.log(`undo file: ${(await stat(undoFile)).size} bytes`);

  const verify = await execa('sgdisk', ['-v', disk], { reject: false });
  t.regex(verify.stdout, /No problems found/, verify.stdout);
  const after = await partitionsOf(disk);
  for (const partition of before.filter((entry) => entry.type !== '5')) {
    const number = numberOf(partition.node);
    const now = after.find((entry) => numberOf(entry.node) === number);
    t.truthy(now, `partition ${number} is still there with its number`);
    t.is(now?.start, partition.start, `partition ${number} first LBA`);
    t.is(now?.size, partition.size, `partition ${number} last LBA`);
    t.is(now?.type, GPT_TYPES[partition.type], `partition ${number} type from 0x${partition.type}`);
  }
  t.deepEqual(await partitionHashes(disk, before), hashes, 'every partition\'s bytes are unchanged');
  const esp = after.find((entry) => numberOf(entry.node) === plan.esp.number);
  t.is(esp?.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
  t.is(esp?.start, plan.esp.firstLba);
  t.is((esp?.start ?? 0) % 2048, 0, 'the ESP is 1 MiB aligned');
  t.is(esp?.size, 260 * 2048, 'the ESP is 260 MiB');
  const espImage = path.join(workDir, 'esp.img');
  await execa('dd', [`if=${disk}`, `of=${espImage}`, 'bs=1M', `skip=${(esp?.start ?? 0) * 512}`, 'iflag=skip_bytes', `count=260`, 'status=none']);
  const fsck = await execa('fsck.fat', ['-n', espImage], { reject: false });
  t.is(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  t.regex((await execa('blkid', ['-p', '-o', 'export', espImage])).stdout, /LABEL=ESP[\s\S]*TYPE=vfat|TYPE=vfat[\s\S]*LABEL=ESP/);
  await rm(espImage);

  // Another disk of the same size and layout (another signature and root): refused, unchanged.
  const other = await makeLinuxDisk('other.img', 2);
  const otherHash = await sha256File(other);
  const wrong = await lifeboat(['convert', 'undo', undoFile, other, '--yes']);
  t.is(errorCode(wrong), 'LB_DEVICE_CONVERT_UNDO_WRONG_DISK', describe(wrong));
  t.is(await sha256File(other), otherHash, 'the other disk is unchanged');

  const garbage = path.join(workDir, 'garbage.lbundo');
  await writeFile(garbage, 'not an undo file at all');
  const invalid = await lifeboat(['convert', 'undo', garbage, disk, '--yes']);
  t.is(errorCode(invalid), 'LB_INPUT_CONVERT_UNDO_FILE_INVALID', describe(invalid));

  const undo = await lifeboat(['convert', 'undo', undoFile, disk, '--yes']);
  t.is(undo.exitCode, 0, describe(undo));
  t.is(await sha256File(disk), original, 'convert undo gives back the byte-identical disk');
});

/** A refused conversion: its code, and the disk's bytes unchanged. */
async function refused(t: import('ava').ExecutionContext, disk: string, code: string, extra: readonly string[] = []): Promise<string> {
  const before = await sha256File(disk);
  const result = await lifeboat(['convert', 'uefi', disk, '--undo-file', path.join(workDir, `${path.basename(disk)}.lbundo`), '--yes', ...extra]);
  t.is(errorCode(result), code, describe(result));
  t.is(await sha256File(disk), before, `${path.basename(disk)} is unchanged`);
  return result.stderr;
}

test('each refusal has its code and leaves the disk unchanged', async (t) => {
  const blank = path.join(workDir, 'blank.img');
  await writeFile(blank, Buffer.alloc(4096, 0x11));
  await truncate(blank, 64 * MiB);
  await refused(t, blank, 'LB_DEVICE_CONVERT_NOT_MBR');

  const gpt = await image('gpt.img', 64, 'label: gpt\nstart=2048, size=32MiB, type=L\n');
  await refused(t, gpt, 'LB_DEVICE_CONVERT_ALREADY_GPT');

  const dynamic = await image('dynamic.img', 64, 'label: dos\nstart=2048, size=32MiB, type=42\n');
  await refused(t, dynamic, 'LB_DEVICE_CONVERT_DYNAMIC_DISK');

  const unknown = await image('unknown.img', 64, 'label: dos\nstart=2048, size=32MiB, type=9f\n');
  await refused(t, unknown, 'LB_DEVICE_CONVERT_UNKNOWN_TYPE');

  const bitlocker = await image('bitlocker.img', 400, 'label: dos\nstart=2048, size=32MiB, type=7\n');
  await fill(bitlocker, 1, (scratch) => writeFile(scratch, Buffer.concat([Buffer.from([0xeb, 0x52, 0x90]), Buffer.from('-FVE-FS-', 'latin1')]), { flag: 'r+' }));
  await refused(t, bitlocker, 'LB_DEVICE_CONVERT_BITLOCKER');

  const ntfs = await image('ntfs.img', 400, 'label: dos\nstart=2048, size=32MiB, type=7\n');
  await fill(ntfs, 1, async (scratch) => {
    await execa('mkfs.ntfs', ['-Q', '-F', scratch]);
    await writeFile(`${scratch}-hib`, 'hibr and then a hibernated Windows');
    await execa('ntfscp', [scratch, `${scratch}-hib`, '/hiberfil.sys']);
    await rm(`${scratch}-hib`);
  });
  await refused(t, ntfs, 'LB_FILESYSTEM_CONVERT_NTFS_UNCLEAN');

  // The first partition at LBA 1: no room for the primary GPT's header and array.
  const early = await image('early.img', 64, 'label: dos\nstart=2048, size=32MiB, type=83\n');
  const sector = Buffer.alloc(512);
  const handle = await open(early, 'r+');
  await handle.read(sector, 0, 512, 0);
  sector.writeUInt32LE(1, 446 + 8);
  sector.writeUInt32LE(2047 + 32 * 2048, 446 + 12);
  await handle.write(sector, 0, 512, 0);
  await handle.close();
  t.regex(await refused(t, early, 'LB_DEVICE_CONVERT_NO_ROOM_FOR_GPT'), /starts at LBA 1\b/);

  // A full disk: the last partition ends at the disk's last sector.
  const full = await image('full.img', 64, 'label: dos\nstart=2048, type=83\n');
  t.regex(await refused(t, full, 'LB_DEVICE_CONVERT_NO_ROOM_FOR_GPT'), /backup GPT/);

  // Room for the tables but not for a 260 MiB ESP; an ext4 with little in it could give its tail.
  const tight = await image('tight.img', 400, `label: dos\nstart=2048, size=${(400 - 2) * 2048}, type=83\n`);
  await fill(tight, 1, (scratch) => execa('mkfs.ext4', ['-q', '-F', scratch]));
  t.regex(await refused(t, tight, 'LB_DEVICE_CONVERT_NO_ROOM_FOR_ESP'), /Shrinking the tail of partition 1 \(to \d+ MiB\) would make room/);

  // A looping EBR chain: the second EBR links back to itself.
  const looping = await image('looping.img', 64, 'label: dos\nstart=2048, size=60MiB, type=5\n5: size=8MiB, type=83\n6: size=8MiB, type=83\n');
  const [, first, second] = await partitionsOf(looping);
  const ebr2 = (second?.start ?? 0) - 2048;
  const extendedStart = 2048;
  const loopHandle = await open(looping, 'r+');
  const ebr = Buffer.alloc(512);
  await loopHandle.read(ebr, 0, 512, ebr2 * 512);
  ebr.writeUInt8(0x05, 446 + 16 + 4);
  ebr.writeUInt32LE(ebr2 - extendedStart, 446 + 16 + 8);
  ebr.writeUInt32LE(16 * 2048, 446 + 16 + 12);
  await loopHandle.write(ebr, 0, 512, ebr2 * 512);
  await loopHandle.close();
  t.truthy(first);
  t.regex(await refused(t, looping, 'LB_DEVICE_MBR_INVALID'), /loops back/);

  // No undo file named (and no data partition mounted), and an undo file on the disk itself.
  const plain = await makeLinuxDisk('plain.img', 3);
  const hash = await sha256File(plain);
  const none = await lifeboat(['convert', 'uefi', plain, '--yes']);
  t.is(errorCode(none), 'LB_INPUT_CONVERT_UNDO_FILE_REQUIRED', describe(none));
  const onTarget = await lifeboat(['convert', 'uefi', plain, '--undo-file', plain, '--yes']);
  t.is(errorCode(onTarget), 'LB_INPUT_CONVERT_UNDO_ON_TARGET', describe(onTarget));
  t.is(await sha256File(plain), hash);
});
