// A clone's plan as people read it (the CLI before its confirmation and --dry-run; the TUI later):
// source and target, the new layout, then each step in the order it runs.

import { formatBytes, formatOffset } from '../human-units.ts';
import { describeLayoutPlan } from '../layout/describe-layout-plan.ts';
import type { ClonePlan, CloneStep } from './clone-plan.ts';
import { describeIds } from './new-ids.ts';

function describeStep(step: CloneStep): string {
  if (step.kind === 'volume') {
    const { volume } = step;
    const how = volume.sectorBySector || !volume.filesystem ? 'every sector' : 'its used blocks';
    const moved = volume.sourceOffset === volume.targetOffset ? '' : ` (from ${formatOffset(volume.sourceOffset)} to ${formatOffset(volume.targetOffset)})`;
    return `copy ${step.label}, ${how}${moved}${volume.filesystem === 'ntfs' || volume.filesystem === 'vfat' ? `; boot sector's hidden sectors set to ${volume.targetStartLba}` : ''}`;
  }
  if (step.kind === 'wipe') return `clear ${step.label}: ${step.runs.map((run) => `${formatBytes(run.length)} at ${formatOffset(run.offset)}`).join(', ')}`;
  if (step.kind === 'boot-gap') return `copy ${step.label}`;
  if (step.kind === 'table') return `write ${step.label}`;
  if (step.kind === 'shrink-filesystem' && step.filesystem === 'ntfs') return `${step.label}; boot sector's hidden sectors set to ${step.volume.targetStartLba}, its backup at the new end`;
  return step.label;
}

/** The plan as lines (no trailing newline). */
export function describeClonePlan(plan: ClonePlan): string[] {
  const lines = [`Clone ${plan.kind} ${plan.source.path} (${formatBytes(plan.source.sizeBytes)}) onto ${plan.target.description} (${formatBytes(plan.target.sizeBytes)}).`];
  if (plan.layout) lines.push(...describeLayoutPlan(plan.layout));
  lines.push('Steps:', ...plan.steps.map((step, index) => `  ${index + 1}. ${describeStep(step)}`));
  lines.push(...describeIds(plan.ids));
  for (const note of plan.notes) lines.push(`note: ${note}`);
  return lines;
}
