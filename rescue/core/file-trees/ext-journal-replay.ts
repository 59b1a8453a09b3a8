// Decides whether an ext volume's journal is replayed and builds the replayed view: when the
// superblock says needs_recovery (incompat 0x4 RECOVER) and the journal is internal (has_journal,
// s_journal_inum at 0xE0, usually 8), the journal inode's blocks are read from the unreplayed volume,
// scanned (ext-journal.ts) and every read of the tree goes through the overlay. An external journal
// (s_journal_inum 0; s_journal_uuid at 0xD0, s_journal_dev at 0xE4) is not on this source: a notice
// says so. A journal that cannot be read is ignored with a notice: files read as the main area stands.

import { overlaySource, type OverlayBlock } from '../block-overlay-source.ts';
import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { EXT_FEATURE, EXT_SUPERBLOCK_BYTES, EXT_SUPERBLOCK_OFFSET } from '../filesystems/ext-constants.ts';
import { corrupt, Fields, readStructure } from '../filesystems/fields.ts';
import { readBlockRuns, type BlockRun } from './ext-block-runs.ts';
import { decodeInode } from './ext-inode.ts';
import { JBD2_MAGIC, scanJournal } from './ext-journal.ts';
import type { ExtVolume } from './ext-volume.ts';

/** The source to read the files through, and what the user should know about the journal. */
export interface ExtJournalView {
  readonly source: ByteSource;
  readonly notices: readonly string[];
}

/** Codes that mean "this journal is damaged": replay is skipped with a notice instead of failing the volume. */
const JOURNAL_DAMAGE_CODES: ReadonlySet<string> = new Set(['LB_FILESYSTEM_CORRUPT', 'LB_FILESYSTEM_TRUNCATED', 'LB_INPUT_READ_OUT_OF_RANGE']);

/** The replayed view of `volume` (opened on `source`), or `source` itself when there is nothing to replay. */
export async function replayExtJournal(source: ByteSource, volume: ExtVolume): Promise<ExtJournalView> {
  if (!volume.hasIncompat(EXT_FEATURE.INCOMPAT_RECOVER)) return { source, notices: [] };
  const sb = new Fields(await readStructure(source, 'ext', 'superblock', EXT_SUPERBLOCK_OFFSET, EXT_SUPERBLOCK_BYTES), EXT_SUPERBLOCK_OFFSET, 'ext');
  const unreplayed = 'The filesystem was not unmounted cleanly and its journal was not replayed: recent changes may be missing.';
  if (!(sb.u32(0x5c, 's_feature_compat') & EXT_FEATURE.COMPAT_HAS_JOURNAL)) return { source, notices: [`${unreplayed} (needs_recovery is set but there is no journal.)`] };
  const journalInode = sb.u32(0xe0, 's_journal_inum');
  if (journalInode === 0) return { source, notices: [`${unreplayed} (The journal is on another device, an external journal.)`] };
  try {
    const { bytes, offset } = await volume.readInodeBytes(journalInode);
    const inode = decodeInode(volume, journalInode, bytes, offset);
    const runs = await readBlockRuns(volume, inode);
    const journalBlocks = Math.floor(inode.size / volume.blockSize);
    const physicalOf = (block: number): number => {
      const run = findRun(runs, block);
      if (!run || run.unwritten) throw corrupt('ext', `journal inode ${journalInode}`, inode.offset, `journal block ${block} is not mapped.`);
      return run.physical + (block - run.logical);
    };
    const replay = await scanJournal({
      journalBlocks,
      blockSize: volume.blockSize,
      filesystemBlocks: volume.layout.blocksCount,
      readBlock: (block) => volume.readBlocks(physicalOf(block), 1, journalInode, 'journal block', inode.offset + 0x28),
    });
    const magic = new Uint8Array(4);
    new DataView(magic.buffer).setUint32(0, JBD2_MAGIC, false);
    const overlay = new Map<number, OverlayBlock>();
    for (const [target, copy] of replay.overlay) overlay.set(target, { from: physicalOf(copy.journalBlock), ...(copy.escaped ? { firstWord: magic } : {}) });
    const notices = [...replay.notices];
    if (replay.transactions > 0) notices.unshift(`The filesystem was not unmounted cleanly: ${replay.transactions} committed journal transaction(s) (${overlay.size} blocks) were replayed in memory; nothing was written.`);
    return { source: overlay.size > 0 ? overlaySource(source, volume.blockSize, overlay) : source, notices };
  } catch (error) {
    if (!(error instanceof LifeboatError) || !JOURNAL_DAMAGE_CODES.has(error.code)) throw error;
    return { source, notices: [`${unreplayed} The journal is damaged (${error.code}: ${error.message}).`] };
  }
}

function findRun(runs: readonly BlockRun[], block: number): BlockRun | undefined {
  let low = 0;
  let high = runs.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    const run = runs[middle]!;
    if (run.logical + run.count <= block) low = middle + 1;
    else high = middle;
  }
  const run = runs[low];
  return run && run.logical <= block ? run : undefined;
}
