// Run by the Node binary the executable is made from (builder/sea-code-cache.ts), never bundled:
// compiles the bundle exactly as the executable's loader does, runs the short commands' command
// lines through it in this one process, then writes V8's code cache of the script. A cache made
// after running holds the bytecode of every function those commands ran (one made at compile
// time, what sea-config's useCodeCache makes, holds little more than the top level), so the
// executable compiles none of them again. Only node: modules here: this file runs with type
// stripping outside the checkout's loader.
// Usage: node code-cache-warm-up.ts WRAPPED_BUNDLE CACHE_OUT COMMAND_LINES_JSON

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Script } from 'node:vm';

interface Program {
  runCli(argv: readonly string[]): Promise<number>;
}

const [bundleFile, cacheFile, linesJson] = process.argv.slice(2);
if (!bundleFile || !cacheFile || !linesJson) throw new Error('usage: code-cache-warm-up.ts WRAPPED_BUNDLE CACHE_OUT COMMAND_LINES_JSON');
const commandLines = JSON.parse(linesJson) as string[][];
const script = new Script(readFileSync(bundleFile, 'utf8'), { filename: bundleFile });

(globalThis as Record<string, unknown>).__lifeboatWarmUp = async (program: Program) => {
  for (const argv of commandLines) {
    const code = await program.runCli(argv);
    if (code !== 0) throw new Error(`warm-up command lifeboat ${argv.join(' ')} ended with exit ${code}`);
  }
  writeFileSync(cacheFile, script.createCachedData());
};
const module = { exports: {} };
const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
run(module.exports, createRequire(bundleFile), module, bundleFile, process.cwd());
