// What a files backup needs from the file system it reads, as types only: ops/backup-files.ts
// depends on this port, io/walk-files.ts implements it (lstat-based, never following links).

import type { StoredKind } from './files-tree-blobs.ts';

/** An extended attribute as read from the file system. */
export interface LocalXattr {
  readonly name: string;
  readonly value: Uint8Array;
}

/**
 * An entry's extended attributes as read, or why they could not be: `everywhere` when no entry's
 * can be read (getfattr missing or failing), so the reason is told once.
 */
export interface XattrReading {
  readonly xattrs: LocalXattr[];
  readonly problem?: { readonly reason: string; readonly everywhere: boolean };
}

/** An entry of a backed-up folder as lstat saw it (its extended attributes are read on request). */
export interface LocalEntry {
  /** The name's bytes. */
  readonly name: Uint8Array;
  /** The absolute path (for messages; may be lossy for names that are not UTF-8). */
  readonly shownPath: string;
  readonly kind: StoredKind;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly links: number;
  /** st_dev and st_ino, as text (they may exceed 2^53): hard links share both. */
  readonly device: string;
  readonly inode: string;
  readonly mtimeNs: bigint;
  readonly atimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly rdev?: { readonly major: number; readonly minor: number };
  readonly target?: Uint8Array;
  /** A folder on another file system with --one-file-system: kept, its content not entered. */
  readonly otherFileSystem?: boolean;
}

/** A file opened for reading. */
export interface LocalFile {
  /** Reads up to target.length bytes at position; 0 at the end. */
  read(target: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

/** One backed-up root, opened: its own entry and the way to list its folders (exclusions applied). */
export interface LocalRoot {
  readonly entry: LocalEntry;
  /** The folder's entries that are not excluded, with notices for those that could not be read. */
  list(folder: LocalEntry): Promise<{ entries: LocalEntry[]; notices: string[] }>;
}

/** The file system side of `backup files`. */
export interface FileSystemWalker {
  /** Opens a root (an absolute path; a folder, or a single file). */
  openRoot(path: string): Promise<LocalRoot>;
  /** lstat of a folder above a root (kept in the snapshot so the path leads to the root). */
  statFolder(path: string): Promise<LocalEntry>;
  openFile(entry: LocalEntry): Promise<LocalFile>;
  /**
   * Reads a small file whole into `target` at once (synchronously, so its bytes can land straight in
   * a batch of blobs) and returns the bytes read: target.length means the file is larger than that.
   * Throws the file system's error when it cannot be read.
   */
  readSmallFile(entry: LocalEntry, target: Uint8Array): number;
  /** The entry's extended attributes, or why they could not be read. Requests are gathered, so call it for many entries before awaiting. */
  readXattrs(entry: LocalEntry): Promise<XattrReading>;
}

/** Built-in exclusions (case-insensitive, anywhere in the tree), listed in `backup files --help`. */
export const DEFAULT_EXCLUDES: readonly string[] = ['pagefile.sys', 'hiberfil.sys', 'swapfile.sys', '$RECYCLE.BIN/', 'System Volume Information/', 'lost+found/'];
/** Built-in exclusions of a system root (`/`, or a folder holding etc/ and usr/): these folders are kept, empty. */
export const SYSTEM_ROOT_EXCLUDES: readonly string[] = ['/proc/*', '/sys/*', '/dev/*', '/run/*', '/tmp/*'];

/** What a walk leaves out. Patterns follow .gitignore, relative to each backed-up root. */
export interface FileWalkOptions {
  readonly excludes: readonly string[];
  /** A file of patterns (gitignore syntax). */
  readonly excludeFile?: string;
  /** Files larger than this many bytes are left out. */
  readonly excludeLargerThan?: number;
  /** Folders on another file system than their root are kept empty. */
  readonly oneFileSystem: boolean;
  /** DEFAULT_EXCLUDES and SYSTEM_ROOT_EXCLUDES apply (--no-default-excludes turns them off). */
  readonly defaultExcludes: boolean;
}
