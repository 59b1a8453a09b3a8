// npm run fuzz [-- --cases N --seed S]: tens of thousands of mutated images per parser (partition
// tables, filesystem probes, used-block maps where present). Every case must return or throw a
// LifeboatError with a byte offset, within a time limit; anything else is printed and fails the run.
// `npm test` runs a fast subset of the same mutations (test/unit/*mutation*, partition-table).

import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ByteSource } from '../rescue/core/byte-source.ts';
import { LifeboatError } from '../rescue/core/errors.ts';
import { readUsedBlockMap } from '../rescue/core/block-maps/read-used-block-map.ts';
import { probeFilesystem } from '../rescue/core/filesystems/probe-filesystem.ts';
import { readPartitionTable } from '../rescue/core/partition-table/partition-table.ts';
import { openByteSource } from '../rescue/io/file-source.ts';
import { makePatches, mutatedSource, prng, recordingSource, withTimeout } from '../test/helpers/mutation.ts';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '20000' }, seed: { type: 'string', default: '1' } } });
const CASES = Number(values.cases);
const MiB = 1024 * 1024;

type Parser = (source: ByteSource) => Promise<unknown>;

interface Target {
  readonly name: string;
  readonly size: number;
  readonly make: (file: string) => Promise<unknown>;
  readonly parse: Parser;
}

const table: Parser = (source) => readPartitionTable(source, 512);
/** Probe, then read the used-block map and walk every extent (what a backup does). */
const blockMap: Parser = async (source) => {
  const map = await readUsedBlockMap(source, await probeFilesystem(source));
  let end = 0;
  for await (const extent of map.extents()) {
    if (extent.offset < end || extent.offset + extent.length > map.sizeBytes) throw new Error(`extent ${extent.offset}+${extent.length} out of order or outside ${map.sizeBytes}`);
    end = extent.offset + extent.length;
  }
};
const sfdisk = (script: string) => (file: string) => execa('sfdisk', ['--quiet', file], { input: script });
const targets: Target[] = [
  { name: 'mbr', size: 32 * MiB, make: sfdisk('label: dos\n,4MiB,83,*\n,,E\n,4MiB,83\n,4MiB,7\n,,82\n'), parse: table },
  { name: 'gpt', size: 32 * MiB, make: sfdisk('label: gpt\n,1MiB,21686148-6449-6E6F-744E-656564454649\n,4MiB,U\n,,L\n'), parse: table },
  { name: 'ext4', size: 32 * MiB, make: (file) => execa('mkfs.ext4', ['-q', '-F', file]), parse: probeFilesystem },
  { name: 'fat32', size: 40 * MiB, make: (file) => execa('mkfs.vfat', ['-F', '32', '-s', '1', file]), parse: probeFilesystem },
  { name: 'exfat', size: 16 * MiB, make: (file) => execa('mkfs.exfat', [file]), parse: probeFilesystem },
  { name: 'ntfs', size: 16 * MiB, make: (file) => execa('mkfs.ntfs', ['-Q', '-F', file]), parse: probeFilesystem },
  { name: 'ext4-map', size: 64 * MiB, make: (file) => execa('mkfs.ext4', ['-q', '-F', '-b', '1024', '-O', '^resize_inode,meta_bg', file]), parse: blockMap },
  { name: 'fat-map', size: 40 * MiB, make: (file) => execa('mkfs.vfat', ['-F', '32', '-s', '1', file]), parse: blockMap },
  { name: 'exfat-map', size: 16 * MiB, make: (file) => execa('mkfs.exfat', [file]), parse: blockMap },
  { name: 'ntfs-map', size: 16 * MiB, make: (file) => execa('mkfs.ntfs', ['-Q', '-F', file]), parse: blockMap },
];

const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fuzz-'));
let failures = 0;
try {
  for (const target of targets) {
    const file = path.join(dir, `${target.name}.img`);
    await execa('truncate', ['-s', String(target.size), file]);
    await target.make(file);
    const base = await openByteSource(file);
    const hot: Array<[number, number]> = [];
    await target.parse(recordingSource(base, hot));
    const random = prng(Number(values.seed) * 7919 + target.name.length);
    const counts: Record<string, number> = {};
    const started = Date.now();
    for (let i = 0; i < CASES; i += 1) {
      const truncate = random() < 0.1;
      const size = truncate ? Math.floor(random() * base.size) : base.size;
      const source = mutatedSource(base, truncate && random() < 0.5 ? [] : makePatches(random, hot, size), size);
      try {
        await withTimeout(target.parse(source), 5000, `${target.name} case ${i}`);
        counts.returned = (counts.returned ?? 0) + 1;
      } catch (error) {
        if (error instanceof LifeboatError && typeof error.details.offset === 'number') {
          counts[error.code] = (counts[error.code] ?? 0) + 1;
        } else {
          failures += 1;
          console.error(`FAIL ${target.name} case ${i} (seed ${values.seed}): ${error instanceof Error ? error.stack : String(error)}`);
        }
      }
    }
    await base.close();
    console.log(`${target.name.padEnd(9)} ${CASES} cases in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(failures === 0 ? 'fuzz: no crash, no hang, every error coded with its offset' : `fuzz: ${failures} failures`);
process.exitCode = failures === 0 ? 0 : 1;
