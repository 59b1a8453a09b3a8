// `lifeboat convert uefi DISK`: an in-place MBR -> GPT conversion (partitions stay where they are, a
// new ESP in free space), planned and shown first, confirmed, with an undo file written before any
// change. `lifeboat convert undo UNDOFILE DISK` puts the saved sectors back. The UEFI boot loader
// is a later step (not yet in this command).

import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_ESP_BYTES, planConversion } from '../../core/convert/convert-plan.ts';
import { describeConvertPlan } from '../../core/convert/describe-convert-plan.ts';
import { LifeboatError } from '../../core/errors.ts';
import { formatBytes } from '../../core/human-units.ts';
import { parseSizeRequest } from '../../core/layout/layout-types.ts';
import { readConversionInventory } from '../../ops/convert-inventory.ts';
import { convertToUefi, undoConversion } from '../../ops/convert-uefi.ts';
import { withExamples } from './command-examples.ts';
import type { CliContext } from './context.ts';

interface ConvertArgs {
  disk: string;
  'esp-size': string | undefined;
  'undo-file': string | undefined;
  'dry-run': boolean;
  yes: boolean;
  json: boolean;
}

interface UndoArgs {
  undofile: string;
  disk: string;
  yes: boolean;
  json: boolean;
}

function espBytesOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_ESP_BYTES;
  const parsed = parseSizeRequest(`1=${text}`);
  if (!parsed || parsed.bytes < 32 * 1024 * 1024) throw new LifeboatError('LB_INPUT_USAGE', { detail: `--esp-size ${text}: expected a size of at least 32M (FAT32's smallest), e.g. 260M.` });
  return parsed.bytes;
}

async function confirm(context: CliContext, yes: boolean, question: string, what: string): Promise<void> {
  if (yes) return;
  const answer = await context.repositories.ask(question, { secret: false });
  if (answer === undefined) throw new LifeboatError('LB_INPUT_CONFIRMATION_REQUIRED', { detail: what });
  if (answer.trim().toLowerCase() !== 'yes') throw new LifeboatError('LB_INPUT_CANCELLED');
}

async function runConvert(context: CliContext, args: ConvertArgs): Promise<void> {
  const espBytes = espBytesOf(args['esp-size']);
  const now = new Date();
  const undoFile = args['undo-file'] ?? (await context.convert.defaultUndoFile(args.disk, now));
  if (undoFile === undefined && !args['dry-run']) throw new LifeboatError('LB_INPUT_CONVERT_UNDO_FILE_REQUIRED', { detail: `Converting ${args.disk}.`, device: args.disk });
  if (undoFile !== undefined) await context.convert.refuseUndoOnTarget(undoFile, args.disk);
  const disk = await context.convert.openDisk(args.disk, { writable: !args['dry-run'] });
  try {
    const inventory = await readConversionInventory(disk);
    const plan = planConversion(inventory, { espBytes, newGuid: context.convert.newGuid });
    if (args.json) context.stdout.write(`${JSON.stringify({ event: 'plan', plan, undoFile: undoFile ?? null, inventory: { sectorSize: inventory.sectorSize, physicalSectorSize: inventory.physicalSectorSize, diskSectors: inventory.diskSectors, partitions: inventory.partitions } })}\n`);
    else context.stdout.write(`${describeConvertPlan(plan, undoFile).join('\n')}\n`);
    if (args['dry-run']) {
      if (!args.json) context.stdout.write('Dry run: nothing was written.\n');
      return;
    }
    await confirm(context, args.yes, `The partition table of ${args.disk} will be rewritten as GPT. Type yes to continue: `, `Converting ${args.disk}.`);
    const notice = (message: string) => (args.json ? context.stdout.write(`${JSON.stringify({ event: 'notice', message })}\n`) : context.stderr.write(`${message}\n`));
    const result = await convertToUefi({ disk, plan, undoFile: undoFile as string, ports: context.convert.ports(notice), now: () => now });
    if (args.json) context.stdout.write(`${JSON.stringify({ event: 'done', ...result })}\n`);
    else context.stdout.write(`Converted ${args.disk} to GPT: ${formatBytes(result.bytesWritten)} of tables written${result.espBytes ? `, a ${formatBytes(result.espBytes)} ESP formatted FAT32` : ''}; undo with: lifeboat convert undo ${result.undoFile} ${args.disk}\nInstall a UEFI boot loader before switching the firmware to UEFI (CSM off).\n`);
  } finally {
    await disk.close();
  }
}

async function runUndo(context: CliContext, args: UndoArgs): Promise<void> {
  const undoBytes = await context.convert.readUndoFile(args.undofile);
  const disk = await context.convert.openDisk(args.disk, { writable: true });
  try {
    // The identity is checked inside undoConversion before any write; the question comes after the file is read.
    await confirm(context, args.yes, `The sectors saved in ${args.undofile} will be written back onto ${args.disk}. Type yes to continue: `, `Undoing the conversion of ${args.disk}.`);
    const result = await undoConversion({ disk, undoBytes, undoFile: args.undofile, ports: context.convert.ports(() => undefined) });
    if (args.json) context.stdout.write(`${JSON.stringify({ event: 'done', ...result })}\n`);
    else context.stdout.write(`Put back ${result.sectorsWritten} sectors onto ${args.disk} from ${args.undofile}.\n`);
  } finally {
    await disk.close();
  }
}

/** The convert command: uefi (MBR -> GPT in place) and undo. */
export function convertCommand(context: CliContext): CommandModule {
  return {
    command: 'convert <kind>',
    describe: 'Convert a legacy BIOS (MBR) disk to GPT in place for UEFI, or undo a conversion',
    builder: (yargs) =>
      withExamples(yargs, 'convert')
        .command({
          command: 'uefi <disk>',
          describe: 'MBR -> GPT in place: every partition keeps its sectors and number, a new FAT32 ESP in free space; an undo file first',
          builder: (inner: Argv) => withExamples(inner, 'convert uefi')
            .positional('disk', { type: 'string', demandOption: true, describe: 'Disk or disk image to convert' })
            .option('esp-size', { type: 'string', describe: 'Size of the new ESP (default 260M)' })
            .option('undo-file', { type: 'string', describe: 'Where the undo file goes, on another disk (default: the medium\'s data partition, when mounted)' })
            .option('dry-run', { type: 'boolean', default: false, describe: 'Print the plan and write nothing' })
            .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
            .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output (the plan, notices, the result)' }),
          handler: (args) => runConvert(context, args as unknown as ConvertArgs),
        })
        .command({
          command: 'undo <undofile> <disk>',
          describe: 'Write back every sector a conversion saved, after checking the disk is the one it was made for',
          builder: (inner: Argv) => withExamples(inner, 'convert undo')
            .positional('undofile', { type: 'string', demandOption: true, describe: 'The undo file convert uefi wrote' })
            .positional('disk', { type: 'string', demandOption: true, describe: 'The converted disk or image' })
            .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
            .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' }),
          handler: (args) => runUndo(context, args as unknown as UndoArgs),
        })
        .demandCommand(1, 'Name what to do: uefi or undo.'),
    handler: () => undefined,
  };
}
