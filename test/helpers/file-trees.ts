// Helpers for the file-tree tests: a full walk of a FileTree (every entry with the sha256 of its
// content), a source that counts reads and makes each one cost a 1 MiB decompression (as a
// snapshot in a repository does), deterministic file contents, and a sparse copy of an image.

import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import type { ByteSource } from '../../rescue/core/byte-source.ts';
import type { FileEntry, FileTree } from '../../rescue/core/file-trees/file-tree.ts';
import { prng } from './mutation.ts';

/** One entry of a walked tree: path from the root ("a/b.txt"), the entry and its content's sha256 (files). */
export interface WalkedEntry {
  readonly path: string;
  readonly entry: FileEntry;
  readonly sha256?: string;
}

/** Every entry below the root, depth first, files read whole in 1 MiB pieces. */
export async function walkTree(tree: FileTree, options: { readContents?: boolean } = {}): Promise<Map<string, WalkedEntry>> {
  const found = new Map<string, WalkedEntry>();
  const visit = async (directory: FileEntry, prefix: string): Promise<void> => {
    for (const entry of await tree.list(directory)) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.kind === 'directory') {
        found.set(path, { path, entry });
        await visit(entry, path);
      } else {
        found.set(path, options.readContents === false ? { path, entry } : { path, entry, sha256: await contentHash(tree, entry) });
      }
    }
  };
  await visit(await tree.root(), '');
  return found;
}

/** sha256 of a file's main stream, read in 1 MiB pieces. */
export async function contentHash(tree: FileTree, entry: FileEntry): Promise<string> {
  const content = await tree.openFile(entry);
  const hash = createHash('sha256');
  for (let at = 0; at < content.size; at += 1024 * 1024) hash.update(await content.read(at, Math.min(1024 * 1024, content.size - at)));
  return hash.digest('hex');
}

/** sha256 of bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A source that counts its reads and inflates a 1 MiB chunk on each, like a snapshot chunk would cost. */
export function costlySource(base: ByteSource): ByteSource & { reads: number } {
  const chunk = deflateSync(Buffer.from(deterministicBytes(1024 * 1024, 99)));
  const source = {
    size: base.size,
    reads: 0,
    read: async (offset: number, length: number) => {
      source.reads++;
      inflateSync(chunk);
      return base.read(offset, length);
    },
  };
  return source;
}

/** `length` bytes from a seeded PRNG, so a failing case can be replayed. */
export function deterministicBytes(length: number, seed: number): Uint8Array {
  const random = prng(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    const value = Math.floor(random() * 2 ** 32);
    for (let j = 0; j < 4 && i + j < length; j++) bytes[i + j] = (value >>> (j * 8)) & 0xff;
  }
  return bytes;
}

/** A sparse copy of an image, to damage without touching the original. */
export async function copyImage(from: string, to: string): Promise<string> {
  await execa('cp', ['--sparse=always', from, to]);
  return to;
}
