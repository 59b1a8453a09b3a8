// The media the tests boot, built by scripts/build-test-media.ts before ava starts.

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
