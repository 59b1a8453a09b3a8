// `lifeboat errors [CODE]`: prints the error catalogue, or one entry, with causes and fixes.

import type { Argv, CommandModule } from 'yargs';
import { ERROR_CATALOGUE, LifeboatError, type ErrorCode } from '../../core/errors.ts';
import type { CliContext } from './context.ts';
import { exitCodeOf } from './exit-codes.ts';
import { withExamples } from './command-examples.ts';

interface ErrorsArgs {
  code: string | undefined;
  json: boolean;
}

/** Builds the `errors` command. */
export function errorsCommand(context: CliContext): CommandModule<object, ErrorsArgs> {
  return {
    command: 'errors [code]',
    describe: 'List error codes with their causes and fixes',
    builder: (yargs: Argv) =>
      withExamples(yargs, 'errors')
        .positional('code', { type: 'string', describe: 'One code, e.g. LB_INPUT_USAGE' })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as Argv<ErrorsArgs>,
    handler: (args) => {
      const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
      const wanted = args.code === undefined ? codes : codes.filter((code) => code === args.code?.toUpperCase());
      if (wanted.length === 0) throw new LifeboatError('LB_INPUT_USAGE', { detail: `Unknown error code "${args.code}".` });
      const entries = wanted.map((code) => ({ code, ...ERROR_CATALOGUE[code], exitCode: exitCodeOf({ code, group: ERROR_CATALOGUE[code].group }) }));
      if (args.json) {
        context.stdout.write(`${JSON.stringify({ errors: entries }, null, 2)}\n`);
        return;
      }
      for (const entry of entries) {
        context.stdout.write(`${entry.code} (${entry.group}, exit ${entry.exitCode})\n  ${entry.message}\n  Cause: ${entry.cause}\n  Fix: ${entry.fix}\n\n`);
      }
    },
  };
}
