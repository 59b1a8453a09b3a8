// Small file helpers of the builder: existence, and SHA-256 streamed (the build manifest
// records one for every input and output).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/** One file in a manifest. */
export interface FileRecord {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** Hashes a file without reading it into memory at once. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Size and hash of a file, for the manifest. */
export async function describeFile(file: string, label: string = file): Promise<FileRecord> {
  const [info, sha256] = await Promise.all([stat(file), sha256File(file)]);
  return { path: label, bytes: info.size, sha256 };
}

/** True when the path exists (file, folder or link target). */
export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
