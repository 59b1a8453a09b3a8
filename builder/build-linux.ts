// `lifeboat build linux`: the Linux rescue ISO. Kernel and modules from Debian's signed package,
// busybox, the glibc Node needs, the single executable, an init; GRUB for BIOS and the signed
// shim + GRUB for UEFI and Secure Boot; one hybrid ISO; a manifest with the sha256 of everything.

import { chmod, copyFile, cp, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../rescue/core/errors.ts';
import { LIFEBOAT_VERSION } from '../rescue/version.ts';
import { collectLibraries, installLibraries } from '../native/shared-libraries.ts';
import { buildSea } from './build-sea.ts';
import { BIOS_GRUB_MODULES, MEDIUM_MARKER, renderBiosEmbeddedConfig, renderGrubConfig } from './grub-config.ts';
import { describeFile, type FileRecord } from './hash-files.ts';
import { efiImageKibibytes, secureBootFiles, xorrisoArguments } from './iso-layout.ts';
import { obtainKernel } from './kernel.ts';
import { LINUX_IMAGE_DIR, readLinuxProfile, renderTemplate, type LinuxProfile } from './media-profile.ts';
import { installModules, readModuleList, resolveModuleClosure } from './modules.ts';
import { DIST_DIR, PROJECT_ROOT, defaultCacheDir, resolveFromCwd } from './paths.ts';
import { runTool } from './run-tool.ts';

/** Host files the medium's boot chain is made of (Debian packages grub-pc-bin, shim-signed, grub-efi-amd64-signed, busybox-static). */
export const HOST_BOOT_FILES = {
  busybox: '/bin/busybox',
  hybridMbr: '/usr/lib/grub/i386-pc/boot_hybrid.img',
  grubPcDir: '/usr/lib/grub/i386-pc',
  shim: '/usr/lib/shim/shimx64.efi.signed',
  mokManager: '/usr/lib/shim/mmx64.efi.signed',
  signedCdGrub: '/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed',
} as const;

/** zstd level of the initramfs: level 9 is within 10% of level 19's size at a twentieth of its time. */
export const DEFAULT_INITRAMFS_ZSTD_LEVEL = 9;

const TERMINFO_DIRS = ['/lib/terminfo', '/usr/share/terminfo'];

/** Options of one Linux media build (the CLI's `build linux` flags). */
export interface LinuxBuildOptions {
  readonly output: string;
  /** A linux-image .deb or an extracted one; undefined downloads linux-image-amd64's dependency. */
  readonly kernel: string | undefined;
  readonly cache: string | undefined;
  readonly compressionLevel: number | undefined;
  /** Extra kernel arguments for every boot entry. */
  readonly append: string | undefined;
  readonly menuTimeout: number | undefined;
}

/** What the build wrote and from what: printed, and saved beside the ISO. */
export interface LinuxBuildManifest {
  readonly lifeboatVersion: string;
  readonly builtAt: string;
  readonly kernelVersion: string;
  readonly modules: readonly string[];
  readonly sizes: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly inputs: readonly FileRecord[];
  readonly outputs: readonly FileRecord[];
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Copies the overlay (images/linux/rootfs), filling @PLACEHOLDERS@ in every file. */
async function installOverlay(rootfs: string, values: Record<string, string | number>): Promise<string[]> {
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
async function installBusybox(rootfs: string): Promise<void> {
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

/** Terminal descriptions for the console (linux), serial lines (vt220) and common emulators. */
async function installTerminfo(rootfs: string, names: readonly string[]): Promise<string[]> {
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
async function packInitramfs(rootfs: string, output: string, level: number): Promise<void> {
  const zstdLevel = level > 19 ? ['--ultra', `-${level}`] : [`-${level}`];
  await runTool('sh', [
    '-c',
    `cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --owner=0:0 --reproducible --quiet | zstd -q -T0 ${zstdLevel.join(' ')} -o "$2"`,
    'sh', rootfs, output,
  ]);
}

/** The FAT image with the Secure Boot chain, made without mounting (mkfs.vfat + mtools). */
async function makeEfiImage(output: string): Promise<void> {
  const files = secureBootFiles({ shim: HOST_BOOT_FILES.shim, grub: HOST_BOOT_FILES.signedCdGrub, mokManager: HOST_BOOT_FILES.mokManager });
  let payload = 0;
  for (const file of files) payload += (await stat(file.source)).size;
  await rm(output, { force: true });
  await runTool('mkfs.vfat', ['-C', '-n', 'LIFEBOATEFI', output, String(efiImageKibibytes(payload))]);
  await runTool('mmd', ['-i', output, '::/EFI', '::/EFI/BOOT']);
  for (const file of files) await runTool('mcopy', ['-i', output, file.source, file.target]);
}

async function debianPackageVersions(packages: readonly string[]): Promise<Record<string, string>> {
  const out = await runTool('dpkg-query', ['-W', '-f', '${Package} ${Version}\\n', ...packages]).catch(() => '');
  return Object.fromEntries(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
}

/** Builds the ISO; returns (and writes beside it) the manifest. */
export async function buildLinux(request: LinuxBuildOptions, log: (line: string) => void): Promise<LinuxBuildManifest> {
  const started = Date.now();
  const profile: LinuxProfile = await readLinuxProfile();
  const output = resolveFromCwd(request.output);
  const cacheDir = request.cache === undefined ? defaultCacheDir() : resolveFromCwd(request.cache);
  const work = path.join(DIST_DIR, 'build', `linux-${path.basename(output)}`);
  const rootfs = path.join(work, 'rootfs');
  const staging = path.join(work, 'iso');
  await rm(work, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true });
  await mkdir(path.join(staging, 'boot', 'grub', 'i386-pc'), { recursive: true });
  await mkdir(path.join(staging, '.disk'), { recursive: true });

  const sea = await buildSea({ output: path.join(DIST_DIR, 'lifeboat') }, log);
  const seaPath = path.join(PROJECT_ROOT, sea.executable.path);

  const kernel = await obtainKernel({ kernel: request.kernel, cacheDir, log });
  log(`kernel ${kernel.version} from ${kernel.deb ?? kernel.root}`);
  const moduleNames = await readModuleList(path.join(LINUX_IMAGE_DIR, 'modules.txt'));
  const closure = await resolveModuleClosure(kernel, moduleNames);
  const modules = await installModules(kernel, closure, rootfs);

  const overlayFiles = await installOverlay(rootfs, {
    LIFEBOAT_VERSION,
    DATA_LABEL: profile.dataLabel,
    USB_WAIT_SECONDS: profile.usbWaitSeconds,
    KERNEL_VERSION: kernel.version,
  });
  await installBusybox(rootfs);
  const libraries = await collectLibraries([seaPath]);
  await installLibraries(libraries, rootfs);
  const terminfoFiles = await installTerminfo(rootfs, profile.terminfo);
  await copyFile(seaPath, path.join(rootfs, 'bin', 'lifeboat'));
  await chmod(path.join(rootfs, 'bin', 'lifeboat'), 0o755);
  for (const dir of ['proc', 'sys', 'dev', 'run', 'mnt', 'root', 'tmp']) await mkdir(path.join(rootfs, dir), { recursive: true });
  await chmod(path.join(rootfs, 'tmp'), 0o1777);
  await writeFile(
    path.join(rootfs, 'etc', 'lifeboat', 'build.json'),
    `${JSON.stringify({ lifeboatVersion: LIFEBOAT_VERSION, kernelVersion: kernel.version, nodeVersion: sea.nodeVersion }, null, 2)}\n`,
  );

  const initrd = path.join(staging, 'boot', 'initrd.zst');
  const level = request.compressionLevel ?? DEFAULT_INITRAMFS_ZSTD_LEVEL;
  const packStarted = Date.now();
  await packInitramfs(rootfs, initrd, level);
  log(`initramfs: zstd -${level} in ${((Date.now() - packStarted) / 1000).toFixed(1)} s`);
  await copyFile(kernel.vmlinuz, path.join(staging, 'boot', 'vmlinuz'));

  const kernelArguments = [profile.kernelArguments, request.append ?? ''].filter(Boolean).join(' ');
  await writeFile(
    path.join(staging, 'boot', 'grub', 'grub.cfg'),
    renderGrubConfig({
      title: `Lifeboat ${LIFEBOAT_VERSION}`,
      kernel: '/boot/vmlinuz',
      initrd: '/boot/initrd.zst',
      kernelArguments,
      timeoutSeconds: request.menuTimeout ?? profile.menuTimeoutSeconds,
    }),
  );
  await writeFile(path.join(staging, MEDIUM_MARKER), `Lifeboat ${LIFEBOAT_VERSION}\n`);
  // Debian's signed CD GRUB finds its medium by /.disk/info.
  await writeFile(path.join(staging, '.disk', 'info'), `Lifeboat ${LIFEBOAT_VERSION} rescue medium\n`);

  const embedded = path.join(work, 'embed.cfg');
  await writeFile(embedded, renderBiosEmbeddedConfig());
  const biosImage = path.join(staging, 'boot', 'grub', 'i386-pc', 'eltorito.img');
  await runTool('grub-mkimage', ['-O', 'i386-pc-eltorito', '-d', HOST_BOOT_FILES.grubPcDir, '-p', '/boot/grub', '-c', embedded, '-o', biosImage, ...BIOS_GRUB_MODULES]);
  const efiImage = path.join(work, 'efiboot.img');
  await makeEfiImage(efiImage);

  await mkdir(path.dirname(output), { recursive: true });
  await rm(output, { force: true });
  await runTool('xorriso', xorrisoArguments({
    output,
    stagingDir: staging,
    volumeId: profile.isoVolumeId,
    biosBootImage: 'boot/grub/i386-pc/eltorito.img',
    hybridMbr: HOST_BOOT_FILES.hybridMbr,
    efiImage,
  }));

  const inputFiles = [
    ...(kernel.deb ? [kernel.deb] : [kernel.vmlinuz]),
    HOST_BOOT_FILES.busybox, HOST_BOOT_FILES.hybridMbr, HOST_BOOT_FILES.shim, HOST_BOOT_FILES.mokManager, HOST_BOOT_FILES.signedCdGrub,
    ...libraries, ...terminfoFiles, ...overlayFiles,
    path.join(LINUX_IMAGE_DIR, 'modules.txt'), path.join(LINUX_IMAGE_DIR, 'profile.json'),
    ...modules.map((file) => path.join(rootfs, 'lib', 'modules', kernel.version, file)),
  ];
  const inputs = [
    sea.nodeBinary,
    sea.bundle,
    ...(await Promise.all(inputFiles.map((file) => describeFile(file, file.startsWith(PROJECT_ROOT) ? path.relative(PROJECT_ROOT, file) : file)))),
  ];
  const outputFiles = [seaPath, initrd, path.join(staging, 'boot', 'vmlinuz'), biosImage, efiImage, path.join(staging, 'boot', 'grub', 'grub.cfg'), output];
  const outputs = await Promise.all(outputFiles.map((file) => describeFile(file, path.relative(PROJECT_ROOT, file))));
  const size = (file: string) => outputs.find((record) => record.path === path.relative(PROJECT_ROOT, file))?.bytes ?? 0;
  let modulesBytes = 0;
  for (const file of modules) modulesBytes += (await stat(path.join(rootfs, 'lib', 'modules', kernel.version, file))).size;
  const manifest: LinuxBuildManifest = {
    lifeboatVersion: LIFEBOAT_VERSION,
    builtAt: new Date().toISOString(),
    kernelVersion: kernel.version,
    modules: modules.map((file) => path.basename(file).replace(/\.ko$/, '')),
    sizes: {
      iso: size(output),
      initramfs: size(initrd),
      kernel: size(path.join(staging, 'boot', 'vmlinuz')),
      executable: size(seaPath),
      modulesUncompressed: modulesBytes,
      efiImage: size(efiImage),
    },
    seconds: Math.round((Date.now() - started) / 100) / 10,
    inputs: [...inputs, ...Object.entries(await debianPackageVersions(['shim-signed', 'grub-efi-amd64-signed', 'grub-pc-bin', 'busybox-static'])).map(([pkg, version]) => ({ path: `debian:${pkg}`, bytes: 0, sha256: version }))],
    outputs,
  };
  await writeFile(`${output}.manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
  log(`kernel: ${kernel.version} (${mib(manifest.sizes.kernel ?? 0)})`);
  log(`modules: ${modules.length} files, ${mib(modulesBytes)} uncompressed: ${manifest.modules.join(' ')}`);
  log(`executable: ${mib(manifest.sizes.executable ?? 0)}; initramfs: ${mib(manifest.sizes.initramfs ?? 0)}; ESP image: ${mib(manifest.sizes.efiImage ?? 0)}`);
  log(`ISO: ${path.relative(process.cwd(), output) || output} ${mib(manifest.sizes.iso ?? 0)} in ${manifest.seconds} s; manifest: ${path.basename(output)}.manifest.json`);
  return manifest;
}
