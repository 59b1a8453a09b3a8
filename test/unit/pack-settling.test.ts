// Packs are synced and, when the run verifies, checked as soon as they close (folder-repository.ts,
// settle): the check reads the file back, so damage done to a closed pack is caught; verifyPack of
// such a pack gives that early check's outcome.

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { initRepository, openRepository, type FolderRepository } from '../../rescue/io/repository/folder-repository.ts';

const KiB = 1024;

/** A repository whose packs close after 256 KiB (64 KiB chunks), opened for writing. */
async function smallPackRepository(t: { teardown(fn: () => Promise<void>): void }): Promise<FolderRepository> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-settle-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await initRepository(root, { chunkBytes: 64 * KiB });
  const configFile = path.join(root, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), packBytes: 256 * KiB }));
  return openRepository(root, async () => undefined);
}

/** Stores incompressible 64 KiB blobs until `count` packs have closed. */
async function fillPacks(repository: FolderRepository, count: number): Promise<void> {
  while (repository.writtenPacks().length < count) await repository.storeBlob('data', randomBytes(64 * KiB), { compressionLevel: 3 });
}

function flipByte(file: string, offset: number): void {
  const bytes = readFileSync(file);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([bytes[offset]! ^ 0x40]), 0, 1, offset);
  closeSync(fd);
}

test('a pack damaged right after it closed fails the early check; the other packs pass', async (t) => {
  const repository = await smallPackRepository(t);
  repository.verifyPacksAsWritten();
  await fillPacks(repository, 1);
  // The background check reads the file only after its sync, a later turn of the event loop: this
  // flip lands first, as damage on the way to the disk would.
  const damaged = repository.writtenPacks()[0]!.id;
  flipByte(path.join(repository.path, repository.packFile(damaged)), 100);
  await fillPacks(repository, 3);
  await repository.flush();
  const error = await t.throwsAsync(repository.verifyPack(damaged));
  t.true(error instanceof LifeboatError);
  t.is((error as LifeboatError).code, 'LB_REPO_DATA_CORRUPT');
  for (const pack of repository.writtenPacks().slice(1)) await t.notThrowsAsync(repository.verifyPack(pack.id));
});

test('verifyPack of a pack checked when it closed does not read it again; without verifyPacksAsWritten it does', async (t) => {
  const early = await smallPackRepository(t);
  early.verifyPacksAsWritten();
  await fillPacks(early, 2);
  await early.flush();
  const checked = early.writtenPacks()[0]!.id;
  await early.verifyPack(checked);
  rmSync(path.join(early.path, early.packFile(checked)));
  await t.notThrowsAsync(early.verifyPack(checked), 'the outcome of the check made at close');

  const late = await smallPackRepository(t);
  await fillPacks(late, 2);
  await late.flush();
  const unchecked = late.writtenPacks()[0]!.id;
  rmSync(path.join(late.path, late.packFile(unchecked)));
  const error = await t.throwsAsync(late.verifyPack(unchecked));
  t.is((error as LifeboatError).code, 'LB_REPO_PACK_MISSING');
});
