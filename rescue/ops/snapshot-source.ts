// A volume inside a snapshot as random-access bytes: a read fetches, checks and decompresses only
// the chunks it touches, and keeps the most recent ones, since filesystem readers come back to the
// same metadata blocks again and again. Browsing and single-file restore read through this, so a
// file comes back without restoring the partition first.

import type { ByteSource } from '../core/byte-source.ts';
import { checkRange } from '../core/byte-source.ts';
import type { VolumeContent } from '../core/repository/format.ts';
import type { RepositoryReader } from '../core/repository/repository-port.ts';
import { loadContent } from './restore.ts';

/** Decompressed chunks kept per opened volume (32 MiB with the default 1 MiB chunks). */
const CACHED_CHUNKS = 32;

/** Opens a volume's content (a snapshot's partition or its whole partition image) for reading. */
export async function openSnapshotVolume(repository: RepositoryReader, content: VolumeContent, chunkBytes: number): Promise<ByteSource> {
  const { chunks } = await loadContent(repository, content, chunkBytes);
  const cache = new Map<number, Promise<Uint8Array>>();
  const chunk = (index: number): Promise<Uint8Array> | undefined => {
    const id = chunks.get(index);
    if (id === undefined) return undefined; // all zeros: never stored
    let bytes = cache.get(index);
    if (bytes) {
      cache.delete(index); // most recently used last
    } else {
      bytes = repository.readBlob(id);
      bytes.catch(() => cache.delete(index));
    }
    cache.set(index, bytes);
    while (cache.size > CACHED_CHUNKS) cache.delete(cache.keys().next().value as number);
    return bytes;
  };
  const readInto = async (target: Uint8Array, offset: number): Promise<void> => {
    checkRange(content.sizeBytes, offset, target.length);
    const first = Math.floor(offset / chunkBytes);
    const last = target.length === 0 ? first - 1 : Math.floor((offset + target.length - 1) / chunkBytes);
    const pieces: Array<Promise<void>> = [];
    for (let index = first; index <= last; index++) {
      const chunkStart = index * chunkBytes;
      const from = Math.max(offset, chunkStart);
      const to = Math.min(offset + target.length, chunkStart + chunkBytes);
      const pending = chunk(index);
      if (!pending) {
        target.fill(0, from - offset, to - offset);
        continue;
      }
      pieces.push(pending.then((bytes) => {
        // A stored chunk shorter than the range (the volume's last one) reads as zeros past its end.
        const available = Math.max(0, Math.min(to, chunkStart + bytes.length) - from);
        target.set(bytes.subarray(from - chunkStart, from - chunkStart + available), from - offset);
        target.fill(0, from - offset + available, to - offset);
      }));
    }
    await Promise.all(pieces);
  };
  return {
    size: content.sizeBytes,
    read: async (offset, length) => {
      checkRange(content.sizeBytes, offset, length);
      const target = new Uint8Array(length);
      await readInto(target, offset);
      return target;
    },
    readInto,
  };
}
