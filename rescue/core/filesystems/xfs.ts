// XFS superblock probe.
// Format: superblock at byte 0, big-endian: 0x00 "XFSB", 0x04 sb_blocksize, 0x08 sb_dblocks,
// 0x20 sb_uuid, 0x54 sb_agblocks, 0x58 sb_agcount, 0x64 sb_versionnum (low nibble: 4 or 5),
// 0x66 sb_sectsize, 0x68 sb_inodesize, 0x6C sb_fname[12], 0x78 sb_blocklog, 0x7E sb_inprogress,
// 0x90 sb_fdblocks, 0xE0 sb_crc (v5: CRC32C of the sector with this field zeroed, stored little-endian).

import type { ByteSource } from '../byte-source.ts';
import { crc32c } from './crc32c.ts';
import { Fields, formatUuid, hasAscii, isPowerOfTwo, nulTerminatedText, readIfPresent, readStructure, truncated } from './fields.ts';
import type { FilesystemProbe, ProbeState } from './probe-types.ts';

/** Recognises XFS and reports label, UUID, size and free blocks from the primary superblock. */
export async function probeXfs(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const head = await readIfPresent(source, 0, 512);
  if (!head || !hasAscii(head, 0, 'XFSB')) return undefined;
  let sb = new Fields(head, 0, 'XFS');
  const blockSize = sb.u32be(0x04, 'sb_blocksize');
  const sectorSize = sb.u16be(0x66, 'sb_sectsize');
  const inodeSize = sb.u16be(0x68, 'sb_inodesize');
  const version = sb.u16be(0x64, 'sb_versionnum') & 0x000f;
  if (version !== 4 && version !== 5) throw sb.fail(0x64, 'sb_versionnum', `version ${version} is not 4 or 5.`);
  if (!isPowerOfTwo(blockSize) || blockSize < 512 || blockSize > 65536 || 2 ** sb.u8(0x78, 'sb_blocklog') !== blockSize) throw sb.fail(0x04, 'sb_blocksize', `${blockSize} is not a block size.`);
  if (!isPowerOfTwo(sectorSize) || sectorSize < 512 || sectorSize > 32768) throw sb.fail(0x66, 'sb_sectsize', `${sectorSize} is not a sector size.`);
  if (!isPowerOfTwo(inodeSize) || inodeSize < 256 || inodeSize > 2048) throw sb.fail(0x68, 'sb_inodesize', `${inodeSize} is not an inode size.`);
  if (version === 5) {
    sb = new Fields(Uint8Array.from(await readStructure(source, 'XFS', 'superblock', 0, sectorSize)), 0, 'XFS');
    const stored = sb.u32(0xe0, 'sb_crc');
    sb.bytes.fill(0, 0xe0, 0xe4);
    const computed = crc32c(sb.bytes);
    if (stored !== computed) throw sb.fail(0xe0, 'sb_crc', `superblock checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)}.`);
  }
  const totalBlocks = sb.u64be(0x08, 'sb_dblocks');
  const agBlocks = sb.u32be(0x54, 'sb_agblocks');
  const agCount = sb.u32be(0x58, 'sb_agcount');
  const freeBlocks = sb.u64be(0x90, 'sb_fdblocks');
  if (agCount === 0 || agBlocks === 0 || totalBlocks === 0 || totalBlocks > agCount * agBlocks || totalBlocks <= (agCount - 1) * agBlocks) {
    throw sb.fail(0x08, 'sb_dblocks', `${totalBlocks} blocks do not match ${agCount} groups of ${agBlocks}.`);
  }
  if (freeBlocks > totalBlocks) throw sb.fail(0x90, 'sb_fdblocks', `${freeBlocks} free blocks of ${totalBlocks}.`);
  const sizeBytes = totalBlocks * blockSize;
  if (!Number.isSafeInteger(sizeBytes)) throw sb.fail(0x08, 'sb_dblocks', `${totalBlocks} blocks is out of range.`);
  if (sizeBytes > source.size) throw truncated('XFS', 'sb_dblocks', 0x08, `the filesystem spans ${sizeBytes} bytes, the source has ${source.size}.`);

  const warnings = ['Whether the XFS log is clean is not read by this probe.'];
  let state: ProbeState = 'unknown';
  if (sb.u8(0x7e, 'sb_inprogress') !== 0) {
    state = 'needs-check';
    warnings.push('mkfs.xfs did not finish making this filesystem.');
  }
  const label = nulTerminatedText(sb.slice(0x6c, 12, 'sb_fname'));
  return {
    type: 'xfs',
    kind: 'filesystem',
    ...(label === undefined ? {} : { label }),
    uuid: formatUuid(sb.slice(0x20, 16, 'sb_uuid')),
    sizeBytes,
    blockSize,
    totalBlocks,
    freeBlocks,
    usedBytes: (totalBlocks - freeBlocks) * blockSize,
    state,
    warnings,
  };
}
