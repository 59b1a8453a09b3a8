// Decides whether an ext volume's journal is replayed and builds the replayed view: when the
// superblock says needs_recovery (incompat 0x4 RECOVER) and the journal is internal (has_journal,
// s_journal_inum at 0xE0, usually 8), the journal inode's blocks are read from the unreplayed volume,
// scanned (ext-journal.ts) and every read of the tree goes through the overlay. An external journal
// (s_journal_inum 0; s_journal_uuid at 0xD0, s_journal_dev at 0xE4) is not on this source: a notice
// says so. A journal inode that is damaged, not a regular file or shorter than a journal is replaced,
// as e2fsck does, by its copy in the superblock (s_jnl_backup_type 0xFD = 1, s_jnl_blocks 0x10C:
// i_block's 15 words, then i_size_high and i_size). A journal that cannot be read is ignored with a
// notice: files read as the main area stands.

import { overlaySource, type OverlayBlock } from '../block-overlay-source.ts';
import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';
import { EXT_FEATURE, EXT_SUPERBLOCK_BYTES, EXT_SUPERBLOCK_OFFSET } from '../filesystems/ext-constants.ts';
import { corrupt, Fields, readStructure } from '../filesystems/fields.ts';
import { readBlockRuns, type BlockRun } from './ext-block-runs.ts';
import { decodeInode, EXT_INODE_FLAG, I_BLOCK_BYTES, type ExtInode } from './ext-inode.ts';
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
    const { inode, runs, notice } = await journalInodeOf(volume, sb, journalInode);
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
    const notices = [...(notice ? [notice] : []), ...replay.notices];
    if (replay.transactions > 0) notices.unshift(`The filesystem was not unmounted cleanly: ${replay.transactions} committed journal transaction(s) (${overlay.size} blocks) were replayed in memory; nothing was written.`);
    return { source: overlay.size > 0 ? overlaySource(source, volume.blockSize, overlay) : source, notices };
  } catch (error) {
    if (!(error instanceof LifeboatError) || !JOURNAL_DAMAGE_CODES.has(error.code)) throw error;
    return { source, notices: [`${unreplayed} The journal is damaged (${error.code}: ${error.message}).`] };
  }
}

/** JBD2_MIN_JOURNAL_BLOCKS: e2fsck takes a shorter journal inode for a damaged one. */
const MIN_JOURNAL_BLOCKS = 1024;
const JNL_BACKUP_BLOCKS = 1;
const EXTENT_MAGIC = 0xf30a;
const INCOMPAT_EXTENTS = 0x40;

/** The journal inode and its block runs; its superblock copy when the inode itself is unusable (e2fsck's try_backup_journal). */
async function journalInodeOf(volume: ExtVolume, sb: Fields, number: number): Promise<{ inode: ExtInode; runs: BlockRun[]; notice?: string }> {
  let problem: LifeboatError;
  try {
    const { bytes, offset } = await volume.readInodeBytes(number);
    const inode = decodeInode(volume, number, bytes, offset);
    if (inode.kind !== 'file' || inode.entry.links === 0) throw corrupt('ext', `journal inode ${number} i_mode`, offset, `the journal inode is a ${inode.kind} with ${inode.entry.links} links, not a regular file.`);
    if (inode.size / volume.blockSize < MIN_JOURNAL_BLOCKS) throw corrupt('ext', `journal inode ${number} i_size`, offset + 0x04, `${inode.size} bytes is shorter than a journal.`);
    return { inode, runs: await readBlockRuns(volume, inode) };
  } catch (error) {
    if (!(error instanceof LifeboatError) || !JOURNAL_DAMAGE_CODES.has(error.code)) throw error;
    problem = error;
  }
  if (sb.u8(0xfd, 's_jnl_backup_type') !== JNL_BACKUP_BLOCKS) throw problem;
  // An inode made of the copy: a regular file, i_block and size from s_jnl_blocks, extents when i_block holds an extent header.
  const raw = new Uint8Array(volume.inodeSize);
  const view = new DataView(raw.buffer);
  view.setUint16(0x00, 0x8180, true); // S_IFREG | 0600
  view.setUint16(0x1a, 1, true);
  raw.set(sb.slice(0x10c, I_BLOCK_BYTES, 's_jnl_blocks'), 0x28);
  view.setUint32(0x6c, sb.u32(0x10c + 15 * 4, 's_jnl_blocks[15]'), true);
  view.setUint32(0x04, sb.u32(0x10c + 16 * 4, 's_jnl_blocks[16]'), true);
  if (view.getUint16(0x28, true) === EXTENT_MAGIC && volume.hasIncompat(INCOMPAT_EXTENTS)) view.setUint32(0x20, EXT_INODE_FLAG.EXTENTS, true);
  const inode = decodeInode(volume, number, raw, sb.base + 0x10c);
  try {
    const runs = await readBlockRuns(volume, inode);
    return { inode, runs, notice: `The journal inode ${number} is damaged (${problem.message}); its copy in the superblock (s_jnl_blocks) was used, as e2fsck does.` };
  } catch (error) {
    if (error instanceof LifeboatError) throw problem; // the copy is no better: report the inode's own damage
    throw error;
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
