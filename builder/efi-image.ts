// The ESP image of the ISO: a FAT filesystem holding the Secure Boot chain, made without
// mounting anything (mkfs.vfat + mtools).

import { rm, stat } from 'node:fs/promises';
import { HOST_BOOT_FILES } from './host-files.ts';
import { efiImageKibibytes, secureBootFiles } from './iso-layout.ts';
import { runTool } from './run-tool.ts';

/** The FAT image with the Secure Boot chain, made without mounting (mkfs.vfat + mtools). */
export async function makeEfiImage(output: string): Promise<void> {
  const files = secureBootFiles({ shim: HOST_BOOT_FILES.shim, grub: HOST_BOOT_FILES.signedCdGrub, mokManager: HOST_BOOT_FILES.mokManager });
  let payload = 0;
  for (const file of files) payload += (await stat(file.source)).size;
  await rm(output, { force: true });
  await runTool('mkfs.vfat', ['-C', '-n', 'LIFEBOATEFI', output, String(efiImageKibibytes(payload))]);
  await runTool('mmd', ['-i', output, '::/EFI', '::/EFI/BOOT']);
  for (const file of files) await runTool('mcopy', ['-i', output, file.source, file.target]);
}

