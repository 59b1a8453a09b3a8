// The external programs a plan's steps will run, so a restore is refused before it writes anything
// when one is missing (io/run-program.ts checkPrograms), with --dry-run too.

import type { ClonezillaLayout, ClonezillaRestorePlan } from './clonezilla/clonezilla-restore-plan.ts';
import { decompressorFor, growProgramsFor, PROGRAMS, shrinkProgramsFor, type ExternalProgram } from './external-programs.ts';
import type { RestorePlan } from './repository/restore-plan.ts';
import type { ClonePlan } from './clone/clone-plan.ts';

/** A snapshot restore: the grow tools of each filesystem it grows (losetup, e2fsck, resize2fs...), the shrink tools of each it shrinks (qemu-storage-daemon...), mkswap for a swap made again. */
export function programsForRestorePlan(plan: RestorePlan): ExternalProgram[] {
  const programs = new Set(growStepPrograms(plan.steps));
  for (const step of plan.steps) {
    if (step.kind === 'shrink-volume') for (const program of shrinkProgramsFor(step.filesystem) ?? []) programs.add(program);
    if (step.kind === 'swap') programs.add(PROGRAMS.mkswap);
  }
  return [...programs];
}

/** The grow tools of each grow-filesystem step, once each. */
function growStepPrograms(steps: ReadonlyArray<{ readonly kind: string; readonly filesystem?: unknown }>): ExternalProgram[] {
  const programs = new Set<ExternalProgram>();
  for (const step of steps) {
    if (step.kind === 'grow-filesystem' && typeof step.filesystem === 'string') for (const program of growProgramsFor(step.filesystem) ?? []) programs.add(program);
  }
  return [...programs];
}

/** A Clonezilla restore or import: util-linux mkswap for swap areas, the decompressor of each image Node cannot decompress. */
export function programsForClonezillaPlan(plan: ClonezillaRestorePlan, layout: ClonezillaLayout): ExternalProgram[] {
  const programs = new Set<ExternalProgram>();
  for (const step of plan.steps) {
    if (step.kind === 'swap') programs.add(PROGRAMS.mkswap);
    if (step.kind !== 'partition') continue;
    const decompressor = decompressorFor(layout.partitions.find((partition) => partition.name === step.partition)?.compression);
    if (decompressor) programs.add(decompressor);
  }
  return [...programs];
}

/** A clone: the grow tools of each filesystem it grows, the shrink tools of each it shrinks (qemu-storage-daemon, resize2fs...), mkswap for swap made again; with --new-ids, losetup, e2fsck and tune2fs for each ext filesystem; debugfs when it edits the copy's fstab (clone system). */
export function programsForClonePlan(plan: ClonePlan): ExternalProgram[] {
  const programs = new Set(growStepPrograms(plan.steps));
  const newExtIds = plan.ids !== 'kept' && plan.ids.changes.some((change) => change.what === 'filesystem' && /^ext[234]$/.test(change.filesystem ?? ''));
  if (newExtIds) for (const program of [PROGRAMS.losetup, PROGRAMS.e2fsck, PROGRAMS.tune2fs]) programs.add(program);
  if (plan.steps.some((step) => step.kind === 'fstab-nofail')) programs.add(PROGRAMS.debugfs);
  for (const step of plan.steps) {
    if (step.kind === 'shrink-filesystem') for (const program of shrinkProgramsFor(step.filesystem) ?? []) programs.add(program);
    if (step.kind === 'swap') programs.add(PROGRAMS.mkswap);
  }
  return [...programs];
}
