// The media the tests boot, built by scripts/build-test-media.ts before ava starts.

import { execa } from 'execa';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { DIST_DIR } from '../../builder/paths.ts';

/** Kernel arguments baked into the unattended test ISO. */
export const TEST_RUN_APPEND = 'lifeboat.run="disks --json" lifeboat.then=poweroff';

/** Test media and the single executable. */
export const TEST_MEDIA = {
  /** Boots straight into `lifeboat disks --json`, then powers off. */
  runIso: path.join(DIST_DIR, 'test', 'run.iso'),
  /** The ISO as users get it, but with a 1 s menu. */
  interactiveIso: path.join(DIST_DIR, 'test', 'interactive.iso'),
  executable: path.join(DIST_DIR, 'lifeboat'),
} as const;

/** Fails with a clear message when the media were not built. */
export async function requireMedia(file: string): Promise<string> {
  try {
    await access(file);
  } catch {
    throw new Error(`${file} is missing: run \`node scripts/build-test-media.ts\` (npm test does it first)`);
  }
  return file;
}

/** Kernel parameters that put the console on the screen and on the first serial port, quietly. */
export const SERIAL_CONSOLE_APPEND = 'console=tty0 console=ttyS0,115200n8 quiet loglevel=3';

/** Copies the ISO's kernel and initramfs into `dir` (for QEMU's direct kernel boot with own parameters). */
export async function extractKernelAndInitrd(iso: string, dir: string): Promise<{ kernel: string; initrd: string }> {
  const kernel = path.join(dir, 'vmlinuz');
  const initrd = path.join(dir, 'initrd.zst');
  await execa('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/boot/vmlinuz', kernel, '-extract', '/boot/initrd.zst', initrd]);
  return { kernel, initrd };
}
