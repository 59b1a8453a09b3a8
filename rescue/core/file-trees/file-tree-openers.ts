// The file readers Lifeboat has, in the order they are tried.

import { openExfatTree } from './exfat-tree.ts';
import { openExtTree } from './ext-tree.ts';
import type { FileTreeOpener } from './file-tree.ts';
import { openFatTree } from './fat-tree.ts';
import { openNtfsTree } from './ntfs-tree.ts';

/** Every reader; each returns undefined for a volume that is not its filesystem. */
export const FILE_TREE_OPENERS: readonly FileTreeOpener[] = [openExtTree, openFatTree, openExfatTree, openNtfsTree];
