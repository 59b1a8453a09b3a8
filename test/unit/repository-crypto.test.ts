// The repository's cryptography: AES-256-GCM sealing bound to a role (AAD), the scrypt-wrapped
// master key, and blob ids (SHA-256, or HMAC-SHA-256 under the key's id half).

import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { createKeyFile, openKeyFile, seal, SEAL_OVERHEAD_BYTES, sealInto, sha256Hex, unseal, unsealInto, type KeyFile } from '../../rescue/io/repository/repository-crypto.ts';

const REPOSITORY_ID = '0123456789abcdef0123456789abcdef';

function flipped(bytes: Uint8Array, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

test('seal and unseal round-trip, with a fresh nonce each time', (t) => {
  const key = randomBytes(32);
  const plain = randomBytes(1000);
  const sealed = seal(key, plain, 'blob abc');
  t.is(sealed.length, 12 + plain.length + 16);
  t.deepEqual(unseal(key, sealed, 'blob abc'), plain);
  t.notDeepEqual(seal(key, plain, 'blob abc'), sealed);
  t.deepEqual(unseal(key, seal(key, new Uint8Array(0), 'empty'), 'empty'), Buffer.alloc(0));
});

test('unseal opens a view into a larger buffer', (t) => {
  const key = randomBytes(32);
  const plain = Buffer.from('index file content');
  const sealed = seal(key, plain, 'index');
  const backing = Buffer.alloc(sealed.length + 9, 0x55);
  sealed.copy(backing, 5);
  t.deepEqual(unseal(key, backing.subarray(5, 5 + sealed.length), 'index'), plain);
});

test('unseal returns undefined for a wrong AAD, a wrong key, a flipped byte or a short input', (t) => {
  const key = randomBytes(32);
  const sealed = seal(key, Buffer.from('manifest'), 'snapshot 1');
  t.is(unseal(key, sealed, 'snapshot 2'), undefined);
  t.is(unseal(key, sealed, ''), undefined);
  t.is(unseal(randomBytes(32), sealed, 'snapshot 1'), undefined);
  for (const at of [0, 11, 12, sealed.length - 17, sealed.length - 16, sealed.length - 1]) t.is(unseal(key, flipped(sealed, at), 'snapshot 1'), undefined, `byte ${at}`);
  t.is(unseal(key, sealed.subarray(0, sealed.length - 1), 'snapshot 1'), undefined);
  t.is(unseal(key, sealed.subarray(0, 27), 'snapshot 1'), undefined);
  t.is(unseal(key, new Uint8Array(0), 'snapshot 1'), undefined);
  t.is(unseal(key, Buffer.concat([sealed, Buffer.alloc(1)]), 'snapshot 1'), undefined);
});

// A restore deciphers each chunk in place, in shared memory kept for the whole restore
// (folder-repository.ts readBlobInto), in 64 KiB pieces: sizes around the pieces' edges.
test('unsealInto opens in place over the sealed bytes, or into other memory, across its pieces', (t) => {
  const key = randomBytes(32);
  for (const length of [0, 1, 65535, 65536, 65537, 3 * 65536 + 5]) {
    const plain = randomBytes(length);
    const sealed = seal(key, plain, `blob ${length}`);
    const shared = new Uint8Array(new SharedArrayBuffer(sealed.length + 7));
    shared.set(sealed);
    t.is(unsealInto(key, shared.subarray(0, sealed.length), `blob ${length}`, shared), length, `in place, ${length} bytes`);
    t.true(Buffer.from(shared.subarray(0, length)).equals(plain), `in place, ${length} bytes`);
    const apart = Buffer.alloc(length + 3, 0x55);
    t.is(unsealInto(key, sealed, `blob ${length}`, apart), length, `apart, ${length} bytes`);
    t.true(apart.subarray(0, length).equals(plain) && apart.subarray(length).equals(Buffer.alloc(3, 0x55)), `apart, ${length} bytes`);
  }
});

test('sealInto seals into given memory across its pieces, with a fresh nonce, and refuses too little room or an overlap', (t) => {
  const key = randomBytes(32);
  for (const length of [0, 1, 65536, 65537, 3 * 65536 + 5]) {
    const plain = randomBytes(length);
    const into = new Uint8Array(new SharedArrayBuffer(length + SEAL_OVERHEAD_BYTES + 4));
    t.is(sealInto(key, plain, `blob ${length}`, into), length + SEAL_OVERHEAD_BYTES);
    const sealed = Buffer.from(into.subarray(0, length + SEAL_OVERHEAD_BYTES));
    t.deepEqual(unseal(key, sealed, `blob ${length}`), plain, `${length} bytes`);
    t.false(sealed.subarray(0, 12).equals(seal(key, plain, `blob ${length}`).subarray(0, 12)), 'another nonce');
  }
  const plain = randomBytes(1000);
  t.throws(() => sealInto(key, plain, 'x', Buffer.alloc(1000 + SEAL_OVERHEAD_BYTES - 1)), { instanceOf: RangeError });
  const backing = Buffer.alloc(3000);
  t.throws(() => sealInto(key, backing.subarray(0, 1000), 'x', backing.subarray(500)), { instanceOf: RangeError });
  t.is(sealInto(key, backing.subarray(0, 1000), 'x', backing.subarray(1000)), 1000 + SEAL_OVERHEAD_BYTES);
});

test('unsealInto refuses a damaged or misplaced blob, too little room and overlaps that would overwrite unread bytes', (t) => {
  const key = randomBytes(32);
  const plain = randomBytes(100_000);
  const sealed = seal(key, plain, 'blob x');
  const room = () => Buffer.alloc(plain.length);
  t.is(unsealInto(key, sealed, 'blob y', room()), undefined);
  t.is(unsealInto(randomBytes(32), sealed, 'blob x', room()), undefined);
  for (const at of [0, 12, 70_000, sealed.length - 1]) t.is(unsealInto(key, flipped(sealed, at), 'blob x', room()), undefined, `byte ${at}`);
  t.is(unsealInto(key, sealed.subarray(0, SEAL_OVERHEAD_BYTES - 1), 'blob x', room()), undefined);
  t.throws(() => unsealInto(key, sealed, 'blob x', Buffer.alloc(plain.length - 1)), { instanceOf: RangeError });
  const backing = Buffer.alloc(sealed.length + 64);
  sealed.copy(backing, 0);
  t.throws(() => unsealInto(key, backing.subarray(0, sealed.length), 'blob x', backing.subarray(13)), { instanceOf: RangeError });
  t.is(unsealInto(key, backing.subarray(0, sealed.length), 'blob x', backing.subarray(12)), plain.length);
  t.true(backing.subarray(12, 12 + plain.length).equals(plain));
});

test('a key file opens with the right password and not with a wrong one or for another repository', async (t) => {
  const { key, file } = await createKeyFile('correct horse', REPOSITORY_ID);
  t.is(key.encryption.length, 32);
  t.is(key.id.length, 32);
  t.false(key.encryption.equals(key.id));
  t.is(file.kdf, 'scrypt');
  // The file holds neither the password nor the key in the clear.
  const text = JSON.stringify(file);
  t.false(text.includes('correct horse'));
  t.false(text.includes(key.encryption.toString('base64')));

  const opened = await openKeyFile(structuredClone(file), 'correct horse', REPOSITORY_ID);
  t.deepEqual(opened?.encryption, key.encryption);
  t.deepEqual(opened?.id, key.id);
  t.is(await openKeyFile(file, 'correct horsE', REPOSITORY_ID), undefined);
  t.is(await openKeyFile(file, '', REPOSITORY_ID), undefined);
  t.is(await openKeyFile(file, 'correct horse', 'ffffffffffffffffffffffffffffffff'), undefined);
  const tampered: KeyFile = { ...file, wrappedKey: flipped(Buffer.from(file.wrappedKey, 'base64'), 20).toString('base64') };
  t.is(await openKeyFile(tampered, 'correct horse', REPOSITORY_ID), undefined);
});

test('two key files for the same password hold different master keys and salts', async (t) => {
  const [first, second] = await Promise.all([createKeyFile('pw', REPOSITORY_ID), createKeyFile('pw', REPOSITORY_ID)]);
  t.notDeepEqual(first.key.encryption, second.key.encryption);
  t.not(first.file.salt, second.file.salt);
});

test('a password in another Unicode normalisation form opens the key file', async (t) => {
  const { key, file } = await createKeyFile('caf\u00e9', REPOSITORY_ID);
  t.deepEqual((await openKeyFile(file, 'cafe\u0301', REPOSITORY_ID))?.encryption, key.encryption);
});

test('a key file with unknown or out-of-range derivation parameters is refused', async (t) => {
  const { file } = await createKeyFile('pw', REPOSITORY_ID);
  const bad: KeyFile[] = [
    { ...file, kdf: 'argon2id' as 'scrypt' },
    { ...file, N: 512 },
    { ...file, N: 2 ** 23 },
    { ...file, r: 0 },
    { ...file, r: 33 },
    { ...file, p: 17 },
    { ...file, N: Number.NaN },
  ];
  for (const candidate of bad) {
    const error = await t.throwsAsync(openKeyFile(candidate, 'pw', REPOSITORY_ID), { instanceOf: LifeboatError }, JSON.stringify({ kdf: candidate.kdf, N: candidate.N, r: candidate.r, p: candidate.p }));
    t.is(error?.code, 'LB_REPO_INVALID');
  }
});

// Blob ids (SHA-256, or HMAC-SHA-256 under the id half) are computed on the chunk workers: see
// test/unit/chunk-workers.test.ts. sha256Hex names packs, indexes and manifests.
test('sha256Hex is the SHA-256 of the bytes, also of a view into a larger buffer', async (t) => {
  t.is(await sha256Hex(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const backing = randomBytes(64);
  t.is(await sha256Hex(backing.subarray(7, 40)), sha256(backing.subarray(7, 40)));
  t.is(await sha256Hex(backing), sha256(backing));
});

// openKeyFile's range check also refuses parameters scrypt itself would refuse (N not a power of
// two, r or p not integers, 128·N·r past the maxmem): a damaged key file is LB_REPO_INVALID, not a
// raw Node error (ERR_CRYPTO_INVALID_SCRYPT_PARAMS / ERR_OUT_OF_RANGE reported as LB_INTERNAL).
test('a key file with in-range but invalid scrypt parameters is refused as LB_REPO_INVALID', async (t) => {
  const { file } = await createKeyFile('pw', REPOSITORY_ID);
  for (const patch of [{ N: 3000 }, { r: 1.5 }, { N: 2 ** 22, r: 32 }]) {
    const error = await t.throwsAsync(openKeyFile({ ...file, ...patch }, 'pw', REPOSITORY_ID), undefined, JSON.stringify(patch));
    t.is((error as { code?: unknown } | undefined)?.code, 'LB_REPO_INVALID', JSON.stringify(patch));
  }
});
