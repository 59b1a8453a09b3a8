// The repository's cryptography (FORMAT.md, "Encryption"): scrypt turns the password into a key
// that unwraps a random master key; AES-256-GCM seals every blob, footer, index and manifest;
// chunk ids are SHA-256, or HMAC-SHA-256 under the master key's id half when encrypted.
// Hashing and HMAC go through WebCrypto, whose jobs run on libuv's thread pool (in parallel).

import { createCipheriv, createDecipheriv, randomBytes, scrypt, webcrypto } from 'node:crypto';
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

/** Seals bytes with AES-256-GCM: nonce || ciphertext || tag; `aad` binds them to their role. */
export function seal(key: Buffer, plain: Uint8Array, aad: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Opens sealed bytes; undefined when authentication fails (wrong key, damage or tampering). */
export function unseal(key: Buffer, sealed: Uint8Array, aad: string): Buffer | undefined {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return undefined;
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
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

/** SHA-256 of bytes as hex (file names of packs, indexes and manifests). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
}
