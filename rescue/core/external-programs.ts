// The one list of programs the recovery program may run. io/run-program.ts runs only these, the
// Linux builder puts each on the medium (Debian's build from the build host, or busybox's applet),
// plans check the ones their steps need before writing, and the error catalogue's fixes name only
// these (test/unit/external-programs.test.ts checks all four).

/** One program Lifeboat runs: what it is called, where it comes from and why Lifeboat needs it. */
export interface ExternalProgram {
  /** The name it is run by (found on PATH). */
  readonly name: string;
  /** The Debian package it comes from; busybox applets come from busybox-static. */
  readonly debianPackage: string;
  /** Its path on the medium (for Debian's programs also its path in the package on the build host). */
  readonly mediumPath: string;
  /** What Lifeboat (or the user in the medium's shell, told by a fix) uses it for. */
  readonly purpose: string;
  /** Arguments that make it print `identify.pattern` and exit: proves it starts and is the right one. */
  readonly identify: { readonly args: readonly string[]; readonly pattern: RegExp };
  /** Symbolic links to it on the medium (mount helpers, other names). */
  readonly links?: readonly string[];
  /** Data files it reads at run time, carried at the same path. */
  readonly dataFiles?: readonly string[];
  /** Another program of that name does not do (busybox's losetup and mkswap lack the options used):
   * checked with `identify` before a plan that needs it writes anything. */
  readonly mustIdentify?: boolean;
}

const BUSYBOX = 'busybox-static';
const busybox = (name: string, mediumPath: string, purpose: string): ExternalProgram => ({
  name, debianPackage: BUSYBOX, mediumPath, purpose, identify: { args: ['--help'], pattern: /BusyBox|Usage|usage/ },
});
const UTIL_LINUX = /util-linux/;
/** glibc's conversions for the DOS code pages dosfstools reads names and labels with (libc6; /usr/lib links to /lib on the medium). */
const DOS_CODEPAGES = ['/lib/x86_64-linux-gnu/gconv/gconv-modules.cache', '/lib/x86_64-linux-gnu/gconv/IBM850.so', '/lib/x86_64-linux-gnu/gconv/IBM437.so'];

/** Every external program, by the name code refers to it with (PROGRAMS.resize2fs). */
export const PROGRAMS = {
  // e2fsprogs
  e2fsck: { name: 'e2fsck', debianPackage: 'e2fsprogs', mediumPath: '/sbin/e2fsck', purpose: 'checks an ext2/3/4 filesystem before --grow resizes it; the user\'s ext checker', identify: { args: ['-V'], pattern: /e2fsck \d/ }, links: ['/sbin/fsck.ext2', '/sbin/fsck.ext3', '/sbin/fsck.ext4'] },
  resize2fs: { name: 'resize2fs', debianPackage: 'e2fsprogs', mediumPath: '/sbin/resize2fs', purpose: 'grows an ext2/3/4 filesystem (restore --grow); its minimum size for the layout planner (resize2fs -P)', identify: { args: [], pattern: /resize2fs \d/ } },
  mke2fs: { name: 'mke2fs', debianPackage: 'e2fsprogs', mediumPath: '/sbin/mke2fs', purpose: 'makes ext2/3/4 filesystems in the shell', identify: { args: ['-V'], pattern: /mke2fs \d/ }, links: ['/sbin/mkfs.ext2', '/sbin/mkfs.ext3', '/sbin/mkfs.ext4'], dataFiles: ['/etc/mke2fs.conf'] },
  tune2fs: { name: 'tune2fs', debianPackage: 'e2fsprogs', mediumPath: '/sbin/tune2fs', purpose: 'gives a cloned ext2/3/4 filesystem a new UUID, its checksums rewritten (clone --new-ids: tune2fs -U)', identify: { args: [], pattern: /tune2fs \d/ } },
  debugfs: { name: 'debugfs', debianPackage: 'e2fsprogs', mediumPath: '/sbin/debugfs', purpose: 'inspects and salvages ext2/3/4 filesystems in the shell', identify: { args: ['-V'], pattern: /debugfs \d/ } },
  dumpe2fs: { name: 'dumpe2fs', debianPackage: 'e2fsprogs', mediumPath: '/sbin/dumpe2fs', purpose: 'prints an ext2/3/4 superblock and groups in the shell', identify: { args: ['-V'], pattern: /dumpe2fs \d/ } },
  // dosfstools, fatresize
  fsckFat: { name: 'fsck.fat', debianPackage: 'dosfstools', mediumPath: '/sbin/fsck.fat', purpose: 'the FAT checker the catalogue\'s fixes name', identify: { args: ['--help'], pattern: /Check FAT filesystem/ }, links: ['/sbin/fsck.vfat', '/sbin/dosfsck'], dataFiles: DOS_CODEPAGES },
  mkfsFat: { name: 'mkfs.fat', debianPackage: 'dosfstools', mediumPath: '/sbin/mkfs.fat', purpose: 'makes FAT filesystems in the shell, and the smaller FAT a shrink copies into', identify: { args: ['--help'], pattern: /mkfs\.fat \d/ }, links: ['/sbin/mkfs.vfat', '/sbin/mkdosfs'], dataFiles: DOS_CODEPAGES },
  fatresize: { name: 'fatresize', debianPackage: 'fatresize', mediumPath: '/usr/sbin/fatresize', purpose: 'grows a FAT filesystem (restore --grow; on the whole disk, naming the partition)', identify: { args: ['--help'], pattern: /fatresize/ } },
  // exfatprogs
  fsckExfat: { name: 'fsck.exfat', debianPackage: 'exfatprogs', mediumPath: '/usr/sbin/fsck.exfat', purpose: 'the exFAT checker the catalogue\'s fixes name', identify: { args: ['-V'], pattern: /exfatprogs version/ } },
  mkfsExfat: { name: 'mkfs.exfat', debianPackage: 'exfatprogs', mediumPath: '/usr/sbin/mkfs.exfat', purpose: 'makes exFAT filesystems (a data partition) in the shell, and the smaller exFAT a shrink copies into', identify: { args: ['-V'], pattern: /exfatprogs version/ } },
  tuneExfat: { name: 'tune.exfat', debianPackage: 'exfatprogs', mediumPath: '/usr/sbin/tune.exfat', purpose: 'gives the smaller exFAT a shrink copies into the source\'s serial number (-I)', identify: { args: ['-V'], pattern: /exfatprogs version/ } },
  // mtools
  mcopy: { name: 'mcopy', debianPackage: 'mtools', mediumPath: '/usr/bin/mcopy', purpose: 'copies a FAT\'s files, long names, attributes and times into the smaller FAT a shrink makes (drive to drive)', identify: { args: ['-V'], pattern: /mtools/ } },
  // ntfs-3g
  ntfs3g: { name: 'ntfs-3g', debianPackage: 'ntfs-3g', mediumPath: '/bin/ntfs-3g', purpose: 'mounts NTFS through FUSE (repositories on NTFS disks; Debian 12\'s kernel has no ntfs3)', identify: { args: ['--help'], pattern: /ntfs-3g \d/ }, links: ['/sbin/mount.ntfs-3g', '/sbin/mount.ntfs'] },
  mountExfatFuse: { name: 'mount.exfat-fuse', debianPackage: 'exfat-fuse', mediumPath: '/sbin/mount.exfat-fuse', purpose: 'mounts exFAT through FUSE where the kernel has no exfat (the medium\'s has)', identify: { args: ['-V'], pattern: /FUSE exfat \d/ }, links: ['/sbin/mount.exfat'] },
  ntfsresize: { name: 'ntfsresize', debianPackage: 'ntfs-3g', mediumPath: '/sbin/ntfsresize', purpose: 'grows an NTFS filesystem (restore --grow); its minimum size for the layout planner (ntfsresize --info)', identify: { args: ['--version'], pattern: /ntfsresize v/ } },
  ntfsfix: { name: 'ntfsfix', debianPackage: 'ntfs-3g', mediumPath: '/bin/ntfsfix', purpose: 'the NTFS checker the catalogue\'s fixes name', identify: { args: ['--version'], pattern: /ntfsfix v/ } },
  mkntfs: { name: 'mkntfs', debianPackage: 'ntfs-3g', mediumPath: '/sbin/mkntfs', purpose: 'makes NTFS filesystems in the shell', identify: { args: ['--version'], pattern: /mkntfs v/ }, links: ['/sbin/mkfs.ntfs'] },
  ntfsinfo: { name: 'ntfsinfo', debianPackage: 'ntfs-3g', mediumPath: '/bin/ntfsinfo', purpose: 'prints NTFS volume facts in the shell', identify: { args: ['--version'], pattern: /ntfsinfo v/ } },
  // util-linux (Debian splits it: losetup is in mount, sfdisk in fdisk)
  losetup: { name: 'losetup', debianPackage: 'mount', mediumPath: '/sbin/losetup', purpose: 'a loop device over a partition of a disk or image for --grow, and a read-only one to measure its minimum size (--find --show --read-only --offset --sizelimit)', identify: { args: ['--version'], pattern: UTIL_LINUX }, mustIdentify: true },
  sfdisk: { name: 'sfdisk', debianPackage: 'fdisk', mediumPath: '/sbin/sfdisk', purpose: 'partition tables in the system report (sfdisk -d) and the catalogue\'s fixes', identify: { args: ['--version'], pattern: UTIL_LINUX } },
  lsblk: { name: 'lsblk', debianPackage: 'util-linux', mediumPath: '/bin/lsblk', purpose: 'block devices in the system report (lsblk -O --json)', identify: { args: ['--version'], pattern: UTIL_LINUX } },
  blkid: { name: 'blkid', debianPackage: 'util-linux', mediumPath: '/sbin/blkid', purpose: 'filesystem labels and UUIDs in the system report', identify: { args: ['--version'], pattern: UTIL_LINUX } },
  mkswap: { name: 'mkswap', debianPackage: 'util-linux', mediumPath: '/sbin/mkswap', purpose: 're-makes swap areas with their UUID (-U) and label in Clonezilla restores and where a restore shrinks swap', identify: { args: ['--version'], pattern: UTIL_LINUX }, mustIdentify: true },
  wipefs: { name: 'wipefs', debianPackage: 'util-linux', mediumPath: '/sbin/wipefs', purpose: 'lists and wipes filesystem signatures in the shell', identify: { args: ['--version'], pattern: UTIL_LINUX } },
  blockdev: { name: 'blockdev', debianPackage: 'util-linux', mediumPath: '/sbin/blockdev', purpose: 'has the kernel re-read a restored disk\'s partition table (--rereadpt)', identify: { args: ['--version'], pattern: UTIL_LINUX } },
  // gdisk, attr, smartmontools, gddrescue, testdisk
  sgdisk: { name: 'sgdisk', debianPackage: 'gdisk', mediumPath: '/sbin/sgdisk', purpose: 'verifies and repairs GPT tables (the catalogue\'s fixes)', identify: { args: ['--version'], pattern: /GPT fdisk/ } },
  getfattr: { name: 'getfattr', debianPackage: 'attr', mediumPath: '/usr/bin/getfattr', purpose: 'reads extended attributes for backup files', identify: { args: ['--version'], pattern: /getfattr \d/ } },
  setfattr: { name: 'setfattr', debianPackage: 'attr', mediumPath: '/usr/bin/setfattr', purpose: 'restores extended attributes (get)', identify: { args: ['--version'], pattern: /setfattr \d/ } },
  smartctl: { name: 'smartctl', debianPackage: 'smartmontools', mediumPath: '/usr/sbin/smartctl', purpose: 'a disk\'s health (the catalogue\'s fixes: smartctl -a)', identify: { args: ['--version'], pattern: /smartctl \d/ } },
  ddrescue: { name: 'ddrescue', debianPackage: 'gddrescue', mediumPath: '/usr/bin/ddrescue', purpose: 'copies a failing disk around its bad sectors (the catalogue\'s fixes)', identify: { args: ['--version'], pattern: /GNU ddrescue \d/ } },
  testdisk: { name: 'testdisk', debianPackage: 'testdisk', mediumPath: '/usr/bin/testdisk', purpose: 'recovers lost partition tables (the catalogue\'s fixes)', identify: { args: ['/version'], pattern: /TestDisk \d/ } },
  photorec: { name: 'photorec', debianPackage: 'testdisk', mediumPath: '/usr/bin/photorec', purpose: 'carves files out of a damaged filesystem in the shell', identify: { args: ['/version'], pattern: /PhotoRec \d/ } },
  // decompressors for Clonezilla images (zstd and gzip are Node's own)
  xz: { name: 'xz', debianPackage: 'xz-utils', mediumPath: '/usr/bin/xz', purpose: 'decompresses xz and lzma Clonezilla images (--format=lzma)', identify: { args: ['--version'], pattern: /xz \(XZ Utils\)/ }, links: ['/usr/bin/unxz', '/usr/bin/xzcat'] },
  bzip2: { name: 'bzip2', debianPackage: 'bzip2', mediumPath: '/bin/bzip2', purpose: 'decompresses bzip2 Clonezilla images', identify: { args: ['--help'], pattern: /bzip2, a block-sorting file compressor/ } },
  lz4: { name: 'lz4', debianPackage: 'lz4', mediumPath: '/usr/bin/lz4', purpose: 'decompresses lz4 Clonezilla images', identify: { args: ['--version'], pattern: /LZ4 command line interface/ } },
  // qemu-system-common
  setpriv: { name: 'setpriv', debianPackage: 'util-linux', mediumPath: '/usr/bin/setpriv', purpose: 'starts qemu-storage-daemon with a parent-death signal (--pdeathsig KILL), so the daemon ends with Lifeboat even when Lifeboat is killed', identify: { args: ['--version'], pattern: UTIL_LINUX } },
  qemuStorageDaemon: { name: 'qemu-storage-daemon', debianPackage: 'qemu-system-common', mediumPath: '/usr/bin/qemu-storage-daemon', purpose: 'shows the copy-on-write view of a source (Lifeboat\'s NBD export) as a FUSE file that resize2fs or ntfsresize shrink, so the source is never written', identify: { args: ['--version'], pattern: /qemu-storage-daemon version \d/ } },
  // busybox applets
  sh: busybox('sh', '/bin/sh', 'runs the getfattr loop of backup files'),
  xargs: busybox('xargs', '/usr/bin/xargs', 'feeds paths to getfattr in the loop of backup files'),
  cp: busybox('cp', '/bin/cp', 'copies an exFAT\'s files into the smaller exFAT a shrink makes (cp -a)'),
  mount: busybox('mount', '/bin/mount', 'mounts partitions holding repositories'),
  umount: busybox('umount', '/bin/umount', 'unmounts them'),
  rmdir: busybox('rmdir', '/bin/rmdir', 'removes their mount points'),
  mknod: busybox('mknod', '/bin/mknod', 'makes device nodes and fifos (get)'),
  sync: busybox('sync', '/bin/sync', 'flushes filesystems before a power action'),
  poweroff: busybox('poweroff', '/sbin/poweroff', 'powers the machine off (--then poweroff)'),
  reboot: busybox('reboot', '/sbin/reboot', 'reboots the machine (--then reboot)'),
  uname: busybox('uname', '/bin/uname', 'the kernel in the system report'),
  dmesg: busybox('dmesg', '/bin/dmesg', 'the kernel log in the system report'),
  tar: busybox('tar', '/bin/tar', 'packs the exported logs (.tar.gz)'),
} as const satisfies Record<string, ExternalProgram>;

/** The list as an array. */
export const PROGRAM_LIST: readonly ExternalProgram[] = Object.values(PROGRAMS);

/** Programs taken from Debian's packages (everything but busybox's applets). */
export const DEBIAN_PROGRAMS: readonly ExternalProgram[] = PROGRAM_LIST.filter((program) => program.debianPackage !== BUSYBOX);

/** True when `program` is on the list (the very entry, not a look-alike). */
export function isListedProgram(program: ExternalProgram): boolean {
  return PROGRAM_LIST.includes(program);
}

/** The program that decompresses a Clonezilla image of this compression (zstd and gzip are Node's own). */
export function decompressorFor(compression: string | undefined): ExternalProgram | undefined {
  if (compression === 'xz' || compression === 'lzma') return PROGRAMS.xz;
  if (compression === 'bz2') return PROGRAMS.bzip2;
  if (compression === 'lz4') return PROGRAMS.lz4;
  return undefined;
}

/** The programs growing a filesystem of this type needs, in the order they run; undefined when none grows it. */
export function growProgramsFor(filesystem: string): readonly ExternalProgram[] | undefined {
  if (['ext2', 'ext3', 'ext4'].includes(filesystem)) return [PROGRAMS.losetup, PROGRAMS.e2fsck, PROGRAMS.resize2fs];
  if (filesystem === 'ntfs') return [PROGRAMS.losetup, PROGRAMS.ntfsresize];
  if (filesystem === 'vfat') return [PROGRAMS.fatresize];
  return undefined;
}

/** The programs measuring a filesystem's minimum size needs (io/filesystem-minimum.ts); none for those read in place. */
export function minimumProgramsFor(filesystem: string): readonly ExternalProgram[] {
  if (['ext2', 'ext3', 'ext4'].includes(filesystem)) return [PROGRAMS.losetup, PROGRAMS.resize2fs];
  if (filesystem === 'ntfs') return [PROGRAMS.losetup, PROGRAMS.ntfsresize];
  return [];
}

/** The programs shrinking a filesystem of this type on a copy-on-write view needs (io/shrink-view.ts); undefined when none shrinks it. */
export function shrinkProgramsFor(filesystem: string): readonly ExternalProgram[] | undefined {
  if (['ext2', 'ext3', 'ext4'].includes(filesystem)) return [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.e2fsck, PROGRAMS.resize2fs];
  if (filesystem === 'ntfs') return [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.ntfsresize];
  // FAT and exFAT are made again smaller and their files copied (io/rebuild-filesystem.ts).
  if (filesystem === 'vfat') return [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.mkfsFat, PROGRAMS.mcopy];
  if (filesystem === 'exfat') return [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.losetup, PROGRAMS.mkfsExfat, PROGRAMS.tuneExfat, PROGRAMS.mountExfatFuse, PROGRAMS.cp, PROGRAMS.umount];
  return undefined;
}
