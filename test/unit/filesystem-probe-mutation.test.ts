// Corrupt input never crashes or hangs the probe: real images (made by mkfs, cryptsetup, pvcreate, or
// crafted where no tool runs here) are flipped, randomised, overwritten with extreme values and truncated
// by a seeded PRNG, mostly inside the bytes the probe actually reads. Every case must either return or
// throw LB_FILESYSTEM_CORRUPT / LB_FILESYSTEM_TRUNCATED with a byte offset, within a time limit.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { probeFilesystem } from '../../rescue/core/filesystems/probe-filesystem.ts';
import { openByteSource, type FileByteSource } from '../../rescue/io/file-source.ts';
import { makePatches, mutatedSource, prng, recordingSource, withTimeout } from '../helpers/mutation.ts';
import { craftBitlocker, craftMdVersion090, craftMdVersion1, sparseFile, withLoop } from '../helpers/filesystem-images.ts';

const MiB = 1024 * 1024;
const CASES_PER_IMAGE = 300;
const CASE_TIMEOUT_MS = 5000;
/** Mutations land in the first few MiB (and the md 0.90/1.0 superblocks at the end). */
const HEAD_BYTES = 4 * MiB;

const images: Array<[string, number, (file: string) => Promise<unknown>]> = [
  ['ext4', 32 * MiB, (file) => execa('mkfs.ext4', ['-q', '-F', '-L', 'm', file])],
  ['ext4-1k-csum', 16 * MiB, (file) => execa('mkfs.ext4', ['-q', '-F', '-b', '1024', '-O', '^flex_bg,64bit,metadata_csum', file])],
  ['ext2', 16 * MiB, (file) => execa('mkfs.ext2', ['-q', '-F', file])],
  ['fat12', 2 * MiB, (file) => execa('mkfs.vfat', ['-F', '12', '-n', 'M', file])],
  ['fat16', 24 * MiB, (file) => execa('mkfs.vfat', ['-F', '16', '-n', 'M', file])],
  ['fat32', 40 * MiB, (file) => execa('mkfs.vfat', ['-F', '32', '-s', '1', '-n', 'M', file])],
  ['exfat', 16 * MiB, (file) => execa('mkfs.exfat', ['-L', 'M', '-c', '4K', file])],
  ['ntfs', 16 * MiB, (file) => execa('mkfs.ntfs', ['-Q', '-F', '-L', 'M', file])],
  ['swap', 8 * MiB, (file) => execa('mkswap', ['-L', 'm', file])],
  ['xfs', 320 * MiB, (file) => execa('mkfs.xfs', ['-q', '-L', 'm', file])],
  ['btrfs', 128 * MiB, (file) => execa('mkfs.btrfs', ['-q', '-L', 'm', file])],
  ['luks1', 8 * MiB, (file) => execa('cryptsetup', ['luksFormat', '--type', 'luks1', '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file=-', file], { input: 'pw' })],
  ['luks2', 32 * MiB, (file) => execa('cryptsetup', ['luksFormat', '--type', 'luks2', '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--label', 'm', '--key-file=-', file], { input: 'pw' })],
  ['lvm', 16 * MiB, (file) => withLoop(file, (device) => execa('pvcreate', ['-ff', '-y', device]))],
  ['md-1.2', 8 * MiB, (file) => craftMdVersion1(file, 8 * MiB, '1.2', 'm:0', Buffer.alloc(16, 7))],
  ['md-1.0', 8 * MiB, (file) => craftMdVersion1(file, 8 * MiB, '1.0', 'm:0', Buffer.alloc(16, 9))],
  ['md-0.90', 8 * MiB, (file) => craftMdVersion090(file, 8 * MiB, [1, 2, 3, 4])],
  ['bitlocker', 8 * MiB, (file) => craftBitlocker(file, MiB, 2)],
];

let workDir = '';
test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-probe-mutation-'));
});
test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

for (const [name, size, make] of images) {
  test(`${name}: ${CASES_PER_IMAGE} flipped, randomised and truncated images return or throw a filesystem error`, async (t) => {
    const file = await sparseFile(path.join(workDir, `${name}.img`), size);
    await make(file);
    const base: FileByteSource = await openByteSource(file);
    try {
      const hot: Array<[number, number]> = [];
      const clean = await probeFilesystem(recordingSource(base, hot));
      t.truthy(clean, `${name} is recognised before it is mutated`);
      const codes = new Map<string, number>();
      for (let seed = 1; seed <= CASES_PER_IMAGE; seed++) {
        const random = prng(seed * 7919 + name.length);
        const truncate = random() < 0.15;
        const patches = truncate && random() < 0.5 ? [] : makePatches(random, hot, size, HEAD_BYTES);
        const cut = truncate ? Math.floor(random() * size) : size;
        const what = `${name} seed ${seed}${truncate ? ` cut at ${cut}` : ''}`;
        try {
          await withTimeout(probeFilesystem(mutatedSource(base, patches, cut)), CASE_TIMEOUT_MS, what);
          codes.set('returned', (codes.get('returned') ?? 0) + 1);
        } catch (error) {
          if (!(error instanceof LifeboatError)) {
            t.fail(`${what}: ${error instanceof Error ? error.stack : String(error)}`);
            continue;
          }
          t.true(['LB_FILESYSTEM_CORRUPT', 'LB_FILESYSTEM_TRUNCATED'].includes(error.code), `${what}: ${error.code} ${error.message}`);
          t.is(typeof error.details.offset, 'number', `${what}: the error names the byte offset`);
          codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        }
      }
      t.log(`${name}: ${JSON.stringify(Object.fromEntries(codes))}`);
    } finally {
      await base.close();
    }
  });
}
