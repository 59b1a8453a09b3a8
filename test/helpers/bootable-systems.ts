// Real bootable test systems for clone, conversion and deployment tests, made with real tools:
// the medium's own kernel, busybox on ext4, GRUB installed by grub-install (BIOS, MBR) or made by
// grub-mkstandalone (UEFI, GPT with ESP, /boot and a data partition). Each system is built once
// per content key (the recipe, kernel, busybox, GRUB and size) into a cache outside the work tree,
// and copied from there; bootSystem boots an image file and returns the marker it printed.

import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { obtainKernel, type KernelTree } from '../../builder/kernel.ts';
import { defaultCacheDir } from '../../builder/paths.ts';
import { sha256File, exists } from '../../builder/files.ts';
import { BUSYBOX, makeInitramfs, makeRootTree, parseSystemFailure, parseSystemMarker, SYSTEM_FAILURE_PREFIX, SYSTEM_MARKER_PREFIX, type SystemMarker } from './bootable-system-guest.ts';

export type { SystemMarker } from './bootable-system-guest.ts';
import { readPartitionTable, type Volume } from './disk-fixtures.ts';
import { bootVm } from './qemu.ts';
import { withLoop } from './filesystem-images.ts';

/** The systems this helper makes. */
export type SystemKind = 'mbr-bios' | 'gpt-uefi';

/** One partition of a test system. */
export interface SystemPartition {
  readonly number: number;
  readonly role: 'root' | 'esp' | 'boot' | 'data';
  readonly filesystem: 'ext4' | 'vfat';
  /** The filesystem's UUID as blkid and fstab write it (vfat: XXXX-XXXX). */
  readonly uuid: string;
  readonly startSector: number;
  readonly sizeSectors: number;
}

/** A test system in an image file, and what its boot must show. */
export interface BootableSystem {
  readonly kind: SystemKind;
  readonly file: string;
  readonly sizeBytes: number;
  readonly table: 'dos' | 'gpt';
  /** The firmware it boots with: SeaBIOS (BIOS) or OVMF (UEFI). */
  readonly firmware: 'seabios' | 'ovmf';
  readonly partitions: readonly SystemPartition[];
  readonly rootUuid: string;
  /** fstab's mount points besides / and the UUID each is mounted by. */
  readonly mounts: Readonly<Record<string, string>>;
  /** The data file's content, as the marker must print it ('none' when the system has no data partition). */
  readonly data: string;
}

/** Options of makeBootableSystem. */
export interface MakeSystemOptions {
  /** Where the copy goes (an image file; replaced). */
  readonly file: string;
  /** The disk's size; the last partition fills it (default 64 MiB for mbr-bios, 128 MiB for gpt-uefi). */
  readonly sizeMiB?: number;
}

const MiB = 1024 * 1024;
const SECTOR = 512;
const DEFAULT_SIZE_MIB: Record<SystemKind, number> = { 'mbr-bios': 64, 'gpt-uefi': 128 };
const HELPER_SOURCES = ['bootable-systems.ts', 'bootable-system-guest.ts'].map((name) => path.join(path.dirname(fileURLToPath(import.meta.url)), name));

/** The cache of built systems (outside the work tree; LIFEBOAT_TEST_SYSTEMS_DIR overrides it). */
export function systemsCacheDir(): string {
  return process.env.LIFEBOAT_TEST_SYSTEMS_DIR ?? '/var/tmp/lifeboat-test-systems';
}

/** Makes test system `kind` into options.file (from the cache, built there first when missing) and returns its facts. */
export async function makeBootableSystem(kind: SystemKind, options: MakeSystemOptions): Promise<BootableSystem> {
  const sizeMiB = options.sizeMiB ?? DEFAULT_SIZE_MIB[kind];
  const key = `${kind}:${sizeMiB}`;
  if (!systemLookups.has(key)) systemLookups.set(key, cachedSystem(kind, sizeMiB));
  const cached = await (systemLookups.get(key) as Promise<BootableSystem>);
  await rm(options.file, { force: true });
  await execa('cp', ['--sparse=always', '--reflink=auto', cached.file, options.file]);
  return { ...cached, file: options.file };
}

/** GRUB's rescue prompt (no normal.mod: its prefix is not found) or command prompt (no config). */
const GRUB_PROMPT = /grub(?: rescue)?> /;

/** What bootSystem saw. */
export interface SystemBoot {
  readonly marker: SystemMarker | undefined;
  /** The failure line's text when the system said why it could not come up. */
  readonly failure: string | undefined;
  /** GRUB stopped at its rescue or command prompt (it found no config or no modules). */
  readonly grubPrompt: boolean;
  readonly transcript: string;
  /** The transcript without terminal control sequences (what the screen showed, as text). */
  readonly screen: string;
  readonly seconds: number;
  readonly timedOut: boolean;
}

/**
 * The console's text without terminal control sequences: SeaBIOS's mirrored screen moves the cursor
 * inside GRUB's lines (a full run saw "error:ESC[06;06HESC[06;07H unknown filesystem."), depending
 * on when the screen was redrawn.
 */
export function withoutTerminalEscapes(text: string): string {
  return text.replace(/\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_]|c)/g, '');
}

/** Boots an image file as the system disk (virtio) with SeaBIOS (its screen mirrored on the serial port) or OVMF until the marker, a failure, GRUB's prompt, power-off or the timeout. */
export async function bootSystem(file: string, options: { firmware: 'seabios' | 'ovmf'; timeoutMs?: number }): Promise<SystemBoot> {
  const stop = new RegExp(`^(${SYSTEM_MARKER_PREFIX}|${SYSTEM_FAILURE_PREFIX}) .*\\n|${GRUB_PROMPT.source}`, 'm');
  const result = await bootVm({ firmware: options.firmware, medium: { kind: 'disk', file }, biosScreenOnSerial: true, memoryMiB: 512, timeoutMs: options.timeoutMs ?? 180_000, until: stop });
  const transcript = result.transcript.replace(/\r/g, '');
  const screen = withoutTerminalEscapes(transcript);
  return {
    marker: parseSystemMarker(transcript),
    failure: parseSystemFailure(transcript),
    grubPrompt: GRUB_PROMPT.test(screen),
    transcript,
    screen,
    seconds: result.matchedAfterSeconds ?? result.seconds,
    timedOut: result.timedOut,
  };
}

// ---------------------------------------------------------------------------------------------
// The cache

/** Each system found or built once per process (tests of one file ask for the same system at once). */
const systemLookups = new Map<string, Promise<BootableSystem>>();

/** The medium's kernel, looked up once per process (apt-cache takes seconds). */
let kernelLookup: Promise<KernelTree> | undefined;

async function cachedSystem(kind: SystemKind, sizeMiB: number): Promise<BootableSystem> {
  kernelLookup ??= obtainKernel({ kernel: undefined, cacheDir: defaultCacheDir(), log: () => undefined });
  const kernel = await kernelLookup;
  const key = await contentKey(kind, sizeMiB, kernel);
  const dir = systemsCacheDir();
  const base = path.join(dir, `${kind}-${sizeMiB}M-${key}`);
  if ((await exists(`${base}.json`)) && (await exists(`${base}.img`))) return JSON.parse(await readFile(`${base}.json`, 'utf8')) as BootableSystem;
  await mkdir(dir, { recursive: true });
  // Built under a private name and renamed into place: two test files building at once both finish.
  const work = await mkdtemp(`${base}.building-`);
  try {
    const file = path.join(work, 'disk.img');
    const system = kind === 'mbr-bios' ? await buildMbrBios({ file, sizeMiB, kernel, work }) : await buildGptUefi({ file, sizeMiB, kernel, work });
    await rename(file, `${base}.img`);
    const facts: BootableSystem = { ...system, file: `${base}.img` };
    await writeFile(path.join(work, 'facts.json'), JSON.stringify(facts, null, 2));
    await rename(path.join(work, 'facts.json'), `${base}.json`);
    await removeStaleBuilds(dir, `${kind}-${sizeMiB}M-`, path.basename(base));
    return facts;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Removes the builds of this system and size made from other inputs (the cache keeps one of each). */
export async function removeStaleBuilds(dir: string, prefix: string, current: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith(prefix) && !name.startsWith(current) && /\.(img|json)$/.test(name)) await rm(path.join(dir, name), { force: true });
  }
}

/** A hash of everything the image depends on: this recipe's source, the kernel, busybox, GRUB's packages and the size. */
async function contentKey(kind: SystemKind, sizeMiB: number, kernel: KernelTree): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`${kind}\n${sizeMiB}\n${kernel.version}\n`);
  for (const source of HELPER_SOURCES) hash.update(await readFile(source));
  hash.update(await sha256File(kernel.vmlinuz));
  hash.update(await sha256File(BUSYBOX));
  const { stdout } = await execa('dpkg-query', ['-W', 'grub-pc-bin', 'grub-efi-amd64-bin', 'grub2-common']);
  hash.update(stdout);
  return hash.digest('hex').slice(0, 16);
}

/** A fixed UUID per system and role, so facts are stable across rebuilds. */
function stableUuid(kind: SystemKind, role: string): string {
  const hex = createHash('sha256').update(`lifeboat-test-system:${kind}:${role}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

// ---------------------------------------------------------------------------------------------
// Builders

interface BuildOptions {
  readonly file: string;
  readonly sizeMiB: number;
  readonly kernel: KernelTree;
  readonly work: string;
}

/** GRUB's serial console, so the test reads GRUB's own messages too. */
const GRUB_SERIAL = 'serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\nset timeout=0\n';

/** grub.cfg's last lines: the kernel (in `bootPath` of GRUB's root) and the initramfs, booted at once (no menu: under OVMF a menu with timeout 0 waited). */
function bootCommands(bootPath: string, rootUuid: string): string {
  return `echo 'Booting the Lifeboat test system'\nlinux ${bootPath}/vmlinuz root=UUID=${rootUuid} console=ttyS0,115200 loglevel=4 panic=-1\ninitrd ${bootPath}/initrd.img\nboot\n`;
}

/** Writes an ext4 filesystem holding `tree` into the partition (no mount: mke2fs -d), in whole 4 KiB blocks. */
async function makeExt4(file: string, partition: { startSector: number; sizeSectors: number }, options: { uuid: string; label: string; tree: string }): Promise<void> {
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-L', options.label, '-U', options.uuid, '-d', options.tree, '-E', `offset=${partition.startSector * SECTOR},lazy_itable_init=0,lazy_journal_init=0`, file, `${Math.floor((partition.sizeSectors * SECTOR) / 4096) * 4}k`]);
}

async function copyKernel(kernel: KernelTree, work: string, bootDir: string): Promise<void> {
  await mkdir(bootDir, { recursive: true });
  await execa('cp', [kernel.vmlinuz, path.join(bootDir, 'vmlinuz')]);
  const initramfsWork = await mkdtemp(path.join(work, 'initramfs-'));
  await makeInitramfs(kernel, path.join(bootDir, 'initrd.img'), initramfsWork);
}

async function buildMbrBios(options: BuildOptions): Promise<BootableSystem> {
  const kind: SystemKind = 'mbr-bios';
  const rootUuid = stableUuid(kind, 'root');
  const labelId = stableUuid(kind, 'disk').slice(0, 8);
  await execa('truncate', ['-s', `${options.sizeMiB}M`, options.file]);
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', options.file], { input: `label: dos\nlabel-id: 0x${labelId}\nunit: sectors\n\nstart=2048, type=83, bootable\n` });
  const [entry] = (await readPartitionTable(options.file)).partitions;
  if (!entry) throw new Error('sfdisk made no partition');
  const root = { number: 1, role: 'root' as const, filesystem: 'ext4' as const, uuid: rootUuid, startSector: entry.start, sizeSectors: entry.size };
  const tree = path.join(options.work, 'root');
  await makeRootTree(tree, { name: kind, fstab: `UUID=${rootUuid} / ext4 defaults 0 1\n`, dataFile: undefined, mountPoints: ['/boot'] });
  await copyKernel(options.kernel, options.work, path.join(tree, 'boot'));
  await mkdir(path.join(tree, 'boot', 'grub'), { recursive: true });
  const grubCfg = `${GRUB_SERIAL}search --no-floppy --fs-uuid --set=root ${rootUuid}\n${bootCommands('/boot', rootUuid)}`;
  await writeFile(path.join(tree, 'boot', 'grub', 'grub.cfg'), grubCfg);
  await makeExt4(options.file, root, { uuid: rootUuid, label: 'root', tree });
  await installGrubBios(options.file, options.work);
  return { kind, file: options.file, sizeBytes: options.sizeMiB * MiB, table: 'dos', firmware: 'seabios', partitions: [root], rootUuid, mounts: {}, data: 'none' };
}

/** grub-install --target=i386-pc onto the whole-disk loop device, /boot on its first partition (partition node made by partx). */
async function installGrubBios(file: string, work: string): Promise<void> {
  await withLoop(file, async (device) => {
    await execa('partx', ['-a', device]);
    const mountPoint = path.join(work, 'mnt');
    await mkdir(mountPoint, { recursive: true });
    try {
      await waitForNode(`${device}p1`);
      await execa('mount', ['-t', 'ext4', `${device}p1`, mountPoint]);
      try {
        await execa('grub-install', ['--target=i386-pc', `--boot-directory=${path.join(mountPoint, 'boot')}`, '--modules=part_msdos ext2', '--locales=', '--fonts=', '--themes=', '--no-floppy', device]);
      } finally {
        await execa('umount', [mountPoint]);
      }
    } finally {
      await execa('partx', ['-d', device], { reject: false });
    }
  });
}

async function waitForNode(node: string): Promise<void> {
  for (let tries = 0; tries < 50; tries++) {
    if (await exists(node)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${node} did not appear after partx -a`);
}

async function buildGptUefi(options: BuildOptions): Promise<BootableSystem> {
  const kind: SystemKind = 'gpt-uefi';
  const uuid = (role: string) => stableUuid(kind, role);
  const espSerial = uuid('esp-serial').slice(0, 8).toUpperCase();
  const espUuid = `${espSerial.slice(0, 4)}-${espSerial.slice(4)}`;
  await execa('truncate', ['-s', `${options.sizeMiB}M`, options.file]);
  await execa('sgdisk', [
    '-o', '-U', uuid('disk'),
    '-n', '1:2048:+40M', '-t', '1:EF00', '-c', '1:EFI system partition', '-u', `1:${uuid('part-esp')}`,
    '-n', '2:0:+24M', '-t', '2:8300', '-c', '2:boot', '-u', `2:${uuid('part-boot')}`,
    '-n', '3:0:+24M', '-t', '3:8304', '-c', '3:root', '-u', `3:${uuid('part-root')}`,
    '-n', '4:0:0', '-t', '4:8300', '-c', '4:data', '-u', `4:${uuid('part-data')}`,
    options.file,
  ]);
  const table = (await readPartitionTable(options.file)).partitions;
  const at = (number: number) => {
    const entry = table.find((candidate) => candidate.number === number);
    if (!entry) throw new Error(`sgdisk made no partition ${number}`);
    return { startSector: entry.start, sizeSectors: entry.size };
  };
  const partitions: SystemPartition[] = [
    { number: 1, role: 'esp', filesystem: 'vfat', uuid: espUuid, ...at(1) },
    { number: 2, role: 'boot', filesystem: 'ext4', uuid: uuid('boot'), ...at(2) },
    { number: 3, role: 'root', filesystem: 'ext4', uuid: uuid('root'), ...at(3) },
    { number: 4, role: 'data', filesystem: 'ext4', uuid: uuid('data'), ...at(4) },
  ];
  const [esp, boot, root, data] = partitions as [SystemPartition, SystemPartition, SystemPartition, SystemPartition];
  const dataToken = `data-of-${kind}-${uuid('data-token').slice(0, 8)}`;
  // root
  const rootTree = path.join(options.work, 'root');
  const fstab = [`UUID=${root.uuid} / ext4 defaults 0 1`, `UUID=${boot.uuid} /boot ext4 defaults 0 2`, `UUID=${esp.uuid} /boot/efi vfat umask=0077 0 1`, `UUID=${data.uuid} /data ext4 defaults,nofail 0 2`].join('\n');
  await makeRootTree(rootTree, { name: kind, fstab: `${fstab}\n`, dataFile: '/data/lifeboat-data.txt', mountPoints: ['/boot', '/data'] });
  await makeExt4(options.file, root, { uuid: root.uuid, label: 'root', tree: rootTree });
  // /boot: kernel, initramfs, grub.cfg, and the ESP's mount point
  const bootTree = path.join(options.work, 'boot');
  await copyKernel(options.kernel, options.work, bootTree);
  await mkdir(path.join(bootTree, 'grub'), { recursive: true });
  await mkdir(path.join(bootTree, 'efi'), { recursive: true });
  await writeFile(path.join(bootTree, 'grub', 'grub.cfg'), `${GRUB_SERIAL}${bootCommands('', root.uuid)}`);
  await makeExt4(options.file, boot, { uuid: boot.uuid, label: 'boot', tree: bootTree });
  // data
  const dataTree = path.join(options.work, 'data');
  await mkdir(dataTree, { recursive: true });
  await writeFile(path.join(dataTree, 'lifeboat-data.txt'), `${dataToken}\n`);
  await makeExt4(options.file, data, { uuid: data.uuid, label: 'data', tree: dataTree });
  // ESP: FAT32 made in place, GRUB written with mtools (the kernel here has no vfat)
  await execa('mkfs.fat', ['-F', '32', '-s', '1', '-n', 'EFI', '-i', espSerial, '-h', String(esp.startSector), `--offset=${esp.startSector}`, options.file, String((esp.sizeSectors * SECTOR) / 1024)]);
  const efi = path.join(options.work, 'BOOTX64.EFI');
  const embedded = path.join(options.work, 'embedded-grub.cfg');
  // As Debian's signed GRUB does: the image reads the stub grub.cfg beside it on the ESP, which finds /boot by its UUID.
  await writeFile(embedded, `${GRUB_SERIAL}configfile \$cmdpath/grub.cfg\n`);
  const stub = path.join(options.work, 'stub-grub.cfg');
  await writeFile(stub, `search --no-floppy --fs-uuid --set=root ${boot.uuid}\nconfigfile (\$root)/grub/grub.cfg\n`);
  await execa('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', efi, '--locales=', '--fonts=', '--themes=', '--modules=part_gpt part_msdos ext2 fat search search_fs_uuid serial terminal configfile normal linux', '--install-modules=linux normal search search_fs_uuid part_gpt part_msdos ext2 fat serial terminal configfile echo test efi_gop all_video', `boot/grub/grub.cfg=${embedded}`]);
  const image = `${options.file}@@${esp.startSector * SECTOR}`;
  await execa('mmd', ['-i', image, '::/EFI', '::/EFI/BOOT']);
  await execa('mcopy', ['-i', image, efi, '::/EFI/BOOT/BOOTX64.EFI']);
  await execa('mcopy', ['-i', image, stub, '::/EFI/BOOT/grub.cfg']);
  const mounts = { '/boot': boot.uuid, '/boot/efi': esp.uuid, '/data': data.uuid };
  return { kind, file: options.file, sizeBytes: options.sizeMiB * MiB, table: 'gpt', firmware: 'ovmf', partitions, rootUuid: root.uuid, mounts, data: dataToken };
}

/**
 * The marker a boot of `system` (or of a copy of it) must print; a copy whose root partition moved
 * passes its new start, a copy without the data partition (clone system) passes withoutData: its
 * nofail /data entry is then absent, and so is the data file.
 */
export function expectedMarker(system: BootableSystem, options: { rootStartSector?: number; withoutData?: boolean } = {}): SystemMarker {
  const root = system.partitions.find((partition) => partition.role === 'root');
  if (!root) throw new Error(`${system.kind} has no root partition`);
  const withoutData = options.withoutData === true && system.mounts['/data'] !== undefined;
  return {
    name: system.kind,
    firmware: system.firmware === 'ovmf' ? 'uefi' : 'bios',
    table: system.table,
    disk: 'vda',
    rootUuid: system.rootUuid,
    rootDevice: `vda${root.number}`,
    rootStartSector: options.rootStartSector ?? root.startSector,
    mounts: withoutData ? { ...system.mounts, '/data': 'absent' } : system.mounts,
    data: withoutData ? 'absent' : system.data,
  };
}

/** A partition of a system as a disk-fixtures Volume (for fsckVolume, readTree, compareVolumes), in `file` (the system's own by default). */
export function systemVolume(system: BootableSystem, role: SystemPartition['role'], file: string = system.file): Volume {
  const partition = system.partitions.find((candidate) => candidate.role === role);
  if (!partition) throw new Error(`${system.kind} has no ${role} partition`);
  return { kind: partition.filesystem === 'vfat' ? 'fat32' : 'ext4', file, offset: partition.startSector * SECTOR, sizeBytes: partition.sizeSectors * SECTOR };
}
