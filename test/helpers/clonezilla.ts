// Clonezilla image directories built the way ocs-sr names things, from a real MBR disk: sfdisk made
// the table (ext4 bootable, FAT32, swap), dd saved the MBR and the hidden data after it, partclone
// piped into zstd/gzip/xz/nothing (split or not) saved the partitions, swappt-sda3.info the swap's UUID and label.

import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fillWithKernelMount, sparseFile } from './filesystem-images.ts';
import { describe, lifeboat, listSnapshots } from './repository-harness.ts';

/** Bytes in a MiB. */
export const MiB = 1024 * 1024;
/** The disk's sector size. */
export const SECTOR = 512;
/** Partition places in sectors: ext4, FAT32, swap. */
export const P1 = { start: 2048, size: 24 * 2048 };
export const P2 = { start: 2048 + 24 * 2048, size: 34 * 2048 };
export const P3 = { start: P2.start + P2.size, size: 4 * 2048 };
/** The swap partition's identity as mkswap set it. */
export const SWAP = { uuid: '11111111-2222-3333-4444-555555555555', label: 'swappy' } as const;

/** The source disk and the uncompressed partclone images of its two filesystems. */
export interface BuiltClonezillaDisk {
  readonly root: string;
  readonly disk: string;
  /** Uncompressed partclone images, the oracle for partclone.restore. */
  readonly ptcl: Readonly<Record<'sda1' | 'sda2', string>>;
}

/** Builds the source disk in a new temporary folder (the caller removes `root`). */
export async function buildClonezillaSourceDisk(): Promise<BuiltClonezillaDisk> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-ocs-'));
  const ext4 = await sparseFile(path.join(root, 'p1.img'), P1.size * SECTOR);
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', ext4]);
  await fillWithKernelMount(ext4, path.join(root, 'mnt'), 25);
  const fat = await sparseFile(path.join(root, 'p2.img'), P2.size * SECTOR);
  await execa('mkfs.fat', ['-F', '32', '-s', '1', fat]);
  const file = path.join(root, 'payload.bin');
  await writeFile(file, Buffer.from(Array.from({ length: 900_000 }, (_, i) => (i * 7919) & 0xff)));
  await execa('mcopy', ['-i', fat, file, '::/payload.bin']);
  const disk = await sparseFile(path.join(root, 'disk.img'), (P3.start + P3.size + 2048) * SECTOR);
  await execa('sfdisk', ['-q', disk], {
    input: `label: dos\nlabel-id: 0x1234abcd\n${P1.start},${P1.size},83,*\n${P2.start},${P2.size},c\n${P3.start},${P3.size},82\n`,
  });
  // Boot code and a fake boot loader stage in the gap, so sda-mbr and the hidden data are not empty.
  await execa('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=440', 'count=1', 'conv=notrunc'], { stderr: 'ignore' });
  await execa('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=512', 'seek=1', 'count=60', 'conv=notrunc'], { stderr: 'ignore' });
  await execa('dd', [`if=${ext4}`, `of=${disk}`, 'bs=1M', `seek=${P1.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse'], { stderr: 'ignore' });
  await execa('dd', [`if=${fat}`, `of=${disk}`, 'bs=1M', `seek=${P2.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse'], { stderr: 'ignore' });
  // mkswap on its own file (not every mkswap has --offset), then copied into place.
  const swap = await sparseFile(path.join(root, 'p3.img'), P3.size * SECTOR);
  await execa('mkswap', ['-q', '-U', SWAP.uuid, '-L', SWAP.label, swap]);
  await execa('dd', [`if=${swap}`, `of=${disk}`, 'bs=1M', `seek=${P3.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse'], { stderr: 'ignore' });
  const ptcl = {
    sda1: path.join(root, 'sda1.ptcl'),
    sda2: path.join(root, 'sda2.ptcl'),
  };
  await execa('partclone.ext4', ['-c', '-q', '-L', `${ptcl.sda1}.log`, '-s', ext4, '-O', ptcl.sda1], { stdin: 'ignore' });
  await execa('partclone.vfat', ['-c', '-q', '-L', `${ptcl.sda2}.log`, '-s', fat, '-O', ptcl.sda2], { stdin: 'ignore' });
  return { root, disk, ptcl };
}

/** The compressors ocs-sr pipes partclone into, by the suffix it gives the file. */
export const COMPRESSORS = { zst: 'zstd -q -c', gz: 'gzip -c', xz: 'xz -c -T1', uncomp: 'cat' } as const;

/** How to save each partition. */
export interface OcsSrChoice {
  readonly sda1: keyof typeof COMPRESSORS;
  readonly sda2: keyof typeof COMPRESSORS;
  readonly splitSda2: boolean;
}

/** An image directory as ocs-sr writes it (in `b.root/name`); partition images compressed with `sda1`/`sda2`'s choice. */
export async function saveLikeOcsSr(b: BuiltClonezillaDisk, name: string, choice: OcsSrChoice): Promise<string> {
  const dir = path.join(b.root, name);
  await mkdir(dir);
  await writeFile(path.join(dir, 'disk'), 'sda\n');
  await writeFile(path.join(dir, 'parts'), 'sda1 sda2\n');
  await writeFile(path.join(dir, 'clonezilla-img'), 'This is an image made by Lifeboat tests, named as Clonezilla does.\n');
  await writeFile(path.join(dir, 'Info-packages.txt'), 'partclone 0.3.23\n');
  const { stdout } = await execa('sfdisk', ['-d', b.disk]);
  await writeFile(path.join(dir, 'sda-pt.sf'), `${stdout.replaceAll(b.disk, '/dev/sda')}\n`);
  const parted = await execa('parted', ['-s', b.disk, 'unit', 's', 'print'], { reject: false });
  // Without parted on this machine, the lines of its output that carry the disk size.
  const sectors = (await stat(b.disk)).size / SECTOR;
  const partedText = parted.exitCode === 0 ? parted.stdout.replaceAll(b.disk, '/dev/sda') : `Model:  (file)\nDisk /dev/sda: ${sectors}s\nSector size (logical/physical): 512B/512B\nPartition Table: msdos\n`;
  await writeFile(path.join(dir, 'sda-pt.parted'), `${partedText}\n`);
  await execa('dd', [`if=${b.disk}`, `of=${path.join(dir, 'sda-mbr')}`, 'bs=512', 'count=1'], { stderr: 'ignore' });
  await execa('dd', [`if=${b.disk}`, `of=${path.join(dir, 'sda-hidden-data-after-mbr')}`, 'bs=512', 'skip=1', `count=${P1.start - 1}`], { stderr: 'ignore' });
  await writeFile(path.join(dir, 'swappt-sda3.info'), `UUID="${SWAP.uuid}"\nLABEL="${SWAP.label}"\n`);
  const save = async (part: 'sda1' | 'sda2', fs: string, compression: keyof typeof COMPRESSORS, split: boolean) => {
    const prefix = path.join(dir, `${part}.${fs}-ptcl-img.${compression}`);
    const sink = split ? `split -b 1M -a 2 - '${prefix}.'` : `cat > '${prefix}'`;
    await execa('sh', ['-c', `${COMPRESSORS[compression]} < '${b.ptcl[part]}' | ${sink}`]);
  };
  await save('sda1', 'ext4', choice.sda1, true);
  await save('sda2', 'vfat', choice.sda2, choice.splitSda2);
  return dir;
}

/** What partclone.restore writes for a partition into a fresh sparse file. */
export async function partcloneRestore(image: string, size: number, tag: string): Promise<Buffer> {
  const out = `${image}.${tag}.restored`;
  await sparseFile(out, size);
  await execa('partclone.restore', ['-C', '-q', '-L', `${out}.log`, '-s', image, '-O', out], { stdin: 'ignore' });
  const bytes = await readFile(out);
  await rm(out);
  await rm(`${out}.log`, { force: true });
  return bytes;
}

const shared: { disk?: Promise<BuiltClonezillaDisk>; roots: string[] } = { roots: [] };

/** The MBR test disk above, built once per test file (each ava file runs in its own process) and
 * removed by `removeClonezillaTestDisks` in the file's `test.after.always`. */
export function sharedClonezillaSourceDisk(): Promise<BuiltClonezillaDisk> {
  shared.disk ??= buildClonezillaSourceDisk().then((b) => {
    shared.roots.push(b.root);
    return b;
  });
  return shared.disk;
}

/** Removes every folder this helper made in this process (test disks and `newScratchRoot` folders). */
export async function removeClonezillaTestDisks(): Promise<void> {
  for (const root of shared.roots.splice(0)) await rm(root, { recursive: true, force: true });
}

/** A new temporary folder, removed by `removeClonezillaTestDisks`. */
export async function newScratchRoot(tag: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), `lifeboat-${tag}-`));
  shared.roots.push(root);
  return root;
}

/** One partition of a generated disk, in sectors; `fs` says what to put in it (nothing for an extended partition). */
export interface PartitionSpec {
  readonly number: number;
  readonly start: number;
  readonly size: number;
  /** MBR type in hex (83, c, 7, 82, 5) or a GPT type GUID. */
  readonly type: string;
  readonly fs?: 'ext4' | 'vfat' | 'ntfs' | 'swap';
  readonly bootable?: boolean;
  /** GPT partition name. */
  readonly name?: string;
}

/** A disk to generate: its table (sfdisk makes it) and partitions (mkfs makes them, in partition order for sfdisk). */
export interface DiskSpec {
  readonly label: 'dos' | 'gpt';
  readonly labelId: string;
  readonly sectors: number;
  readonly partitions: readonly PartitionSpec[];
}

/** A generated disk and the uncompressed partclone image of each filesystem (by sdaN). */
export interface BuiltSpecDisk {
  readonly root: string;
  readonly disk: string;
  readonly spec: DiskSpec;
  readonly ptcl: Readonly<Record<string, string>>;
  /** The file every filesystem holds at its root, by sdaN: /payload-sdaN.bin. */
  readonly payloads: Readonly<Record<string, Buffer>>;
}

/** GPT type GUIDs the tests use. */
export const GPT_TYPES = {
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  basicData: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
  swap: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
} as const;

/** Swap identity of the generated disks. */
export const SPEC_SWAP = { uuid: '66666666-7777-4888-9999-aaaaaaaaaaaa', label: 'specswap' } as const;

/** Generates the disk in `root`: sfdisk writes the table, mkfs the filesystems (each holding /payload-sdaN.bin), partclone saves each one. */
export async function buildSpecDisk(root: string, spec: DiskSpec): Promise<BuiltSpecDisk> {
  const disk = await sparseFile(path.join(root, 'disk.img'), spec.sectors * SECTOR);
  const lines = spec.partitions.map((p) => [`start=${p.start}`, `size=${p.size}`, `type=${p.type}`, ...(p.bootable ? ['bootable'] : []), ...(p.name ? [`name="${p.name}"`] : [])].join(', '));
  await execa('sfdisk', ['-q', disk], { input: `label: ${spec.label}\nlabel-id: ${spec.labelId}\n${lines.join('\n')}\n` });
  const ptcl: Record<string, string> = {};
  const payloads: Record<string, Buffer> = {};
  for (const p of spec.partitions) {
    if (!p.fs) continue;
    const part = `sda${p.number}`;
    const file = await sparseFile(path.join(root, `${part}.img`), p.size * SECTOR);
    const payload = Buffer.from(Array.from({ length: 300_000 + p.number * 1000 }, (_, i) => (i * 31 + p.number * 7) & 0xff));
    const payloadFile = path.join(root, `payload-${part}.bin`);
    await writeFile(payloadFile, payload);
    if (p.fs === 'ext4') {
      await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-L', part, file]);
      await fillWithKernelMount(file, path.join(root, `mnt-${part}`), 12);
      await execa('debugfs', ['-w', '-R', `write ${payloadFile} payload-${part}.bin`, file]);
    } else if (p.fs === 'vfat') {
      await execa('mkfs.fat', ['-F', '32', '-s', '1', '-n', part.toUpperCase(), file]);
      await execa('mcopy', ['-i', file, payloadFile, `::/payload-${part}.bin`]);
    } else if (p.fs === 'ntfs') {
      await execa('mkntfs', ['-q', '-F', '-f', '-L', part, file]);
      await execa('ntfscp', ['-f', file, payloadFile, `payload-${part}.bin`]);
    } else {
      await execa('mkswap', ['-q', '-U', SPEC_SWAP.uuid, '-L', SPEC_SWAP.label, file]);
    }
    if (p.fs !== 'swap') {
      payloads[part] = payload;
      ptcl[part] = path.join(root, `${part}.ptcl`);
      await execa(`partclone.${p.fs}`, ['-c', '-q', '-L', `${ptcl[part]}.log`, '-s', file, '-O', ptcl[part]], { stdin: 'ignore' });
    }
    await execa('dd', [`if=${file}`, `of=${disk}`, 'bs=1M', `seek=${p.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse'], { stderr: 'ignore' });
    await rm(file);
  }
  // Boot code, as a boot loader leaves it (the GPT's protective MBR keeps it too).
  await execa('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=440', 'count=1', 'conv=notrunc'], { stderr: 'ignore' });
  return { root, disk, spec, ptcl, payloads };
}

/** Saves `b` the way ocs-sr savedisk does (ocs-functions task_savedisk/save_part_table_mbr_dm_info), into `b.root/name`:
 * disk, parts, sda-pt.sf, sda-pt.parted, sda-mbr; for dos the hidden data after the MBR and sda2-ebr for an extended
 * partition; for gpt sda-gpt-1st (34 sectors), sda-gpt-2nd (dd skip=size-32 count=33, as ocs-sr counts), sda-gpt.gdisk
 * (sgdisk -b) and sda-gpt.sgdisk (sgdisk -p); swappt-sdaN.info; partclone | zstd | split per filesystem. */
export async function saveSpecDiskLikeOcsSr(b: BuiltSpecDisk, name: string): Promise<string> {
  const dir = path.join(b.root, name);
  await mkdir(dir);
  const data = b.spec.partitions.filter((p) => p.fs && p.fs !== 'swap');
  await writeFile(path.join(dir, 'disk'), 'sda\n');
  await writeFile(path.join(dir, 'parts'), `${data.map((p) => `sda${p.number}`).join(' ')}\n`);
  await writeFile(path.join(dir, 'clonezilla-img'), 'This is an image made by Lifeboat tests, named as Clonezilla does.\n');
  const rename = (text: string) => text.replaceAll(b.disk, '/dev/sda');
  await writeFile(path.join(dir, 'sda-pt.sf'), `${rename((await execa('sfdisk', ['-d', b.disk])).stdout)}\n`);
  await writeFile(path.join(dir, 'sda-pt.parted'), `${rename((await execa('parted', ['-s', b.disk, 'unit', 's', 'print'])).stdout)}\n`);
  const dd = (args: string[]) => execa('dd', [`if=${b.disk}`, ...args], { stderr: 'ignore' });
  await dd([`of=${path.join(dir, 'sda-mbr')}`, 'bs=512', 'count=1']);
  if (b.spec.label === 'dos') {
    const first = Math.min(...b.spec.partitions.map((p) => p.start));
    await dd([`of=${path.join(dir, 'sda-hidden-data-after-mbr')}`, 'bs=512', 'skip=1', `count=${first - 1}`]);
    for (const p of b.spec.partitions.filter((entry) => ['5', 'f', '85'].includes(entry.type))) {
      await dd([`of=${path.join(dir, `sda${p.number}-ebr`)}`, 'bs=512', `skip=${p.start}`, 'count=1']);
    }
  } else {
    await dd([`of=${path.join(dir, 'sda-gpt-1st')}`, 'bs=512', 'count=34']);
    await dd([`of=${path.join(dir, 'sda-gpt-2nd')}`, 'bs=512', `skip=${b.spec.sectors - 33 + 1}`, 'count=33']);
    await execa('sgdisk', ['-b', path.join(dir, 'sda-gpt.gdisk'), b.disk]);
    await writeFile(path.join(dir, 'sda-gpt.sgdisk'), rename((await execa('sgdisk', ['-p', b.disk])).stdout));
  }
  for (const p of b.spec.partitions.filter((entry) => entry.fs === 'swap')) {
    await writeFile(path.join(dir, `swappt-sda${p.number}.info`), `UUID="${SPEC_SWAP.uuid}"\nLABEL="${SPEC_SWAP.label}"\n`);
  }
  for (const p of data) {
    const part = `sda${p.number}`;
    await execa('sh', ['-c', `zstd -q -c < '${b.ptcl[part]}' | split -b 1M -a 2 - '${path.join(dir, `${part}.${p.fs}-ptcl-img.zst.`)}'`]);
  }
  return dir;
}

/** `ls SOURCE /` names /payload-KEY.bin and `get` brings it back equal to what the disk builder wrote. */
export async function assertPayloadBrowses(t: ExecutionContext, source: readonly string[], key: string, b: BuiltSpecDisk, dest: string): Promise<void> {
  const listed = await lifeboat(['ls', ...source, '/']);
  t.is(listed.exitCode, 0, describe(listed));
  t.true(listed.stdout.split('\n').includes(`payload-${key}.bin`), `${source.join(' ')} lists the payload\n${listed.stdout}`);
  const got = await lifeboat(['get', ...source, `/payload-${key}.bin`, dest]);
  t.is(got.exitCode, 0, describe(got));
  t.true((await readFile(path.join(dest, `payload-${key}.bin`))).equals(b.payloads[key] ?? Buffer.alloc(0)), `${source.join(' ')}: get gives the payload back`);
}

/** `import clonezilla DIR` into a new repository in `b.root`, then `restore -r REPO latest` gives the source disk's bytes; returns the repository. */
export async function assertImportRestoresDisk(t: ExecutionContext, dir: string, b: BuiltSpecDisk): Promise<string> {
  const repo = path.join(b.root, 'repo');
  const imported = await lifeboat(['import', 'clonezilla', dir, '-r', repo]);
  t.is(imported.exitCode, 0, describe(imported));
  t.is((await listSnapshots(repo)).length, 1);
  const fromRepo = path.join(b.root, 'from-repo.img');
  const again = await lifeboat(['restore', '-r', repo, 'latest', fromRepo, '--yes']);
  t.is(again.exitCode, 0, describe(again));
  t.true((await readFile(fromRepo)).equals(await readFile(b.disk)), 'the imported snapshot restores the whole disk byte-identical');
  await rm(fromRepo);
  return repo;
}
