// Where the builder finds the checkout, writes its outputs and keeps its cache.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the Lifeboat checkout (the folder holding package.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Build outputs. */
export const DIST_DIR = path.join(PROJECT_ROOT, 'dist');

/** Default cache for downloaded packages and reusable build parts. */
export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'lifeboat');
}

/** Resolves a path given on the command line against the caller's working directory. */
export function resolveFromCwd(file: string): string {
  return path.resolve(process.cwd(), file);
}
