// Stands in for the builder inside the single executable, which carries neither esbuild nor
// the Node binaries the builder needs: every entry point says so with a coded error.

import { LifeboatError } from '../rescue/core/errors.ts';

function needsCheckout(): never {
  throw new LifeboatError('LB_BUILD_NEEDS_CHECKOUT');
}

/** Replaces build-linux.ts in the bundle. */
export async function buildLinux(): Promise<never> {
  needsCheckout();
}

/** Replaces build-sea.ts in the bundle. */
export async function buildSea(): Promise<never> {
  needsCheckout();
}
