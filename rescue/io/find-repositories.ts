// Finds repositories without asking: a candidate folder that holds a repository (config.json), or
// its sub-folders that do (the medium's data partition keeps one or more repositories inside).

import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

async function isRepository(folder: string): Promise<boolean> {
  return stat(path.join(folder, 'config.json')).then((info) => info.isFile(), () => false);
}

/** The repositories in or directly under each candidate folder (missing folders are skipped). */
export async function findRepositories(candidates: ReadonlyArray<string | undefined>): Promise<string[]> {
  const found: string[] = [];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const folder = path.resolve(candidate);
    if (await isRepository(folder)) {
      found.push(folder);
      continue;
    }
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const inner = path.join(folder, entry.name);
      if (entry.isDirectory() && (await isRepository(inner))) found.push(inner);
    }
  }
  return [...new Set(found)];
}
