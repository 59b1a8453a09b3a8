// Where partitions of chosen sizes go on the target: one after another in the source's order, each
// starting on a 1 MiB boundary, each MBR logical partition 1 MiB after its EBR (as fdisk lays them
// out), the extended partition from the first EBR to the end of the last logical one.

import type { SourceLayout, SourcePartition } from './layout-types.ts';
import { ALIGN_BYTES } from './layout-rules.ts';

/** The target's usable space for a table kind. */
export interface TargetGeometry {
  readonly table: 'gpt' | 'mbr';
  readonly sectorSize: number;
  readonly diskSectors: number;
  readonly alignSectors: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  /** Where the first partition starts (1 MiB). */
  readonly firstStart: number;
  /** Sectors of the GPT entry array (0 for MBR). */
  readonly entrySectors: number;
}

/** An MBR entry holds 32-bit sector numbers: nothing ends past 2^32 sectors (2 TiB at 512 bytes). */
export const MBR_MAX_SECTORS = 2 ** 32;

/** Rounds `lba` up to a multiple of `align`. */
export function alignUp(lba: number, align: number): number {
  return Math.ceil(lba / align) * align;
}

/** The usable range of a disk of `diskSectors` holding the source's kind of table. */
export function targetGeometry(source: SourceLayout, diskSectors: number): TargetGeometry {
  const sectorSize = source.sectorSize;
  const alignSectors = Math.max(1, ALIGN_BYTES / sectorSize);
  if (source.table === 'gpt') {
    const entrySectors = Math.ceil(((source.gptEntryCount ?? 128) * 128) / sectorSize);
    const firstUsableLba = 2 + entrySectors;
    return { table: 'gpt', sectorSize, diskSectors, alignSectors, firstUsableLba, lastUsableLba: diskSectors - 2 - entrySectors, firstStart: alignUp(firstUsableLba, alignSectors), entrySectors };
  }
  return { table: 'mbr', sectorSize, diskSectors, alignSectors, firstUsableLba: 1, lastUsableLba: Math.min(diskSectors, MBR_MAX_SECTORS) - 1, firstStart: alignSectors, entrySectors: 0 };
}

/** Sectors a disk needs beyond the last partition's end (GPT: the backup entry array and header). */
export function tailSectors(geometry: Pick<TargetGeometry, 'table' | 'entrySectors'>): number {
  return geometry.table === 'gpt' ? geometry.entrySectors + 1 : 0;
}

/** The source's partitions in disk order: top-level ones (primaries, the extended one, GPT entries) and, inside, the logical ones. */
export function diskOrder(source: SourceLayout): { top: SourcePartition[]; logicals: SourcePartition[] } {
  const byStart = (a: SourcePartition, b: SourcePartition) => a.startLba - b.startLba || a.number - b.number;
  return {
    top: source.partitions.filter((partition) => partition.kind !== 'logical').sort(byStart),
    logicals: source.partitions.filter((partition) => partition.kind === 'logical').sort(byStart),
  };
}

/** A partition's place on the target. */
export interface Place {
  readonly startLba: number;
  readonly sectors: number;
  readonly ebrLba?: number;
}

/**
 * Places every partition with the sectors `sizes` gives it (by number; the extended one's size
 * follows from its logicals). Returns the places and the first sector after the last partition.
 */
export function placePartitions(order: { top: readonly SourcePartition[]; logicals: readonly SourcePartition[] }, sizes: ReadonlyMap<number, number>, geometry: Pick<TargetGeometry, 'firstStart' | 'alignSectors'>): { places: Map<number, Place>; end: number } {
  const align = geometry.alignSectors;
  const places = new Map<number, Place>();
  let at = geometry.firstStart;
  for (const partition of order.top) {
    if (partition.kind === 'extended') {
      const extendedStart = alignUp(at, align);
      at = extendedStart;
      for (const logical of order.logicals) {
        const ebrLba = alignUp(at, align);
        const startLba = ebrLba + align;
        const sectors = sizes.get(logical.number) ?? logical.sectors;
        places.set(logical.number, { startLba, sectors, ebrLba });
        at = startLba + sectors;
      }
      // An extended partition without logicals keeps one aligned unit for its (empty) first EBR.
      if (order.logicals.length === 0) at = extendedStart + align;
      places.set(partition.number, { startLba: extendedStart, sectors: at - extendedStart });
      continue;
    }
    const startLba = alignUp(at, align);
    const sectors = sizes.get(partition.number) ?? partition.sectors;
    places.set(partition.number, { startLba, sectors });
    at = startLba + sectors;
  }
  return { places, end: at };
}
