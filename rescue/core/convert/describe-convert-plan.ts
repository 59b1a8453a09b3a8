// The plan of an in-place conversion as lines for the terminal (the --dry-run and the confirmation).

import { formatBytes } from '../human-units.ts';
import { describePartitionType } from '../partition-table/partition-types.ts';
import type { ConvertPlan } from './convert-plan.ts';

/** Lines that say what the conversion keeps, adds and saves. */
export function describeConvertPlan(plan: ConvertPlan, undoFile: string | undefined): string[] {
  const lines = [`Convert ${plan.device} from MBR to GPT in place (${plan.diskSectors} sectors of ${plan.sectorSize} bytes, ${formatBytes(plan.diskSectors * plan.sectorSize)}); no partition moves:`];
  for (const partition of plan.partitions) {
    const from = partition.isNewEsp ? 'new' : `MBR 0x${(partition.mbrType ?? 0).toString(16).padStart(2, '0')}`;
    const size = formatBytes((partition.lastLba - partition.firstLba + 1) * plan.sectorSize);
    const extra = [partition.filesystem, partition.system].filter(Boolean).join(', ');
    lines.push(`  ${String(partition.number).padStart(2)}  LBA ${partition.firstLba}..${partition.lastLba}  ${size.padStart(10)}  ${from} -> ${describePartitionType(partition.typeGuid).name}${extra ? `  (${extra})` : ''}`);
  }
  if (plan.esp) lines.push(`  The new EFI System partition ${plan.esp.number} is formatted FAT32, label ${plan.esp.label}.`);
  for (const system of plan.systems) lines.push(`  Found ${system.name}${system.bootLoader ? `, boot loader ${system.bootLoader}` : ''}: ${system.facts.join('; ')}.`);
  const saved = plan.undoRanges.reduce((sum, range) => sum + range.sectors, 0);
  lines.push(`  Undo file${undoFile ? ` ${undoFile}` : ''}: ${saved} sectors (first and last MiB, ${plan.ebrLbas.length} EBR(s)${plan.esp ? ', the ESP\'s region' : ''}), written and synced before any change.`);
  lines.push(...plan.notes.map((note) => `  ${note}`));
  lines.push('  The boot loader for UEFI is not installed by this step: install it before switching the firmware to UEFI (CSM off).');
  return lines;
}
