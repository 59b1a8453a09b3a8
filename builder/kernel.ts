// Gets the medium's kernel: Debian's signed linux-image package, downloaded with apt-get and
// cached, or given as a .deb or an extracted folder. Returns where vmlinuz and the modules are.

import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../rescue/core/errors.ts';
import { exists, sha256File } from './files.ts';
import { runTool } from './run-tool.ts';

/** An extracted kernel package. */
export interface KernelTree {
  /** Folder holding boot/ and lib/modules/VERSION/. */
  readonly root: string;
  readonly version: string;
  readonly vmlinuz: string;
  /** The .deb it came from, when there was one. */
  readonly deb: string | undefined;
}

/** The metapackage that always depends on the current signed kernel. */
export const KERNEL_METAPACKAGE = 'linux-image-amd64';

/** Picks the versioned image package out of `apt-cache depends linux-image-amd64`. */
export function parseKernelDependency(aptCacheDepends: string): string | undefined {
  for (const line of aptCacheDepends.split('\n')) {
    const match = /^\s*Depends:\s*(linux-image-\d[\w.+-]*-amd64)\s*$/.exec(line);
    if (match?.[1] && !match[1].endsWith('-unsigned')) return match[1];
  }
  return undefined;
}

/** Finds vmlinuz and the module version inside an extracted package. */
export async function inspectKernelTree(root: string, deb?: string): Promise<KernelTree> {
  let versions: string[] = [];
  try {
    versions = (await readdir(path.join(root, 'lib', 'modules'))).sort();
  } catch {
    versions = [];
  }
  for (const version of versions.reverse()) {
    const vmlinuz = path.join(root, 'boot', `vmlinuz-${version}`);
    if (await exists(vmlinuz)) return { root, version, vmlinuz, deb };
  }
  throw new LifeboatError('LB_BUILD_KERNEL_NOT_FOUND', { detail: `No boot/vmlinuz-VERSION with lib/modules/VERSION under ${root}.`, root });
}

async function extractDeb(deb: string, cacheDir: string): Promise<KernelTree> {
  const key = (await sha256File(deb)).slice(0, 16);
  const root = path.join(cacheDir, 'kernel', key);
  if (!(await exists(path.join(root, '.complete')))) {
    const partial = `${root}.partial`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    await runTool('dpkg-deb', ['-x', deb, partial]);
    await runTool('touch', [path.join(partial, '.complete')]);
    await rm(root, { recursive: true, force: true });
    await rename(partial, root);
  }
  const tree = await inspectKernelTree(root, deb);
  if (!(await exists(path.join(root, 'lib', 'modules', tree.version, 'modules.dep')))) {
    await runTool('depmod', ['-b', root, tree.version]);
  }
  return tree;
}

/** Downloads the current signed kernel package into the cache (once). */
async function downloadKernelDeb(cacheDir: string, log: (line: string) => void): Promise<string> {
  const depends = await runTool('apt-cache', ['depends', KERNEL_METAPACKAGE]).catch((error: unknown) => {
    throw new LifeboatError('LB_BUILD_KERNEL_NOT_FOUND', { detail: 'apt-cache could not resolve linux-image-amd64; run apt-get update.' }, { cause: error });
  });
  const pkg = parseKernelDependency(depends);
  if (!pkg) throw new LifeboatError('LB_BUILD_KERNEL_NOT_FOUND', { detail: 'linux-image-amd64 names no kernel package; run apt-get update.' });
  const debDir = path.join(cacheDir, 'debs');
  await mkdir(debDir, { recursive: true });
  const cached = (await readdir(debDir)).find((file) => file.startsWith(`${pkg}_`) && file.endsWith('.deb'));
  if (cached) return path.join(debDir, cached);
  log(`downloading ${pkg} with apt-get`);
  await runTool('apt-get', ['download', '-q', pkg], { cwd: debDir });
  const downloaded = (await readdir(debDir)).find((file) => file.startsWith(`${pkg}_`) && file.endsWith('.deb'));
  if (!downloaded) throw new LifeboatError('LB_BUILD_KERNEL_NOT_FOUND', { detail: `apt-get download ${pkg} left no .deb.` });
  return path.join(debDir, downloaded);
}

/** Resolves --kernel (a .deb, a folder, or nothing: download) to an extracted kernel. */
export async function obtainKernel(options: { kernel: string | undefined; cacheDir: string; log: (line: string) => void }): Promise<KernelTree> {
  if (options.kernel === undefined) return extractDeb(await downloadKernelDeb(options.cacheDir, options.log), options.cacheDir);
  const info = await stat(options.kernel).catch((error: unknown) => {
    throw new LifeboatError('LB_BUILD_KERNEL_NOT_FOUND', { detail: `${options.kernel} does not exist.` }, { cause: error });
  });
  if (info.isDirectory()) {
    const tree = await inspectKernelTree(options.kernel);
    if (!(await exists(path.join(tree.root, 'lib', 'modules', tree.version, 'modules.dep')))) {
      throw new LifeboatError('LB_BUILD_KERNEL_NOT_FOUND', { detail: `${tree.root} has no modules.dep; run depmod -b ${tree.root} ${tree.version}.` });
    }
    return tree;
  }
  return extractDeb(options.kernel, options.cacheDir);
}
