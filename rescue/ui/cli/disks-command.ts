// `lifeboat disks`: lists the machine's disks as a table or as JSON.

import type { Argv, CommandModule } from 'yargs';
import { formatBytes, type DiskSummary } from '../../core/disk-facts.ts';
import type { CliContext } from './context.ts';
import { formatTable, type Column } from './format-table.ts';

interface DisksArgs {
  json: boolean;
  all: boolean;
}

const COLUMNS: readonly Column<DiskSummary>[] = [
  { heading: 'DEVICE', cell: (d) => d.path },
  { heading: 'SIZE', cell: (d) => formatBytes(d.sizeBytes), alignRight: true },
  { heading: 'BYTES', cell: (d) => String(d.sizeBytes), alignRight: true },
  { heading: 'TRANSPORT', cell: (d) => d.transport },
  { heading: 'MODEL', cell: (d) => d.model || '-' },
  { heading: 'SERIAL', cell: (d) => d.serial || '-' },
  { heading: 'FLAGS', cell: (d) => [d.removable ? 'removable' : '', d.readOnly ? 'read-only' : ''].filter(Boolean).join(',') || '-' },
];

/** Builds the `disks` command. */
export function disksCommand(context: CliContext): CommandModule<object, DisksArgs> {
  return {
    command: 'disks',
    describe: 'List the disks of this machine',
    builder: (yargs: Argv) =>
      yargs
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON for scripts' })
        .option('all', { type: 'boolean', default: false, describe: 'Include loop, ram and zram devices' }) as Argv<DisksArgs>,
    handler: async (args) => {
      const disks = await context.listDisks({ includeVirtual: args.all });
      if (args.json) {
        context.stdout.write(`${JSON.stringify({ disks }, null, 2)}\n`);
        return;
      }
      context.stdout.write(disks.length === 0 ? 'No disks found.\n' : `${formatTable(disks, COLUMNS)}\n`);
    },
  };
}
