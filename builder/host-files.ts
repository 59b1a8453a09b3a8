// Files the build takes from the host's Debian packages (grub-pc-bin, shim-signed,
// grub-efi-amd64-signed, busybox-static, ncurses-base, and the packages of rescue/core/external-programs.ts).
// scripts/setup.sh installs them.

import { DEBIAN_PROGRAMS, type ExternalProgram } from '../rescue/core/external-programs.ts';

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

/** Programs the medium carries beside busybox, with their ldd closure: the Debian ones of the one list. */
export const HOST_PROGRAMS: readonly ExternalProgram[] = DEBIAN_PROGRAMS;
