// BitLocker volume probe (recognition only).
// Format: boot sector at byte 0: "\xEB\x52\x90-FVE-FS-" (Vista), "\xEB\x58\x90-FVE-FS-" (Windows 7+) or
// "\xEB\x58\x90MSWIN4.1" (To Go, then confirmed by its metadata). Windows 7+: 0x43 volume serial (u32),
// 0xB0 first FVE metadata block offset; To Go: 0x1B8. The metadata block starts "-FVE-FS-", +0x0A version.

import type { ByteSource } from '../byte-source.ts';
import { Fields, hasAscii, readIfPresent } from './fields.ts';
import type { FilesystemProbe } from './probe-types.ts';

const WARNING = 'A BitLocker-encrypted volume: it can be backed up only sector by sector unless it is unlocked first.';

/** Recognises a BitLocker volume and reports the metadata version blkid shows. */
export async function probeBitlocker(source: ByteSource): Promise<FilesystemProbe | undefined> {
  const bytes = await readIfPresent(source, 0, 512);
  if (!bytes) return undefined;
  const header = new Fields(bytes, 0, 'BitLocker');
  const vista = hasAscii(bytes, 0, '\u00eb\u0052\u0090-FVE-FS-');
  const win7 = hasAscii(bytes, 0, '\u00eb\u0058\u0090-FVE-FS-');
  const toGo = hasAscii(bytes, 0, '\u00eb\u0058\u0090MSWIN4.1');
  if (vista) return { type: 'BitLocker', kind: 'encrypted', sizeBytes: source.size, state: 'unknown', warnings: [WARNING] };
  if (!win7 && !toGo) return undefined;
  const metadataOffset = header.u64(win7 ? 0xb0 : 0x1b8, 'FVE metadata offset');
  if (metadataOffset === 0 || metadataOffset % 64 !== 0) {
    if (toGo) return undefined;
    throw header.fail(0xb0, 'FVE metadata offset', `${metadataOffset} is not a metadata block position.`);
  }
  const metadata = await readIfPresent(source, metadataOffset, 12);
  if (!metadata || !hasAscii(metadata, 0, '-FVE-FS-')) {
    if (toGo) return undefined;
    throw header.fail(0xb0, 'FVE metadata offset', `no FVE metadata block at byte ${metadataOffset}.`);
  }
  const version = new Fields(metadata, metadataOffset, 'BitLocker').u16(10, 'metadata version');
  return {
    type: 'BitLocker',
    kind: 'encrypted',
    version: String(version),
    ...(win7 && header.u32(0x43, 'volume serial') !== 0 ? { uuid: formatSerialAsBlkid(header.u32(0x43, 'volume serial') | 0) } : {}),
    sizeBytes: source.size,
    state: 'unknown',
    warnings: [WARNING],
  };
}

/** blkid prints the Windows 7 serial with printf("%016d"): a signed decimal, zero-padded to 16. */
function formatSerialAsBlkid(serial: number): string {
  return serial < 0 ? `-${String(-serial).padStart(15, '0')}` : String(serial).padStart(16, '0');
}
