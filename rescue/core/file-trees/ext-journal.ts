// A read-only replay of an ext3/ext4 journal (jbd2), as the kernel's recovery (fs/jbd2/recovery.c)
// and e2fsck do it, without writing anything: the result is an overlay, each filesystem block that
// a committed transaction logged mapped to the journal block holding its newest copy. A volume taken
// from a machine that lost power (needs_recovery set) reads as the kernel would show it after mount.
//
// Format (all fields big-endian; "journal block" n is logical block n of the journal inode, usually 8):
// - Every log block starts with a 12-byte header: 0x00 h_magic 0xC03B3998, 0x04 h_blocktype
//   (1 descriptor, 2 commit, 3 superblock v1, 4 superblock v2, 5 revoke), 0x08 h_sequence.
// - Superblock (journal block 0): 0x0C s_blocksize, 0x10 s_maxlen (blocks in the journal),
//   0x14 s_first (first log block), 0x18 s_sequence (first transaction expected), 0x1C s_start (log
//   start; 0: the journal is empty); v2: 0x24/0x28/0x2C feature compat/incompat/ro_compat, 0x30
//   s_uuid (16 bytes, seeds the checksums), 0x50 s_checksum_type, 0x54 s_num_fc_blks, 0xFC s_checksum
//   (crc32c of the 1024 bytes with the field zeroed). Incompat: 0x1 REVOKE, 0x2 64BIT,
//   0x4 ASYNC_COMMIT, 0x8 CSUM_V2, 0x10 CSUM_V3, 0x20 FAST_COMMIT (the last s_num_fc_blks blocks,
//   default 256, are the fast-commit area and not part of the circular log). Compat 0x1: CHECKSUM (v1).
// - A transaction: descriptor blocks, each followed by the data blocks its tags name, optional revoke
//   blocks, then one commit block of the same h_sequence. The log is circular over [s_first, maxlen
//   minus the fast-commit area); it ends at the first block that has no magic, the wrong sequence or a
//   bad checksum; a transaction without a valid commit block is not replayed.
// - Descriptor tags, from byte 12: CSUM_V3: 16 bytes (0x0 t_blocknr, 0x4 t_flags u32, 0x8 t_blocknr_high,
//   0xC t_checksum); otherwise 0x0 t_blocknr, 0x4 t_checksum u16, 0x6 t_flags u16, then 0x8
//   t_blocknr_high with 64BIT (tag 12 bytes, or 8 without 64BIT), plus 2 bytes with CSUM_V2. A tag
//   without flag 0x2 SAME_UUID is followed by a 16-byte UUID; 0x8 LAST_TAG ends the block; 0x1 ESCAPE:
//   the data block's first 4 bytes were the magic and are stored zeroed; 0x4 DELETED is unused.
//   With CSUM_V2/V3 the last 4 bytes of descriptor and revoke blocks are a crc32c tail (whole block
//   with the tail zeroed, seeded with crc32c(~0, s_uuid)); a tag's checksum covers the be32
//   sequence then the data block (V2 keeps its low 16 bits).
// - Commit block: 0x0C h_chksum_type, 0x0D h_chksum_size, 0x10 h_chksum[0] (CSUM_V2/V3: crc32c of
//   the block with the field zeroed).
// - Revoke block: 0x0C r_count (bytes used, from the start of the block), records from byte 16, 4
//   bytes each (8 with 64BIT). A block revoked by transaction R is not replayed from transactions
//   up to and including R.

import { corrupt, Fields } from '../filesystems/fields.ts';
import { crc32cUpdate } from '../filesystems/crc32c.ts';

export const JBD2_MAGIC = 0xc03b3998;
const BLOCK_DESCRIPTOR = 1;
const BLOCK_COMMIT = 2;
const BLOCK_SUPERBLOCK_V1 = 3;
const BLOCK_SUPERBLOCK_V2 = 4;
const BLOCK_REVOKE = 5;
const HEADER_BYTES = 12;
const SUPERBLOCK_BYTES = 1024;
const REVOKE_HEADER_BYTES = 16;
const TAIL_BYTES = 4;
const UUID_BYTES = 16;
const DEFAULT_FAST_COMMIT_BLOCKS = 256;
const INCOMPAT = { REVOKE: 0x1, BIT64: 0x2, ASYNC_COMMIT: 0x4, CSUM_V2: 0x8, CSUM_V3: 0x10, FAST_COMMIT: 0x20 } as const;
const KNOWN_INCOMPAT = 0x3f;
const TAG_FLAG = { ESCAPE: 0x1, SAME_UUID: 0x2, LAST_TAG: 0x8 } as const;

/** Where the newest committed copy of one filesystem block is. */
export interface JournalCopy {
  /** Logical block of the journal that holds it. */
  readonly journalBlock: number;
  /** The copy's first 4 bytes were the jbd2 magic and are stored zeroed (JBD2_FLAG_ESCAPE). */
  readonly escaped: boolean;
}

/** The outcome of a scan: the overlay to read through, and what the user should know. */
export interface JournalReplay {
  /** Filesystem block -> its newest committed copy in the journal. */
  readonly overlay: ReadonlyMap<number, JournalCopy>;
  /** Committed transactions found (0: nothing to replay). */
  readonly transactions: number;
  /** Things skipped or not replayed (bad data-block checksums, fast commits), one sentence each. */
  readonly notices: readonly string[];
}

/** How the scan reads: one journal block (logical number, already checked < journalBlocks) per call. */
export interface JournalReader {
  /** Blocks the journal inode maps (s_maxlen may not exceed it). */
  readonly journalBlocks: number;
  readonly blockSize: number;
  /** Blocks of the filesystem: logged blocks past it are skipped. */
  readonly filesystemBlocks: number;
  readBlock(journalBlock: number): Promise<Uint8Array>;
}

interface JournalGeometry {
  readonly first: number;
  /** One past the last log block (s_maxlen, less the fast-commit area). */
  readonly last: number;
  readonly start: number;
  readonly sequence: number;
  readonly incompat: number;
  readonly version: number;
  readonly seed: number;
  readonly tagBytes: number;
  readonly checksums: boolean;
}

/** Scans the journal and returns the overlay of committed, unrevoked blocks; empty when the journal is clean. */
export async function scanJournal(reader: JournalReader): Promise<JournalReplay> {
  const geometry = readJournalSuperblock(await reader.readBlock(0), reader);
  const notices: string[] = [];
  if (geometry.incompat & INCOMPAT.FAST_COMMIT) notices.push('The journal has a fast-commit area; fast commits are not replayed (only full transactions are).');
  if (geometry.start === 0) return { overlay: new Map(), transactions: 0, notices };

  // Pass 1: find the committed transactions and their revoke records; pass 2: replay them in order.
  const transactions = await findTransactions(reader, geometry, notices);
  const revoked = new Map<number, number>();
  for (const transaction of transactions) {
    for (const block of transaction.revoked) revoked.set(block, Math.max(revoked.get(block) ?? -1, transaction.sequence));
  }
  const overlay = new Map<number, JournalCopy>();
  for (const transaction of transactions) {
    for (const tag of transaction.tags) {
      const revokedBy = revoked.get(tag.target);
      if (revokedBy !== undefined && revokedBy >= transaction.sequence) continue;
      if (tag.target >= reader.filesystemBlocks) {
        notices.push(`Journal transaction ${transaction.sequence} logs block ${tag.target}, past the filesystem's ${reader.filesystemBlocks} blocks; that block was skipped.`);
        continue;
      }
      if (geometry.checksums && !(await dataChecksumMatches(reader, geometry, transaction.sequence, tag))) {
        notices.push(`Journal transaction ${transaction.sequence}: the copy of block ${tag.target} fails its checksum; that block was not replayed.`);
        continue;
      }
      overlay.set(tag.target, { journalBlock: tag.journalBlock, escaped: tag.escaped });
    }
  }
  return { overlay, transactions: transactions.length, notices };
}

interface Tag {
  readonly target: number;
  readonly journalBlock: number;
  readonly escaped: boolean;
  readonly checksum: number;
}

interface Transaction {
  readonly sequence: number;
  readonly tags: readonly Tag[];
  readonly revoked: readonly number[];
}

function readJournalSuperblock(bytes: Uint8Array, reader: JournalReader): JournalGeometry {
  const sb = new Fields(bytes, 0, 'jbd2');
  if (sb.u32be(0, 'h_magic') !== JBD2_MAGIC) throw sb.fail(0, 'journal superblock h_magic', `0x${sb.u32be(0, 'h_magic').toString(16)} is not 0xc03b3998.`);
  const version = sb.u32be(4, 'h_blocktype');
  if (version !== BLOCK_SUPERBLOCK_V1 && version !== BLOCK_SUPERBLOCK_V2) throw sb.fail(4, 'journal superblock h_blocktype', `${version} is not a journal superblock (3 or 4).`);
  const blockSize = sb.u32be(0x0c, 's_blocksize');
  if (blockSize !== reader.blockSize) throw sb.fail(0x0c, 'journal s_blocksize', `${blockSize} differs from the filesystem's ${reader.blockSize}-byte blocks.`);
  const maxlen = sb.u32be(0x10, 's_maxlen');
  if (maxlen > reader.journalBlocks || maxlen < 2) throw sb.fail(0x10, 'journal s_maxlen', `${maxlen} blocks, but the journal inode maps ${reader.journalBlocks}.`);
  const incompat = version === BLOCK_SUPERBLOCK_V2 ? sb.u32be(0x28, 's_feature_incompat') : 0;
  if (incompat & ~KNOWN_INCOMPAT) throw sb.fail(0x28, 'journal s_feature_incompat', `unknown features 0x${(incompat & ~KNOWN_INCOMPAT).toString(16)}.`);
  const checksums = (incompat & (INCOMPAT.CSUM_V2 | INCOMPAT.CSUM_V3)) !== 0;
  if (checksums) {
    const stored = sb.u32be(0xfc, 'journal s_checksum');
    const zeroed = new Uint8Array(bytes.subarray(0, SUPERBLOCK_BYTES));
    zeroed.fill(0, 0xfc, 0x100);
    const computed = crc32cUpdate(0xffffffff, zeroed);
    if (stored !== computed) throw sb.fail(0xfc, 'journal s_checksum', `checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)}.`);
  }
  let fastCommitBlocks = 0;
  if (incompat & INCOMPAT.FAST_COMMIT) fastCommitBlocks = sb.u32be(0x54, 's_num_fc_blks') || DEFAULT_FAST_COMMIT_BLOCKS;
  const last = maxlen - fastCommitBlocks;
  const first = sb.u32be(0x14, 's_first');
  if (first < 1 || first >= last) throw sb.fail(0x14, 'journal s_first', `${first} is not inside the log (1..${last - 1}).`);
  const start = sb.u32be(0x1c, 's_start');
  if (start !== 0 && (start < first || start >= last)) throw sb.fail(0x1c, 'journal s_start', `${start} is not inside the log (${first}..${last - 1}).`);
  const uuid = sb.slice(0x30, UUID_BYTES, 's_uuid');
  let tagBytes: number;
  if (incompat & INCOMPAT.CSUM_V3) tagBytes = 16;
  else tagBytes = (incompat & INCOMPAT.BIT64 ? 12 : 8) + (incompat & INCOMPAT.CSUM_V2 ? 2 : 0);
  return { first, last, start, sequence: sb.u32be(0x18, 's_sequence'), incompat, version, seed: crc32cUpdate(0xffffffff, uuid), tagBytes, checksums };
}

/** Walks the log from s_start: the transactions that end in a valid commit block, in order. */
async function findTransactions(reader: JournalReader, geometry: JournalGeometry, notices: string[]): Promise<Transaction[]> {
  const found: Transaction[] = [];
  const logBlocks = geometry.last - geometry.first;
  let block = geometry.start;
  let sequence = geometry.sequence;
  let walked = 0;
  let tags: Tag[] = [];
  let revoked: number[] = [];
  const next = (from: number): number => (from + 1 >= geometry.last ? geometry.first : from + 1);
  // Every log block is visited at most once: a log longer than the journal is a loop.
  while (walked < logBlocks) {
    const bytes = await reader.readBlock(block);
    const header = new Fields(bytes, 0, 'jbd2');
    if (header.u32be(0, 'h_magic') !== JBD2_MAGIC || header.u32be(8, 'h_sequence') !== sequence) break;
    const type = header.u32be(4, 'h_blocktype');
    walked++;
    if (type === BLOCK_DESCRIPTOR) {
      if (geometry.checksums && !tailMatches(bytes, geometry.seed)) break;
      const parsed = parseTags(bytes, geometry);
      if (walked + parsed.length > logBlocks) {
        notices.push(`Journal transaction ${sequence}: the descriptor at journal block ${block} names more blocks than the log holds; the scan stopped there.`);
        break;
      }
      for (const tag of parsed) {
        block = next(block);
        walked++;
        tags.push({ ...tag, journalBlock: block });
      }
      block = next(block);
    } else if (type === BLOCK_REVOKE) {
      if (geometry.checksums && !tailMatches(bytes, geometry.seed)) break;
      revoked.push(...parseRevoke(bytes, geometry));
      block = next(block);
    } else if (type === BLOCK_COMMIT) {
      if (geometry.checksums && !commitMatches(bytes, geometry.seed)) break;
      found.push({ sequence, tags, revoked });
      tags = [];
      revoked = [];
      sequence = (sequence + 1) >>> 0;
      block = next(block);
    } else break;
  }
  if (tags.length > 0 || revoked.length > 0) notices.push(`Journal transaction ${sequence} has no valid commit block; it was not replayed (as the kernel would not).`);
  return found;
}

function parseTags(bytes: Uint8Array, geometry: JournalGeometry): Array<Omit<Tag, 'journalBlock'>> {
  const tags: Array<Omit<Tag, 'journalBlock'>> = [];
  const f = new Fields(bytes, 0, 'jbd2');
  const end = bytes.length - (geometry.checksums ? TAIL_BYTES : 0);
  const v3 = (geometry.incompat & INCOMPAT.CSUM_V3) !== 0;
  const is64 = (geometry.incompat & INCOMPAT.BIT64) !== 0;
  let at = HEADER_BYTES;
  while (at + geometry.tagBytes <= end) {
    const low = f.u32be(at, 't_blocknr');
    const flags = v3 ? f.u32be(at + 4, 't_flags') : f.u16be(at + 6, 't_flags');
    const high = is64 ? f.u32be(at + 8, 't_blocknr_high') : 0;
    const checksum = v3 ? f.u32be(at + 12, 't_checksum') : f.u16be(at + 4, 't_checksum');
    tags.push({ target: low + high * 2 ** 32, escaped: (flags & TAG_FLAG.ESCAPE) !== 0, checksum });
    at += geometry.tagBytes + (flags & TAG_FLAG.SAME_UUID ? 0 : UUID_BYTES);
    if (flags & TAG_FLAG.LAST_TAG) break;
  }
  return tags;
}

function parseRevoke(bytes: Uint8Array, geometry: JournalGeometry): number[] {
  const f = new Fields(bytes, 0, 'jbd2');
  const recordBytes = geometry.incompat & INCOMPAT.BIT64 ? 8 : 4;
  const limit = bytes.length - (geometry.checksums ? TAIL_BYTES : 0);
  const count = f.u32be(0x0c, 'r_count');
  if (count > limit) throw corrupt('jbd2', 'revoke r_count', 0x0c, `${count} bytes used in a ${limit}-byte revoke block.`);
  const blocks: number[] = [];
  for (let at = REVOKE_HEADER_BYTES; at + recordBytes <= count; at += recordBytes) {
    blocks.push(recordBytes === 8 ? f.u32be(at, 'revoke record high') * 2 ** 32 + f.u32be(at + 4, 'revoke record') : f.u32be(at, 'revoke record'));
  }
  return blocks;
}

/** crc32c(seed, block with its last 4 bytes zeroed) equals those 4 bytes (descriptor and revoke tails). */
function tailMatches(bytes: Uint8Array, seed: number): boolean {
  const at = bytes.length - TAIL_BYTES;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, false);
  return crc32cUpdate(crc32cUpdate(seed, bytes.subarray(0, at)), new Uint8Array(TAIL_BYTES)) === stored;
}

function commitMatches(bytes: Uint8Array, seed: number): boolean {
  const CHECKSUM_AT = 0x10;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(CHECKSUM_AT, false);
  const zeroed = new Uint8Array(bytes);
  zeroed.fill(0, CHECKSUM_AT, CHECKSUM_AT + 4);
  return crc32cUpdate(seed, zeroed) === stored;
}

async function dataChecksumMatches(reader: JournalReader, geometry: JournalGeometry, sequence: number, tag: Tag): Promise<boolean> {
  const sequenceBytes = new Uint8Array(4);
  new DataView(sequenceBytes.buffer).setUint32(0, sequence, false);
  const computed = crc32cUpdate(crc32cUpdate(geometry.seed, sequenceBytes), await reader.readBlock(tag.journalBlock));
  return geometry.incompat & INCOMPAT.CSUM_V3 ? computed === tag.checksum : (computed & 0xffff) === tag.checksum;
}
