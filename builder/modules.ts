// The kernel module set of the medium: the profile's list plus every dependency, resolved with
// kmod's modprobe against the kernel package, then copied with a fresh modules.dep.

import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../rescue/core/errors.ts';
import type { KernelTree } from './kernel.ts';
import { runTool } from './run-tool.ts';

/** Reads a module list: one name per line, # comments, blank lines ignored. */
export function parseModuleList(text: string): string[] {
  const names = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0);
  return [...new Set(names)];
}

/** Module files (in load order) named by `modprobe --show-depends`; builtin modules are skipped. */
export function parseShowDepends(output: string): string[] {
  const files: string[] = [];
  for (const line of output.split('\n')) {
    const match = /^insmod\s+(\S+)/.exec(line.trim());
    if (match?.[1]) files.push(match[1]);
  }
  return files;
}

/** The closure of a module list: paths relative to lib/modules/VERSION, dependencies first. */
export async function resolveModuleClosure(kernel: KernelTree, names: readonly string[]): Promise<string[]> {
  const moduleRoot = path.join(kernel.root, 'lib', 'modules', kernel.version);
  const ordered: string[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    let output: string;
    try {
      output = await runTool('modprobe', ['-d', kernel.root, '-S', kernel.version, '--show-depends', name]);
    } catch (error) {
      throw new LifeboatError('LB_BUILD_MODULE_MISSING', { detail: `${name} (kernel ${kernel.version})`, module: name }, { cause: error });
    }
    for (const file of parseShowDepends(output)) {
      const relative = path.relative(moduleRoot, file);
      if (relative.startsWith('..')) throw new LifeboatError('LB_BUILD_MODULE_MISSING', { detail: `${file} lies outside ${moduleRoot}` });
      if (!seen.has(relative)) {
        seen.add(relative);
        ordered.push(relative);
      }
    }
  }
  return ordered;
}

/** Copies the closure into ROOTFS/lib/modules/VERSION (xz modules decompressed) and runs depmod. */
export async function installModules(kernel: KernelTree, files: readonly string[], rootfs: string): Promise<string[]> {
  const source = path.join(kernel.root, 'lib', 'modules', kernel.version);
  const target = path.join(rootfs, 'lib', 'modules', kernel.version);
  const installed: string[] = [];
  for (const file of files) {
    const destination = path.join(target, file);
    await mkdir(path.dirname(destination), { recursive: true });
    if (file.endsWith('.xz')) {
      // busybox modprobe cannot load xz-compressed modules; the signature survives decompression
      const plain = destination.slice(0, -3);
      await runTool('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', path.join(source, file), plain]);
      installed.push(file.slice(0, -3));
    } else {
      await copyFile(path.join(source, file), destination);
      installed.push(file);
    }
  }
  for (const extra of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
    try {
      await copyFile(path.join(source, extra), path.join(target, extra));
    } catch {
      // optional in older kernels
    }
  }
  await runTool('depmod', ['-b', rootfs, kernel.version]);
  return installed;
}

/** Reads the profile's module list. */
export async function readModuleList(file: string): Promise<string[]> {
  return parseModuleList(await readFile(file, 'utf8'));
}
