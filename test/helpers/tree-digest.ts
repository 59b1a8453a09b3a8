// A tree as the host's own file system sees it, one line per path, to compare what `lifeboat get`
// restored with its source: type, size and sha256 of each file, each link's target; with
// `metadata` also mode, owner, mtime (ns) and hard-link groups (ext4 keeps them all).

import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Volume, withMountedVolume, withVolumeDevice } from './disk-fixtures.ts';

/** Relative path ('' for the root) -> its facts. */
export type TreeDigest = Map<string, string>;

/** Digests everything under `root`. */
export async function digestTree(root: string, options: { metadata: boolean }): Promise<TreeDigest> {
  const digest: TreeDigest = new Map();
  const inodes = new Map<bigint, string[]>();
  const visit = async (relative: string): Promise<void> => {
    const full = path.join(root, relative);
    const info = await lstat(full, { bigint: true });
    const type = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : info.isFile() ? 'file' : info.isFIFO() ? 'fifo' : 'other';
    const fields = [type];
    if (type === 'file') fields.push(`size=${info.size}`, `sha256=${createHash('sha256').update(await readFile(full)).digest('hex')}`);
    if (type === 'symlink') fields.push(`target=${await readlink(full)}`);
    if (options.metadata) {
      if (type !== 'symlink') fields.push(`mode=${(info.mode & 0o7777n).toString(8)}`);
      fields.push(`owner=${info.uid}:${info.gid}`);
      if (type !== 'dir') fields.push(`mtime=${info.mtimeNs}`);
      if (type === 'file' && info.nlink > 1n) inodes.set(info.ino, [...(inodes.get(info.ino) ?? []), relative]);
    }
    digest.set(relative, fields.join(' '));
    if (type === 'dir') for (const name of (await readdir(full)).sort()) await visit(path.posix.join(relative, name));
  };
  await visit('');
  for (const group of inodes.values()) for (const member of group) digest.set(member, `${digest.get(member)} links=[${[...group].sort().join('|')}]`);
  return digest;
}

/** Digests a filesystem volume: ext4, exFAT and NTFS mounted read-only (kernel, FUSE), FAT copied out with mtools (the host kernel has no vfat). */
export async function digestVolume(volume: Volume, options: { metadata: boolean }): Promise<TreeDigest> {
  if (volume.kind !== 'fat32') return withMountedVolume(volume, 'ro', (root) => digestTree(root, options));
  const out = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fat-digest-'));
  try {
    await withVolumeDevice(volume, 'ro', (device) => execa('mcopy', ['-s', '-n', '-m', '-i', device, '::*', out], { env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8' } }));
    return await digestTree(out, options);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Two digest lines equal but for mtimes at most `toleranceNs` apart. */
function sameWithin(expected: string, actual: string, toleranceNs: bigint): boolean {
  const mtime = /(?:^| )mtime=(\d+)/;
  const [a, b] = [mtime.exec(expected)?.[1], mtime.exec(actual)?.[1]];
  if (a === undefined || b === undefined || expected.replace(mtime, '') !== actual.replace(mtime, '')) return false;
  const drift = BigInt(a) - BigInt(b);
  return (drift < 0n ? -drift : drift) <= toleranceNs;
}

/**
 * The lines that differ between two digests (empty when equal); the root's own line is left out.
 * `mtimeToleranceNs`: a files snapshot's times come back through Node's utimes, which takes
 * seconds as a double (exact to about 0.25 µs; test/repository/file-backup.test.ts allows 1 µs).
 */
export function diffDigests(expected: TreeDigest, actual: TreeDigest, options: { mtimeToleranceNs?: bigint } = {}): string[] {
  const problems: string[] = [];
  for (const [key, line] of expected) {
    if (key === '') continue;
    const other = actual.get(key);
    if (other === undefined) problems.push(`missing: ${key}`);
    else if (other !== line && !sameWithin(line, other, options.mtimeToleranceNs ?? 0n)) problems.push(`differs: ${key}\n    expected: ${line}\n    actual:   ${other}`);
  }
  for (const key of actual.keys()) if (key !== '' && !expected.has(key)) problems.push(`extra: ${key}`);
  return problems;
}
