// The fixed-size descriptor at the start of a partclone image (versions 0001 and 0002), decoded and
// checked field by field before anything else in the image is read. Layout: PARTCLONE-FORMAT.md.

import { LifeboatError } from '../errors.ts';
import { PARTCLONE_CRC_SEED, updatePartcloneCrc } from './partclone-checksum.ts';

/** Bytes before the bitmap in a version 0002 image (header, filesystem facts, options, CRC). */
export const PARTCLONE_V2_HEADER_BYTES = 110;
/** Bytes before the bitmap in a version 0001 image (36 + 28 + a 4096-byte options area). */
export const PARTCLONE_V1_HEADER_BYTES = 4160;
/** Both versions begin with this 15-byte magic. */
export const PARTCLONE_MAGIC = 'partclone-image';

const V2_OPTIONS_BYTES = 18;
const ENDIAN_MAGIC = 0xc0de;
const MIN_BLOCK_BYTES = 512;
const MAX_BLOCK_BYTES = 64 * 1024;
/** 2^33 blocks: a 1 GiB bitmap in memory, 32 TiB at 4 KiB blocks. */
const MAX_TOTAL_BLOCKS = 2 ** 33;
/** 1 PiB: far past any partition Clonezilla saves, well inside exact Number arithmetic. */
const MAX_DEVICE_BYTES = 2 ** 50;

const CHECKSUM_MODES = { 0x00: 'none', 0x20: 'crc32' } as const;
const CHECKSUM_BYTES = { none: 0, crc32: 4, 'crc32-0001': 4 } as const;
const BITMAP_MODES = { 0x00: 'none', 0x01: 'bit', 0x08: 'byte' } as const;

/** What a partclone image says about itself: enough to read the rest and to restore it. */
export interface PartcloneHeader {
  readonly imageVersion: 1 | 2;
  /** The partclone that wrote it ("0.3.23"); empty for version 0001. */
  readonly partcloneVersion: string;
  /** partclone's filesystem tag: EXTFS, EXT4, FAT32, NTFS, raw... */
  readonly filesystem: string;
  readonly deviceSizeBytes: number;
  readonly blockSize: number;
  readonly totalBlocks: number;
  /** Used blocks as the header states them (the bitmap is counted and compared by the reader). */
  readonly usedBlocks: number;
  /** Used blocks as the filesystem's own superblock counts them (version 0002 only, informative). */
  readonly superBlockUsedBlocks: number | undefined;
  readonly checksum: 'none' | 'crc32' | 'crc32-0001';
  readonly checksumBytes: number;
  /** A checksum follows every this many used blocks (and one after a last, shorter group). */
  readonly blocksPerChecksum: number;
  /** Whether the checksum state restarts from the seed after each stored checksum. */
  readonly reseedChecksum: boolean;
  readonly bitmap: 'bit' | 'byte' | 'none';
  /** Bytes of the bitmap as stored in the image (without its CRC or magic). */
  readonly bitmapBytes: number;
}

/** A LifeboatError for a damaged (default), truncated or unsupported partclone image. */
export function partcloneError(detail: string, context: Record<string, unknown> = {}, code: 'LB_INPUT_IMAGE_CORRUPT' | 'LB_INPUT_IMAGE_TRUNCATED' | 'LB_INPUT_IMAGE_UNSUPPORTED' = 'LB_INPUT_IMAGE_CORRUPT'): LifeboatError {
  return new LifeboatError(code, { detail: `partclone image: ${detail}`, ...context });
}

/** The image version named by the first 36 bytes: throws unless they carry the magic and 0001 or 0002. */
export function readPartcloneVersion(start: Uint8Array): 1 | 2 {
  if (start.length < 34) throw partcloneError('shorter than its header', { bytes: start.length }, 'LB_INPUT_IMAGE_TRUNCATED');
  if (latin1(start, 0, 15) !== PARTCLONE_MAGIC) throw partcloneError('no "partclone-image" magic at the start (not a partclone image)');
  const v2 = latin1(start, 30, 34);
  if (v2 === '0002') return 2;
  // Version 0001 keeps its version after a 15-byte filesystem name, at the same offset.
  if (v2 === '0001') return 1;
  throw partcloneError(`unsupported image version "${v2.replace(/[^\x20-\x7e]/g, '?')}"`, {}, 'LB_INPUT_IMAGE_UNSUPPORTED');
}

/** Decodes and checks a version 0002 descriptor (PARTCLONE_V2_HEADER_BYTES bytes). */
export function parsePartcloneV2Header(bytes: Uint8Array): PartcloneHeader {
  if (bytes.length < PARTCLONE_V2_HEADER_BYTES) throw partcloneError('version 0002 header is truncated', { bytes: bytes.length }, 'LB_INPUT_IMAGE_TRUNCATED');
  const view = new DataView(bytes.buffer, bytes.byteOffset, PARTCLONE_V2_HEADER_BYTES);
  const storedCrc = view.getUint32(106, true);
  const crc = updatePartcloneCrc(PARTCLONE_CRC_SEED, bytes.subarray(0, 106));
  if (crc !== storedCrc) throw partcloneError(`header CRC mismatch (stored 0x${hex(storedCrc)}, computed 0x${hex(crc)})`);
  if (view.getUint16(34, true) !== ENDIAN_MAGIC) throw partcloneError('written on a big-endian machine (endianness mark is not 0xC0DE)', {}, 'LB_INPUT_IMAGE_UNSUPPORTED');
  const featureSize = view.getUint32(88, true);
  if (featureSize !== V2_OPTIONS_BYTES) throw partcloneError(`options size ${featureSize}, expected ${V2_OPTIONS_BYTES}`);
  if (view.getUint16(92, true) !== 2) throw partcloneError(`options say image version ${view.getUint16(92, true)} in a 0002 header`);
  const cpuBits = view.getUint16(94, true);
  if (cpuBits !== 32 && cpuBits !== 64) throw partcloneError(`cpu_bits ${cpuBits} is neither 32 nor 64`);
  const modeCode = view.getUint16(96, true);
  const checksum = CHECKSUM_MODES[modeCode as keyof typeof CHECKSUM_MODES];
  if (!checksum) throw partcloneError(`checksum mode 0x${modeCode.toString(16)} is not supported (only none and CRC32; XXH64/XXH128 images need a partclone built with xxhash)`, {}, 'LB_INPUT_IMAGE_UNSUPPORTED');
  const checksumBytes = view.getUint16(98, true);
  if (checksumBytes !== CHECKSUM_BYTES[checksum]) throw partcloneError(`checksum size ${checksumBytes} does not match mode ${checksum}`);
  const blocksPerChecksum = view.getUint32(100, true);
  if (checksum !== 'none' && blocksPerChecksum === 0) throw partcloneError('blocks_per_checksum is 0 with a checksum mode set');
  const reseed = bytes[104] as number;
  if (reseed > 1) throw partcloneError(`reseed flag ${reseed} is neither 0 nor 1`);
  const bitmapCode = bytes[105] as number;
  const bitmap = BITMAP_MODES[bitmapCode as keyof typeof BITMAP_MODES];
  // partclone writes a byte bitmap only in 0001 images; a 0002 one would be followed by a CRC of another layout.
  if (!bitmap || bitmap === 'byte') throw partcloneError(`bitmap mode 0x${bitmapCode.toString(16)} is not supported in a 0002 image`, {}, 'LB_INPUT_IMAGE_UNSUPPORTED');
  const blockSize = view.getUint32(84, true);
  const header = {
    imageVersion: 2 as const,
    partcloneVersion: cString(bytes, 16, 30),
    filesystem: cString(bytes, 36, 52),
    deviceSizeBytes: readCount(view, 52, MAX_DEVICE_BYTES, 'device size'),
    blockSize,
    totalBlocks: readCount(view, 60, MAX_TOTAL_BLOCKS, 'total blocks'),
    superBlockUsedBlocks: readCount(view, 68, MAX_TOTAL_BLOCKS, 'superblock used blocks'),
    usedBlocks: readCount(view, 76, MAX_TOTAL_BLOCKS, 'used blocks'),
    checksum,
    checksumBytes,
    blocksPerChecksum: checksum === 'none' ? 0 : blocksPerChecksum,
    reseedChecksum: reseed === 1,
    bitmap,
  };
  return checkTotals({ ...header, bitmapBytes: bitmap === 'bit' ? Math.ceil(header.totalBlocks / 8) : 0 });
}

/** Decodes and checks a version 0001 descriptor (PARTCLONE_V1_HEADER_BYTES bytes; its options area is unused). */
export function parsePartcloneV1Header(bytes: Uint8Array): PartcloneHeader {
  if (bytes.length < PARTCLONE_V1_HEADER_BYTES) throw partcloneError('version 0001 header is truncated', { bytes: bytes.length }, 'LB_INPUT_IMAGE_TRUNCATED');
  const view = new DataView(bytes.buffer, bytes.byteOffset, PARTCLONE_V1_HEADER_BYTES);
  const totalBlocks = readCount(view, 48, MAX_TOTAL_BLOCKS, 'total blocks');
  return checkTotals({
    imageVersion: 1,
    partcloneVersion: '',
    filesystem: cString(bytes, 15, 30),
    blockSize: view.getInt32(36, true),
    deviceSizeBytes: readCount(view, 40, MAX_DEVICE_BYTES, 'device size'),
    totalBlocks,
    usedBlocks: readCount(view, 56, MAX_TOTAL_BLOCKS, 'used blocks'),
    superBlockUsedBlocks: undefined,
    checksum: 'crc32-0001',
    checksumBytes: 4,
    blocksPerChecksum: 1,
    reseedChecksum: false,
    bitmap: 'byte',
    bitmapBytes: totalBlocks,
  });
}

function checkTotals(header: PartcloneHeader): PartcloneHeader {
  const { blockSize, totalBlocks, usedBlocks, deviceSizeBytes } = header;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_BYTES || blockSize > MAX_BLOCK_BYTES || (blockSize & (blockSize - 1)) !== 0) {
    throw partcloneError(`block size ${blockSize} is not a power of two from ${MIN_BLOCK_BYTES} to ${MAX_BLOCK_BYTES}`);
  }
  if (totalBlocks === 0) throw partcloneError('the image holds a filesystem of 0 blocks');
  if (usedBlocks > totalBlocks) throw partcloneError(`used blocks ${usedBlocks} exceed total blocks ${totalBlocks}`);
  if (header.superBlockUsedBlocks !== undefined && header.superBlockUsedBlocks > totalBlocks) {
    throw partcloneError(`superblock used blocks ${header.superBlockUsedBlocks} exceed total blocks ${totalBlocks}`);
  }
  if (totalBlocks * blockSize > deviceSizeBytes) {
    throw partcloneError(`${totalBlocks} blocks of ${blockSize} bytes do not fit the ${deviceSizeBytes}-byte device`);
  }
  if (header.filesystem === '') throw partcloneError('the filesystem name is empty');
  return header;
}

function readCount(view: DataView, offset: number, max: number, what: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(max)) throw partcloneError(`${what} ${value} is over the limit ${max}`);
  return Number(value);
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** A NUL-terminated field; anything but printable ASCII is replaced so it is safe to show. */
function cString(bytes: Uint8Array, start: number, end: number): string {
  const field = bytes.subarray(start, end);
  const nul = field.indexOf(0);
  return latin1(field, 0, nul === -1 ? field.length : nul).replace(/[^\x20-\x7e]/g, '?').trim();
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}
