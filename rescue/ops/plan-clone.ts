// Plans a clone from its opened endpoints, for the CLI's `clone disk|partition` and the TUI's Clone
// action alike: reads the source's table and probes each partition (read-only), lays the partitions
// out for the target (core/layout/plan-layout.ts) and turns that into steps (core/clone/clone-plan.ts).
// When the target is smaller (or --size is given), minimums are measured (the measureMinimum port:
// resize2fs -P, ntfsresize --info, FAT's and exFAT's own structures) so the layout may shrink them.

import { sliceSource, type ByteSource } from '../core/byte-source.ts';
import { planDiskClone, planPartitionClone, type ClonePlan, type CloneSourceVolume } from '../core/clone/clone-plan.ts';
import { formatBytes } from '../core/disk-facts.ts';
import { LifeboatError } from '../core/errors.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import type { FilesystemProbe } from '../core/filesystems/probe-types.ts';
import { sourceLayoutOf, type PartitionFacts } from '../core/layout/layout-tables.ts';
import type { FitMode, SizeRequest } from '../core/layout/layout-types.ts';
import { planLayout } from '../core/layout/plan-layout.ts';
import { readPartitionTable, type PartitionTableInfo } from '../core/partition-table/partition-table.ts';
import type { OpenedRestoreTarget } from './restore.ts';

/** Measures a filesystem's minimum size (io/filesystem-minimum.ts measureMinimumSize: a read-only loop device over `path` at `offset`). */
export type MeasureMinimum = (request: { path: string; offset: number; sizeBytes: number; probe: FilesystemProbe | undefined; source: ByteSource }) => Promise<{ bytes: number | undefined; how: string }>;

/** Filesystems whose minimum a clone measures: ext and NTFS shrink on a view, FAT and exFAT are made again and copied (io/rebuild-filesystem.ts). */
const MEASURED = new Set(['ext2', 'ext3', 'ext4', 'ntfs', 'vfat', 'exfat']);

/** A filesystem's minimum; a dirty or hibernated one the tools refuse counts its used bytes, so the plan reaches its refusal. Rounded up to 4 KiB: a shrink lands on whole 4 KiB blocks. */
async function minimumOf(measure: MeasureMinimum, request: Parameters<MeasureMinimum>[0]): Promise<number | undefined> {
  const probe = request.probe;
  if (!probe || !MEASURED.has(probe.type)) return undefined;
  const measured = await measure(request).catch(() => ({ bytes: undefined }));
  const bytes = measured.bytes ?? (probe.state === 'clean' ? undefined : probe.usedBytes);
  return bytes === undefined ? undefined : Math.min(request.sizeBytes, Math.ceil(bytes / 4096) * 4096);
}

/** Each partition's planner facts (filesystem, use, and with `measure` its minimum) and what a shrink checks (state, a swap area's UUID and label), probed read-only. */
export async function probeCloneSource(source: ByteSource, table: PartitionTableInfo, options: { path?: string; measure?: MeasureMinimum } = {}): Promise<{ facts: Map<number, PartitionFacts>; volumes: Map<number, CloneSourceVolume> }> {
  const facts = new Map<number, PartitionFacts>();
  const volumes = new Map<number, CloneSourceVolume>();
  for (const partition of table.partitions) {
    if (partition.kind === 'extended') continue;
    const [offset, sizeBytes] = [partition.startLba * table.sectorSize, partition.sectors * table.sectorSize];
    const slice = sliceSource(source, offset, sizeBytes);
    const probe = await probeFilesystem(slice).catch(() => undefined);
    const minimumBytes = options.measure && options.path ? await minimumOf(options.measure, { path: options.path, offset, sizeBytes, probe, source: slice }) : undefined;
    facts.set(partition.number, { filesystem: probe?.type, usedBytes: probe?.usedBytes, ...(minimumBytes === undefined ? {} : { minimumBytes }) });
    volumes.set(partition.number, { state: probe?.state, uuid: probe?.uuid, label: probe?.label });
  }
  return { facts, volumes };
}

/** Each partition's filesystem and use, probed on the source (read-only; clone system probes with it too). */
export async function probePartitions(source: ByteSource, table: PartitionTableInfo): Promise<Map<number, PartitionFacts>> {
  return (await probeCloneSource(source, table)).facts;
}

/** A disk clone's source table (undefined for a partition clone); refuses a disk without one, before the target is opened. */
export async function readCloneSourceTable(source: ByteSource, options: { kind: 'disk' | 'partition'; path: string; sectorSize: number }): Promise<PartitionTableInfo | undefined> {
  if (options.kind !== 'disk') return undefined;
  const table = await readPartitionTable(source, options.sectorSize);
  if (table.kind === 'none') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${options.path} has no partition table; clone its filesystem with \`clone partition\`.`, path: options.path });
  return table;
}

/** What a clone is planned from: the source (its table when a disk), the opened target and the choices. */
export interface CloneRequest {
  readonly sourcePath: string;
  readonly source: ByteSource;
  readonly sectorSize: number;
  /** The source's table (readCloneSourceTable): a disk clone; undefined: a partition clone. */
  readonly table: PartitionTableInfo | undefined;
  readonly target: OpenedRestoreTarget;
  readonly fit: FitMode;
  readonly sizes: readonly SizeRequest[];
  readonly sectorBySector: boolean;
  /** Where a partition device starts on its disk (io/clone-targets.ts). */
  readonly partitionStartLba: (device: string, sectorSize: number) => Promise<number | undefined>;
  /** Measures minimums when something may shrink (without it nothing shrinks). */
  readonly measureMinimum?: MeasureMinimum;
}

/** The clone's plan (nothing is written). */
export async function planClone(request: CloneRequest): Promise<ClonePlan> {
  const { source, target, table, sectorSize } = request;
  const description = target.facts.description;
  // Minimums are measured (a loop device and resize2fs -P or ntfsresize each) only when something may shrink.
  const measure = target.size < source.size || request.sizes.length > 0 ? request.measureMinimum : undefined;
  if (table) {
    const { facts, volumes } = await probeCloneSource(source, table, { path: request.sourcePath, ...(measure ? { measure } : {}) });
    const layout = planLayout(sourceLayoutOf(table, facts), { target: { sizeBytes: target.size, sectorSize: target.facts.logicalSectorSize, description }, fit: request.fit, sizes: request.sizes });
    return planDiskClone({ source: { path: request.sourcePath, sizeBytes: source.size, table }, filesystems: new Map([...facts].map(([number, entry]) => [number, entry.filesystem])), volumes, target: { description, sizeBytes: target.size }, layout, sectorBySector: request.sectorBySector });
  }
  const probe = await probeFilesystem(source).catch(() => undefined);
  const startLba = target.backing.offset > 0 ? target.backing.offset / sectorSize : await request.partitionStartLba(target.backing.path, sectorSize);
  const minimumBytes = measure ? await minimumOf(measure, { path: request.sourcePath, offset: 0, sizeBytes: source.size, probe, source }) : undefined;
  return planPartitionClone({ source: { path: request.sourcePath, sizeBytes: source.size, filesystem: probe?.type, minimumBytes, volume: { state: probe?.state, uuid: probe?.uuid, label: probe?.label } }, target: { description, sizeBytes: target.size, startLba: startLba ?? 0 }, sectorBySector: request.sectorBySector });
}

/** A stopped clone, saying what it leaves (anything else passes unchanged). */
export function stoppedClone(error: unknown, target: OpenedRestoreTarget, done: { bytes: number }): unknown {
  if (!(error instanceof LifeboatError) || error.code !== 'LB_INPUT_STOPPED') return error;
  return new LifeboatError('LB_INPUT_STOPPED', { ...error.details, detail: `Stopped after copying ${formatBytes(done.bytes)}: ${target.facts.description} holds part of the copy and no partition table. Clone again before using it.`, target: target.facts.path }, { cause: error });
}
