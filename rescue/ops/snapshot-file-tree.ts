// A files snapshot as a FileTree: `ls`, `get` and `restore` read it like any filesystem, fetching
// only the folder trees they list and the chunks they read. Also: every blob a files snapshot
// needs, for check and prune.

import { checkRange } from '../core/byte-source.ts';
import { LifeboatError } from '../core/errors.ts';
import type { ExtendedAttribute, FileContent, FileEntry, FileTree } from '../core/file-trees/file-tree.ts';
import { decodeChunkListBlob, decodeFolderTree, type StoredChunk, type StoredFileEntry } from '../core/repository/files-tree-blobs.ts';
import type { SnapshotManifest } from '../core/repository/format.ts';
import type { RepositoryReader } from '../core/repository/repository-port.ts';

/** Decoded folder blobs kept per opened snapshot (restore lists each folder twice: size, then copy). */
const CACHED_FOLDERS = 256;
/** Ids given to entries without a hard-link group start here (groups count from 1). */
const UNIQUE_ID_BASE = 2 ** 40;

const decoder = new TextDecoder('utf-8');

function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

/** The files snapshot's FileTree. */
export function openFilesSnapshot(repository: RepositoryReader, manifest: SnapshotManifest): FileTree {
  const files = manifest.files;
  if (manifest.kind !== 'files' || !files) throw new LifeboatError('LB_INPUT_USAGE', { detail: 'Not a files snapshot.' });
  const stored = new WeakMap<FileEntry, StoredFileEntry | { trees: readonly string[] }>();
  const folderCache = new Map<string, Promise<StoredFileEntry[]>>();
  let nextId = UNIQUE_ID_BASE;

  const readFolderBlob = (id: string): Promise<StoredFileEntry[]> => {
    let decoded = folderCache.get(id);
    if (!decoded) {
      decoded = repository.readBlob(id).then(decodeFolderTree);
      decoded.catch(() => folderCache.delete(id));
      folderCache.set(id, decoded);
      while (folderCache.size > CACHED_FOLDERS) folderCache.delete(folderCache.keys().next().value as string);
    }
    return decoded;
  };

  const toEntry = (item: StoredFileEntry): FileEntry => {
    const entry: FileEntry = {
      name: decoder.decode(item.name), kind: item.kind, id: item.hardLink ?? nextId++, size: item.kind === 'symlink' ? (item.target?.length ?? 0) : item.size,
      mode: item.mode, uid: item.uid, gid: item.gid, links: item.hardLink === undefined ? 1 : Math.max(2, item.links),
      mtimeMs: nsToMs(item.mtimeNs), atimeMs: nsToMs(item.atimeNs), ctimeMs: nsToMs(item.ctimeNs),
      ...(item.device ? { device: item.device } : {}),
    };
    stored.set(entry, item);
    return entry;
  };

  const storedOf = (entry: FileEntry) => {
    const item = stored.get(entry);
    if (!item) throw new LifeboatError('LB_INTERNAL', { detail: `${entry.name} does not come from this snapshot.` });
    return item;
  };

  const root: FileEntry = { name: '', kind: 'directory', id: 0, size: 0 };
  stored.set(root, { trees: files.trees });

  return {
    filesystem: 'lifeboat-files',
    label: files.roots.join(' '),
    root: async () => root,
    list: async (directory) => {
      const item = storedOf(directory);
      if (!item.trees) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${directory.name} is not a folder.` });
      const entries: FileEntry[] = [];
      for (const id of item.trees) for (const child of await readFolderBlob(id)) entries.push(toEntry(child));
      return entries;
    },
    openFile: async (file, stream) => {
      const item = storedOf(file) as StoredFileEntry;
      if (stream !== undefined || item.kind !== 'file') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${file.name} has no such data stream.` });
      let chunks: readonly StoredChunk[] = item.chunks ?? [];
      if (item.chunkLists) {
        const all: StoredChunk[] = [];
        for (const id of item.chunkLists) all.push(...decodeChunkListBlob(await repository.readBlob(id)));
        chunks = all;
      }
      return fileContent(repository, chunks, item.size, file.name);
    },
    readLink: async (entry) => {
      const item = storedOf(entry) as StoredFileEntry;
      if (item.target === undefined) throw new LifeboatError('LB_INPUT_USAGE', { detail: `${entry.name} is not a link.` });
      return decoder.decode(item.target);
    },
    extendedAttributes: async (entry) => {
      const item = stored.get(entry) as StoredFileEntry | undefined;
      const xattrs: ExtendedAttribute[] = [];
      for (const xattr of item?.xattrs ?? []) {
        const value = xattr.value ?? (await repository.readBlob(xattr.blob ?? ''));
        if (value.length !== xattr.size) throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `Extended attribute ${xattr.name} of ${entry.name} has ${value.length} bytes, not ${xattr.size}.` });
        xattrs.push({ name: xattr.name, value });
      }
      return xattrs;
    },
  };
}

/** A file's bytes over its chunks; holes (unstored zero chunks) read as zeros and are left out of dataRanges. */
function fileContent(repository: RepositoryReader, chunks: readonly StoredChunk[], size: number, name: string): FileContent {
  const starts: number[] = [];
  let offset = 0;
  for (const chunk of chunks) {
    starts.push(offset);
    offset += chunk.length;
  }
  if (offset !== size) throw new LifeboatError('LB_REPO_INVALID', { detail: `${name}: its chunks hold ${offset} bytes, its size is ${size}.` });
  let cached: { index: number; bytes: Promise<Uint8Array> } | undefined;
  const chunkBytes = (index: number): Promise<Uint8Array> => {
    if (cached?.index !== index) {
      const chunk = chunks[index]!;
      const bytes = chunk.id === undefined ? Promise.resolve(new Uint8Array(chunk.length)) : repository.readBlob(chunk.id).then((data) => {
        if (data.length !== chunk.length) throw new LifeboatError('LB_REPO_DATA_CORRUPT', { detail: `${name}: a chunk holds ${data.length} bytes, not ${chunk.length}.` });
        return data;
      });
      cached = { index, bytes };
    }
    return cached.bytes;
  };
  const findChunk = (at: number): number => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= at) low = middle;
      else high = middle - 1;
    }
    return low;
  };
  return {
    size,
    read: async (at, length) => {
      checkRange(size, at, length);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const index = findChunk(at + done);
        const bytes = await chunkBytes(index);
        const from = at + done - starts[index]!;
        const take = Math.min(length - done, bytes.length - from);
        out.set(bytes.subarray(from, from + take), done);
        done += take;
      }
      return out;
    },
    dataRanges: async () => {
      const ranges: Array<{ offset: number; length: number }> = [];
      chunks.forEach((chunk, index) => {
        if (chunk.id === undefined) return;
        const last = ranges.at(-1);
        if (last && last.offset + last.length === starts[index]) last.length += chunk.length;
        else ranges.push({ offset: starts[index]!, length: chunk.length });
      });
      return ranges;
    },
  };
}

/** Every tree and data blob a files snapshot refers to (check and prune walk it). */
export async function filesSnapshotBlobs(repository: RepositoryReader, manifest: SnapshotManifest): Promise<{ trees: Set<string>; data: Set<string> }> {
  const trees = new Set<string>();
  const data = new Set<string>();
  const pending = [...(manifest.files?.trees ?? [])];
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (trees.has(id)) continue;
    trees.add(id);
    for (const entry of decodeFolderTree(await repository.readBlob(id))) {
      for (const chunk of entry.chunks ?? []) if (chunk.id !== undefined) data.add(chunk.id);
      for (const list of entry.chunkLists ?? []) {
        trees.add(list);
        for (const chunk of decodeChunkListBlob(await repository.readBlob(list))) if (chunk.id !== undefined) data.add(chunk.id);
      }
      for (const xattr of entry.xattrs) if (xattr.blob !== undefined) data.add(xattr.blob);
      pending.push(...(entry.trees ?? []));
    }
  }
  return { trees, data };
}
