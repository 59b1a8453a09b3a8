// `lifeboat disks [DEVICE|FILE...]`: the machine's disks (or the named devices and image files),
// each with its partition table and, per partition, filesystem, label, size, use, state and role.

import type { Argv, CommandModule } from 'yargs';
import { formatBytes, type DiskSummary } from '../../core/disk-facts.ts';
import { toLifeboatError } from '../../core/errors.ts';
import type { DiskContents, InspectionProblem, PartitionReport } from '../../ops/inspect-disk.ts';
import type { CliContext } from './context.ts';
import { formatTable, type Column } from './format-table.ts';
import { withExamples } from './command-examples.ts';

interface DisksArgs {
  targets: string[];
  json: boolean;
  all: boolean;
  'sector-size': number | undefined;
}

/** A partition of the report: the table's view plus the kernel's device and mount points. */
type ReportedPartition = PartitionReport & { readonly device: string | undefined; readonly mountPoints: readonly string[] };

/** One disk of the report. */
export interface DiskReport extends DiskSummary {
  readonly table: (Omit<DiskContents['table'], 'partitions'> & { readonly partitions: readonly ReportedPartition[] }) | undefined;
  readonly filesystem: DiskContents['filesystem'];
  readonly problem: InspectionProblem | undefined;
}

const DISK_COLUMNS: readonly Column<DiskSummary>[] = [
  { heading: 'DEVICE', cell: (d) => d.path },
  { heading: 'SIZE', cell: (d) => formatBytes(d.sizeBytes), alignRight: true },
  { heading: 'BYTES', cell: (d) => String(d.sizeBytes), alignRight: true },
  { heading: 'TRANSPORT', cell: (d) => d.transport },
  { heading: 'MODEL', cell: (d) => d.model || '-' },
  { heading: 'SERIAL', cell: (d) => d.serial || '-' },
  {
    heading: 'FLAGS',
    cell: (d) => [d.removable ? 'removable' : '', d.readOnly ? 'read-only' : '', d.holdsMedium ? 'lifeboat-medium' : ''].filter(Boolean).join(',') || '-',
  },
];

const PARTITION_COLUMNS: readonly Column<ReportedPartition>[] = [
  { heading: '  #', cell: (p) => `  ${p.number}` },
  { heading: 'START', cell: (p) => formatBytes(p.startBytes), alignRight: true },
  { heading: 'SIZE', cell: (p) => formatBytes(p.sizeBytes), alignRight: true },
  { heading: 'TYPE', cell: (p) => p.typeName },
  { heading: 'FS', cell: (p) => p.filesystem?.type ?? (p.problem ? 'damaged' : '-') },
  { heading: 'LABEL', cell: (p) => p.filesystem?.label || p.name || '-' },
  { heading: 'USED', cell: (p) => (p.filesystem?.usedBytes === undefined ? '-' : formatBytes(p.filesystem.usedBytes)), alignRight: true },
  { heading: 'STATE', cell: (p) => p.problem?.code ?? p.filesystem?.state ?? '-' },
  { heading: 'ROLE', cell: (p) => p.role },
  { heading: 'MOUNTED', cell: (p) => p.mountPoints.join(',') || '-' },
];

function withKernelView(disk: DiskSummary, partitions: readonly PartitionReport[]): ReportedPartition[] {
  return partitions.map((partition) => {
    const kernel = disk.partitions.find((entry) => entry.number === partition.number);
    return { ...partition, device: kernel?.path, mountPoints: kernel?.mountPoints ?? [] };
  });
}

function renderDisk(report: DiskReport): string {
  const lines = [formatTable([report], DISK_COLUMNS)];
  if (report.problem) lines.push(`  cannot read: ${report.problem.code}: ${report.problem.message}`);
  const table = report.table;
  if (table) {
    const id = table.id ? ` ${table.id}` : '';
    lines.push(`  table: ${table.kind === 'none' ? 'none' : `${table.kind.toUpperCase()}${id}`}, ${table.sectorSize}-byte sectors`);
    if (table.kind === 'none' && report.filesystem) lines.push(`  whole-disk filesystem: ${report.filesystem.type} ${report.filesystem.label ?? ''}`.trimEnd());
    if (table.partitions.length > 0) lines.push(formatTable(table.partitions, PARTITION_COLUMNS));
    for (const warning of table.warnings) lines.push(`  warning: ${warning}`);
    for (const partition of table.partitions) {
      for (const warning of partition.filesystem?.warnings ?? []) lines.push(`  warning (partition ${partition.number}): ${warning}`);
      if (partition.problem) lines.push(`  partition ${partition.number}: ${partition.problem.message} Fix: ${partition.problem.fix}`);
    }
  }
  return lines.join('\n');
}

/** Builds the `disks` command. */
export function disksCommand(context: CliContext): CommandModule<object, DisksArgs> {
  return {
    command: 'disks [targets..]',
    describe: 'List disks (or the named devices and image files) with their partitions and filesystems',
    builder: (yargs: Argv) =>
      withExamples(yargs, 'disks')
        .positional('targets', { type: 'string', array: true, default: [], describe: 'Block devices or image files (default: every disk)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' })
        .option('all', { type: 'boolean', default: false, describe: 'Include loop, ram and zram devices' })
        .option('sector-size', { type: 'number', describe: 'Logical sector size of image files, 512 or 4096 (default: 4096 when a GPT is found there, else 512)' }) as unknown as Argv<DisksArgs>,
    handler: async (args) => {
      const disks = args.targets.length > 0
        ? await Promise.all(args.targets.map((target) => context.describeTarget(target)))
        : await context.listDisks({ includeVirtual: args.all });
      const reports: DiskReport[] = [];
      for (const disk of disks) {
        const sectorSize = disk.transport === 'file' ? (args['sector-size'] ?? 'detect') : disk.logicalSectorSize;
        try {
          const contents = disk.sizeBytes === 0 ? undefined : await context.inspectTarget(disk.path, sectorSize);
          reports.push({
            ...disk,
            table: contents ? { ...contents.table, partitions: withKernelView(disk, contents.table.partitions) } : undefined,
            filesystem: contents?.filesystem,
            problem: undefined,
          });
        } catch (error) {
          const coded = toLifeboatError(error);
          reports.push({ ...disk, table: undefined, filesystem: undefined, problem: { code: coded.code, message: coded.message, fix: coded.fix, details: coded.details } });
        }
      }
      if (args.json) {
        context.stdout.write(`${JSON.stringify({ disks: reports }, null, 2)}\n`);
        return;
      }
      context.stdout.write(reports.length === 0 ? 'No disks found.\n' : `${reports.map(renderDisk).join('\n\n')}\n`);
    },
  };
}
