// The hybrid ISO: what xorriso is told so one image boots BIOS (El Torito + hybrid MBR) and
// UEFI (an appended ESP), from a CD and when written to a USB stick.

/** Files and settings of one ISO. */
export interface IsoLayout {
  readonly output: string;
  readonly stagingDir: string;
  readonly volumeId: string;
  /** El Torito BIOS image, relative to the staging dir. */
  readonly biosBootImage: string;
  /** GRUB's hybrid MBR boot code (/usr/lib/grub/i386-pc/boot_hybrid.img). */
  readonly hybridMbr: string;
  /** FAT image holding EFI/BOOT (appended as GPT partition 2 and used as the UEFI El Torito image). */
  readonly efiImage: string;
}

/** The xorriso (mkisofs emulation) arguments for the layout. */
export function xorrisoArguments(layout: IsoLayout): string[] {
  return [
    '-as', 'mkisofs',
    '-o', layout.output,
    '-V', layout.volumeId,
    '-iso-level', '3',
    '-full-iso9660-filenames',
    '-J', '-joliet-long',
    '-r',
    // BIOS: GRUB El Torito image, patched with its own location (boot-info-table, grub2-boot-info)
    '-b', layout.biosBootImage,
    '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '--grub2-boot-info',
    '--grub2-mbr', layout.hybridMbr,
    '-partition_offset', '16',
    '--mbr-force-bootable',
    // UEFI: the ESP image appended as a GPT partition, also the El Torito EFI image for CDs
    '-append_partition', '2', '0xef', layout.efiImage,
    '-appended_part_as_gpt',
    '-eltorito-alt-boot',
    '-e', '--interval:appended_partition_2:all::',
    '-no-emul-boot',
    layout.stagingDir,
  ];
}

/** Files of the ESP image, from host paths to paths inside the FAT filesystem. */
export interface EfiFile {
  readonly source: string;
  readonly target: string;
}

/** The Secure Boot chain: Debian's Microsoft-signed shim loads Debian's signed CD GRUB. */
export function secureBootFiles(paths: { shim: string; grub: string; mokManager: string }): EfiFile[] {
  return [
    { source: paths.shim, target: '::/EFI/BOOT/BOOTX64.EFI' },
    { source: paths.grub, target: '::/EFI/BOOT/grubx64.efi' },
    { source: paths.mokManager, target: '::/EFI/BOOT/mmx64.efi' },
  ];
}

/** Size of the FAT image for given payload bytes: payload plus FAT overhead and slack, in KiB. */
export function efiImageKibibytes(payloadBytes: number): number {
  const withSlack = payloadBytes * 1.1 + 512 * 1024;
  return Math.max(2048, Math.ceil(withSlack / 1024 / 1024) * 1024);
}
