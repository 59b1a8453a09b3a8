import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BLESSED_ASSET_PREFIX, blessedUsrModuleSource, bundleChunkWorker, chunkWorkerCodeModuleSource, listBlessedUsrFiles, listBlessedWidgets, rewriteBlessedUsrPaths, rewriteBlessedWidgetRequires } from '../../builder/bundle.ts';
import { seaConfig } from '../../builder/build-sea.ts';
import { MEDIUM_MARKER, renderBiosEmbeddedConfig, renderGrubConfig } from '../../builder/grub-config.ts';
import { efiImageKibibytes, secureBootFiles, xorrisoArguments } from '../../builder/iso-layout.ts';
import { parseKernelDependency } from '../../builder/kernel.ts';
import { LINUX_IMAGE_DIR, parseLinuxProfile, readLinuxProfile, renderTemplate } from '../../builder/media-profile.ts';
import { parseModuleList, parseShowDepends } from '../../builder/modules.ts';
import { HOST_PROGRAMS } from '../../builder/host-files.ts';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { installBusybox, installHostPrograms } from '../../builder/rootfs.ts';
import { PROGRAMS } from '../../rescue/core/external-programs.ts';
import { collectLibraries, parseLdd } from '../../native/shared-libraries.ts';

test('module list: comments, blanks and repeats are dropped', (t) => {
  t.deepEqual(parseModuleList('# disks\nahci\n\nnvme  # NVMe\nahci\n'), ['ahci', 'nvme']);
});

test('modprobe --show-depends output gives module files in load order, builtins skipped', (t) => {
  // Captured from: modprobe -d ROOT -S 6.1.0-57-amd64 --show-depends sd_mod (Debian linux-image-6.1.0-57-amd64)
  const output = [
    'insmod /c/lib/modules/6.1.0-57-amd64/kernel/drivers/scsi/scsi_common.ko ',
    'insmod /c/lib/modules/6.1.0-57-amd64/kernel/drivers/scsi/scsi_mod.ko ',
    'builtin crc_t10dif',
    'insmod /c/lib/modules/6.1.0-57-amd64/kernel/drivers/scsi/sd_mod.ko ',
  ].join('\n');
  t.deepEqual(parseShowDepends(output).map((file) => path.basename(file)), ['scsi_common.ko', 'scsi_mod.ko', 'sd_mod.ko']);
});

test('the signed image package is picked out of apt-cache depends', (t) => {
  t.is(parseKernelDependency('linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n'), 'linux-image-6.1.0-57-amd64');
  t.is(parseKernelDependency('linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64-unsigned\n'), undefined);
  t.is(parseKernelDependency(''), undefined);
});

test('ldd output: libraries and the loader, not the vDSO', (t) => {
  const output = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f00)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f01)\n';
  t.deepEqual(parseLdd(output).map((ref) => ref.path), ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
});

test('ldd parser agrees with the real ldd on /bin/ls', async (t) => {
  const { stdout } = await execa('ldd', ['/bin/ls']);
  const refs = parseLdd(stdout);
  t.true(refs.some((ref) => ref.path.endsWith('/libc.so.6')));
  t.true(refs.some((ref) => ref.path.includes('ld-linux')));
  for (const ref of refs) t.true((await stat(ref.path)).isFile());
});

test('templates: placeholders filled; a missing value is an error', (t) => {
  t.is(renderTemplate('label=@DATA_LABEL@ wait=@USB_WAIT_SECONDS@', { DATA_LABEL: 'LIFEBOAT', USB_WAIT_SECONDS: 10 }), 'label=LIFEBOAT wait=10');
  t.throws(() => renderTemplate('@NOPE@', {}), { message: /@NOPE@/ });
});

test('profile: the shipped one is valid; bad labels are refused', async (t) => {
  const profile = await readLinuxProfile();
  t.regex(profile.dataLabel, /^[A-Z0-9_-]{1,11}$/);
  t.not(profile.dataLabel, profile.isoVolumeId, 'findfs must not mistake the ISO for the data partition');
  t.throws(() => parseLinuxProfile({ ...profile, dataLabel: 'much-too-long-label' }));
  t.throws(() => parseLinuxProfile({ ...profile, terminfo: ['../etc/passwd'] }));
});

test('init scripts: every overlay script renders and passes busybox sh -n; inittab names existing files', async (t) => {
  const profile = await readLinuxProfile();
  const values = { LIFEBOAT_VERSION: '0.0.0', DATA_LABEL: profile.dataLabel, ISO_VOLUME_ID: profile.isoVolumeId, USB_WAIT_SECONDS: profile.usbWaitSeconds, KERNEL_VERSION: '6.1.0-test' };
  const overlay = path.join(LINUX_IMAGE_DIR, 'rootfs');
  const files = (await readdir(overlay, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  let scripts = 0;
  for (const entry of files) {
    const file = path.join(entry.parentPath, entry.name);
    const text = renderTemplate(await readFile(file, 'utf8'), values);
    t.notRegex(text, /@[A-Z_]+@/, file);
    if (text.startsWith('#!/bin/sh')) {
      scripts += 1;
      t.true(((await stat(file)).mode & 0o111) !== 0, `${file} is executable`);
      const check = await execa('busybox', ['sh', '-n'], { input: text, reject: false });
      t.is(check.exitCode, 0, `${file}: ${check.stderr}`);
    }
  }
  t.true(scripts >= 3);
  const inittab = await readFile(path.join(overlay, 'etc', 'inittab'), 'utf8');
  const programs = [...inittab.matchAll(/^[^#][^:]*::?[a-z]+:-?(\S+)/gm)].map((match) => match[1] ?? '');
  t.true(programs.includes('/etc/lifeboat/rc.sysinit'));
  for (const program of programs.filter((p) => p.startsWith('/etc/') || p.includes('lifeboat'))) {
    await t.notThrowsAsync(stat(path.join(overlay, program)), program);
  }
});

test('rc.sysinit mounts, coldplugs, finds the data partition by label and runs the unattended request', async (t) => {
  const text = await readFile(path.join(LINUX_IMAGE_DIR, 'rootfs', 'etc', 'lifeboat', 'rc.sysinit'), 'utf8');
  for (const needle of ['mount -t proc', 'mount -t sysfs', 'mount -t devtmpfs', 'modalias', 'modprobe -qab', 'findfs LABEL=@DATA_LABEL@', 'uevent mdev', 'modprobe -q fuse', '/bin/lifeboat boot']) {
    t.true(text.includes(needle), needle);
  }
});

test('GRUB menu: default, serial-console and safe-graphics entries, serial terminal, extra arguments in each', (t) => {
  const cfg = renderGrubConfig({ title: 'Lifeboat 9', kernel: '/boot/vmlinuz', initrd: '/boot/initrd.zst', kernelArguments: 'quiet lifeboat.run="disks --json"', timeoutSeconds: 3 });
  const entries = [...cfg.matchAll(/^menuentry '([^']+)'/gm)].map((match) => match[1]);
  t.deepEqual(entries, ['Lifeboat 9', 'Lifeboat 9 (serial console)', 'Lifeboat 9 (safe graphics)']);
  t.regex(cfg, /serial --unit=0 --speed=115200/);
  t.regex(cfg, /terminal_output --append serial/);
  t.regex(cfg, /set timeout=3/);
  t.is([...cfg.matchAll(/lifeboat\.run="disks --json"/g)].length, 3);
  const linuxLines = cfg.split('\n').filter((line) => line.trim().startsWith('linux '));
  t.regex(linuxLines[1] ?? '', /console=tty0 console=ttyS0,115200n8/, 'serial entry makes ttyS0 the main console');
  t.regex(linuxLines[2] ?? '', /nomodeset/);
  t.true(renderBiosEmbeddedConfig().includes(`--file ${MEDIUM_MARKER}`));
});

test('xorriso arguments: El Torito BIOS image, hybrid MBR, appended ESP used for UEFI El Torito', (t) => {
  const args = xorrisoArguments({ output: 'o.iso', stagingDir: 'stage', volumeId: 'LIFEBOAT_ISO', biosBootImage: 'boot/grub/i386-pc/eltorito.img', hybridMbr: '/mbr.img', efiImage: 'efi.img' });
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  t.is(after('-b'), 'boot/grub/i386-pc/eltorito.img');
  t.is(after('--grub2-mbr'), '/mbr.img');
  t.is(after('-e'), '--interval:appended_partition_2:all::');
  t.deepEqual(args.slice(args.indexOf('-append_partition'), args.indexOf('-append_partition') + 4), ['-append_partition', '2', '0xef', 'efi.img']);
  t.true(args.includes('-appended_part_as_gpt'));
  t.true(args.includes('--grub2-boot-info'));
  t.true(args.indexOf('-eltorito-alt-boot') < args.indexOf('-e'));
  t.is(args.at(-1), 'stage');
});

test('ESP: shim as BOOTX64.EFI with the signed GRUB and MokManager beside it; image sized with slack', (t) => {
  const files = secureBootFiles({ shim: '/s', grub: '/g', mokManager: '/m' });
  t.deepEqual(files.map((file) => file.target), ['::/EFI/BOOT/BOOTX64.EFI', '::/EFI/BOOT/grubx64.efi', '::/EFI/BOOT/mmx64.efi']);
  t.true(efiImageKibibytes(5 * 1024 * 1024) * 1024 > 5 * 1024 * 1024 * 1.05);
  t.is(efiImageKibibytes(10) % 1024, 0);
});

test('SEA config: no experimental warning, code cache on, assets passed through', (t) => {
  const config = seaConfig({ main: 'm.cjs', blob: 'b.blob', assets: { 'blessed-usr/xterm': '/x' } });
  t.like(config, { main: 'm.cjs', output: 'b.blob', disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false });
  t.deepEqual(config.assets, { 'blessed-usr/xterm': '/x' });
  t.like(seaConfig({ main: 'm.cjs', blob: 'b.blob', assets: {}, codeCache: false }), { useCodeCache: false }, 'a build for another platform leaves the code cache out');
});

test('the chunk worker bundles into one script that requires only Node built-ins; the executable carries it as a string', async (t) => {
  const { code, warnings } = await bundleChunkWorker();
  t.deepEqual(warnings, []);
  const requires = [...code.matchAll(/require\(["']([^"']+)["']\)/g)].map((match) => match[1]);
  t.deepEqual([...new Set(requires)].sort(), ['node:crypto', 'node:fs', 'node:worker_threads', 'node:zlib']);
  t.false(code.includes('import.meta'), 'nothing that needs a module file');
  const module = chunkWorkerCodeModuleSource(code);
  t.true(module.startsWith('export const BUNDLED_CHUNK_WORKER = "'));
  t.true(module.includes(JSON.stringify(code)));
});

test('blessed rewrites: every widget required statically, usr/ paths point at the unpacked assets', async (t) => {
  const widgetJs = await readFile(path.join(PROJECT_ROOT, 'node_modules', 'blessed', 'lib', 'widget.js'), 'utf8');
  const widgets = await listBlessedWidgets();
  const rewritten = rewriteBlessedWidgetRequires(widgetJs, widgets);
  t.false(rewritten.includes("require('./widgets/' + file)"));
  for (const name of ['box', 'list', 'table', 'listtable', 'screen']) t.true(rewritten.includes(`require("./widgets/${name}")`), name);
  t.throws(() => rewriteBlessedWidgetRequires('nothing', widgets));
  const tput = await readFile(path.join(PROJECT_ROOT, 'node_modules', 'blessed', 'lib', 'tput.js'), 'utf8');
  const patched = rewriteBlessedUsrPaths(tput);
  t.false(patched.includes("__dirname + '/../usr/"));
  t.true(patched.includes('lifeboat-virtual:blessed-usr'));
  const files = await listBlessedUsrFiles();
  t.true(files.includes('xterm') && files.includes('linux'));
  t.true(blessedUsrModuleSource('1.2.3', files).includes(BLESSED_ASSET_PREFIX));
});

test('host programs: every listed Debian program copied at its path (0755, no setuid) over busybox\'s applet of that name, with its links and data files; their libraries are collected; a missing one names its package', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-rootfs-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await installBusybox(root);
  t.is(await readlink(path.join(root, 'sbin', 'losetup')), '/bin/busybox', 'busybox has a losetup applet');
  t.true(HOST_PROGRAMS.some((program) => program.mediumPath === '/bin/ntfs-3g' && program.debianPackage === 'ntfs-3g'));
  const installed = await installHostPrograms(root, HOST_PROGRAMS);
  t.deepEqual(installed.programs, HOST_PROGRAMS.map((program) => program.mediumPath));
  t.true(installed.dataFiles.includes('/etc/mke2fs.conf'));
  t.is((await stat(path.join(root, 'bin', 'ntfs-3g'))).mode & 0o7777, 0o755);
  t.is(await readlink(path.join(root, 'sbin', 'mount.ntfs-3g')), '/bin/ntfs-3g');
  // util-linux's losetup, blockdev and mkswap replace busybox's; no busybox link of those names is left
  for (const name of ['losetup', 'blockdev', 'mkswap', 'mke2fs', 'mkdosfs']) {
    for (const folder of ['bin', 'sbin', 'usr/bin', 'usr/sbin']) {
      const target = await readlink(path.join(root, folder, name)).catch(() => undefined);
      t.not(target, '/bin/busybox', `${folder}/${name}`);
    }
  }
  t.false((await stat(path.join(root, 'sbin', 'losetup'))).isSymbolicLink());
  const libraries = await collectLibraries(installed.programs);
  for (const wanted of [/\/libntfs-3g\.so\.\d+$/, /\/libc\.so\.6$/, /\/libext2fs\.so\.2$/, /\/libparted\.so\.2$/, /\/libsmartcols\.so\.1$/]) t.true(libraries.some((library) => wanted.test(library)), `${wanted}: ${libraries.join(' ')}`);
  const missing = await t.throwsAsync(installHostPrograms(root, [{ ...PROGRAMS.ntfs3g, mediumPath: '/bin/no-such-program', debianPackage: 'no-such-package' }]));
  t.like(missing, { code: 'LB_BUILD_TOOL_MISSING' });
  t.regex(missing?.message ?? '', /no-such-package/);
});
