// The parts of an ext2/3/4 filesystem every file read needs: the checked geometry (ext-layout.ts),
// the few superblock fields the used-block map does not keep, group descriptors (cached per
// descriptor block) and inode-table reads (cached in 64 KiB pieces, so listing a folder of a
// thousand files reads its inodes in a handful of reads). Superblock fields beyond ext-layout.ts:
// 0x00 s_inodes_count, 0x28 s_inodes_per_group, 0x58 s_inode_size, 0x60 s_feature_incompat,
// 0x64 s_feature_ro_compat. Descriptor field: 0x08/0x28 bg_inode_table lo/hi.

import { readInto, type ByteSource } from '../byte-source.ts';
import { descriptorBlockLocation, readExtLayout, type ExtLayout } from '../block-maps/ext-layout.ts';
import { EXT_SUPERBLOCK_BYTES, EXT_SUPERBLOCK_OFFSET } from '../filesystems/ext-constants.ts';
import { corrupt, Fields, readStructure } from '../filesystems/fields.ts';

const INODE_CHUNK_BYTES = 64 * 1024;
const CACHED_INODE_CHUNKS = 64;
const CACHED_DESCRIPTOR_BLOCKS = 64;

/** Incompat and ro_compat features the file reader looks at (beyond ext-constants.ts). */
export const EXT_READ_FEATURE = {
  INCOMPAT_FILETYPE: 0x2,
  INCOMPAT_EA_INODE: 0x400,
  INCOMPAT_LARGEDIR: 0x4000,
  INCOMPAT_INLINE_DATA: 0x8000,
  RO_COMPAT_HUGE_FILE: 0x8,
} as const;

/** An opened ext volume: geometry plus cached metadata reads, shared by every file of one tree. */
export class ExtVolume {
  readonly source: ByteSource;
  readonly layout: ExtLayout;
  readonly inodeSize: number;
  readonly inodesPerGroup: number;
  readonly inodesCount: number;
  readonly incompat: number;
  readonly roCompat: number;
  /** metadata_csum: the seed inode, extent and directory checksums start from (ext-checksums.ts); undefined without. */
  readonly checksumSeed: number | undefined;
  private readonly descriptorBlocks = new Map<number, Promise<Fields>>();
  private readonly inodeChunks = new Map<number, Promise<Uint8Array>>();

  private constructor(source: ByteSource, layout: ExtLayout, sb: Fields) {
    this.source = source;
    this.layout = layout;
    this.incompat = sb.u32(0x60, 's_feature_incompat');
    this.roCompat = sb.u32(0x64, 's_feature_ro_compat');
    this.checksumSeed = layout.descriptorChecksum?.kind === 'crc32c' ? layout.descriptorChecksum.seed : undefined;
    // readExtLayout checked both (power of two >= 128 and <= block size; 1..8 x block size).
    this.inodeSize = sb.u32(0x4c, 's_rev_level') === 0 ? 128 : sb.u16(0x58, 's_inode_size');
    this.inodesPerGroup = sb.u32(0x28, 's_inodes_per_group');
    this.inodesCount = sb.u32(0x00, 's_inodes_count');
    if (this.inodesCount > this.inodesPerGroup * layout.groupCount) {
      throw sb.fail(0x00, 's_inodes_count', `${this.inodesCount} inodes do not fit ${layout.groupCount} groups of ${this.inodesPerGroup}.`);
    }
  }

  /** Reads and checks the superblock; undefined when the source holds no ext filesystem. */
  static async open(source: ByteSource): Promise<ExtVolume | undefined> {
    const layout = await readExtLayout(source);
    if (!layout) return undefined;
    const bytes = await readStructure(source, 'ext', 'superblock', EXT_SUPERBLOCK_OFFSET, EXT_SUPERBLOCK_BYTES);
    return new ExtVolume(source, layout, new Fields(bytes, EXT_SUPERBLOCK_OFFSET, 'ext'));
  }

  get blockSize(): number {
    return this.layout.blockSize;
  }

  hasIncompat(flag: number): boolean {
    return (this.incompat & flag) !== 0;
  }

  /** Throws LB_FILESYSTEM_CORRUPT unless blocks [start, start+count) lie inside the filesystem. */
  checkBlocks(start: number, count: number, inode: number, field: string, offset: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || count < 1 || start < this.layout.firstDataBlock || start + count > this.layout.blocksCount) {
      throw corrupt('ext', `inode ${inode} ${field}`, offset, `blocks ${start}..${start + count - 1} lie outside the filesystem's ${this.layout.blocksCount} blocks.`);
    }
  }

  /** Reads `count` whole blocks (checked first) into a new buffer. */
  async readBlocks(start: number, count: number, inode: number, field: string, offset: number): Promise<Uint8Array> {
    this.checkBlocks(start, count, inode, field, offset);
    const bytes = new Uint8Array(count * this.blockSize);
    await readInto(this.source, bytes, start * this.blockSize);
    return bytes;
  }

  /** The raw bytes of inode `inode` (a copy of inodeSize bytes) and their absolute offset. */
  async readInodeBytes(inode: number): Promise<{ bytes: Uint8Array; offset: number }> {
    if (!Number.isSafeInteger(inode) || inode < 1 || inode > this.inodesCount) {
      throw corrupt('ext', 'inode number', 0, `inode ${inode} is not between 1 and ${this.inodesCount}.`);
    }
    const group = Math.floor((inode - 1) / this.inodesPerGroup);
    const index = (inode - 1) % this.inodesPerGroup;
    const tableBlock = await this.inodeTable(group);
    const tableStart = tableBlock * this.blockSize;
    const tableBytes = this.inodesPerGroup * this.inodeSize;
    const within = index * this.inodeSize;
    const chunkStart = Math.floor(within / INODE_CHUNK_BYTES) * INODE_CHUNK_BYTES;
    const chunkLength = Math.min(INODE_CHUNK_BYTES, tableBytes - chunkStart);
    const chunk = await this.cachedInodeChunk(tableStart + chunkStart, chunkLength);
    const at = within - chunkStart;
    return { bytes: new Uint8Array(chunk.subarray(at, at + this.inodeSize)), offset: tableStart + within };
  }

  private async inodeTable(group: number): Promise<number> {
    const index = Math.floor(group / this.layout.descPerBlock);
    const block = await this.descriptorBlock(index);
    const at = (group % this.layout.descPerBlock) * this.layout.descSize;
    const table = block.u32(at + 0x08, 'bg_inode_table') + (this.layout.is64 ? block.u32(at + 0x28, 'bg_inode_table_hi') * 2 ** 32 : 0);
    const tableBlocks = this.layout.inodeBlocksPerGroup;
    if (table < this.layout.firstDataBlock || table === 0 || table + tableBlocks > this.layout.blocksCount) {
      throw block.fail(at + 0x08, 'bg_inode_table', `group ${group}'s inode table (blocks ${table}..${table + tableBlocks - 1}) lies outside the ${this.layout.blocksCount} blocks.`);
    }
    return table;
  }

  private descriptorBlock(index: number): Promise<Fields> {
    let pending = this.descriptorBlocks.get(index);
    if (!pending) {
      pending = (async () => {
        const block = descriptorBlockLocation(this.layout, index);
        const offset = block * this.blockSize;
        if (block >= this.layout.blocksCount) throw corrupt('ext', 'group descriptor block', offset, `block ${block} is past the ${this.layout.blocksCount} blocks.`);
        return new Fields(new Uint8Array(await readStructure(this.source, 'ext', 'group descriptor block', offset, this.blockSize)), offset, 'ext');
      })();
      pending.catch(() => this.descriptorBlocks.delete(index));
      this.descriptorBlocks.set(index, pending);
      if (this.descriptorBlocks.size > CACHED_DESCRIPTOR_BLOCKS) this.descriptorBlocks.delete(this.descriptorBlocks.keys().next().value as number);
    }
    return pending;
  }

  private cachedInodeChunk(offset: number, length: number): Promise<Uint8Array> {
    let pending = this.inodeChunks.get(offset);
    if (pending) {
      this.inodeChunks.delete(offset); // most recently used last
    } else {
      pending = (async () => {
        const bytes = new Uint8Array(length);
        await readInto(this.source, bytes, offset);
        return bytes;
      })();
      pending.catch(() => this.inodeChunks.delete(offset));
    }
    this.inodeChunks.set(offset, pending);
    while (this.inodeChunks.size > CACHED_INODE_CHUNKS) this.inodeChunks.delete(this.inodeChunks.keys().next().value as number);
    return pending;
  }
}
