// The e2fsprogs test images (tests/*/image.gz of e2fsprogs' own suite, most damaged on purpose),
// kept outside the repository: they are GPL-2 test data of another project (their README says so)
// and CI gets them beside its checkout as ../shared/corpus. LIFEBOAT_E2FS_CORPUS names another
// folder. A test that needs them fails with the reason when they are missing: it never passes quietly.

import { createReadStream } from 'node:fs';
import { access, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { PROJECT_ROOT } from '../../builder/paths.ts';

/** The environment variable that overrides where the corpus is. */
export const E2FS_CORPUS_ENV = 'LIFEBOAT_E2FS_CORPUS';

/** The folder holding NAME.img.gz files: $LIFEBOAT_E2FS_CORPUS, else ../shared/corpus/e2fsprogs-tests beside the checkout. */
export function e2fsCorpusFolder(): string {
  return process.env[E2FS_CORPUS_ENV] || path.resolve(PROJECT_ROOT, '..', 'shared', 'corpus', 'e2fsprogs-tests');
}

/** The image names (without .img.gz), sorted; throws with the reason when the folder is missing or holds none. */
export async function listE2fsCorpus(): Promise<string[]> {
  const folder = e2fsCorpusFolder();
  try {
    await access(folder);
  } catch {
    throw new Error(`The e2fsprogs test images are missing: ${folder} does not exist. They live outside the repository (GPL-2 test data); CI finds them at ../shared/corpus/e2fsprogs-tests beside the checkout. Set ${E2FS_CORPUS_ENV} to the folder holding NAME.img.gz.`);
  }
  const names = (await readdir(folder)).filter((name) => name.endsWith('.img.gz')).map((name) => name.slice(0, -'.img.gz'.length)).sort();
  if (names.length === 0) throw new Error(`${folder} holds no *.img.gz: the e2fsprogs test images are missing.`);
  return names;
}

const BLOCK_BYTES = 64 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);

/** Unpacks NAME.img.gz into `file`, leaving all-zero 64 KiB pieces as holes (most images are mostly empty). */
export async function unpackE2fsImage(name: string, file: string): Promise<string> {
  const handle = await open(file, 'w');
  try {
    let position = 0;
    let pending: Buffer = Buffer.alloc(0);
    const flush = async (piece: Buffer): Promise<void> => {
      if (!piece.equals(ZERO_BLOCK.subarray(0, piece.length))) await handle.write(piece, 0, piece.length, position);
      position += piece.length;
    };
    for await (const chunk of createReadStream(path.join(e2fsCorpusFolder(), `${name}.img.gz`)).pipe(createGunzip())) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      let at = 0;
      for (; at + BLOCK_BYTES <= pending.length; at += BLOCK_BYTES) await flush(pending.subarray(at, at + BLOCK_BYTES));
      pending = pending.subarray(at);
    }
    if (pending.length > 0) await flush(pending);
    await handle.truncate(position);
  } finally {
    await handle.close();
  }
  return file;
}
