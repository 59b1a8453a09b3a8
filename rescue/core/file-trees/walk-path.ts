// Paths inside a file tree: split, walked name by name from the root. Case-insensitive
// filesystems (FAT, exFAT, NTFS) also match a name that differs only in case, as Windows does.

import { LifeboatError } from '../errors.ts';
import type { FileEntry, FileTree } from './file-tree.ts';

/** Filesystems whose names match without regard to case. */
const CASE_INSENSITIVE = new Set(['vfat', 'exfat', 'ntfs']);

/** The names of a path inside a file tree ("/a/b", "a/b/", "\\a\\b" on Windows-style input). */
export function splitTreePath(path: string): string[] {
  return path.split(/[\\/]+/).filter((name) => name !== '' && name !== '.');
}

/** An entry found by path, with the entries leading to it (root first). */
export interface WalkedPath {
  readonly entry: FileEntry;
  readonly parents: readonly FileEntry[];
  /** The path as the filesystem spells it ("/" joined, starting with "/"). */
  readonly path: string;
}

/** Finds the entry at `path`; LB_INPUT_PATH_NOT_FOUND naming the missing part when there is none. */
export async function walkPath(tree: FileTree, path: string): Promise<WalkedPath> {
  let entry = await tree.root();
  const parents: FileEntry[] = [];
  const spelled: string[] = [];
  for (const name of splitTreePath(path)) {
    if (name === '..') {
      entry = parents.pop() ?? entry;
      spelled.pop();
      continue;
    }
    if (entry.kind !== 'directory') {
      throw new LifeboatError('LB_INPUT_PATH_NOT_FOUND', { detail: `/${spelled.join('/')} is not a folder (looking for ${name}).`, path });
    }
    const children = await tree.list(entry);
    const found = children.find((child) => child.name === name)
      ?? (CASE_INSENSITIVE.has(tree.filesystem) ? children.find((child) => child.name.toLowerCase() === name.toLowerCase()) : undefined);
    if (!found) {
      throw new LifeboatError('LB_INPUT_PATH_NOT_FOUND', { detail: `No ${name} in /${spelled.join('/')} (${tree.filesystem}).`, path });
    }
    parents.push(entry);
    spelled.push(found.name);
    entry = found;
  }
  return { entry, parents, path: `/${spelled.join('/')}` };
}
