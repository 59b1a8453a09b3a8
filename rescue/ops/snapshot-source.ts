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

/** One cached chunk: its bytes (in `slot` when the repository reads into given memory) and who still reads them. */
interface CachedChunk {
  readonly bytes: Promise<Uint8Array>;
  readonly slot: Uint8Array | undefined;
  users: number;
  evicted: boolean;
}

/**
 * Opens a volume's content (a snapshot's partition or its whole partition image) for reading.
 * Chunks are opened into shared memory kept for the volume's life (a slot returns to the pool when
 * its chunk has left the cache and no read still copies from it): a `get` of a 16 MiB file took
 * 16 fresh megabytes per pass, and fresh memory costs a page fault per 4 KiB.
 */
export async function openSnapshotVolume(repository: RepositoryReader, content: VolumeContent, chunkBytes: number): Promise<ByteSource> {
  const { chunks } = await loadContent(repository, content, chunkBytes);
  const cache = new Map<number, CachedChunk>();
  const free: Uint8Array[] = [];
  const recycle = (entry: CachedChunk) => {
    if (!entry.evicted || entry.users > 0 || !entry.slot) return;
    const { slot } = entry;
    // A read still under way writes into the slot: it goes back to the pool once that has ended.
    void entry.bytes.then(() => free.push(slot), () => free.push(slot));
  };
  const chunk = (index: number): CachedChunk | undefined => {
    const id = chunks.get(index);
    if (id === undefined) return undefined; // all zeros: never stored
    let entry = cache.get(index);
    if (entry) {
      cache.delete(index); // most recently used last
    } else {
      const slot = repository.readBlobInto ? (free.pop() ?? new Uint8Array(new SharedArrayBuffer(chunkBytes + 1))) : undefined;
      const bytes = slot && repository.readBlobInto ? repository.readBlobInto(id, slot, { few: true }) : repository.readBlob(id);
      const fresh: CachedChunk = { bytes, slot, users: 0, evicted: false };
      bytes.catch(() => {
        if (cache.get(index) === fresh) {
          cache.delete(index);
          fresh.evicted = true;
          recycle(fresh);
        }
      });
      entry = fresh;
    }
    cache.set(index, entry);
    while (cache.size > CACHED_CHUNKS) {
      const oldest = cache.keys().next().value as number;
      const old = cache.get(oldest)!;
      cache.delete(oldest);
      old.evicted = true;
      recycle(old);
    }
    return entry;
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
      const entry = chunk(index);
      if (!entry) {
        target.fill(0, from - offset, to - offset);
        continue;
      }
      entry.users++;
      pieces.push(entry.bytes.then((bytes) => {
        // A stored chunk shorter than the range (the volume's last one) reads as zeros past its end.
        const available = Math.max(0, Math.min(to, chunkStart + bytes.length) - from);
        target.set(bytes.subarray(from - chunkStart, from - chunkStart + available), from - offset);
        target.fill(0, from - offset + available, to - offset);
      }).finally(() => {
        entry.users--;
        recycle(entry);
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
