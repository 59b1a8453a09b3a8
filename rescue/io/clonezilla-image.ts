// A Clonezilla image directory as ocs-sr writes it: `disk` and `parts` name the disks and
// partitions; per disk sda-pt.sf (sfdisk -d), sda-mbr, sda-hidden-data-after-mbr and the GPT copies;
// per partition sda1.ext4-ptcl-img.zst.aa... (partclone, compressed, split) or sda3.dd-img.*,
// swappt-sda2.info for a swap partition (listed in no name file), and sda2-ebr, the first EBR of
// an extended partition. Opening reads only these small files; partition images stream on demand.

import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../core/errors.ts';
import { parseSfdiskDump, type SfdiskDump } from '../core/clonezilla/sfdisk-dump.ts';
import { CLONEZILLA_COMPRESSION_SUFFIXES, decompressParts, joinParts, sniffCompression, type ClonezillaCompression } from './clonezilla-streams.ts';

/** The per-disk files ocs-sr saves, by role. */
export type ClonezillaDiskFile = 'sfdisk' | 'chs' | 'mbr' | 'hiddenDataAfterMbr' | 'gpt1st' | 'gpt2nd' | 'gdisk' | 'sgdisk' | 'parted' | 'partedCompact';

const DISK_FILE_SUFFIXES: Readonly<Record<ClonezillaDiskFile, string>> = {
  sfdisk: '-pt.sf',
  chs: '-chs.sf',
  mbr: '-mbr',
  hiddenDataAfterMbr: '-hidden-data-after-mbr',
  gpt1st: '-gpt-1st',
  gpt2nd: '-gpt-2nd',
  gdisk: '-gpt.gdisk',
  sgdisk: '-gpt.sgdisk',
  parted: '-pt.parted',
  partedCompact: '-pt.parted.compact',
};

/** One disk of the image: its table as sfdisk dumped it and the boot code. */
export interface ClonezillaDisk {
  readonly name: string;
  /** Absolute paths of the per-disk files present. */
  readonly files: Partial<Record<ClonezillaDiskFile, string>>;
  readonly partitionTable: SfdiskDump | undefined;
  /** The first 512 bytes of the disk (sda-mbr), checked to be exactly one sector. */
  readonly mbr: Uint8Array | undefined;
  /** Bytes of sda-hidden-data-after-mbr (boot loader stages between the MBR and the first partition). */
  readonly hiddenDataAfterMbrBytes: number;
  /** The disk's size as `parted unit s print` saved it in sda-pt.parted, when present. */
  readonly sizeBytes: number | undefined;
  /** The first EBR of each extended partition (sda2-ebr, 512 bytes), by partition name. */
  readonly extendedBootRecords: Readonly<Record<string, Uint8Array>>;
}

/** One partition of the image and how its content was saved. */
export interface ClonezillaPartition {
  readonly name: string;
  /** The disk it belongs to, when known. */
  readonly disk: string | undefined;
  /** partclone: a partclone image; dd: raw bytes (or partclone.dd output); swap: only swappt-sda2.info; missing: listed in `parts` without any file. */
  readonly kind: 'partclone' | 'dd' | 'swap' | 'missing';
  /** partclone's filesystem name from the file name (ext4, vfat, ntfs...). */
  readonly filesystem: string | undefined;
  readonly compression: ClonezillaCompression | undefined;
  /** The image files in order (.aa, .ab... or the one unsplit file). */
  readonly files: readonly string[];
  /** UUID and LABEL from swappt-sda2.info. */
  readonly swap: Readonly<Record<string, string>> | undefined;
  /** Size in bytes from the disk's sfdisk dump, when known. */
  readonly sizeBytes: number | undefined;
  /** Byte offset on its disk from the sfdisk dump, when known. */
  readonly startBytes: number | undefined;
}

/** The whole directory. */
export interface ClonezillaImage {
  readonly directory: string;
  readonly disks: readonly ClonezillaDisk[];
  readonly partitions: readonly ClonezillaPartition[];
  /** Info-*.txt and clonezilla-img, as found. */
  readonly infoFiles: readonly string[];
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,63}$/;
const SMALL_FILE_BYTES = 1024 * 1024;
const MBR_BYTES = 512;
const COMPRESSION = CLONEZILLA_COMPRESSION_SUFFIXES.join('|');
const PTCL_FILE = new RegExp(`^(.+?)\\.([A-Za-z0-9+_]+)-ptcl-img\\.(${COMPRESSION})(?:\\.([a-z]{2,4}))?$`);
const DD_FILE = new RegExp(`^(.+?)\\.dd-img(?:\\.(${COMPRESSION}))?(?:\\.([a-z]{2,4}))?$`);

/** Reads a Clonezilla image directory's list of disks and partitions (no partition data is read). */
export async function openClonezillaImage(directory: string): Promise<ClonezillaImage> {
  const entries = (await readdir(directory).catch((error: unknown) => {
    throw new LifeboatError('LB_DEVICE_UNREADABLE', { detail: `Cannot list ${directory}.`, path: directory }, { cause: error });
  })).sort();
  const diskNames = await readNameList(directory, 'disk', entries);
  const partNames = await readNameList(directory, 'parts', entries);
  const images = groupImageFiles(directory, entries);
  if (diskNames.length === 0 && partNames.length === 0 && images.size === 0) {
    throw new LifeboatError('LB_INPUT_NOT_CLONEZILLA_IMAGE', { detail: `${directory} is not a Clonezilla image directory (no disk, parts or partition image files).`, path: directory });
  }
  for (const entry of entries) {
    const match = /^(.+)-pt\.sf$/.exec(entry);
    if (match?.[1] && NAME.test(match[1]) && !diskNames.includes(match[1])) diskNames.push(match[1]);
  }
  const disks = await Promise.all(diskNames.map((name) => readDisk(directory, name, entries)));
  const names = [...partNames];
  for (const name of [...images.keys()].sort()) if (!names.includes(name)) names.push(name);
  // ocs-sr lists swap partitions in no name file, only as swappt-sda2.info.
  for (const entry of entries) {
    const swap = /^swappt-(.+)\.info$/.exec(entry)?.[1];
    if (swap && NAME.test(swap) && !names.includes(swap)) names.push(swap);
  }
  const partitions = names.map((name) => describePartition(directory, name, entries, images.get(name), disks));
  const swaps = await Promise.all(partitions.map((p) => (p.kind === 'swap' ? readSwapInfo(path.join(directory, swapInfoFile(p.name, entries) as string)) : undefined)));
  return {
    directory,
    disks,
    partitions: partitions.map((p, i) => ({ ...p, swap: swaps[i] })),
    infoFiles: entries.filter((e) => /^Info-.*\.txt$/.test(e) || e === 'clonezilla-img').map((e) => path.join(directory, e)),
  };
}

/** The decompressed bytes of a partition image, as chunks (a partclone image, or raw bytes for a dd image). */
export async function* streamPartitionImage(partition: ClonezillaPartition): AsyncGenerator<Uint8Array> {
  if ((partition.kind !== 'partclone' && partition.kind !== 'dd') || partition.files.length === 0) {
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `Partition ${partition.name} has no data image (${partition.kind}).`, partition: partition.name });
  }
  let compression = partition.compression;
  if (compression === undefined) compression = sniffCompression(await firstBytes(partition.files));
  yield* decompressParts(partition.files, compression, path.basename(partition.files[0] as string));
}

interface ImageFiles {
  kind: 'partclone' | 'dd';
  filesystem: string | undefined;
  compression: ClonezillaCompression | undefined;
  split: Map<string, string>;
  whole: string | undefined;
}

function groupImageFiles(directory: string, entries: readonly string[]): Map<string, ImageFiles> {
  const images = new Map<string, ImageFiles>();
  for (const entry of entries) {
    const ptcl = PTCL_FILE.exec(entry);
    const dd = ptcl ? undefined : DD_FILE.exec(entry);
    if (!ptcl && !dd) continue;
    const name = (ptcl?.[1] ?? dd?.[1]) as string;
    if (!NAME.test(name) || entry.endsWith('.info')) continue;
    const image = images.get(name) ?? {
      kind: ptcl ? 'partclone' : 'dd',
      filesystem: ptcl?.[2],
      compression: (ptcl?.[3] ?? dd?.[2]) as ClonezillaCompression | undefined,
      split: new Map<string, string>(),
      whole: undefined,
    };
    const suffix = ptcl ? ptcl[4] : dd?.[3];
    if (image.kind !== (ptcl ? 'partclone' : 'dd') || image.compression !== ((ptcl?.[3] ?? dd?.[2]) as string | undefined)) {
      throw new LifeboatError('LB_INPUT_IMAGE_CORRUPT', { detail: `${directory} holds two different images of ${name} (${entry}); remove the stale one.`, partition: name });
    }
    if (suffix) image.split.set(suffix, path.join(directory, entry));
    else image.whole = path.join(directory, entry);
    images.set(name, image);
  }
  return images;
}

function describePartition(directory: string, name: string, entries: readonly string[], image: ImageFiles | undefined, disks: readonly ClonezillaDisk[]): Omit<ClonezillaPartition, 'swap'> {
  const disk = [...disks].sort((a, b) => b.name.length - a.name.length).find((d) => name.startsWith(d.name) && name.length > d.name.length);
  const table = disk?.partitionTable;
  const entry = table?.partitions.find((p) => p.device.replace(/^\/dev\//, '').replace(/\//g, '-') === name);
  const placement = { sizeBytes: entry && table ? entry.size * table.sectorSize : undefined, startBytes: entry && table ? entry.start * table.sectorSize : undefined };
  const base = { name, disk: disk?.name, ...placement };
  if (image) return { ...base, kind: image.kind, filesystem: image.filesystem, compression: image.compression, files: orderParts(directory, name, image) };
  const kind = swapInfoFile(name, entries) ? 'swap' : 'missing';
  return { ...base, kind, filesystem: kind === 'swap' ? 'swap' : undefined, compression: undefined, files: [] };
}

/** The file where ocs-sr keeps a swap partition's UUID and label (output_swap_partition_uuid_label in ocs-functions). */
function swapInfoFile(name: string, entries: readonly string[]): string | undefined {
  return entries.includes(`swappt-${name}.info`) ? `swappt-${name}.info` : undefined;
}

/** The split parts in split's order (aa, ab... az, ba...), refusing a gap or a mix with an unsplit file. */
function orderParts(directory: string, name: string, image: ImageFiles): string[] {
  if (image.split.size === 0) return image.whole ? [image.whole] : [];
  if (image.whole) throw new LifeboatError('LB_INPUT_IMAGE_CORRUPT', { detail: `${directory} holds ${name} both whole and split; remove the stale copy.`, partition: name });
  const suffixes = [...image.split.keys()].sort();
  const width = (suffixes[0] as string).length;
  suffixes.forEach((suffix, index) => {
    const expected = splitSuffix(index, width);
    if (suffix !== expected) {
      throw new LifeboatError('LB_INPUT_IMAGE_TRUNCATED', { detail: `image of ${name}: part .${expected} is missing (found .${suffix}); copy the whole image directory again.`, partition: name, missing: expected });
    }
  });
  return suffixes.map((suffix) => image.split.get(suffix) as string);
}

/** split's n-th suffix of `width` letters: aa, ab, ..., az, ba... */
function splitSuffix(index: number, width: number): string {
  let text = '';
  for (let i = 0, rest = index; i < width; i += 1, rest = Math.floor(rest / 26)) text = String.fromCharCode(97 + (rest % 26)) + text;
  return text;
}

async function readDisk(directory: string, name: string, entries: readonly string[]): Promise<ClonezillaDisk> {
  const files: Partial<Record<ClonezillaDiskFile, string>> = {};
  for (const [role, suffix] of Object.entries(DISK_FILE_SUFFIXES) as Array<[ClonezillaDiskFile, string]>) {
    if (entries.includes(`${name}${suffix}`)) files[role] = path.join(directory, `${name}${suffix}`);
  }
  const partitionTable = files.sfdisk ? parseSfdiskDump(await readSmallFile(files.sfdisk)) : undefined;
  let mbr: Uint8Array | undefined;
  if (files.mbr) {
    mbr = new Uint8Array(await readFile(files.mbr));
    if (mbr.length !== MBR_BYTES) throw new LifeboatError('LB_DEVICE_MBR_INVALID', { detail: `${files.mbr} holds ${mbr.length} bytes, not one 512-byte sector.`, path: files.mbr });
  }
  const hiddenDataAfterMbrBytes = files.hiddenDataAfterMbr ? (await stat(files.hiddenDataAfterMbr)).size : 0;
  const extendedBootRecords: Record<string, Uint8Array> = {};
  for (const entry of partitionTable?.partitions ?? []) {
    const part = entry.device.replace(/^\/dev\//, '').replace(/\//g, '-');
    if (!NAME.test(part) || !entries.includes(`${part}-ebr`)) continue;
    const file = path.join(directory, `${part}-ebr`);
    const bytes = new Uint8Array(await readFile(file));
    if (bytes.length !== MBR_BYTES) throw new LifeboatError('LB_DEVICE_MBR_INVALID', { detail: `${file} holds ${bytes.length} bytes, not one 512-byte sector.`, path: file });
    extendedBootRecords[part] = bytes;
  }
  const parted = files.parted ?? files.partedCompact;
  const sizeBytes = parted ? parsePartedDiskBytes(await readSmallFile(parted)) : undefined;
  return { name, files, partitionTable, mbr, hiddenDataAfterMbrBytes, sizeBytes, extendedBootRecords };
}

/** The disk size in `parted -s DISK unit s print` output ("Disk /dev/sda: 67584s" and the logical sector size). */
function parsePartedDiskBytes(text: string): number | undefined {
  const sectors = /^Disk \/\S+:\s*(\d{1,15})s\s*$/m.exec(text)?.[1];
  const sectorSize = /^Sector size \(logical\/physical\):\s*(\d{3,5})B/m.exec(text)?.[1] ?? '512';
  const bytes = sectors ? Number(sectors) * Number(sectorSize) : undefined;
  return bytes !== undefined && Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

async function readNameList(directory: string, file: string, entries: readonly string[]): Promise<string[]> {
  if (!entries.includes(file)) return [];
  const names = (await readSmallFile(path.join(directory, file))).split(/\s+/).filter((n) => n !== '');
  for (const name of names) {
    if (!NAME.test(name)) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${path.join(directory, file)} names "${name.slice(0, 40)}", which is not a device name.`, path: path.join(directory, file) });
  }
  return [...new Set(names)];
}

async function readSwapInfo(file: string): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const match of (await readSmallFile(file)).matchAll(/^\s*([A-Z_]+)="?([^"\n]*)"?\s*$/gm)) fields[match[1] as string] = match[2] as string;
  return fields;
}

async function readSmallFile(file: string): Promise<string> {
  const size = (await stat(file)).size;
  if (size > SMALL_FILE_BYTES) throw new LifeboatError('LB_INPUT_IMAGE_CORRUPT', { detail: `${file} is ${size} bytes; Clonezilla writes it far smaller.`, path: file });
  return readFile(file, 'utf8');
}

async function firstBytes(files: readonly string[]): Promise<Uint8Array> {
  for await (const chunk of joinParts(files)) if (chunk.length >= 8) return chunk;
  return new Uint8Array(0);
}
