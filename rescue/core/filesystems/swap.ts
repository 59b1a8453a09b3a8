// Linux swap header probe (and hibernation images written over swap).
// Format: the signature sits in the last 10 bytes of the first page: "SWAPSPACE2" (v1) or "SWAP-SPACE"
// (v0); "S1SUSPEND", "S2SUSPEND", "ULSUSPEND", "LINHIB0001" mean a hibernation image. The v1 header at
// byte 1024: 0x00 version (1), 0x04 last_page, 0x08 nr_badpages, 0x0C uuid[16], 0x1C volume_name[16];
// native byte order, so a big-endian header is recognised by its version.

import type { ByteSource } from '../byte-source.ts';
import { Fields, formatUuid, hasAscii, nulTerminatedText, readIfPresent, truncated } from './fields.ts';
import type { FilesystemProbe } from './probe-types.ts';

const PAGE_SIZES = [4096, 8192, 16384, 32768, 65536];
const HIBERNATION_SIGNATURES = ['S1SUSPEND', 'S2SUSPEND', 'ULSUSPEND', 'LINHIB0001'];
const HEADER_OFFSET = 1024;
const MAX_BAD_PAGES = 637; // what fits in the first 4 KiB page

/** Recognises swap; reports page size, size, label and UUID, and hibernation images as hibernated. */
export async function probeSwap(source: ByteSource): Promise<FilesystemProbe | undefined> {
  for (const pageSize of PAGE_SIZES) {
    const tail = await readIfPresent(source, pageSize - 10, 10);
    if (!tail) return undefined;
    if (HIBERNATION_SIGNATURES.some((signature) => hasAscii(tail, 0, signature))) return hibernated(pageSize);
    if (hasAscii(tail, 0, 'SWAP-SPACE')) return { type: 'swap', kind: 'swap', version: '0', blockSize: pageSize, state: 'clean', warnings: ['Old version 0 swap header.'] };
    if (hasAscii(tail, 0, 'SWAPSPACE2')) return readHeader(source, pageSize);
  }
  return undefined;
}

async function readHeader(source: ByteSource, pageSize: number): Promise<FilesystemProbe> {
  const bytes = await readIfPresent(source, HEADER_OFFSET, 44);
  if (!bytes) throw truncated('swap', 'header', HEADER_OFFSET, 'the source ends inside the swap header.');
  const header = new Fields(bytes, HEADER_OFFSET, 'swap');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const littleEndian = view.getUint32(0, true) === 1;
  if (!littleEndian && view.getUint32(0, false) !== 1) throw header.fail(0, 'version', `swap header version ${view.getUint32(0, true)} is not 1.`);
  const lastPage = view.getUint32(4, littleEndian);
  const badPages = view.getUint32(8, littleEndian);
  if (lastPage === 0) throw header.fail(4, 'last_page', 'the swap area has no pages.');
  if (badPages > MAX_BAD_PAGES) throw header.fail(8, 'nr_badpages', `${badPages} bad pages do not fit the header.`);
  const sizeBytes = (lastPage + 1) * pageSize;
  if (sizeBytes > source.size) throw truncated('swap', 'last_page', HEADER_OFFSET + 4, `the swap area spans ${sizeBytes} bytes, the source has ${source.size}.`);
  const label = nulTerminatedText(header.slice(0x1c, 16, 'volume_name'));
  return {
    type: 'swap',
    kind: 'swap',
    version: '1',
    ...(label === undefined ? {} : { label }),
    uuid: formatUuid(header.slice(0x0c, 16, 'uuid')),
    sizeBytes,
    blockSize: pageSize,
    totalBlocks: lastPage + 1,
    state: 'clean',
    warnings: littleEndian ? [] : ['The swap header is big-endian (made on another architecture).'],
  };
}

function hibernated(pageSize: number): FilesystemProbe {
  return { type: 'swap', kind: 'swap', blockSize: pageSize, state: 'hibernated', warnings: ['The swap area holds a hibernated Linux system; resuming it after a restore would lose data.'] };
}
