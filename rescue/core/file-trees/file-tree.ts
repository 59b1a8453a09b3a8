// Read-only views of the files inside a filesystem, over any random-access source (a device, an
// image file, a partition of either, or a volume inside a snapshot). One interface for every
// filesystem, so `ls`, `get`, the TUI's browser and file-level restore never look at on-disk
// structures. Each reader lives beside this file (ext-tree.ts, fat-tree.ts, exfat-tree.ts,
// ntfs-tree.ts) and checks every field it reads (habit 1): a damaged structure is a LifeboatError
// (LB_FILESYSTEM_CORRUPT) for that entry, never a crash or a read outside the source.

import type { ByteSource } from '../byte-source.ts';

/**
 * What an entry is. Reparse points other than symlinks and junctions are `reparse-point`. An entry
 * whose own structure (ext inode) cannot be read is `damaged`: its name and id come from the folder,
 * `damage` says why, and the folder's other entries are listed as usual.
 */
export type FileKind = 'file' | 'directory' | 'symlink' | 'char-device' | 'block-device' | 'fifo' | 'socket' | 'reparse-point' | 'damaged';

/** Why a `damaged` entry cannot be read: the error's stable code and message. */
export interface EntryDamage {
  readonly code: string;
  readonly message: string;
}

/** A named data stream besides the main one (NTFS alternate data streams). */
export interface DataStream {
  readonly name: string;
  readonly size: number;
}

/** One entry of a directory, with the metadata its filesystem keeps (absent fields: not kept). */
export interface FileEntry {
  /** The name as stored, decoded (UTF-8 for ext, UTF-16 for NTFS, exFAT and FAT long names). */
  readonly name: string;
  readonly kind: FileKind;
  /**
   * Identifies the file inside this filesystem (ext inode number, NTFS MFT record number, FAT and
   * exFAT: the directory entry's byte offset); entries with the same id are hard links.
   */
  readonly id: number;
  /** Bytes of the main data stream (the target's length for a symlink). */
  readonly size: number;
  /** Bytes the content occupies on the volume (less than size for sparse or compressed files). */
  readonly allocatedBytes?: number;
  /** POSIX permission and type bits (st_mode), where the filesystem keeps them (ext). */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Number of names the file has (ext i_links_count, NTFS hard links). */
  readonly links?: number;
  /** Times in milliseconds since 1970 UTC; FAT's local times are taken as UTC. */
  readonly mtimeMs?: number;
  readonly atimeMs?: number;
  /** Change time of the metadata (ext ctime, NTFS MFT change time). */
  readonly ctimeMs?: number;
  readonly birthtimeMs?: number;
  /** DOS/Windows attribute bits (FAT, exFAT, NTFS): 0x01 read-only, 0x02 hidden, 0x04 system, 0x20 archive... */
  readonly dosAttributes?: number;
  /** For char- and block-devices. */
  readonly device?: { readonly major: number; readonly minor: number };
  /** Alternate data streams (NTFS), listed; open them with openFile(entry, name). */
  readonly streams?: readonly DataStream[];
  /** For reparse points: the tag (NTFS IO_REPARSE_TAG_*). */
  readonly reparseTag?: number;
  /** For `damaged` entries. */
  readonly damage?: EntryDamage;
}

/** A file's bytes, read on demand. */
export interface FileContent extends ByteSource {
  /**
   * The ranges that hold data, ascending and disjoint; bytes outside them are holes (read as
   * zeros). Lets `get` write sparse files sparse. Undefined when the reader cannot tell.
   */
  dataRanges?(): Promise<ReadonlyArray<{ readonly offset: number; readonly length: number }>>;
  /**
   * Where the data ranges lie on the volume (`at`: bytes from the volume's start), for an edit in
   * place that keeps the file's length (clone --new-ids). Undefined when the bytes are not stored
   * plainly (inline, compressed) or the reader cannot tell.
   */
  placedRanges?(): Promise<ReadonlyArray<{ readonly offset: number; readonly at: number; readonly length: number }>>;
}

/** An extended attribute (ext xattrs, "user.x" / "security.selinux" / "system.posix_acl_access"...). */
export interface ExtendedAttribute {
  readonly name: string;
  readonly value: Uint8Array;
}

/** The files of one filesystem. Paths are never parsed here: callers walk entries by name. */
export interface FileTree {
  /** blkid-style filesystem type: ext2, ext3, ext4, vfat, exfat, ntfs. */
  readonly filesystem: string;
  readonly label?: string;
  /** What the reader did or could not do that the user should know (an ext journal replayed in memory, or not). */
  readonly notices?: readonly string[];
  /** The root directory. */
  root(): Promise<FileEntry>;
  /** The entries of a directory, without "." and "..", in on-disk order. */
  list(directory: FileEntry): Promise<FileEntry[]>;
  /** A file's main data stream, or the named stream (NTFS alternate data stream). */
  openFile(file: FileEntry, stream?: string): Promise<FileContent>;
  /** A symlink's target as stored (also NTFS symlinks and junctions, as their print name). */
  readLink(entry: FileEntry): Promise<string>;
  /** Extended attributes, where the filesystem has them (empty otherwise). */
  extendedAttributes(entry: FileEntry): Promise<ExtendedAttribute[]>;
}

/** Opens the file tree of a source whose filesystem the reader knows; undefined when it is not its kind. */
export type FileTreeOpener = (source: ByteSource) => Promise<FileTree | undefined>;
