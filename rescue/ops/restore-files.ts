// `get`: copies files and folders out of a file tree (a partition, an image, a volume inside a
// snapshot) into a destination folder, with their content, times, permissions, owners, links and
// extended attributes where the filesystem has them. Nothing is ever written outside the
// destination: unsafe names are refused entry by entry, links are created but never followed, and
// every file is created new (or replaced by a new file), so a symlink planted in the destination
// cannot redirect a write.

import { readInto } from '../core/byte-source.ts';
import { LifeboatError, toLifeboatError } from '../core/errors.ts';
import type { ExtendedAttribute, FileEntry, FileTree } from '../core/file-trees/file-tree.ts';
import type { FileWriter } from '../core/file-trees/file-writer-port.ts';

export type { FileWriter } from '../core/file-trees/file-writer-port.ts';
import { walkPath } from '../core/file-trees/walk-path.ts';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';

/** Bytes copied per read of a file's content. */
const COPY_PIECE_BYTES = 4 * 1024 * 1024;

/** What to do when a file of the same name exists in the destination. */
export type ExistingPolicy = 'refuse' | 'overwrite' | 'skip';

/** One entry that was not restored, or restored with a remark. */
export interface RestoreRemark {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** What a file restore did. */
export interface RestoreFilesResult {
  files: number;
  folders: number;
  links: number;
  bytes: number;
  skipped: number;
  readonly remarks: RestoreRemark[];
}

/** Why a name may not be written (undefined when it is safe): "..", ".", "/", NUL or control characters. */
export function unsafeNameReason(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return `the name "${name}" would leave its folder`;
  if (name.includes('/')) return 'the name contains "/"';
  if (name.includes('\\') && name.includes('..')) return 'the name contains "\\" and ".."';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains NUL or control characters';
  return undefined;
}

/** True when a symlink target leaves the folder tree it sits in (absolute, or more ".." than depth). */
export function linkLeavesTree(target: string, depth: number): boolean {
  if (target.startsWith('/') || /^[A-Za-z]:/.test(target) || target.startsWith('\\')) return true;
  let level = depth;
  for (const part of target.split(/[\\/]+/)) {
    if (part === '..') level -= 1;
    else if (part !== '' && part !== '.') level += 1;
    if (level < 0) return true;
  }
  return false;
}

interface RestoreState {
  readonly tree: FileTree;
  readonly writer: FileWriter;
  readonly existing: ExistingPolicy;
  readonly reporter: ProgressReporter;
  readonly result: RestoreFilesResult;
  /** Hard links: file id -> where its first name was restored. */
  readonly restoredIds: Map<number, string>;
  /** Folders on the current path (loop detection in damaged trees). */
  readonly openFolders: Set<number>;
  readonly total: number;
  readonly signal: AbortSignal | undefined;
  /** Two buffers of COPY_PIECE_BYTES, made once: one is filled while the other is written. */
  pieces?: [Uint8Array, Uint8Array];
}

/** Restores `paths` of the tree into `destination` (an existing folder); each keeps its own name. */
export async function restoreFiles(options: {
  tree: FileTree;
  paths: readonly string[];
  destination: string;
  existing: ExistingPolicy;
  writer: FileWriter;
  reporter: ProgressReporter;
  /** Stops between entries and between pieces of a file (LB_INPUT_STOPPED): what was restored stays, the file being written is removed. */
  signal?: AbortSignal;
}): Promise<RestoreFilesResult> {
  const { tree, writer } = options;
  const roots = [];
  for (const path of options.paths) roots.push(await walkPath(tree, path));
  let total = 0;
  for (const root of roots) total += await sizeOf(tree, root.entry, new Set());
  const state: RestoreState = {
    tree, writer, existing: options.existing, reporter: options.reporter,
    result: { files: 0, folders: 0, links: 0, bytes: 0, skipped: 0, remarks: [] },
    restoredIds: new Map(), openFolders: new Set(), total, signal: options.signal,
  };
  options.reporter.progress({ phase: 'restore', bytesDone: 0, bytesTotal: total });
  for (const root of roots) {
    // The root of the tree itself has no name: its content goes straight into the destination.
    if (root.parents.length === 0) await restoreChildren(state, root.entry, options.destination, root.path, 0);
    else await restoreEntry(state, root.entry, options.destination, root.path, 0);
  }
  options.reporter.progress({ phase: 'restore', bytesDone: state.result.bytes, bytesTotal: total });
  return state.result;
}

async function sizeOf(tree: FileTree, entry: FileEntry, seen: Set<number>): Promise<number> {
  if (entry.kind === 'file') return entry.size;
  if (entry.kind !== 'directory' || seen.has(entry.id)) return 0;
  seen.add(entry.id);
  let bytes = 0;
  const children = await tree.list(entry).catch(() => []);
  for (const child of children) bytes += await sizeOf(tree, child, seen);
  seen.delete(entry.id);
  return bytes;
}

/** Entries left out make the run fail with the first one's code (the rest were restored); undefined when none was. */
export function leftOutError(remarks: ReadonlyArray<{ path: string; code: string; message: string }>): LifeboatError | undefined {
  const first = remarks[0];
  if (!first) return undefined;
  const count = remarks.length === 1 ? '1 entry was' : `${remarks.length} entries were`;
  return new LifeboatError(first.code as never, { detail: `${count} not restored, the first ${first.path}: ${first.message.replace(/\.+$/, '')}.` });
}

function remark(state: RestoreState, path: string, code: string, message: string): void {
  state.result.remarks.push({ path, code, message });
  state.reporter.notice(`${path}: ${message} (${code})`);
}

async function restoreChildren(state: RestoreState, folder: FileEntry, target: string, shownPath: string, depth: number): Promise<void> {
  if (state.openFolders.has(folder.id)) {
    remark(state, shownPath, 'LB_FILESYSTEM_CORRUPT', 'the folder contains itself (a loop in a damaged filesystem); not entered again');
    return;
  }
  let children: FileEntry[];
  try {
    children = await state.tree.list(folder);
  } catch (error) {
    const coded = toLifeboatError(error);
    remark(state, shownPath, coded.code, `the folder cannot be read: ${coded.message}`);
    return;
  }
  state.openFolders.add(folder.id);
  const names = new Set<string>();
  try {
    for (const child of children) {
      const childPath = `${shownPath === '/' ? '' : shownPath}/${child.name}`;
      if (names.has(child.name)) {
        remark(state, childPath, 'LB_INPUT_UNSAFE_NAME', 'a second entry of the same name in one folder; not restored');
        continue;
      }
      names.add(child.name);
      await restoreEntry(state, child, target, childPath, depth);
    }
  } finally {
    state.openFolders.delete(folder.id);
  }
}

async function restoreEntry(state: RestoreState, entry: FileEntry, folder: string, shownPath: string, depth: number): Promise<void> {
  throwIfStopped(state.signal, 'the file restore');
  const unsafe = unsafeNameReason(entry.name);
  if (unsafe) {
    remark(state, shownPath, 'LB_INPUT_UNSAFE_NAME', `${unsafe}; not restored`);
    return;
  }
  if (entry.damage) {
    remark(state, shownPath, entry.damage.code, `not restored: ${entry.damage.message}`);
    return;
  }
  const { writer } = state;
  const target = writer.join(folder, entry.name);
  try {
    if (entry.kind === 'directory') {
      const created = await writer.makeFolder(target);
      if (created) state.result.folders += 1;
      await restoreChildren(state, entry, target, shownPath, depth + 1);
      await applyMetadata(state, target, entry, shownPath);
      return;
    }
    if (await writer.exists(target)) {
      if (state.existing === 'skip') {
        state.result.skipped += 1;
        return;
      }
      if (state.existing === 'refuse') throw new LifeboatError('LB_INPUT_DESTINATION_EXISTS', { detail: `${target} exists.`, path: target });
      await writer.remove(target);
    }
    const first = state.restoredIds.get(entry.id);
    if (first !== undefined && entry.kind !== 'symlink' && (entry.links ?? 2) > 1) {
      await writer.hardLink(first, target);
      state.result.links += 1;
      return;
    }
    if (entry.kind === 'file') {
      await copyContent(state, entry, target);
      state.result.files += 1;
    } else if (entry.kind === 'symlink') {
      const link = await state.tree.readLink(entry);
      if (link.includes('\u0000')) throw new LifeboatError('LB_INPUT_UNSAFE_NAME', { detail: 'the link target contains NUL' });
      await writer.symlink(link, target);
      state.result.links += 1;
      if (linkLeavesTree(link, depth)) {
        state.reporter.notice(`${shownPath}: a link to ${link}, outside the restored folder; restored as a link, never followed`);
      }
    } else if (!(await writer.special(target, entry))) {
      remark(state, shownPath, 'LB_INPUT_UNSAFE_NAME', `a ${entry.kind} cannot be created here; not restored`);
      return;
    }
    state.restoredIds.set(entry.id, target);
    await applyMetadata(state, target, entry, shownPath);
  } catch (error) {
    const coded = toLifeboatError(error);
    if (coded.code === 'LB_INPUT_STOPPED' || coded.code === 'LB_INPUT_DESTINATION_EXISTS' || coded.code === 'LB_REPO_DATA_CORRUPT' || coded.code === 'LB_DEVICE_WRITE_FAILED' || coded.code === 'LB_REPO_WRITE_FAILED') throw coded;
    remark(state, shownPath, coded.code, `not restored: ${coded.message}`);
  }
}

async function copyContent(state: RestoreState, entry: FileEntry, target: string): Promise<void> {
  const content = await state.tree.openFile(entry);
  const ranges = content.dataRanges ? await content.dataRanges() : [{ offset: 0, length: content.size }];
  const file = await state.writer.createFile(target, content.size);
  let complete = false;
  // The same two buffers for every piece of every file: fresh ones cost a page fault per 4 KiB
  // (get of a 16 MiB file made 8,000 more); the next piece is read while the last one is written.
  const pieces = (state.pieces ??= [new Uint8Array(COPY_PIECE_BYTES), new Uint8Array(COPY_PIECE_BYTES)]);
  let writing: Promise<void> = Promise.resolve();
  let turn = 0;
  try {
    for (const range of ranges) {
      for (let done = 0; done < range.length; done += COPY_PIECE_BYTES) {
        throwIfStopped(state.signal, 'the file restore');
        const length = Math.min(COPY_PIECE_BYTES, range.length - done);
        const bytes = pieces[turn]!.subarray(0, length);
        turn = 1 - turn;
        await readInto(content, bytes, range.offset + done);
        await writing;
        const offset = range.offset + done;
        writing = file.write(offset, bytes).then(() => {
          state.result.bytes += length;
          state.reporter.progress({ phase: 'restore', bytesDone: state.result.bytes, bytesTotal: state.total, item: entry.name });
        });
        // Awaited on the next piece or at the end; marked handled now, so a failure while the next piece is read is no unhandled rejection.
        writing.catch(() => undefined);
      }
    }
    await writing;
    complete = true;
  } finally {
    // A failed read leaves a write under way: it ends before the file is closed.
    await writing.catch(() => undefined);
    // A file cut short (a stop, a full destination, a damaged source) is not left looking restored.
    const closed = file.close();
    if (complete) await closed;
    else await closed.then(() => state.writer.remove(target), () => state.writer.remove(target)).catch(() => undefined);
  }
}

async function applyMetadata(state: RestoreState, target: string, entry: FileEntry, shownPath: string): Promise<void> {
  let xattrs: ExtendedAttribute[] = [];
  try {
    xattrs = await state.tree.extendedAttributes(entry);
  } catch (error) {
    // Content and the other metadata are restored; the lost attributes are reported, not dropped silently.
    const coded = toLifeboatError(error);
    if (coded.code === 'LB_INPUT_STOPPED' || coded.code === 'LB_REPO_DATA_CORRUPT') throw coded;
    remark(state, shownPath, coded.code, `restored without its extended attributes, which cannot be read: ${coded.message}`);
  }
  for (const problem of await state.writer.applyMetadata(target, entry, xattrs)) state.reporter.notice(`${shownPath}: ${problem}`);
}
