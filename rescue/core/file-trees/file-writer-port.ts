// What restoring files needs from the file system it writes to, as a type only: ops/restore-files.ts
// depends on this port, io/file-writer.ts implements it over the local file system.

import type { FileEntry } from './file-tree.ts';

/** The file system calls restoring needs (io implements them with O_NOFOLLOW and exclusive creates). */
export interface FileWriter {
  /** Creates a folder; resolves false when a folder is already there, throws when something else is. */
  makeFolder(path: string): Promise<boolean>;
  /** True when something (anything, a link included) exists at path. */
  exists(path: string): Promise<boolean>;
  /** Removes a file or link (never a folder's content). */
  remove(path: string): Promise<void>;
  /** Creates a new file (fails when path exists) and returns its writer. */
  createFile(path: string, size: number): Promise<{ write(offset: number, bytes: Uint8Array): Promise<void>; close(): Promise<void> }>;
  symlink(target: string, path: string): Promise<void>;
  hardLink(existing: string, path: string): Promise<void>;
  /** A fifo, socket placeholder or device node; false when it cannot be made here. */
  special(path: string, entry: FileEntry): Promise<boolean>;
  /** Applies what the entry keeps: owner, mode, times, extended attributes (never following links). */
  applyMetadata(path: string, entry: FileEntry, xattrs: ReadonlyArray<{ name: string; value: Uint8Array }>): Promise<string[]>;
  join(folder: string, name: string): string;
}
