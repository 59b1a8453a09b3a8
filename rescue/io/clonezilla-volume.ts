// A partition of a Clonezilla image directory as a readable volume: partclone images are streams
// (compressed, no index), so the partition's used blocks are first written into a sparse file in
// the temporary folder ($LIFEBOAT_TMPDIR, else the system's), never beside the image (a source is
// never written to). The file is removed on close.

import { mkdtemp, rm, stat, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ByteSource } from '../core/byte-source.ts';
import { LifeboatError } from '../core/errors.ts';
import { openClonezillaImage, type ClonezillaPartition } from './clonezilla-image.ts';
import { openByteSource } from './file-source.ts';
import { writeClonezillaPartition } from './write-clonezilla-partition.ts';

/** True when `folder` is a directory that looks like a Clonezilla image. */
export async function isClonezillaDirectory(folder: string): Promise<boolean> {
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) return false;
  return openClonezillaImage(folder).then(() => true, () => false);
}

/** The partition `which` names: its name (sda1) or its number on the only disk (1). */
function pickPartition(partitions: readonly ClonezillaPartition[], which: string | undefined, folder: string): ClonezillaPartition {
  const readable = partitions.filter((partition) => partition.kind === 'partclone' || partition.kind === 'dd');
  const names = readable.map((partition) => partition.name).join(', ');
  if (which === undefined) {
    if (readable.length === 1 && readable[0]) return readable[0];
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `${folder} holds ${readable.length} partition images; name one: ${readable.map((p) => `${folder}:${p.name}`).join(', ')}.`, path: folder });
  }
  const found = readable.find((partition) => partition.name === which)
    ?? (/^\d+$/.test(which) ? readable.filter((partition) => new RegExp(`\\D${which}$`).test(partition.name)) : []).at(0);
  if (!found) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${folder} has no partition image ${which} (it has ${names || 'none'}).`, path: folder });
  return found;
}

/** Unpacks one partition of a Clonezilla image into a temporary sparse file and opens it. */
export async function openClonezillaVolume(folder: string, which: string | undefined): Promise<{ source: ByteSource; label: string; close(): Promise<void> }> {
  const image = await openClonezillaImage(folder);
  const partition = pickPartition(image.partitions, which, folder);
  const work = await mkdtemp(path.join(process.env.LIFEBOAT_TMPDIR ?? os.tmpdir(), 'lifeboat-clonezilla-'));
  try {
    const file = path.join(work, `${partition.name}.img`);
    const { header } = await writeClonezillaPartition({ partition, target: file });
    const sizeBytes = Math.max(partition.sizeBytes ?? 0, header?.deviceSizeBytes ?? 0);
    if (sizeBytes > 0) await truncate(file, Math.max(sizeBytes, (await stat(file)).size));
    const source = await openByteSource(file);
    return {
      source,
      label: `${folder}:${partition.name}`,
      close: async () => {
        await source.close();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}
