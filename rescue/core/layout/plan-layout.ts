// The one layout planner: lands a disk's partitions on a target of another size, for clone, restore
// of a snapshot and Clonezilla restore alike. Pure: it is given the source's table, each
// partition's role, filesystem and minimum size, and the target's size; it returns each
// partition's new start and size (1 MiB aligned, in the source's order, GPT backup at the new end,
// MBR logical partitions each after its EBR) or refuses with the numbers.
//
// Fits: `largest` (default) keeps every partition's size but the largest data partition's, which
// takes up the difference; when it cannot shrink far enough, swap shrinks, then the other data
// partitions share the shortfall down to their minimums. `proportional` shares the space among the
// data partitions by their sizes (Clonezilla's -k1), swap shrinking only when they cannot fit.
// `keep` leaves every partition where and as large as it is. ESP, MSR, BIOS boot and Windows
// recovery partitions keep their size; XFS and unknown filesystems never shrink.

import { LifeboatError } from '../errors.ts';
import { formatBytes, formatBytesExact } from '../human-units.ts';
import { isDataPartition, isSwap, mayShrink, partitionFloor } from './layout-rules.ts';
import type { LayoutPlan, LayoutRequest, PlannedPartition, SourceLayout, SourcePartition } from './layout-types.ts';
import { diskOrder, placePartitions, tailSectors, targetGeometry, type Place, type TargetGeometry } from './place-partitions.ts';

interface Floor {
  readonly sectors: number;
  readonly rule: string;
}

interface Context {
  readonly source: SourceLayout;
  readonly geometry: TargetGeometry;
  readonly order: ReturnType<typeof diskOrder>;
  readonly floors: ReadonlyMap<number, Floor>;
  /** Sizes fixed by --size. */
  readonly asked: ReadonlyMap<number, number>;
  readonly description: string;
}

/** Plans the source's partitions onto the target; refuses with a coded error whose details hold the numbers. */
export function planLayout(source: SourceLayout, request: LayoutRequest): LayoutPlan {
  const { target } = request;
  if (target.sectorSize !== source.sectorSize) {
    throw new LifeboatError('LB_DEVICE_SECTOR_SIZE_MISMATCH', { detail: `The source has ${source.sectorSize}-byte sectors, ${target.description} has ${target.sectorSize}-byte sectors.`, source: source.sectorSize, target: target.sectorSize });
  }
  const geometry = targetGeometry(source, Math.floor(target.sizeBytes / source.sectorSize));
  const floors = new Map(source.partitions.map((partition) => {
    const floor = partitionFloor(partition, source.sectorSize);
    return [partition.number, request.cannotShrink === undefined || !mayShrink(partition) ? floor : { sectors: partition.sectors, rule: request.cannotShrink }];
  }));
  const context: Context = { source, geometry, order: diskOrder(source), floors, asked: askedSizes(source, request, floors), description: target.description };
  if (request.fit === 'keep') return planKeep(context);
  const sizes = request.fit === 'proportional' ? proportionalSizes(context) : largestSizes(context);
  return finish(context, request.fit, sizes);
}

/** --size N=SIZE checked: a partition that exists, not the extended container, not below its minimum. */
function askedSizes(source: SourceLayout, request: LayoutRequest, floors: ReadonlyMap<number, Floor>): Map<number, number> {
  const asked = new Map<number, number>();
  for (const { partition: number, bytes } of request.sizes ?? []) {
    const partition = source.partitions.find((entry) => entry.number === number);
    if (!partition || partition.kind === 'extended') {
      throw new LifeboatError('LB_INPUT_USAGE', { detail: `--size ${number}=...: the source has no partition ${number} that holds data (it has ${source.partitions.filter((entry) => entry.kind !== 'extended').map((entry) => entry.number).join(', ') || 'none'}).`, partition: number });
    }
    if (request.fit === 'keep') throw new LifeboatError('LB_INPUT_USAGE', { detail: '--size changes the layout; --fit keep leaves it as it is.', partition: number });
    const sectors = Math.ceil(bytes / source.sectorSize);
    const floor = floors.get(number) ?? { sectors: partition.sectors, rule: '' };
    if (sectors < floor.sectors) {
      throw new LifeboatError('LB_INPUT_SIZE_BELOW_MINIMUM', {
        detail: `--size ${number}=${formatBytesExact(bytes)} is below partition ${number}'s minimum of ${formatBytesExact(floor.sectors * source.sectorSize)}: ${floor.rule}.`,
        partition: number, requestedBytes: bytes, minimumBytes: floor.sectors * source.sectorSize, rule: floor.rule,
      });
    }
    asked.set(number, sectors);
  }
  return asked;
}

/** Sizes to start from: every partition at its source size (or the --size asked), those in `flexible` at their minimum. */
function baseSizes(context: Context, flexible: readonly SourcePartition[]): Map<number, number> {
  const sizes = new Map<number, number>();
  for (const partition of context.source.partitions) {
    if (partition.kind === 'extended') continue;
    sizes.set(partition.number, flexible.includes(partition) ? floorOf(context, partition) : (context.asked.get(partition.number) ?? partition.sectors));
  }
  return sizes;
}

function floorOf(context: Context, partition: SourcePartition): number {
  return context.floors.get(partition.number)?.sectors ?? partition.sectors;
}

/**
 * Whole aligned units free after the partitions at `sizes` (adding whole units to a partition moves
 * the later ones by whole units, so their alignment holds), the sectors past the last whole unit,
 * or undefined when they do not fit at all.
 */
function room(context: Context, sizes: ReadonlyMap<number, number>): { units: number; spare: number } | undefined {
  const { end } = placePartitions(context.order, sizes, context.geometry);
  const free = context.geometry.lastUsableLba + 1 - end;
  if (free < 0) return undefined;
  const align = context.geometry.alignSectors;
  return { units: Math.floor(free / align), spare: free % align };
}

/** Partitions the user did not size. */
function unasked(context: Context, partitions: readonly SourcePartition[]): SourcePartition[] {
  return partitions.filter((partition) => !context.asked.has(partition.number));
}

/** Partitions that may end smaller than they are. */
function shrinkable(context: Context, partitions: readonly SourcePartition[]): SourcePartition[] {
  return unasked(context, partitions).filter((partition) => floorOf(context, partition) < partition.sectors);
}

/** Whole units `partition` could take back above its minimum before passing its source size. */
function slackUnits(context: Context, partition: SourcePartition): number {
  return Math.floor((partition.sectors - floorOf(context, partition)) / context.geometry.alignSectors);
}

/**
 * `largest`: stage 1, the largest data partition alone takes the difference; stage 2, swap shrinks
 * too; stage 3, the other data partitions too. In each stage the partitions added last give up
 * least: from their minimum they get back up to their size as far as the space allows (shared by
 * what each gave up), the earlier ones stay at their minimum and the largest takes what is left.
 */
function largestSizes(context: Context): Map<number, number> {
  const data = unasked(context, context.source.partitions.filter(isDataPartition));
  const taker = [...data].sort((a, b) => b.sectors - a.sectors || a.number - b.number)[0];
  const groups = [taker ? [taker] : [], shrinkable(context, context.source.partitions.filter(isSwap)), shrinkable(context, data.filter((partition) => partition !== taker))];
  for (let stage = 1; stage <= groups.length; stage++) {
    if (stage > 1 && (groups[stage - 1] ?? []).length === 0) continue;
    const chosen = groups.slice(0, stage);
    const flexible = chosen.flat();
    const sizes = baseSizes(context, flexible);
    const free = room(context, sizes);
    if (!free) continue;
    let extra = free.units;
    for (let group = chosen.length - 1; group >= 1; group--) extra = giveBack(context, chosen[group] ?? [], extra, sizes);
    if (taker) sizes.set(taker.number, (sizes.get(taker.number) ?? 0) + extra * context.geometry.alignSectors);
    return withSpare(context, sizes, flexible, free.spare);
  }
  throw belowMinimum(context);
}

/** Gives `group` back up to its slack from `extra` units, shared by slack; returns the units left. */
function giveBack(context: Context, group: readonly SourcePartition[], extra: number, sizes: Map<number, number>): number {
  const align = context.geometry.alignSectors;
  const slack = group.map((partition) => slackUnits(context, partition));
  const wanted = slack.reduce((sum, units) => sum + units, 0);
  if (wanted === 0) return extra;
  const given = Math.min(extra, wanted);
  const units = slack.map((value) => Math.floor((given * value) / wanted));
  let left = given - units.reduce((sum, value) => sum + value, 0);
  // What rounding left goes one unit each to those that still want it.
  units.forEach((value, index) => {
    if (left > 0 && value < (slack[index] ?? 0)) {
      units[index] = value + 1;
      left -= 1;
    }
  });
  group.forEach((partition, index) => sizes.set(partition.number, (sizes.get(partition.number) ?? 0) + (units[index] ?? 0) * align));
  return extra - given + left;
}

/**
 * `proportional`: the data partitions share the room by their source sizes, none below its minimum
 * (water-filling: those whose share is below their minimum get it, the rest share what is left).
 * Swap keeps its size unless the data partitions cannot fit otherwise, then it is at its minimum.
 */
function proportionalSizes(context: Context): Map<number, number> {
  const data = unasked(context, context.source.partitions.filter(isDataPartition));
  const swaps = shrinkable(context, context.source.partitions.filter(isSwap));
  for (const flexible of swaps.length > 0 ? [data, [...data, ...swaps]] : [data]) {
    const sizes = baseSizes(context, flexible);
    const free = room(context, sizes);
    if (!free) continue;
    const units = waterFill(context, data, free.units);
    for (const partition of data) sizes.set(partition.number, (sizes.get(partition.number) ?? 0) + (units.get(partition) ?? 0) * context.geometry.alignSectors);
    return withSpare(context, sizes, flexible, free.spare);
  }
  throw belowMinimum(context);
}

/**
 * Shares `units` (free above every minimum) among `partitions` so each ends near its share of the
 * whole by source size, none below its minimum: those whose share is below their minimum stay
 * there, the rest share what is left; whole units, largest remainders first. Returns units above each minimum.
 */
function waterFill(context: Context, partitions: readonly SourcePartition[], units: number): Map<SourcePartition, number> {
  const align = context.geometry.alignSectors;
  const pinned = new Set<SourcePartition>();
  let above = new Map<SourcePartition, number>();
  for (;;) {
    const open = partitions.filter((partition) => !pinned.has(partition));
    // Sectors to share among the open ones: their minimums plus every free unit.
    const pool = units * align + open.reduce((sum, partition) => sum + floorOf(context, partition), 0);
    const weight = open.reduce((sum, partition) => sum + partition.sectors, 0);
    above = new Map(open.map((partition) => [partition, weight === 0 ? 0 : ((pool * partition.sectors) / weight - floorOf(context, partition)) / align]));
    const below = open.filter((partition) => (above.get(partition) ?? 0) < 0);
    if (below.length === 0) break;
    for (const partition of below) pinned.add(partition);
  }
  const whole = new Map(partitions.map((partition) => [partition, Math.floor(above.get(partition) ?? 0)]));
  let left = units - [...whole.values()].reduce((sum, value) => sum + value, 0);
  const byRemainder = [...above.entries()].sort((a, b) => (b[1] % 1) - (a[1] % 1) || b[0].sectors - a[0].sectors);
  for (let index = 0; left > 0 && byRemainder.length > 0; index = (index + 1) % byRemainder.length) {
    const partition = byRemainder[index]?.[0];
    if (!partition) break;
    whole.set(partition, (whole.get(partition) ?? 0) + 1);
    left -= 1;
  }
  return whole;
}

/** The sectors past the last whole unit go to the last partition on the disk when it is flexible (it then ends at the usable end). */
function withSpare(context: Context, sizes: Map<number, number>, flexible: readonly SourcePartition[], spare: number): Map<number, number> {
  const { places } = placePartitions(context.order, sizes, context.geometry);
  const last = [...places.entries()].filter(([number]) => context.source.partitions.find((entry) => entry.number === number)?.kind !== 'extended').sort((a, b) => b[1].startLba - a[1].startLba)[0];
  const partition = context.source.partitions.find((entry) => entry.number === last?.[0]);
  if (partition && flexible.includes(partition) && spare > 0) sizes.set(partition.number, (sizes.get(partition.number) ?? 0) + spare);
  return sizes;
}

/** The smallest disk the source fits on: every partition that may shrink at its minimum, the rest at their size, plus tables, alignment and EBRs. */
function minimumDiskSectors(context: Context): number {
  const shrinking = shrinkable(context, context.source.partitions.filter((partition) => isDataPartition(partition) || isSwap(partition)));
  return placePartitions(context.order, baseSizes(context, shrinking), context.geometry).end + tailSectors(context.geometry);
}

/** The refusal: the sum of the minimums against the target, each partition's minimum with its rule. */
function belowMinimum(context: Context): LifeboatError {
  const { sectorSize } = context.source;
  const minimumBytes = minimumDiskSectors(context) * sectorSize;
  const targetBytes = context.geometry.diskSectors * sectorSize;
  const partitions = context.source.partitions.filter((partition) => partition.kind !== 'extended').map((partition) => {
    const floor = context.floors.get(partition.number) ?? { sectors: partition.sectors, rule: '' };
    const asked = context.asked.get(partition.number);
    return { number: partition.number, sizeBytes: partition.sectors * sectorSize, minimumBytes: (asked ?? floor.sectors) * sectorSize, rule: asked === undefined ? floor.rule : '--size' };
  });
  const sumOfMinimumsBytes = partitions.reduce((sum, partition) => sum + partition.minimumBytes, 0);
  const each = partitions.map((partition) => `${partition.number}: ${formatBytes(partition.minimumBytes)}, ${partition.rule}`).join('; ');
  return new LifeboatError('LB_DEVICE_TARGET_BELOW_MINIMUM', {
    detail: `${context.description} holds ${formatBytesExact(targetBytes)}; the source's partitions need at least ${formatBytesExact(minimumBytes)}: their minimums add up to ${formatBytesExact(sumOfMinimumsBytes)}, plus ${formatBytes(minimumBytes - sumOfMinimumsBytes)} of partition table, 1 MiB alignment and EBRs (${each}).`,
    targetBytes, minimumBytes, sumOfMinimumsBytes, layoutBytes: minimumBytes - sumOfMinimumsBytes, partitions,
  });
}

/** `keep`: every partition where it is; an extended partition that ran past the new end ends after its last logical. */
function planKeep(context: Context): LayoutPlan {
  const { source, geometry } = context;
  const logicalEnd = Math.max(0, ...context.order.logicals.map((partition) => partition.startLba + partition.sectors));
  const places = new Map<number, Place>(source.partitions.map((partition) => {
    if (partition.kind !== 'extended') return [partition.number, { startLba: partition.startLba, sectors: partition.sectors }];
    const end = Math.max(Math.min(partition.startLba + partition.sectors, geometry.lastUsableLba + 1), logicalEnd, partition.startLba + 1);
    return [partition.number, { startLba: partition.startLba, sectors: end - partition.startLba }];
  }));
  // What must fit: every partition, an extended one only up to its last logical partition (it is a container).
  const end = Math.max(0, ...source.partitions.map((partition) => (partition.kind === 'extended' ? Math.max(logicalEnd, partition.startLba + 1) : partition.startLba + partition.sectors)));
  const minimumBytes = (end + tailSectors(geometry)) * source.sectorSize;
  if (end > geometry.lastUsableLba + 1 || Math.min(...[...places.values()].map((place) => place.startLba)) < geometry.firstUsableLba) {
    throw new LifeboatError('LB_DEVICE_TARGET_TOO_SMALL', { detail: `${context.description} holds ${formatBytesExact(geometry.diskSectors * source.sectorSize)}; the source's partitions in their places need ${formatBytesExact(minimumBytes)}.`, requiredBytes: minimumBytes, targetBytes: geometry.diskSectors * source.sectorSize });
  }
  return assemble(context, 'keep', places, minimumBytes);
}

function finish(context: Context, fit: 'largest' | 'proportional', sizes: ReadonlyMap<number, number>): LayoutPlan {
  const { places } = placePartitions(context.order, sizes, context.geometry);
  return assemble(context, fit, places, minimumDiskSectors(context) * context.source.sectorSize);
}

function assemble(context: Context, fit: LayoutPlan['fit'], places: ReadonlyMap<number, Place>, minimumBytes: number): LayoutPlan {
  const { source, geometry } = context;
  const ordered = [...context.order.top.flatMap((partition) => (partition.kind === 'extended' ? [partition, ...context.order.logicals] : [partition]))];
  const partitions: PlannedPartition[] = ordered.map((partition) => {
    const place = places.get(partition.number) ?? { startLba: partition.startLba, sectors: partition.sectors };
    const floor = context.floors.get(partition.number) ?? { sectors: partition.sectors, rule: '' };
    const change = place.sectors > partition.sectors ? 'grow' : place.sectors < partition.sectors ? 'shrink' : 'same';
    return {
      ...partition, startLba: place.startLba, sectors: place.sectors, from: { startLba: partition.startLba, sectors: partition.sectors },
      change, moved: place.startLba !== partition.startLba, minimumSectors: partition.kind === 'extended' ? 0 : floor.sectors, rule: context.asked.has(partition.number) ? '--size' : floor.rule,
      ...(place.ebrLba === undefined ? {} : { ebrLba: place.ebrLba }),
    };
  });
  const notes: string[] = [];
  if (source.table === 'mbr' && geometry.diskSectors > geometry.lastUsableLba + 1) notes.push(`An MBR table reaches ${formatBytes((geometry.lastUsableLba + 1) * source.sectorSize)} at most; the rest of the disk stays unpartitioned.`);
  const backup = geometry.table === 'gpt' ? { gptBackup: { entriesLba: geometry.diskSectors - 1 - geometry.entrySectors, headerLba: geometry.diskSectors - 1 } } : {};
  return { table: source.table, sectorSize: source.sectorSize, diskSectors: geometry.diskSectors, fit, alignSectors: geometry.alignSectors, firstUsableLba: geometry.firstUsableLba, lastUsableLba: geometry.lastUsableLba, partitions, ...backup, minimumBytes, notes };
}
