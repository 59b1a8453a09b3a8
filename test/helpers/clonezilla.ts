// Clonezilla image directories built the way ocs-sr names things, from a real MBR disk: sfdisk made
// the table (ext4 bootable, FAT32, swap), dd saved the MBR and the hidden data after it, partclone
// piped into zstd/gzip/xz/nothing (split or not) saved the partitions, swap-info their UUID and label.

import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fillWithKernelMount, sparseFile } from './filesystem-images.ts';

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
  await writeFile(path.join(dir, 'parts'), 'sda1 sda2 sda3\n');
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
  await writeFile(path.join(dir, 'sda3.swap-info'), `UUID="${SWAP.uuid}"\nLABEL="${SWAP.label}"\n`);
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
