// The dispatcher picks each filesystem's own map; swap keeps only its header; anything else is
// copied whole with a notice. Images made by the real mkfs tools.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readUsedBlockMap } from '../../rescue/core/block-maps/read-used-block-map.ts';
import { probeFilesystem } from '../../rescue/core/filesystems/probe-filesystem.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';

const MiB = 1024 * 1024;

const cases: Array<[string, string[], (map: { filesystem: string; notice: string | undefined; usedBlocks: number; totalBlocks: number }) => boolean]> = [
  ['mkfs.ext4 -q -F', [], (map) => map.filesystem.startsWith('ext') && map.notice === undefined && map.usedBlocks < map.totalBlocks],
  ['mkfs.ext4 -q -F -O bigalloc -C 16384', [], (map) => map.filesystem.startsWith('ext') && map.notice === undefined && map.usedBlocks < map.totalBlocks],
  ['mkfs.vfat -F 32', [], (map) => /fat/i.test(map.filesystem) && map.notice === undefined && map.usedBlocks < map.totalBlocks],
  ['mkfs.exfat', [], (map) => map.notice === undefined && map.usedBlocks < map.totalBlocks],
  ['mkfs.ntfs -Q -F', [], (map) => map.notice === undefined && map.usedBlocks < map.totalBlocks],
  ['mkswap', [], (map) => map.filesystem === 'swap' && map.usedBlocks === 1],
  ['mkfs.btrfs -q', [], (map) => map.filesystem === 'btrfs' && map.notice !== undefined && map.usedBlocks === map.totalBlocks],
  ['true', [], (map) => map.filesystem === 'unrecognised' && map.notice !== undefined && map.usedBlocks === map.totalBlocks],
];

for (const [command, extra, check] of cases) {
  test(`used-block map for ${command}`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-map-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const image = path.join(dir, 'fs.img');
    await execa('truncate', ['-s', String(128 * MiB), image]);
    const [program, ...args] = command.split(' ');
    await execa(program ?? 'true', [...args, ...extra, ...(program === 'true' ? [] : [image])]);
    const source = await openByteSource(image);
    t.teardown(() => source.close());
    const map = await readUsedBlockMap(source, await probeFilesystem(source));
    t.true(check(map), JSON.stringify({ ...map, extents: undefined }));
    let covered = 0;
    let previousEnd = -1;
    for await (const extent of map.extents()) {
      t.true(extent.offset > previousEnd && extent.offset + extent.length <= map.sizeBytes);
      previousEnd = extent.offset + extent.length;
      covered += extent.length;
    }
    t.true(covered >= Math.min(map.usedBlocks * map.blockSize, map.sizeBytes) - map.blockSize && covered <= map.usedBlocks * map.blockSize);
  });
}
