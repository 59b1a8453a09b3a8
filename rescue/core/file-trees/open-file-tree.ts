// Picks the file reader for a volume: the first reader that recognises the bytes wins; a volume
// none of them reads is LB_FILESYSTEM_UNSUPPORTED, naming what the probe found there.

import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { probeFilesystem } from '../filesystems/probe-filesystem.ts';
import type { FileTree, FileTreeOpener } from './file-tree.ts';
import { FILE_TREE_OPENERS } from './file-tree-openers.ts';

/** The file tree of a volume, with the readers Lifeboat has (or the ones given, for tests). */
export async function openFileTree(source: ByteSource, openers: readonly FileTreeOpener[] = FILE_TREE_OPENERS): Promise<FileTree> {
  for (const open of openers) {
    const tree = await open(source);
    if (tree) return tree;
  }
  const probe = await probeFilesystem(source).catch(() => undefined);
  const found = probe ? `${probe.type}${probe.kind !== 'filesystem' ? ` (${probe.kind})` : ''}` : 'no filesystem Lifeboat recognises';
  throw new LifeboatError('LB_FILESYSTEM_UNSUPPORTED', { detail: `The volume holds ${found}.`, filesystem: probe?.type ?? null });
}
