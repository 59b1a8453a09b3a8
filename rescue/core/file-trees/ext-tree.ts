// The files of an ext2, ext3 or ext4 filesystem (issue 5), read-only over any ByteSource.
// The root is inode 2. Directories are read linearly (ext-directory.ts), each name's inode decoded
// (ext-inode.ts); contents come through ext-content.ts, attributes through ext-xattrs.ts.
// Names are decoded as UTF-8 (bytes that are not UTF-8 become U+FFFD). A volume that was not
// unmounted cleanly is read through its replayed journal (ext-journal-replay.ts), in memory only.
// With metadata_csum, inodes, extent blocks and directory leaf blocks are checked (ext-checksums.ts):
// an inode that fails is a `damaged` entry, a failing extent or directory block fails that file or folder.

import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { probeExt } from '../filesystems/ext.ts';
import { corrupt, MAX_METADATA_READ_BYTES } from '../filesystems/fields.ts';
import type { ExtendedAttribute, FileContent, FileEntry, FileTree, FileTreeOpener } from './file-tree.ts';
import { readBlockRuns } from './ext-block-runs.ts';
import { verifyDirectoryBlockChecksum, verifyInodeChecksum } from './ext-checksums.ts';
import { inlineBytes, isInline, openContent } from './ext-content.ts';
import { parseDirents, type RawDirent } from './ext-directory.ts';
import { replayExtJournal } from './ext-journal-replay.ts';
import { decodeInode, EXT_INODE_FLAG, I_BLOCK_BYTES, type ExtInode } from './ext-inode.ts';
import { ExtVolume } from './ext-volume.ts';
import { aclToXattrForm, blockXattrs, inodeXattrs, isInternalXattr, type RawXattr } from './ext-xattrs.ts';

const ROOT_INODE = 2;
/** Blocks of a directory read at once (1 MiB with 4 KiB blocks). */
const DIRECTORY_BATCH_BYTES = 1024 * 1024;
const INLINE_DIR_PARENT_BYTES = 4;
/** Linux's PATH_MAX (4096) less the closing NUL: symlink(2) refuses longer targets (ENAMETOOLONG). */
const MAX_SYMLINK_BYTES = 4095;
/** Errors that make one entry of a listing `damaged` instead of failing the whole folder. */
const DAMAGE_CODES: ReadonlySet<string> = new Set(['LB_FILESYSTEM_CORRUPT', 'LB_FILESYSTEM_TRUNCATED', 'LB_INPUT_READ_OUT_OF_RANGE']);

/** How the ext reader opens a volume. */
export interface ExtTreeOptions {
  /** Replay committed journal transactions in memory (default true; false reads the main area as it stands). */
  readonly replayJournal?: boolean;
}

/** Opens an ext2/3/4 filesystem's files; undefined when the source holds none. */
export const openExtTree: FileTreeOpener = (source) => openExtTreeWith(source, {});

/** openExtTree with options (tests compare the replayed and unreplayed views). */
export async function openExtTreeWith(source: ByteSource, options: ExtTreeOptions): Promise<FileTree | undefined> {
  const probe = await probeExt(source);
  if (!probe) return undefined;
  const raw = await ExtVolume.open(source);
  if (!raw) return undefined;
  if (options.replayJournal === false) return new ExtTree(raw, probe.type, probe.label, []);
  const view = await replayExtJournal(source, raw);
  if (view.source === source) return new ExtTree(raw, probe.type, probe.label, view.notices);
  try {
    const volume = await ExtVolume.open(view.source);
    if (volume) return new ExtTree(volume, probe.type, probe.label, view.notices);
  } catch (error) {
    if (!(error instanceof LifeboatError) || !DAMAGE_CODES.has(error.code)) throw error;
    // A journal that logs a damaged superblock or descriptor copy: read without it rather than not at all.
    return new ExtTree(raw, probe.type, probe.label, [`The filesystem was not unmounted cleanly and its journal was not replayed: the replayed superblock is damaged (${error.code}: ${error.message}).`]);
  }
  return new ExtTree(raw, probe.type, probe.label, ['The filesystem was not unmounted cleanly and its journal was not replayed: the replayed superblock is not an ext superblock.']);
}

class ExtTree implements FileTree {
  readonly filesystem: string;
  readonly label?: string;
  readonly notices: readonly string[];
  private readonly volume: ExtVolume;

  constructor(volume: ExtVolume, filesystem: string, label: string | undefined, notices: readonly string[]) {
    this.volume = volume;
    this.filesystem = filesystem;
    this.notices = [...volume.layout.notices, ...notices];
    if (label !== undefined) this.label = label;
  }

  async root(): Promise<FileEntry> {
    const inode = await this.inode(ROOT_INODE);
    if (inode.kind !== 'directory') throw corrupt('ext', 'root inode i_mode', inode.offset, `inode 2 is a ${inode.kind}, not a directory.`);
    return { name: '', ...inode.entry };
  }

  async list(directory: FileEntry): Promise<FileEntry[]> {
    const inode = await this.inode(directory.id);
    if (inode.kind !== 'directory') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${directory.name} (inode ${directory.id}) is not a directory.` });
    const dirents = await this.readDirents(inode);
    const entries: FileEntry[] = [];
    for (const dirent of dirents) {
      let child: ExtInode;
      try {
        child = await this.inode(dirent.inode, inode.number);
      } catch (error) {
        // One damaged inode: that entry is marked, the folder's others are listed.
        if (!(error instanceof LifeboatError) || !DAMAGE_CODES.has(error.code)) throw error;
        entries.push({ name: dirent.name, kind: 'damaged', id: dirent.inode, size: 0, damage: { code: error.code, message: error.message } });
        continue;
      }
      entries.push({ name: dirent.name, ...child.entry });
    }
    return entries;
  }

  async openFile(file: FileEntry, stream?: string): Promise<FileContent> {
    if (stream !== undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: `ext files have no named streams (asked for "${stream}" of ${file.name}).` });
    return openContent(this.volume, await this.inode(file.id));
  }

  async readLink(entry: FileEntry): Promise<string> {
    const inode = await this.inode(entry.id);
    if (inode.kind !== 'symlink') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${entry.name} (inode ${entry.id}) is not a symlink.` });
    // e2fsck calls both invalid (f_badsymlinks, f_badsymlinks2); no system could create them again.
    if (inode.size === 0) throw corrupt('ext', `inode ${inode.number} i_size`, inode.offset + 0x04, 'the symlink has an empty target.');
    if (inode.size > MAX_SYMLINK_BYTES) throw corrupt('ext', `inode ${inode.number} i_size`, inode.offset + 0x04, `a ${inode.size}-byte symlink target is longer than Linux allows (${MAX_SYMLINK_BYTES} bytes).`);
    const content = openContent(this.volume, inode);
    return new TextDecoder().decode(await content.read(0, content.size));
  }

  async extendedAttributes(entry: FileEntry): Promise<ExtendedAttribute[]> {
    const inode = await this.inode(entry.id);
    const raw = [...inodeXattrs(this.volume, inode), ...(await blockXattrs(this.volume, inode))];
    const result: ExtendedAttribute[] = [];
    for (const attribute of raw) {
      if (attribute.index === 7 && attribute.suffix === 'data') continue; // inline data: the file's content, not an attribute
      if (isInternalXattr(attribute.index)) continue;
      let value = await this.xattrValue(inode, attribute);
      if (attribute.index === 2 || attribute.index === 3) value = aclToXattrForm(value, `inode ${inode.number} ${attribute.name}`, inode.offset);
      result.push({ name: attribute.name, value });
    }
    return result;
  }

  private async xattrValue(owner: ExtInode, attribute: RawXattr): Promise<Uint8Array> {
    if (attribute.value instanceof Uint8Array) return attribute.value;
    const holder = await this.inode(attribute.value.inode, owner.number);
    if (!(holder.flags & EXT_INODE_FLAG.EA_INODE) || holder.size < attribute.value.size) {
      throw corrupt('ext', `inode ${owner.number} xattr ${attribute.name} e_value_inum`, owner.offset, `inode ${holder.number} is not an attribute inode of at least ${attribute.value.size} bytes.`);
    }
    return openContent(this.volume, holder).read(0, attribute.value.size);
  }

  private async inode(number: number, parent?: number): Promise<ExtInode> {
    try {
      const { bytes, offset } = await this.volume.readInodeBytes(number);
      verifyInodeChecksum(this.volume, number, bytes, offset);
      return decodeInode(this.volume, number, bytes, offset);
    } catch (error) {
      if (parent !== undefined && error instanceof LifeboatError && error.code === 'LB_FILESYSTEM_CORRUPT') {
        throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { ...error.details, detail: `${String(error.details.detail)} (named in directory inode ${parent})`, directory: parent }, { cause: error });
      }
      throw error;
    }
  }

  private async readDirents(inode: ExtInode): Promise<RawDirent[]> {
    const blockSize = this.volume.blockSize;
    if (inode.size > MAX_METADATA_READ_BYTES * 16) throw corrupt('ext', `directory inode ${inode.number} i_size`, inode.offset + 0x04, `a ${inode.size}-byte directory.`);
    if (isInline(inode)) {
      const bytes = inlineBytes(this.volume, inode);
      const base = inode.offset + 0x28;
      const found = parseDirents(bytes.subarray(INLINE_DIR_PARENT_BYTES, I_BLOCK_BYTES), base + INLINE_DIR_PARENT_BYTES, blockSize, inode.number);
      if (bytes.length > I_BLOCK_BYTES) found.push(...parseDirents(bytes.subarray(I_BLOCK_BYTES), base, blockSize, inode.number));
      return found;
    }
    const blocks = Math.ceil(inode.size / blockSize);
    const batch = Math.max(1, Math.floor(DIRECTORY_BATCH_BYTES / blockSize));
    const found: RawDirent[] = [];
    for (const run of await readBlockRuns(this.volume, inode)) {
      if (run.unwritten) continue;
      const count = Math.min(run.count, blocks - run.logical);
      for (let done = 0; done < count; done += batch) {
        const physical = run.physical + done;
        const n = Math.min(batch, count - done);
        const bytes = await this.volume.readBlocks(physical, n, inode.number, 'directory block', inode.offset + 0x28);
        for (let i = 0; i < n; i++) {
          verifyDirectoryBlockChecksum(inode.checksumSeed, inode, run.logical + done + i, bytes.subarray(i * blockSize, (i + 1) * blockSize), (physical + i) * blockSize);
          found.push(...parseDirents(bytes.subarray(i * blockSize, (i + 1) * blockSize), (physical + i) * blockSize, blockSize, inode.number));
        }
      }
    }
    return found;
  }
}
