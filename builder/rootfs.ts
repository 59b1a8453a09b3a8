// The medium's root filesystem (the initramfs): the profile's overlay with its placeholders
// filled, busybox and its applet links, terminal descriptions, packed as zstd-compressed cpio.

import { chmod, copyFile, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../rescue/core/errors.ts';
import { exists } from './files.ts';
import { HOST_BOOT_FILES, TERMINFO_DIRS, type HostProgram } from './host-files.ts';
import { LINUX_IMAGE_DIR, renderTemplate } from './media-profile.ts';
import { runTool } from './run-tool.ts';

/** zstd level of the initramfs: level 9 is within 10% of level 19's size at a twentieth of its time. */
export const DEFAULT_INITRAMFS_ZSTD_LEVEL = 9;

/** Copies the overlay (images/linux/rootfs), filling @PLACEHOLDERS@ in every file. */
export async function installOverlay(rootfs: string, values: Record<string, string | number>): Promise<string[]> {
  const overlay = path.join(LINUX_IMAGE_DIR, 'rootfs');
  const entries = await readdir(overlay, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const source = path.join(entry.parentPath, entry.name);
    const relative = path.relative(overlay, source);
    const target = path.join(rootfs, relative);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, renderTemplate(await readFile(source, 'utf8'), values));
    await chmod(target, (await stat(source)).mode & 0o777);
    files.push(source);
  }
  return files;
}

/** busybox-static and a link for each of its applets (sh, mount, modprobe, init...). */
export async function installBusybox(rootfs: string): Promise<void> {
  const ldd = await runTool('ldd', [HOST_BOOT_FILES.busybox]).catch((error: { details?: { stderr?: string } }) => error.details?.stderr ?? 'not a dynamic executable');
  if (!/not a dynamic executable|statically linked/.test(ldd)) {
    throw new LifeboatError('LB_BUILD_TOOL_MISSING', { detail: `${HOST_BOOT_FILES.busybox} is not static; install busybox-static.` });
  }
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await copyFile(HOST_BOOT_FILES.busybox, path.join(rootfs, 'bin', 'busybox'));
  await chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
  const applets = (await runTool(HOST_BOOT_FILES.busybox, ['--list-full'])).split('\n').filter(Boolean);
  for (const applet of applets) {
    const link = path.join(rootfs, applet);
    if (await exists(link)) continue;
    await mkdir(path.dirname(link), { recursive: true });
    await symlink('/bin/busybox', link);
  }
  await symlink('/bin/busybox', path.join(rootfs, 'init'));
}

/**
 * Native programs (ntfs-3g) at their host paths, mode 0755 (the medium runs as root: no setuid),
 * and their links. Their shared libraries come with the executable's (collectLibraries).
 */
export async function installHostPrograms(rootfs: string, programs: readonly HostProgram[]): Promise<string[]> {
  const copied: string[] = [];
  for (const program of programs) {
    if (!(await exists(program.file))) throw new LifeboatError('LB_BUILD_TOOL_MISSING', { detail: `${program.file} not found; install ${program.debianPackage}.` });
    const target = path.join(rootfs, program.file);
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(program.file, target);
    await chmod(target, 0o755);
    for (const link of program.links) {
      await mkdir(path.dirname(path.join(rootfs, link)), { recursive: true });
      await symlink(program.file, path.join(rootfs, link));
    }
    copied.push(program.file);
  }
  return copied;
}

/** Terminal descriptions for the console (linux), serial lines (vt220) and common emulators. */
export async function installTerminfo(rootfs: string, names: readonly string[]): Promise<string[]> {
  const copied: string[] = [];
  for (const name of names) {
    const relative = path.join(name.slice(0, 1), name);
    const source = await firstExisting(TERMINFO_DIRS.map((dir) => path.join(dir, relative)));
    if (!source) throw new LifeboatError('LB_BUILD_TOOL_MISSING', { detail: `terminfo for ${name} not found; install ncurses-base.` });
    const target = path.join(rootfs, 'usr', 'share', 'terminfo', relative);
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(source, target);
    copied.push(source);
  }
  return copied;
}

async function firstExisting(candidates: readonly string[]): Promise<string | undefined> {
  for (const candidate of candidates) if (await exists(candidate)) return candidate;
  return undefined;
}

/** Packs the root filesystem as a newc cpio archive compressed with zstd. */
export async function packInitramfs(rootfs: string, output: string, level: number): Promise<void> {
  const zstdLevel = level > 19 ? ['--ultra', `-${level}`] : [`-${level}`];
  await runTool('sh', [
    '-c',
    `cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --owner=0:0 --reproducible --quiet | zstd -q -T0 ${zstdLevel.join(' ')} -o "$2"`,
    'sh', rootfs, output,
  ]);
}

