// LUKS1/LUKS2 header probe (recognition only: nothing is decrypted).
// Format: byte 0 "LUKS\xBA\xBE", 0x06 version (u16 big-endian: 1 or 2). LUKS1: 0x68 payload offset
// (sectors, u32 BE), 0xA8 uuid (40 ASCII bytes). LUKS2 binary header: 0x08 hdr_size (u64 BE),
// 0x18 label[48], 0xA8 uuid[40]; the JSON area and its checksum are not read.

import type { ByteSource } from '../byte-source.ts';
import { Fields, hasAscii, nulTerminatedText, readIfPresent } from './fields.ts';
import type { FilesystemProbe } from './probe-types.ts';

const MAGIC = 'LUKS\u00ba\u00be';
const UUID_PATTERN = /^[0-9a-fA-F-]{1,40}$/;

/** Recognises a LUKS container and reports its version, UUID and (LUKS2) label. */
export async function probeLuks(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes || !hasAscii(bytes, 0, MAGIC)) return undefined;
  const header = new Fields(bytes, 0, 'LUKS');
  const version = header.u16be(6, 'version');
  if (version !== 1 && version !== 2) throw header.fail(6, 'version', `LUKS version ${version} is not 1 or 2.`);
  const uuid = nulTerminatedText(header.slice(0xa8, 40, 'uuid'), 'latin1');
  if (uuid !== undefined && !UUID_PATTERN.test(uuid)) throw header.fail(0xa8, 'uuid', 'the UUID holds characters a UUID cannot.');
  const label = version === 2 ? nulTerminatedText(header.slice(0x18, 48, 'label')) : undefined;
  const warnings = ['An encrypted LUKS container: its contents can be backed up only sector by sector unless it is opened first.'];
  if (version === 2) {
    const headerBytes = header.u64be(8, 'hdr_size');
    if (headerBytes < 16384 || headerBytes > 4 * 1024 * 1024) throw header.fail(8, 'hdr_size', `a ${headerBytes}-byte LUKS2 header is out of range.`);
  }
  return {
    type: 'crypto_LUKS',
    kind: 'encrypted',
    version: String(version),
    ...(label === undefined ? {} : { label }),
    ...(uuid === undefined ? {} : { uuid }),
    sizeBytes: source.size,
    state: 'unknown',
    warnings,
  };
}
