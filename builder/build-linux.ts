// `lifeboat build linux`: the Linux rescue ISO. Kernel and modules from Debian's signed package,
// busybox, the programs of rescue/core/external-programs.ts with their libraries, the glibc Node
// needs, the single executable, an init; GRUB for BIOS and the signed shim + GRUB for UEFI and
// Secure Boot; one hybrid ISO; a manifest with the sha256 of everything and the programs' versions.

import { chmod, copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { LinuxBuildOptions } from '../rescue/core/media-build-options.ts';
import { LifeboatError } from '../rescue/core/errors.ts';
import { PROGRAM_LIST } from '../rescue/core/external-programs.ts';
import { LIFEBOAT_VERSION } from '../rescue/version.ts';
import { collectLibraries, installLibraries } from '../native/shared-libraries.ts';
import { buildSea } from './build-sea.ts';
import { BIOS_GRUB_MODULES, MEDIUM_MARKER, renderBiosEmbeddedConfig, renderGrubConfig } from './grub-config.ts';
import { makeEfiImage } from './efi-image.ts';
import { describeFile, type FileRecord } from './files.ts';
import { HOST_BOOT_FILES, HOST_PROGRAMS } from './host-files.ts';
import { xorrisoArguments } from './iso-layout.ts';
import { obtainKernel } from './kernel.ts';
import { LINUX_IMAGE_DIR, readLinuxProfile, type LinuxProfile } from './media-profile.ts';
import { installModules, readModuleList, resolveModuleClosure } from './modules.ts';
import { DIST_DIR, PROJECT_ROOT, defaultCacheDir, resolveFromCwd } from './paths.ts';
import { DEFAULT_INITRAMFS_ZSTD_LEVEL, installBusybox, installHostPrograms, installOverlay, installTerminfo, packInitramfs } from './rootfs.ts';
import { runTool } from './run-tool.ts';

/** What the build wrote and from what: printed, and saved beside the ISO. */
export interface LinuxBuildManifest {
  readonly lifeboatVersion: string;
  readonly builtAt: string;
  readonly kernelVersion: string;
  readonly modules: readonly string[];
  readonly sizes: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** Every program of rescue/core/external-programs.ts: where it is on the medium, its package and version. */
  readonly programs: readonly CarriedProgram[];
  readonly inputs: readonly FileRecord[];
  readonly outputs: readonly FileRecord[];
}

/** One external program as the manifest lists it. */
export interface CarriedProgram {
  readonly name: string;
  readonly path: string;
  readonly debianPackage: string;
  readonly version: string;
}

async function debianPackageVersions(packages: readonly string[]): Promise<Record<string, string>> {
  const out = await runTool('dpkg-query', ['-W', '-f', '${Package} ${Version}\\n', ...new Set(packages)]).catch(() => '');
  return Object.fromEntries(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
}

/** The manifest's program list; a program whose package dpkg does not know fails the build. */
async function describePrograms(): Promise<CarriedProgram[]> {
  const versions = await debianPackageVersions(PROGRAM_LIST.map((program) => program.debianPackage));
  return PROGRAM_LIST.map((program) => {
    const version = versions[program.debianPackage];
    if (!version) throw new LifeboatError('LB_BUILD_TOOL_MISSING', { detail: `dpkg does not know ${program.debianPackage} (for ${program.name}); install it.`, package: program.debianPackage });
    return { name: program.name, path: program.mediumPath, debianPackage: program.debianPackage, version };
  });
}

/** Builds the ISO; returns (and writes beside it) the manifest. */
export async function buildLinux(request: LinuxBuildOptions, log: (line: string) => void): Promise<LinuxBuildManifest> {
  const started = Date.now();
  const profile: LinuxProfile = await readLinuxProfile();
  const output = resolveFromCwd(request.output);
  const cacheDir = request.cache === undefined ? defaultCacheDir() : resolveFromCwd(request.cache);
  // One work folder per output path, removed once the ISO is complete.
  const work = path.join(DIST_DIR, 'build', `linux-${createHash('sha256').update(output).digest('hex').slice(0, 12)}`);
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
    ISO_VOLUME_ID: profile.isoVolumeId,
    USB_WAIT_SECONDS: profile.usbWaitSeconds,
    KERNEL_VERSION: kernel.version,
  });
  await installBusybox(rootfs);
  const { programs, dataFiles } = await installHostPrograms(rootfs, HOST_PROGRAMS);
  const carried = await describePrograms();
  const libraries = await collectLibraries([seaPath, ...programs]);
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
    ...programs, ...dataFiles, ...libraries, ...terminfoFiles, ...overlayFiles,
    path.join(LINUX_IMAGE_DIR, 'modules.txt'), path.join(LINUX_IMAGE_DIR, 'profile.json'),
    ...modules.map((file) => path.join(rootfs, 'lib', 'modules', kernel.version, file)),
  ];
  const inputs = [
    sea.nodeBinary,
    sea.bundle,
    ...(await Promise.all(inputFiles.map((file) => describeFile(file, file.startsWith(PROJECT_ROOT) ? path.relative(PROJECT_ROOT, file) : file)))),
  ];
  // Parts inside the ISO are named by their place in it; the work folder goes away.
  const isoName = path.basename(output);
  const outputFiles: Array<[string, string]> = [
    [seaPath, path.relative(PROJECT_ROOT, seaPath)],
    [initrd, `${isoName}:/boot/initrd.zst`],
    [path.join(staging, 'boot', 'vmlinuz'), `${isoName}:/boot/vmlinuz`],
    [biosImage, `${isoName}:/boot/grub/i386-pc/eltorito.img`],
    [path.join(staging, 'boot', 'grub', 'grub.cfg'), `${isoName}:/boot/grub/grub.cfg`],
    [efiImage, `${isoName}:ESP (appended partition 2)`],
    [output, path.relative(process.cwd(), output) || output],
  ];
  const outputs = await Promise.all(outputFiles.map(([file, label]) => describeFile(file, label)));
  const size = (file: string) => outputs[outputFiles.findIndex(([candidate]) => candidate === file)]?.bytes ?? 0;
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
    programs: carried,
    inputs: [...inputs, ...Object.entries(await debianPackageVersions(['shim-signed', 'grub-efi-amd64-signed', 'grub-pc-bin', 'busybox-static', ...HOST_PROGRAMS.map((program) => program.debianPackage)])).map(([pkg, version]) => ({ path: `debian:${pkg}`, bytes: 0, sha256: version }))],
    outputs,
  };
  await writeFile(`${output}.manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rm(work, { recursive: true, force: true });
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
  log(`kernel: ${kernel.version} (${mib(manifest.sizes.kernel ?? 0)})`);
  log(`modules: ${modules.length} files, ${mib(modulesBytes)} uncompressed: ${manifest.modules.join(' ')}`);
  log(`programs: ${carried.map((program) => program.name).join(' ')}`);
  log(`executable: ${mib(manifest.sizes.executable ?? 0)}; initramfs: ${mib(manifest.sizes.initramfs ?? 0)}; ESP image: ${mib(manifest.sizes.efiImage ?? 0)}`);
  log(`ISO: ${path.relative(process.cwd(), output) || output} ${mib(manifest.sizes.iso ?? 0)} in ${manifest.seconds} s; manifest: ${path.basename(output)}.manifest.json`);
  return manifest;
}
