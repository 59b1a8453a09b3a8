// `lifeboat build linux|sea`: builds the single executable or the Linux rescue ISO (host side).

import type { Argv, CommandModule } from 'yargs';
import type { LinuxBuildOptions, SeaBuildOptions } from '../../core/media-build-options.ts';
import type { CliContext } from './context.ts';
import { withExamples } from './command-examples.ts';

/** The builder entry points main.ts wires in (loaded lazily: they need a source checkout). */
export interface BuildDependencies {
  readonly buildLinux: (request: LinuxBuildOptions, log: (line: string) => void) => Promise<unknown>;
  readonly buildSea: (request: SeaBuildOptions, log: (line: string) => void) => Promise<unknown>;
}

/** Builds the `build` command with its `linux` and `sea` subcommands. */
export function buildCommand(context: CliContext, deps: BuildDependencies): CommandModule<object, object> {
  const log = (json: boolean) => (line: string) => (json ? context.stderr : context.stdout).write(`${line}\n`);
  const printResult = (json: boolean, result: unknown) => {
    if (json) context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  };
  return {
    command: 'build <target>',
    describe: 'Build rescue media (run in a Lifeboat checkout)',
    builder: (yargs: Argv) =>
      withExamples(yargs, 'build')
        .command(
          'linux',
          'Build the Linux rescue ISO (hybrid: BIOS and UEFI, CD and USB, Secure Boot)',
          (y) =>
            withExamples(y, 'build linux')
              .option('output', { alias: 'o', type: 'string', default: 'dist/lifeboat.iso', describe: 'ISO file to write' })
              .option('kernel', { type: 'string', describe: 'A linux-image .deb, or a folder holding an extracted one (default: download linux-image-amd64 with apt-get)' })
              .option('cache', { type: 'string', describe: 'Cache folder for downloads and build parts (default: ~/.cache/lifeboat)' })
              .option('append', { type: 'string', describe: 'Extra kernel arguments for every boot entry, e.g. \'lifeboat.run="disks --json" lifeboat.then=poweroff\'' })
              .option('menu-timeout', { type: 'number', describe: 'Seconds the boot menu waits (default: the profile\'s, 5)' })
              .option('compression-level', { type: 'number', describe: 'zstd level for the initramfs, 1-22 (default 9; 19 makes a smaller ISO slowly)' })
              .option('json', { type: 'boolean', default: false, describe: 'Print the manifest as JSON; log to stderr' }),
          async (args) => {
            const result = await deps.buildLinux(
              {
                output: args.output,
                kernel: args.kernel,
                cache: args.cache,
                compressionLevel: args['compression-level'],
                append: args.append,
                menuTimeout: args['menu-timeout'],
              },
              log(args.json),
            );
            printResult(args.json, result);
          },
        )
        .command(
          'sea',
          'Build the single executable (dist/lifeboat)',
          (y) =>
            withExamples(y, 'build sea')
              .option('output', { alias: 'o', type: 'string', default: 'dist/lifeboat', describe: 'Executable to write' })
              .option('code-cache', { type: 'boolean', default: true, describe: "Carry V8's code cache of the bundle (--no-code-cache: none, as for another platform)" })
              .option('minify', { type: 'boolean', default: true, describe: "Leave the bundle's whitespace out (--no-minify keeps it and its module comments, for profiles)" })
              .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON; log to stderr' }),
          async (args) => {
            const result = await deps.buildSea({ output: args.output, codeCache: args.codeCache, minify: args.minify }, log(args.json));
            printResult(args.json, result);
          },
        )
        .demandCommand(1, 'Name a target: linux or sea.'),
    handler: () => undefined,
  };
}
