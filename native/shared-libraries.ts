// Collects the shared libraries a native program needs (its ldd closure), so the medium can
// carry Node's glibc and, later, each native tool's own libraries.

import { copyFile, mkdir, realpath, symlink } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/** One library as ldd reports it: where the loader looks for it and where it is on this host. */
export interface LibraryRef {
  /** Path the program's loader will look up (e.g. /lib/x86_64-linux-gnu/libc.so.6). */
  readonly path: string;
}

/** Parses `ldd` output into absolute library paths; the vDSO and static programs yield none. */
export function parseLdd(output: string): LibraryRef[] {
  const refs: LibraryRef[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const arrow = /^\S+\s+=>\s+(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    const direct = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    const file = arrow?.[1] ?? direct?.[1];
    if (file) refs.push({ path: file });
  }
  return refs;
}

/** The union of the ldd closures of several programs, sorted, without duplicates. */
export async function collectLibraries(programs: readonly string[]): Promise<string[]> {
  const all = new Set<string>();
  for (const program of programs) {
    const result = await execa('ldd', [program], { reject: false });
    if (result.exitCode !== 0 && /not a dynamic executable/.test(`${result.stdout}${result.stderr}`)) continue;
    if (result.exitCode !== 0) throw new Error(`ldd ${program} failed: ${result.stderr}`);
    for (const ref of parseLdd(result.stdout)) all.add(ref.path);
  }
  return [...all].sort();
}

/** Copies libraries into ROOT at the same paths (symlinks resolved), plus /lib64 -> lib link needs. */
export async function installLibraries(libraries: readonly string[], root: string): Promise<void> {
  for (const library of libraries) {
    const destination = path.join(root, library);
    await mkdir(path.dirname(destination), { recursive: true });
    await copyFile(await realpath(library), destination);
  }
  // Debian's loader path /lib64/ld-linux-x86-64.so.2 and merged /usr: keep /usr/lib pointing at /lib.
  await mkdir(path.join(root, 'usr'), { recursive: true });
  await symlink('../lib', path.join(root, 'usr', 'lib')).catch(() => undefined);
}
