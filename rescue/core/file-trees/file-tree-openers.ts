// The file readers Lifeboat has, in the order they are tried.

import type { FileTreeOpener } from './file-tree.ts';

/** Every reader; each returns undefined for a volume that is not its filesystem. */
export const FILE_TREE_OPENERS: readonly FileTreeOpener[] = [];
