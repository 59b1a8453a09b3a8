// Bounds-checked reads of on-disk fields, and the errors every parser throws on bad input.
// Every offset, length and count a parser gets from disk passes through here before it is used.

import type { ByteSource } from '../byte-source.ts';
import { LifeboatError } from '../errors.ts';

/** Largest single metadata read a probe makes, so a corrupt length never asks for gigabytes at once. */
export const MAX_METADATA_READ_BYTES = 64 * 1024 * 1024;

/** A damaged structure: stable code plus the filesystem, field and absolute byte offset. */
export function corrupt(filesystem: string, field: string, offset: number, detail: string): LifeboatError {
  return new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `${filesystem} ${field} at byte ${offset}: ${detail}`, filesystem, field, offset });
}

/** A structure that lies past the end of the source: the image or partition is too short. */
export function truncated(filesystem: string, field: string, offset: number, detail: string): LifeboatError {
  return new LifeboatError('LB_FILESYSTEM_TRUNCATED', { detail: `${filesystem} ${field} at byte ${offset}: ${detail}`, filesystem, field, offset });
}

/** Reads a structure the filesystem says exists; past the end of the source is LB_FILESYSTEM_TRUNCATED. */
export async function readStructure(source: ByteSource, filesystem: string, field: string, offset: number, length: number): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || length > MAX_METADATA_READ_BYTES) {
    throw corrupt(filesystem, field, offset, `offset or length ${length} out of range.`);
  }
  if (offset + length > source.size) throw truncated(filesystem, field, offset, `${length} bytes needed, the source has ${source.size}.`);
  return source.read(offset, length);
}

/** Reads where a signature may be; a source too short to hold it simply has none. */
export async function readIfPresent(source: ByteSource, offset: number, length: number): Promise<Uint8Array | undefined> {
  if (offset < 0 || offset + length > source.size) return undefined;
  return source.read(offset, length);
}

/** Little/big-endian field reads over one block read from disk at absolute offset `base`. */
export class Fields {
  readonly bytes: Uint8Array;
  readonly base: number;
  readonly filesystem: string;
  private readonly view: DataView;
  constructor(bytes: Uint8Array, base: number, filesystem: string) {
    this.bytes = bytes;
    this.base = base;
    this.filesystem = filesystem;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private check(offset: number, length: number, field: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.bytes.length) {
      throw corrupt(this.filesystem, field, this.base + Math.max(0, offset), `field lies outside its ${this.bytes.length}-byte structure.`);
    }
  }

  u8(offset: number, field: string): number {
    this.check(offset, 1, field);
    return this.view.getUint8(offset);
  }
  i8(offset: number, field: string): number {
    this.check(offset, 1, field);
    return this.view.getInt8(offset);
  }
  u16(offset: number, field: string): number {
    this.check(offset, 2, field);
    return this.view.getUint16(offset, true);
  }
  u32(offset: number, field: string): number {
    this.check(offset, 4, field);
    return this.view.getUint32(offset, true);
  }
  u16be(offset: number, field: string): number {
    this.check(offset, 2, field);
    return this.view.getUint16(offset, false);
  }
  u32be(offset: number, field: string): number {
    this.check(offset, 4, field);
    return this.view.getUint32(offset, false);
  }
  /** A 64-bit field as a number; values past 2^53 cannot be real sizes here and are corrupt. */
  u64(offset: number, field: string): number {
    this.check(offset, 8, field);
    return this.safe(this.view.getBigUint64(offset, true), offset, field);
  }
  u64be(offset: number, field: string): number {
    this.check(offset, 8, field);
    return this.safe(this.view.getBigUint64(offset, false), offset, field);
  }
  slice(offset: number, length: number, field: string): Uint8Array {
    this.check(offset, length, field);
    return this.bytes.subarray(offset, offset + length);
  }
  /** Throws LB_FILESYSTEM_CORRUPT for `field` at `offset` inside this structure. */
  fail(offset: number, field: string, detail: string): LifeboatError {
    return corrupt(this.filesystem, field, this.base + offset, detail);
  }

  private safe(value: bigint, offset: number, field: string): number {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(offset, field, `value ${value} is larger than any real disk.`);
    return Number(value);
  }
}

/** True when `bytes` at `offset` equal the ASCII `text` (signatures). */
export function hasAscii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** True for 2^n. */
export function isPowerOfTwo(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0 && 2 ** Math.round(Math.log2(value)) === value;
}

/** 16 bytes as blkid prints a UUID: lowercase 8-4-4-4-12. */
export function formatUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A 4-byte little-endian serial as FAT and exFAT show it: XXXX-XXXX, uppercase. */
export function formatSerial32(bytes: Uint8Array): string {
  const hex = Buffer.from([bytes[3] ?? 0, bytes[2] ?? 0, bytes[1] ?? 0, bytes[0] ?? 0]).toString('hex').toUpperCase();
  return `${hex.slice(0, 4)}-${hex.slice(4, 8)}`;
}

/** A little-endian integer as uppercase hex, most significant byte first (NTFS serial: 16 digits). */
export function formatHexLittleEndian(bytes: Uint8Array): string {
  return Buffer.from(bytes).reverse().toString('hex').toUpperCase();
}

/** A NUL-padded 8-bit label (ext, XFS, swap, btrfs as UTF-8); undefined when empty. */
export function nulTerminatedText(bytes: Uint8Array, encoding: 'latin1' | 'utf8' = 'utf8'): string | undefined {
  const end = bytes.indexOf(0);
  const text = Buffer.from(end === -1 ? bytes : bytes.subarray(0, end)).toString(encoding);
  return text === '' ? undefined : text;
}

/** A UTF-16LE label (exFAT, NTFS); undefined when empty. */
export function utf16Text(bytes: Uint8Array): string | undefined {
  const text = Buffer.from(bytes.subarray(0, bytes.length & ~1)).toString('utf16le').replace(/\0+$/, '');
  return text === '' ? undefined : text;
}

/** Set bits among the first `bitCount` bits of a little-endian bitmap. */
export function countSetBits(bitmap: Uint8Array, bitCount: number): number {
  const fullBytes = Math.min(bitmap.length, Math.floor(bitCount / 8));
  let count = 0;
  for (let i = 0; i < fullBytes; i++) count += BITS_IN_BYTE[bitmap[i] ?? 0] ?? 0;
  const rest = bitCount - fullBytes * 8;
  if (rest > 0 && fullBytes < bitmap.length) count += BITS_IN_BYTE[(bitmap[fullBytes] ?? 0) & ((1 << rest) - 1)] ?? 0;
  return count;
}

const BITS_IN_BYTE = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let value = byte; value !== 0; value >>= 1) bits += value & 1;
  return bits;
});
