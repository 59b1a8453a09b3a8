// The repository's cryptography (FORMAT.md, "Encryption"): scrypt turns the password into a key
// that unwraps a random master key; AES-256-GCM seals every blob, footer, index and manifest;
// chunk ids are SHA-256, or HMAC-SHA-256 under the master key's id half when encrypted.
// Hashing and HMAC go through WebCrypto, whose jobs run on libuv's thread pool (in parallel).

import { createCipheriv, createDecipheriv, createHash, randomBytes, randomFillSync, scrypt, webcrypto } from 'node:crypto';
import { LifeboatError } from '../../core/errors.ts';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** scrypt cost: 2^15 x 8 x 1 takes ~0.1 s and 32 MiB; stored in each key file so it can grow. */
export const SCRYPT_PARAMETERS = { N: 32768, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 256 * 1024 * 1024;

/** The two halves of the master key. */
export interface MasterKey {
  readonly encryption: Buffer;
  readonly id: Buffer;
}

/** A key file's content. */
export interface KeyFile {
  readonly version: 1;
  readonly kdf: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly wrappedKey: string;
  readonly created: string;
}

function deriveKey(password: string, salt: Buffer, parameters: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, 32, { ...parameters, maxmem: SCRYPT_MAXMEM }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Bytes a sealed blob holds besides its plain bytes: the nonce and the tag. */
export const SEAL_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

/**
 * Bytes enciphered or deciphered per update by sealInto and unsealInto. Node's update returns each
 * piece in new memory; a piece of this size is released as soon as it is copied (below), so malloc
 * hands the same 64 KiB back for the next one: the memory stays in the CPU's cache and no fresh page is touched. Whole
 * 1 MiB chunks in one update each took fresh memory (glibc maps that size on its own, and the
 * buffers waited for a collection): 2000 of them 1.8 s, 55,900 page faults, 154 MB peak; in
 * 64 KiB pieces released at once 0.5 s, 1,500 page faults, 65 MB (this machine, one thread).
 */
const CIPHER_PIECE_BYTES = 64 * 1024;

/**
 * Frees a buffer's memory now rather than at a later garbage collection, when the buffer owns its
 * whole ArrayBuffer (as decipher.update's output does): detaching the ArrayBuffer (transfer(0))
 * drops its backing store. Anything else (a view into a pool or shared memory) is left as it is.
 */
function releaseNow(piece: Buffer): void {
  const buffer = piece.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; detached?: boolean };
  if (!(buffer instanceof ArrayBuffer) || piece.byteOffset !== 0 || buffer.byteLength !== piece.byteLength || buffer.detached || !buffer.transfer) return;
  try {
    buffer.transfer(0);
  } catch {
    // not detachable: the collector frees it
  }
}

/** Seals bytes with AES-256-GCM into new memory: nonce || ciphertext || tag; `aad` binds them to their role. */
export function seal(key: Buffer, plain: Uint8Array, aad: string): Buffer {
  const sealed = Buffer.allocUnsafeSlow(plain.length + SEAL_OVERHEAD_BYTES);
  sealInto(key, plain, aad, sealed);
  return sealed;
}

/**
 * Seals bytes into `into` (memory apart from `plain`, at least plain.length + SEAL_OVERHEAD_BYTES):
 * a fresh random nonce, the ciphertext enciphered in pieces as unsealInto deciphers (each piece's
 * buffer released at once), the tag; the sealed length. One buffer per blob where the update's
 * output, the body's concatenation and the whole's took three.
 */
export function sealInto(key: Buffer, plain: Uint8Array, aad: string, into: Uint8Array): number {
  const sealedLength = plain.length + SEAL_OVERHEAD_BYTES;
  if (into.length < sealedLength) throw new RangeError(`sealInto needs ${sealedLength} bytes of room, has ${into.length}`);
  const overlaps = into.buffer === plain.buffer && into.byteOffset < plain.byteOffset + plain.length && plain.byteOffset < into.byteOffset + sealedLength;
  if (overlaps) throw new RangeError('sealInto: the sealed bytes would overwrite the plain bytes');
  randomFillSync(into, 0, NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, into.subarray(0, NONCE_BYTES));
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  let written = NONCE_BYTES;
  for (let at = 0; at < plain.length; at += CIPHER_PIECE_BYTES) {
    const piece = cipher.update(plain.subarray(at, Math.min(at + CIPHER_PIECE_BYTES, plain.length)));
    into.set(piece, written);
    written += piece.length;
    releaseNow(piece);
  }
  const last = cipher.final();
  into.set(last, written);
  written += last.length;
  into.set(cipher.getAuthTag(), written);
  return written + TAG_BYTES;
}

/**
 * Opens sealed bytes into `into` without memory that outlives the call (unlike unseal): the plain
 * bytes' length, or undefined when authentication fails (wrong key, damage or tampering; `into`
 * then holds bytes that were never authenticated and must not be used). `into` is memory apart
 * from `sealed`, or in the same memory starts at most 12 bytes (the nonce) after the sealed bytes'
 * start: deciphering in place writes each piece behind the bytes it has read.
 */
export function unsealInto(key: Buffer, sealed: Uint8Array, aad: string, into: Uint8Array): number | undefined {
  if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
  const plainLength = sealed.length - SEAL_OVERHEAD_BYTES;
  if (into.length < plainLength) throw new RangeError(`unsealInto needs ${plainLength} bytes of room, has ${into.length}`);
  if (into.buffer === sealed.buffer) {
    const lead = into.byteOffset - sealed.byteOffset;
    const apart = into.byteOffset + plainLength <= sealed.byteOffset || into.byteOffset >= sealed.byteOffset + sealed.length;
    if (!apart && lead > NONCE_BYTES) throw new RangeError('unsealInto: the plain bytes would overwrite sealed bytes not yet read');
  }
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    // The nonce and the tag are copied here, before the first piece may overwrite the nonce.
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    let written = 0;
    for (let at = NONCE_BYTES; at < NONCE_BYTES + plainLength; at += CIPHER_PIECE_BYTES) {
      const piece = decipher.update(bytes.subarray(at, Math.min(at + CIPHER_PIECE_BYTES, NONCE_BYTES + plainLength)));
      into.set(piece, written);
      written += piece.length;
      releaseNow(piece);
    }
    const last = decipher.final(); // throws when the tag does not authenticate
    into.set(last, written);
    written += last.length;
    return written === plainLength ? written : undefined;
  } catch {
    return undefined;
  }
}

/** Opens sealed bytes into new memory; undefined when authentication fails (wrong key, damage or tampering). */
export function unseal(key: Buffer, sealed: Uint8Array, aad: string): Buffer | undefined {
  if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
  const plain = Buffer.allocUnsafeSlow(sealed.length - SEAL_OVERHEAD_BYTES);
  return unsealInto(key, sealed, aad, plain) === undefined ? undefined : plain;
}

/** A new master key and the key file that wraps it under `password`. */
export async function createKeyFile(password: string, repositoryId: string): Promise<{ key: MasterKey; file: KeyFile }> {
  const master = randomBytes(64);
  const salt = randomBytes(32);
  const wrapping = await deriveKey(password, salt, SCRYPT_PARAMETERS);
  const file: KeyFile = {
    version: 1,
    kdf: 'scrypt',
    ...SCRYPT_PARAMETERS,
    salt: salt.toString('base64'),
    wrappedKey: seal(wrapping, master, `key ${repositoryId}`).toString('base64'),
    created: new Date().toISOString(),
  };
  return { key: { encryption: master.subarray(0, 32), id: master.subarray(32) }, file };
}

/** Unwraps the master key; undefined when the password is wrong. */
export async function openKeyFile(file: KeyFile, password: string, repositoryId: string): Promise<MasterKey | undefined> {
  const whole = (value: unknown, min: number, max: number) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
  const sane = typeof file === 'object' && file !== null && file.kdf === 'scrypt' && whole(file.N, 1024, 1 << 22) && (file.N & (file.N - 1)) === 0
    && whole(file.r, 1, 32) && whole(file.p, 1, 16) && 128 * file.N * file.r <= SCRYPT_MAXMEM / 2 && typeof file.salt === 'string' && typeof file.wrappedKey === 'string';
  if (!sane) {
    throw new LifeboatError('LB_REPO_INVALID', { detail: 'A key file has unknown key-derivation parameters.' });
  }
  const wrapping = await deriveKey(password, Buffer.from(file.salt, 'base64'), file);
  const master = unseal(wrapping, Buffer.from(file.wrappedKey, 'base64'), `key ${repositoryId}`);
  if (!master || master.length !== 64) return undefined;
  return { encryption: master.subarray(0, 32), id: master.subarray(32) };
}

/**
 * Up to this size sha256Hex hashes on the calling thread (an index file or a manifest: under a
 * millisecond), which spares `snapshots` and `ls` loading webcrypto; a pack goes to webcrypto's
 * thread pool, off the event loop.
 */
const HASH_ON_THREAD_BYTES = 1024 * 1024;

/** SHA-256 of bytes as hex (file names of packs, indexes and manifests). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  if (bytes.length <= HASH_ON_THREAD_BYTES) return createHash('sha256').update(bytes).digest('hex');
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}
