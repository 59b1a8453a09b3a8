// What `ls` and `get` read without a repository: a partition device, an image of one, partition N
// of a disk (device or image) named `DISK:N`, or a partition of a Clonezilla image directory
// (`DIR:sda1`), opened read-only.

import { LifeboatError } from '../core/errors.ts';
import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { detectSectorSize, readPartitionTable } from '../core/partition-table/partition-table.ts';
import { findWholeDiskTable } from '../core/partition-table/whole-disk.ts';
import { openClonezillaVolume, isClonezillaDirectory } from './clonezilla-volume.ts';
import { openFailure, splitPartitionSuffix } from './device-endpoints.ts';
import { openByteSource } from './file-source.ts';

/** An opened volume: its bytes, a name for messages, and close. */
export interface OpenedVolume {
  readonly source: ByteSource;
  readonly label: string;
  close(): Promise<void>;
}

/** Opens `spec` (a device, an image file, DISK:N, or a Clonezilla image directory DIR[:PARTITION]) read-only as one volume. */
export async function openVolume(spec: string): Promise<OpenedVolume> {
  const clonezilla = /^(.*?)(?::([A-Za-z0-9_.+-]+))?$/.exec(spec);
  for (const [folder, which] of [[spec, undefined], [clonezilla?.[1], clonezilla?.[2]]] as const) {
    if (folder && (await isClonezillaDirectory(folder))) return openClonezillaVolume(folder, which);
  }
  const { file, partition } = await splitPartitionSuffix(spec);
  const whole = await openByteSource(file).catch((error: unknown) => {
    throw openFailure(error, file);
  });
  try {
    if (partition === undefined) {
      const table = await findWholeDiskTable(whole);
      if (table) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${spec} is a whole disk (${table.kind}); name one of its partitions: ${table.numbers.map((number) => `${spec}:${number}`).join(', ')}.`, path: spec });
      return { source: whole, label: spec, close: () => whole.close() };
    }
    const sectorSize = await detectSectorSize(whole);
    const table = await readPartitionTable(whole, sectorSize);
    const entry = table.partitions.find((candidate) => candidate.number === partition && candidate.kind !== 'extended');
    if (!entry) {
      throw new LifeboatError('LB_INPUT_USAGE', { detail: `${file} has no partition ${partition} (it has ${table.partitions.map((p) => p.number).join(', ') || 'none'}).`, path: file });
    }
    return { source: sliceSource(whole, entry.startLba * sectorSize, entry.sectors * sectorSize), label: spec, close: () => whole.close() };
  } catch (error) {
    await whole.close();
    throw error;
  }
}
