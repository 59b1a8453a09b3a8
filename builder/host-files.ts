// Files the build takes from the host's Debian packages (grub-pc-bin, shim-signed,
// grub-efi-amd64-signed, busybox-static, ncurses-base, ntfs-3g). scripts/setup.sh installs them.

/** Host files the medium's boot chain is made of. */
export const HOST_BOOT_FILES = {
  busybox: '/bin/busybox',
  hybridMbr: '/usr/lib/grub/i386-pc/boot_hybrid.img',
  grubPcDir: '/usr/lib/grub/i386-pc',
  shim: '/usr/lib/shim/shimx64.efi.signed',
  mokManager: '/usr/lib/shim/mmx64.efi.signed',
  signedCdGrub: '/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed',
} as const;

/** Where Debian keeps compiled terminal descriptions. */
export const TERMINFO_DIRS = ['/lib/terminfo', '/usr/share/terminfo'] as const;

/** A dynamically linked program the medium carries beside busybox, with its ldd closure. */
export interface HostProgram {
  /** Where it is on the host; the medium has it at the same path. */
  readonly file: string;
  /** The Debian package it comes from (recorded in the manifest, named when it is missing). */
  readonly debianPackage: string;
  /** Symbolic links to it on the medium (mount helpers). */
  readonly links: readonly string[];
}

/** Native programs on the medium: ntfs-3g mounts NTFS through FUSE (Debian 12's kernel has no ntfs3). */
export const HOST_PROGRAMS: readonly HostProgram[] = [
  { file: '/bin/ntfs-3g', debianPackage: 'ntfs-3g', links: ['/sbin/mount.ntfs-3g'] },
];
