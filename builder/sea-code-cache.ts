// The executable's code cache, made after running: the SEA's main is a small loader that compiles
// the bundle (an asset) with V8's code cache of a warm-up run (another asset). sea-config's own
// useCodeCache caches the bundle as compiled, before anything ran: the functions a command calls
// were still compiled at every start (bench:start --compare, median CPU at load 16-22: --version
// 171 -> 145 ms, snapshots 244 -> 205 ms, ls 305 -> 282 ms, get of 16 MiB 510 -> 464 ms).

import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from './paths.ts';
import { runTool } from './run-tool.ts';

/** SEA asset holding the bundle, wrapped as a CommonJS function. */
export const BUNDLE_ASSET = 'lifeboat.cjs';
/** SEA asset holding V8's code cache of that script after the warm-up. */
export const CODE_CACHE_ASSET = 'lifeboat.code-cache';

/** The frozen repository the warm-up reads (a 4 MiB FAT disk, two snapshots; copied first: ls takes a lock). */
export const WARM_UP_REPOSITORY = path.join(PROJECT_ROOT, 'test', 'fixtures', 'repository-v2-zstd-metadata', 'plain');

/** The command lines whose functions the cache holds: the short commands of issue 15's Start goal, and get. */
export function warmUpCommandLines(repository: string, scratch: string): string[][] {
  return [
    ['--version'],
    ['snapshots', '-r', repository],
    ['ls', '-r', repository, 'latest:1', '/'],
    ['get', '-r', repository, 'latest:1', '/numbers.txt', scratch],
  ];
}

/** The bundle as the loader compiles it: one function of CommonJS's parameters. */
export function wrapBundle(code: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
}

/** Source of the SEA's main: compiles the bundle asset with the code-cache asset and runs it. */
export function seaLoaderSource(): string {
  return `'use strict';
const sea = require('node:sea');
const { Script } = require('node:vm');
const source = Buffer.from(sea.getRawAsset(${JSON.stringify(BUNDLE_ASSET)})).toString('utf8');
const cachedData = Buffer.from(sea.getRawAsset(${JSON.stringify(CODE_CACHE_ASSET)}));
const script = new Script(source, { filename: __filename, cachedData });
globalThis.__lifeboatCodeCache = script.cachedDataRejected ? 'rejected' : 'accepted';
script.runInThisContext()(exports, require, module, __filename, __dirname);
`;
}

/** Files of a loader build: the SEA main and the two assets. */
export interface LoaderFiles {
  readonly loader: string;
  readonly wrappedBundle: string;
  readonly codeCache: string;
}

/**
 * Writes the loader, the wrapped bundle and its code cache into `work`. The cache is made by
 * `nodeBinary`, the Node the executable is made from: V8 accepts a cache only from its own version
 * and flags (a rejected cache costs time, not correctness; the module trace reports it).
 */
export async function prepareCodeCache(options: { bundleFile: string; work: string; nodeBinary: string }): Promise<LoaderFiles> {
  const { work } = options;
  const files: LoaderFiles = {
    loader: path.join(work, 'sea-loader.cjs'),
    wrappedBundle: path.join(work, 'lifeboat-wrapped.cjs'),
    codeCache: path.join(work, 'lifeboat.code-cache'),
  };
  await writeFile(files.wrappedBundle, wrapBundle(await readFile(options.bundleFile, 'utf8')));
  await writeFile(files.loader, seaLoaderSource());
  const repository = path.join(work, 'warm-up-repository');
  await cp(WARM_UP_REPOSITORY, repository, { recursive: true });
  const lines = warmUpCommandLines(repository, path.join(work, 'warm-up-get'));
  await runTool(options.nodeBinary, [path.join(PROJECT_ROOT, 'builder', 'code-cache-warm-up.ts'), files.wrappedBundle, files.codeCache, JSON.stringify(lines)], {
    cwd: work,
    // No re-execution for the malloc tuning, run logs in the work folder, nothing from the caller's LIFEBOAT_*.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LIFEBOAT_MALLOC_TUNED: '1', LIFEBOAT_LOG_DIR: path.join(work, 'warm-up-logs'), HOME: work },
    extendEnv: false,
  });
  return files;
}
