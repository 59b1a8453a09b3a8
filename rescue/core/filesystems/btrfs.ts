// btrfs superblock probe.
// Format: primary superblock at byte 65536 (4096 bytes, little-endian): 0x00 csum (CRC32C of bytes
// 0x20..0xFFF when csum_type is 0), 0x20 fsid, 0x30 bytenr (65536), 0x40 "_BHRfS_M", 0x60 log_root,
// 0x70 total_bytes, 0x78 bytes_used, 0x88 num_devices, 0x90 sectorsize, 0x94 nodesize, 0xC4 csum_type,
// 0xC9 dev_item (+0x08 total_bytes of this device, +0x42 device uuid), 0x12B label[256].

import type { ByteSource } from '../byte-source.ts';
import { crc32c } from './crc32c.ts';
import { Fields, formatUuid, hasAscii, isPowerOfTwo, nulTerminatedText, readIfPresent, truncated } from './fields.ts';
import type { FilesystemProbe, ProbeState } from './probe-types.ts';

const SUPERBLOCK_OFFSET = 65536;
const SUPERBLOCK_BYTES = 4096;
const DEV_ITEM = 0xc9;

/** Recognises btrfs and reports label, UUID, size and bytes used from the primary superblock. */
export async function probeBtrfs(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const bytes = await readIfPresent(source, SUPERBLOCK_OFFSET, SUPERBLOCK_BYTES);
  if (!bytes || !hasAscii(bytes, 0x40, '_BHRfS_M')) return undefined;
  const sb = new Fields(bytes, SUPERBLOCK_OFFSET, 'btrfs');
  const warnings: string[] = [];
  const csumType = sb.u16(0xc4, 'csum_type');
  if (csumType === 0) {
    const stored = sb.u32(0x00, 'csum');
    const computed = crc32c(bytes.subarray(0x20));
    if (stored !== computed) throw sb.fail(0x00, 'csum', `superblock checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)}.`);
  } else {
    warnings.push(`The superblock checksum (type ${csumType}) is not verified by this probe.`);
  }
  if (sb.u64(0x30, 'bytenr') !== SUPERBLOCK_OFFSET) throw sb.fail(0x30, 'bytenr', 'the primary superblock does not name its own position.');
  const sectorSize = sb.u32(0x90, 'sectorsize');
  const nodeSize = sb.u32(0x94, 'nodesize');
  if (!isPowerOfTwo(sectorSize) || sectorSize < 512 || sectorSize > 65536) throw sb.fail(0x90, 'sectorsize', `${sectorSize} is not a sector size.`);
  if (!isPowerOfTwo(nodeSize) || nodeSize < sectorSize || nodeSize > 65536) throw sb.fail(0x94, 'nodesize', `${nodeSize} is not a node size.`);
  const totalBytes = sb.u64(0x70, 'total_bytes');
  const bytesUsed = sb.u64(0x78, 'bytes_used');
  const devices = sb.u64(0x88, 'num_devices');
  const deviceBytes = sb.u64(DEV_ITEM + 0x08, 'dev_item.total_bytes');
  if (devices === 0 || devices > 65536) throw sb.fail(0x88, 'num_devices', `${devices} devices.`);
  if (totalBytes < SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES || bytesUsed > totalBytes) throw sb.fail(0x70, 'total_bytes', `${bytesUsed} bytes used of ${totalBytes}.`);
  if (deviceBytes === 0 || deviceBytes > totalBytes) throw sb.fail(DEV_ITEM + 0x08, 'dev_item.total_bytes', `${deviceBytes} bytes on this device of ${totalBytes} in all.`);
  if (deviceBytes > source.size) throw truncated('btrfs', 'dev_item.total_bytes', SUPERBLOCK_OFFSET + DEV_ITEM + 0x08, `the device part spans ${deviceBytes} bytes, the source has ${source.size}.`);
  if (devices > 1) warnings.push(`This device is one of ${devices} in the filesystem; sizes are the whole filesystem's.`);

  let state: ProbeState = 'clean';
  if (sb.u64(0x60, 'log_root') !== 0) {
    state = 'needs-check';
    warnings.push('The log tree holds fsync data that the next mount replays.');
  }
  const label = nulTerminatedText(sb.slice(0x12b, 256, 'label'));
  return {
    type: 'btrfs',
    kind: 'filesystem',
    ...(label === undefined ? {} : { label }),
    uuid: formatUuid(sb.slice(0x20, 16, 'fsid')),
    sizeBytes: deviceBytes,
    blockSize: sectorSize,
    totalBlocks: Math.floor(totalBytes / sectorSize),
    usedBytes: bytesUsed,
    state,
    warnings,
  };
}
