// The undo file of a conversion: every sector the conversion will write (the first and last MiB,
// every EBR, the new ESP's region) and the disk's identity, written and synced before any change.
//
// Format: "LBUNDO01" (8 bytes), header length u32 LE, the header as UTF-8 JSON, then the bytes of
// each chunk not marked zero, in the header's order. The header carries the CRC32 of those bytes.
// Chunks are at most 1 MiB; an all-zero chunk is stored as a mark only (free space is mostly zeros).

import { LifeboatError } from '../errors.ts';
import { crc32 } from '../partition-table/crc32.ts';

const MAGIC = 'LBUNDO01';
const CHUNK_BYTES = 1024 * 1024;
/** A header longer than this is not an undo file's (a few KiB even with hundreds of EBRs). */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

/** Which disk an undo file belongs to. */
export interface DiskIdentity {
  readonly sizeBytes: number;
  readonly sectorSize: number;
  /** The MBR disk signature (kept by the protective MBR, so it survives the conversion). */
  readonly diskSignature: number;
  readonly serial?: string;
  /** SHA-256 of the first MiB before the conversion. */
  readonly firstMiBSha256: string;
  /** SHA-256 of a MiB inside the first partition, which the conversion never writes: tells two disks with the same table apart. */
  readonly anchor: { readonly lba: number; readonly sectors: number; readonly sha256: string };
}

/** One saved chunk. */
export interface UndoChunk {
  readonly lba: number;
  readonly sectors: number;
  readonly zero: boolean;
}

/** The decoded header of an undo file. */
export interface UndoHeader {
  readonly version: 1;
  readonly device: string;
  readonly createdAt: string;
  readonly identity: DiskIdentity;
  readonly chunks: readonly UndoChunk[];
  readonly dataCrc32: number;
}

/** Splits ranges into chunks of at most 1 MiB. */
export function undoChunks(ranges: ReadonlyArray<{ lba: number; sectors: number }>, sectorSize: number): Array<{ lba: number; sectors: number }> {
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / sectorSize));
  const out: Array<{ lba: number; sectors: number }> = [];
  for (const range of ranges) {
    for (let done = 0; done < range.sectors; done += perChunk) out.push({ lba: range.lba + done, sectors: Math.min(perChunk, range.sectors - done) });
  }
  return out;
}

const isZero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0);

/** Encodes an undo file from the saved chunks' bytes (in undoChunks order). */
export function encodeUndoFile(meta: { device: string; createdAt: string; identity: DiskIdentity }, saved: ReadonlyArray<{ lba: number; sectors: number; bytes: Uint8Array }>): Uint8Array {
  const chunks: UndoChunk[] = saved.map((chunk) => ({ lba: chunk.lba, sectors: chunk.sectors, zero: isZero(chunk.bytes) }));
  const data = Buffer.concat(saved.filter((_, i) => !chunks[i]?.zero).map((chunk) => chunk.bytes));
  const header: UndoHeader = { version: 1, ...meta, chunks, dataCrc32: crc32(data) };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([Buffer.from(MAGIC, 'latin1'), length, json, data]);
}

function invalid(detail: string): LifeboatError {
  return new LifeboatError('LB_INPUT_CONVERT_UNDO_FILE_INVALID', { detail });
}

/** Decodes and checks an undo file (magic, header, CRC32 of the data); the chunks with their bytes. */
export function decodeUndoFile(file: Uint8Array): { header: UndoHeader; chunks: Array<UndoChunk & { bytes: Uint8Array }> } {
  if (file.length < 12 || Buffer.from(file.subarray(0, 8)).toString('latin1') !== MAGIC) throw invalid('The file does not start with "LBUNDO01": it is not a Lifeboat undo file.');
  const length = Buffer.from(file.buffer, file.byteOffset, file.length).readUInt32LE(8);
  if (length > MAX_HEADER_BYTES || 12 + length > file.length) throw invalid(`The header length ${length} is past the file's end.`);
  let header: UndoHeader;
  try {
    header = JSON.parse(Buffer.from(file.subarray(12, 12 + length)).toString('utf8')) as UndoHeader;
  } catch (error) {
    throw invalid(`The header is not JSON (${(error as Error).message}).`);
  }
  if (header.version !== 1 || !Array.isArray(header.chunks) || !header.identity) throw invalid('The header is not a version 1 undo header.');
  const sectorSize = header.identity.sectorSize;
  const data = file.subarray(12 + length);
  const expected = header.chunks.reduce((sum, chunk) => sum + (chunk.zero ? 0 : chunk.sectors * sectorSize), 0);
  if (data.length !== expected) throw invalid(`The file holds ${data.length} bytes of sectors; its header lists ${expected}.`);
  if (crc32(data) !== header.dataCrc32) throw invalid('The saved sectors fail their CRC32: the file is damaged.');
  let at = 0;
  const chunks = header.chunks.map((chunk) => {
    const bytesLength = chunk.sectors * sectorSize;
    const bytes = chunk.zero ? new Uint8Array(bytesLength) : data.subarray(at, at + bytesLength);
    if (!chunk.zero) at += bytesLength;
    return { ...chunk, bytes };
  });
  return { header, chunks };
}

/** Why `disk` is not the one the undo file was made for; undefined when it is. */
export function identityMismatch(saved: DiskIdentity, current: { sizeBytes: number; sectorSize: number; diskSignature: number; serial?: string; anchorSha256: string }): string | undefined {
  if (saved.sizeBytes !== current.sizeBytes) return `its size is ${current.sizeBytes} bytes, the undo file's disk had ${saved.sizeBytes}`;
  if (saved.sectorSize !== current.sectorSize) return `its sectors are ${current.sectorSize} bytes, the undo file's were ${saved.sectorSize}`;
  if (saved.serial && current.serial && saved.serial !== current.serial) return `its serial is ${current.serial}, the undo file's disk was ${saved.serial}`;
  if (saved.diskSignature !== current.diskSignature) return `its MBR disk signature is 0x${current.diskSignature.toString(16).padStart(8, '0')}, the undo file's was 0x${saved.diskSignature.toString(16).padStart(8, '0')}`;
  if (saved.anchor.sha256 !== current.anchorSha256) return `the MiB at LBA ${saved.anchor.lba} (inside its first partition, never written by a conversion) differs`;
  return undefined;
}
