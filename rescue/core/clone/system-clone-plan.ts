// `clone system`: only what the installed system needs to boot (the selection `backup system`
// makes: ESP, MSR, BIOS boot, Windows and its recovery, the Linux root and what its fstab mounts on
// /boot and /boot/efi), laid out by the one layout planner as a disk of its own: the chosen
// partitions in their order and with their numbers, packed from the first 1 MiB boundary, the gaps
// of the left-out ones closed. The plan names every left-out partition with its reason, and warns
// when a chosen Linux root's fstab mounts one of them (the copy will not find it); on an ext2/3/4
// root, a line without nofail gets it in the copy (core/clone/fstab-nofail.ts), before the table.

import { LifeboatError } from '../errors.ts';
import { formatBytes } from '../human-units.ts';
import type { SourceLayout, SourcePartition } from '../layout/layout-types.ts';
import { diskOrder, placePartitions, tailSectors, targetGeometry } from '../layout/place-partitions.ts';
import { findFstabPartition, parseFstab, type SystemChoice, type SystemRole, type SystemSelectionInput } from '../repository/system-selection.ts';
import { planDiskClone, type ClonePlan, type DiskCloneRequest } from './clone-plan.ts';
import { describeClonePlan } from './describe-clone-plan.ts';
import type { FstabNofailStep } from './fstab-nofail.ts';

/** A partition the copy leaves out, and why. */
export interface LeftOutPartition {
  readonly partition: number;
  readonly role: SystemRole;
  readonly sizeBytes: number;
  readonly reason: string;
}

/** An fstab line of a chosen Linux root that names a left-out partition: the copy will not find it. */
export interface MissingMount {
  /** The Linux root whose /etc/fstab holds the line. */
  readonly root: number;
  readonly partition: number;
  readonly spec: string;
  readonly mountPoint: string;
  /** The line's options hold nofail: the copy boots without the partition. */
  readonly nofail: boolean;
  readonly warning: string;
}

/** What `clone system` adds to a disk clone's plan. */
export interface SystemCloneFacts {
  readonly chosen: readonly SystemChoice[];
  readonly leftOut: readonly LeftOutPartition[];
  readonly missingMounts: readonly MissingMount[];
}

/** A clone plan of kind 'system', with its selection. */
export type SystemClonePlan = ClonePlan & { readonly kind: 'system'; readonly system: SystemCloneFacts };

/** True for a plan made by planSystemClone. */
export function isSystemClonePlan(plan: ClonePlan): plan is SystemClonePlan {
  return plan.kind === 'system' && 'system' in plan;
}

/** Refuses a disk with nothing to boot (LB_INPUT_NO_SYSTEM) before anything is opened for writing. */
export function refuseWithoutSystem(choices: readonly SystemChoice[], source: string): void {
  if (choices.some((choice) => choice.chosen && choice.role !== 'extended')) return;
  throw new LifeboatError('LB_INPUT_NO_SYSTEM', {
    detail: `No partition of ${source} holds a boot loader, Windows or a Linux system (${choices.length === 0 ? 'it has no partitions' : choices.map((choice) => `${choice.partition}: ${choice.role}`).join(', ')}); nothing to clone as a system.`,
    source, partitions: choices.map((choice) => ({ partition: choice.partition, role: choice.role, reason: choice.reason })),
  });
}

/** The source's layout with only the chosen partitions (numbers, types and ids kept): what the planner packs. */
export function systemLayoutOf(source: SourceLayout, choices: readonly SystemChoice[]): SourceLayout {
  const chosen = new Set(choices.filter((choice) => choice.chosen).map((choice) => choice.partition));
  return { ...source, partitions: source.partitions.filter((partition) => chosen.has(partition.number)) };
}

/** The bytes a disk needs to hold `layout`'s partitions at their sizes, packed from the first 1 MiB boundary (a new image file's size). */
export function packedDiskBytes(layout: SourceLayout): number {
  const geometry = targetGeometry(layout, layout.diskSectors);
  const sizes = new Map(layout.partitions.map((partition) => [partition.number, partition.sectors]));
  return (placePartitions(diskOrder(layout), sizes, geometry).end + tailSectors(geometry)) * layout.sectorSize;
}

/** Root filesystems whose /etc/fstab Lifeboat edits in the copy (debugfs). */
const EDITABLE_ROOTS: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4']);

/** The left-out partitions (extended containers with no chosen logical included), in table order. */
export function leftOutOf(source: SourceLayout, choices: readonly SystemChoice[]): LeftOutPartition[] {
  return choices.filter((choice) => !choice.chosen).map((choice) => {
    const partition: SourcePartition | undefined = source.partitions.find((entry) => entry.number === choice.partition);
    return { partition: choice.partition, role: choice.role, sizeBytes: (partition?.sectors ?? 0) * source.sectorSize, reason: choice.reason };
  });
}

/** The options field (4th) of an fstab line, '' when it has none. */
function optionsOf(line: string): string {
  return line.replace(/#.*/, '').trim().split(/\s+/)[3] ?? '';
}

/** Every fstab line of a chosen Linux root that names a left-out partition of this disk. */
export function missingMountsOf(input: SystemSelectionInput, choices: readonly SystemChoice[]): MissingMount[] {
  const editable = (root: number) => EDITABLE_ROOTS.has(input.contents.get(root)?.filesystem?.type ?? '');
  const leftOut = new Set(choices.filter((choice) => !choice.chosen).map((choice) => choice.partition));
  const missing: MissingMount[] = [];
  for (const root of choices.filter((choice) => choice.chosen && choice.role === 'linux-root')) {
    for (const line of (input.contents.get(root.partition)?.fstab ?? '').split('\n')) {
      const entry = parseFstab(line)[0];
      const partition = entry ? findFstabPartition(input, entry.spec) : undefined;
      if (!entry || !partition || !leftOut.has(partition.number)) continue;
      const nofail = optionsOf(line).split(',').includes('nofail');
      const what = `partition ${partition.number} is left out, but the fstab of the Linux root (partition ${root.partition}) mounts it on ${entry.mountPoint} (${entry.spec}): the copy will not find it`;
      const effect = nofail
        ? 'its line has nofail, so the copy boots without it'
        : editable(root.partition)
          ? 'its line has no nofail, so it gets nofail in the copy\'s /etc/fstab (with a comment; the source is not changed): the copy boots without it and still mounts it where it is found'
          : 'its line has no nofail: the copy\'s boot waits for it (systemd: 90 s) and stops in emergency mode; before booting the copy, add nofail to that line of its /etc/fstab or comment the line out (the source is not changed)';
      missing.push({ root: root.partition, partition: partition.number, spec: entry.spec, mountPoint: entry.mountPoint, nofail, warning: `${what}; ${effect}.` });
    }
  }
  return missing;
}

/** What a system clone is planned from: a disk clone's request (its layout made from systemLayoutOf) and the selection. */
export interface SystemCloneRequest extends DiskCloneRequest {
  readonly selection: SystemSelectionInput;
  readonly choices: readonly SystemChoice[];
  /** The source's whole layout (systemLayoutOf's input), for the left-out partitions' sizes. */
  readonly sourceLayout: SourceLayout;
}

/** Plans a system clone: a disk clone of the chosen partitions onto their packed layout, with what is left out and why. */
export function planSystemClone(request: SystemCloneRequest): SystemClonePlan {
  refuseWithoutSystem(request.choices, request.source.path);
  const plan = planDiskClone(request);
  const leftOut = leftOutOf(request.sourceLayout, request.choices);
  const missingMounts = missingMountsOf(request.selection, request.choices);
  const notes = [...plan.notes];
  const dropped = request.sourceLayout.partitions.filter((partition) => partition.kind === 'logical' && leftOut.some((entry) => entry.partition === partition.number));
  const renumbered = request.layout.partitions.filter((partition) => partition.kind === 'logical' && dropped.some((entry) => entry.startLba < partition.from.startLba));
  const logicals = request.layout.partitions.filter((partition) => partition.kind === 'logical');
  if (renumbered.length > 0) notes.push(`Logical partitions are numbered by their place in the EBR chain: on the copy, ${renumbered.map((partition) => `${partition.number} becomes ${5 + logicals.indexOf(partition)}`).join(', ')}; an fstab naming /dev/ devices must follow (UUID= and LABEL= lines need nothing).`);
  const steps = [...plan.steps];
  for (const root of new Set(missingMounts.filter((mount) => !mount.nofail).map((mount) => mount.root))) {
    const placed = request.layout.partitions.find((partition) => partition.number === root);
    if (!placed || !EDITABLE_ROOTS.has(request.filesystems.get(root) ?? '')) continue;
    const lines = missingMounts.filter((mount) => mount.root === root && !mount.nofail).map((mount) => ({ spec: mount.spec, mountPoint: mount.mountPoint, partition: mount.partition }));
    const step: FstabNofailStep = {
      kind: 'fstab-nofail', label: `add nofail to ${lines.map((line) => line.mountPoint).join(', ')} in /etc/fstab of the copy's partition ${root} (left out of the copy)`,
      partition: root, offset: placed.startLba * request.layout.sectorSize, sizeBytes: placed.sectors * request.layout.sectorSize, lines,
    };
    const table = steps.findIndex((entry) => entry.kind === 'table');
    steps.splice(table < 0 ? steps.length : table, 0, step);
  }
  if (leftOut.length > 0) notes.push(`Not on the copy (left out): ${leftOut.map((entry) => `partition ${entry.partition} (${entry.role}, ${formatBytes(entry.sizeBytes)})`).join(', ')}.`);
  return { ...plan, kind: 'system', steps, notes, system: { chosen: request.choices.filter((choice) => choice.chosen), leftOut, missingMounts } };
}

/** The plan as lines: the selection (each partition copied or left out, with its reason), the disk clone's plan, then a warning for each fstab line the copy cannot satisfy. */
export function describeSystemClonePlan(plan: SystemClonePlan): string[] {
  const choices = [...plan.system.chosen, ...plan.system.leftOut.map((entry) => ({ partition: entry.partition, role: entry.role, chosen: false, reason: entry.reason }))].sort((a, b) => a.partition - b.partition);
  const selection = choices.map((choice) => `  ${String(choice.partition).padStart(3)}  ${choice.chosen ? 'copied    ' : 'left out  '}  ${choice.role.padEnd(16)}  ${choice.reason}`);
  return [`System partitions of ${plan.source.path}:`, ...selection, ...describeClonePlan(plan), ...plan.system.missingMounts.map((mount) => `warning: ${mount.warning}`)];
}
