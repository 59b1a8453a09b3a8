// Linux software RAID (md) member probe (recognition only).
// Format: superblock magic 0xA92B4EFC (u32 little-endian). Version 0.90: 4 KiB at the last 64 KiB-aligned
// block before the end: 0x04 major (0), 0x08 minor (90), 0x14 set_uuid0, 0x34..0x3C set_uuid1..3.
// 0x20 size (KiB of data before it). Version 1.x at byte 0 (1.1), 4096 (1.2) or 8 KiB from the
// 4 KiB-aligned end (1.0): 0x04 major (1),
// 0x10 set_uuid[16], 0x20 set_name[32], 0x90 super_offset (sectors, must be where it was found),
// 0xA8 device_uuid, 0xD8 sb_csum, 0xDC max_dev; the checksum sums the 256-byte header and
// 2*max_dev bytes of roles as u32 words (sb_csum zeroed), folded to 32 bits.

import type { ByteSource } from '../byte-source.ts';
import { Fields, formatUuid, nulTerminatedText, readIfPresent } from './fields.ts';
import type { FilesystemProbe } from './probe-types.ts';

const MD_MAGIC = 0xa92b4efc;
const MAX_DEVICES = 1920;
const WARNING = 'A Linux RAID member: back up the assembled array (/dev/mdN), or every member sector by sector.';

/** Recognises an md RAID member (superblock 0.90, 1.0, 1.1, 1.2) and reports its array UUID and name. */
export async function probeMdRaid(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const atEnd = await probeVersion090(source);
  if (atEnd) return atEnd;
  const candidates: Array<[string, number]> = [['1.1', 0], ['1.2', 4096]];
  if (source.size > 0x10000) candidates.unshift(['1.0', Math.floor(source.size / 4096) * 4096 - 8192]);
  for (const [version, offset] of candidates) {
    const found = await probeVersion1(source, offset, version);
    if (found) return found;
  }
  return undefined;
}

async function probeVersion1(source: ByteSource, offset: number, version: string): Promise<FilesystemProbe | undefined> {
  const head = await readIfPresent(source, offset, 256);
  if (!head) return undefined;
  let sb = new Fields(head, offset, 'md');
  if (sb.u32(0, 'magic') !== MD_MAGIC || sb.u32(4, 'major_version') !== 1) return undefined;
  if (sb.u64(0x90, 'super_offset') !== offset / 512) return undefined; // a copy seen through another offset
  const maxDevices = sb.u32(0xdc, 'max_dev');
  if (maxDevices > MAX_DEVICES) throw sb.fail(0xdc, 'max_dev', `${maxDevices} devices (at most ${MAX_DEVICES}).`);
  const full = await readIfPresent(source, offset, 256 + maxDevices * 2);
  if (!full) throw sb.fail(0xdc, 'max_dev', 'the device roles run past the end of the source.');
  sb = new Fields(full, offset, 'md');
  const stored = sb.u32(0xd8, 'sb_csum');
  const computed = version1Checksum(full);
  if (stored !== computed) throw sb.fail(0xd8, 'sb_csum', `superblock checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)}.`);
  const label = nulTerminatedText(sb.slice(0x20, 32, 'set_name'));
  return {
    type: 'linux_raid_member',
    kind: 'raid-member',
    version,
    ...(label === undefined ? {} : { label }),
    uuid: formatUuid(sb.slice(0x10, 16, 'set_uuid')),
    state: 'unknown',
    warnings: [WARNING],
  };
}

async function probeVersion090(source: ByteSource): Promise<FilesystemProbe | undefined> {
  if (source.size < 0x20000) return undefined;
  const offset = Math.floor(source.size / 0x10000) * 0x10000 - 0x10000;
  const bytes = await readIfPresent(source, offset, 0x40);
  if (!bytes) return undefined;
  const sb = new Fields(bytes, offset, 'md');
  if (sb.u32(0, 'magic') !== MD_MAGIC || sb.u32(4, 'major_version') !== 0) return undefined;
  const minor = sb.u32(8, 'minor_version');
  const dataBytes = sb.u32(0x20, 'size') * 1024;
  if (offset < dataBytes) return undefined; // as blkid: the array data must fit before the superblock
  const words = [sb.u32(0x14, 'set_uuid0'), ...(minor >= 90 ? [sb.u32(0x34, 'set_uuid1'), sb.u32(0x38, 'set_uuid2'), sb.u32(0x3c, 'set_uuid3')] : [0, 0, 0])];
  const uuid = new Uint8Array(16);
  const view = new DataView(uuid.buffer);
  words.forEach((word, index) => view.setUint32(index * 4, word, false));
  return {
    type: 'linux_raid_member',
    kind: 'raid-member',
    version: `0.${minor}.${sb.u32(12, 'patch_version')}`,
    uuid: formatUuid(uuid),
    state: 'unknown',
    warnings: [WARNING],
  };
}

function version1Checksum(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let sum = 0n;
  let low = 0;
  for (let at = 0; at + 4 <= bytes.length; at += 4) low += at === 0xd8 ? 0 : view.getUint32(at, true);
  sum = BigInt(low);
  if (bytes.length % 4 === 2) sum += BigInt(view.getUint16(bytes.length - 2, true));
  return Number((sum & 0xffffffffn) + (sum >> 32n)) >>> 0;
}
