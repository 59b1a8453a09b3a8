// LVM2 physical volume label probe (recognition only: metadata areas are not read).
// Format: the label sits in one of sectors 0-3: 0x00 "LABELONE", 0x08 sector_xl (its own sector number),
// 0x10 crc_xl (LVM's CRC32 of bytes 0x14..0x1FF, seed 0xF597A6CF, no final inversion), 0x14 offset_xl
// (of the PV header in this sector), 0x18 "LVM2 001". PV header: 0x00 pv_uuid (32 ASCII characters),
// 0x20 device_size_xl (bytes, u64).

import type { ByteSource } from '../byte-source.ts';
import { Fields, hasAscii, readIfPresent, truncated } from './fields.ts';
import type { FilesystemProbe } from './probe-types.ts';

const SECTOR_BYTES = 512;
const LABEL_SECTORS = 4;
const CRC_SEED = 0xf597a6cf;

/** Recognises an LVM2 physical volume and reports its UUID (as blkid groups it) and size. */
export async function probeLvm(source: ByteSource): Promise<FilesystemProbe | undefined> {
  for (let sector = 0; sector < LABEL_SECTORS; sector++) {
    const bytes = await readIfPresent(source, sector * SECTOR_BYTES, SECTOR_BYTES);
    if (!bytes) return undefined;
    if (!hasAscii(bytes, 0, 'LABELONE') || !hasAscii(bytes, 0x18, 'LVM2 001')) continue;
    const label = new Fields(bytes, sector * SECTOR_BYTES, 'LVM2');
    if (label.u64(0x08, 'sector_xl') !== sector) throw label.fail(0x08, 'sector_xl', `the label says it is in sector ${label.u64(0x08, 'sector_xl')}, found in ${sector}.`);
    const stored = label.u32(0x10, 'crc_xl');
    const computed = lvmCrc(bytes.subarray(0x14));
    if (stored !== computed) throw label.fail(0x10, 'crc_xl', `label checksum 0x${stored.toString(16)} does not match 0x${computed.toString(16)}.`);
    const pvOffset = label.u32(0x14, 'offset_xl');
    if (pvOffset < 0x20 || pvOffset + 40 > SECTOR_BYTES) throw label.fail(0x14, 'offset_xl', `PV header at ${pvOffset} does not fit the sector.`);
    const rawUuid = Buffer.from(label.slice(pvOffset, 32, 'pv_uuid')).toString('latin1');
    if (!/^[0-9A-Za-z!#]{32}$/.test(rawUuid)) throw label.fail(pvOffset, 'pv_uuid', 'the PV UUID holds characters LVM never writes.');
    const sizeBytes = label.u64(pvOffset + 0x20, 'device_size_xl');
    if (sizeBytes > source.size) throw truncated('LVM2', 'device_size_xl', sector * SECTOR_BYTES + pvOffset + 0x20, `the PV spans ${sizeBytes} bytes, the source has ${source.size}.`);
    return {
      type: 'LVM2_member',
      kind: 'lvm-member',
      version: 'LVM2 001',
      uuid: groupLvmUuid(rawUuid),
      sizeBytes: sizeBytes || source.size,
      state: 'unknown',
      warnings: ['An LVM physical volume: its logical volumes are probed after the volume group is activated.'],
    };
  }
  return undefined;
}

/** LVM's 32-character UUID in the 6-4-4-4-4-4-6 groups blkid and pvs show. */
function groupLvmUuid(raw: string): string {
  const groups = [6, 4, 4, 4, 4, 4, 6];
  let at = 0;
  return groups.map((length) => raw.slice(at, (at += length))).join('-');
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, index) => {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  return crc >>> 0;
});

function lvmCrc(bytes: Uint8Array): number {
  let crc = CRC_SEED;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return crc >>> 0;
}
