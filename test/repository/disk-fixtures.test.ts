// The round-trip fixtures and comparators, checked on their own (no Lifeboat involved): each
// filesystem fixture is clean and holds what the plan promised; a `cp --sparse=always` copy
// compares equal; a copy with one file's content, mtime or xattr changed, or with its metadata
// damaged, compares different. Same for the MBR and GPT disks (gap, boot code, BIOS boot bytes,
// table, backup GPT header on a larger disk).

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { flipByte } from '../helpers/filesystem-images.ts';
import {
  compareDisks,
  compareVolumes,
  type DiskFixture,
  dumpPartitionTable,
  type FilesystemKind,
  fsckVolume,
  makeFilesystemImage,
  makeGptDisk,
  makeMbrDisk,
  partitionVolume,
  readTree,
  type TreeListing,
  verifyGpt,
  type Volume,
  withMountedVolume,
} from '../helpers/disk-fixtures.ts';

const MiB = 1024 * 1024;
let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fixtures-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function sparseCopy(source: string, target: string): Promise<string> {
  await execa('cp', ['--sparse=always', source, target]);
  return target;
}

function entry(t: ExecutionContext, listing: TreeListing, key: string): string {
  const line = listing.get(key);
  t.truthy(line, `${key} is listed`);
  return line ?? '';
}

const sizes: Record<FilesystemKind, number> = { ext4: 64, fat32: 64, exfat: 32, ntfs: 64 };

/** A change to a copy that the comparators must notice, and the text expected in their report. */
interface Mutation {
  readonly name: string;
  readonly apply: (copy: Volume) => Promise<void>;
  readonly expect: RegExp;
}

const mutations: Record<FilesystemKind, Mutation[]> = {
  ext4: [
    { name: 'one mtime changed', apply: (copy) => withMountedVolume(copy, 'rw', (root) => utimes(path.join(root, 'docs/readme.txt'), 1e9, 1e9)), expect: /differs: docs\/readme\.txt/ },
    { name: 'one xattr changed (debugfs)', apply: async (copy) => void (await execa('debugfs', ['-w', '-R', 'ea_set /big/blob-0.bin trusted.lifeboat changed', copy.file])), expect: /differs: big\/blob-0\.bin[\s\S]*xattrs=/ },
    { name: 'a used block marked free (fsck must fail)', apply: async (copy) => {
      const { stdout } = await execa('debugfs', ['-R', 'blocks /big/blob-0.bin', copy.file], { stderr: 'ignore' });
      await execa('debugfs', ['-w', '-R', `freeb ${stdout.trim().split(/\s+/)[0]} 8`, copy.file]);
    }, expect: /is not clean/ },
  ],
  fat32: [
    { name: 'one file rewritten with other bytes, same size', apply: async (copy) => {
      const replacement = path.join(workDir, 'fat-replacement');
      await writeFile(replacement, Buffer.alloc(900, 0x41));
      await execa('mcopy', ['-o', '-i', copy.file, replacement, '::/small/s0/note-004.bin'], { env: { MTOOLS_SKIP_CHECK: '1' } });
    }, expect: /note-004\.bin/ },
    { name: 'a byte of the second FAT flipped (fsck must fail)', apply: async (copy) => {
      const boot = Buffer.alloc(512);
      const handle = await open(copy.file, 'r');
      await handle.read(boot, 0, 512, 0);
      await handle.close();
      const secondFat = (boot.readUInt16LE(14) + boot.readUInt32LE(36)) * 512;
      await flipByte(copy.file, secondFat + 64);
    }, expect: /is not clean/ },
  ],
  exfat: [
    { name: 'one byte of one file changed', apply: (copy) => withMountedVolume(copy, 'rw', async (root) => {
      const handle = await open(path.join(root, 'big/blob-2.bin'), 'r+');
      await handle.write(Buffer.from('!'), 0, 1, 12345);
      await handle.close();
    }), expect: /differs: big\/blob-2\.bin/ },
  ],
  ntfs: [
    { name: 'one mtime changed', apply: (copy) => withMountedVolume(copy, 'rw', (root) => utimes(path.join(root, 'frag/large.bin'), 1e9, 1e9)), expect: /differs: frag\/large\.bin/ },
  ],
};

/** Checks what the plan put in: links, xattrs, sparse files, attributes, names, as each format holds them. */
function checkContent(t: ExecutionContext, kind: FilesystemKind, listing: TreeListing): void {
  const key = (p: string) => (kind === 'fat32' ? `/${p}` : p);
  t.true(listing.size > 180, `${listing.size} entries`);
  t.regex(entry(t, listing, key('big/blob-1.bin')), /size=1\d{6}/);
  entry(t, listing, key('Ünïcödé – 目录/Ελληνικά/файл данных.bin'));
  entry(t, listing, key(`${'L'.repeat(240)}.txt`));
  entry(t, listing, key('frag/interleaved-b.bin'));
  t.false(listing.has(key('frag/piece-00.bin')), 'deleted pieces are gone');
  if (kind === 'ext4' || kind === 'ntfs') {
    t.regex(entry(t, listing, 'links/sub/hard-2'), /links=\[big\/blob-1\.bin\|links\/blob-link\]|links=\[links\/hard-1\|links\/original\.txt\|links\/sub\/hard-2\]/);
    t.regex(entry(t, listing, 'links/relative'), /^symlink .*target=original\.txt/);
    const sparse = entry(t, listing, 'sparse.bin');
    const blocks = Number(/blocks=(\d+)/.exec(sparse)?.[1]);
    t.true(blocks * 512 < 2 * MiB, `sparse.bin allocates ${blocks * 512} bytes of 16 MiB`);
  }
  if (kind === 'ext4') {
    t.regex(entry(t, listing, 'docs/readme.txt'), /xattrs=\{.*user\.comment/);
    t.regex(entry(t, listing, 'docs'), /xattrs=\{.*user\.folder/);
    t.regex(entry(t, listing, 'special/fifo'), /^fifo /);
    t.regex(entry(t, listing, 'shared'), /mode=1777/);
    entry(t, listing, `deep/${'n'.repeat(251)}.bin`);
    t.true(new Set([...listing.values()].map((line) => /uid=(\d+)/.exec(line)?.[1])).size >= 3, 'several owners');
  }
  if (kind === 'fat32') {
    t.regex(entry(t, listing, '/docs/system.dat'), /attr=.*S/);
    t.regex(entry(t, listing, '/docs/readme.txt'), /attr=.*R/);
    t.regex(entry(t, listing, '<mdir -/ -a>'), /Grüße aus Köln\.txt/);
  }
  if (kind !== 'fat32') entry(t, listing, 'docs/rocket 🚀 launch.txt');
}

for (const kind of ['ext4', 'fat32', 'exfat', 'ntfs'] as const) {
  test(`${kind} fixture: clean, holds the planned tree; equal to a sparse copy; different once changed`, async (t) => {
    t.timeout(10 * 60_000);
    const started = Date.now();
    const fixture = await makeFilesystemImage(kind, path.join(workDir, `${kind}.img`), { sizeMiB: sizes[kind], seed: 100 + sizes[kind] + kind.length });
    t.log(`built in ${Date.now() - started} ms`);
    const fsck = await fsckVolume(fixture);
    t.true(fsck.clean, fsck.output);
    if (kind === 'ext4') t.log(fsck.output.split('\n').find((line) => /non-contiguous/.test(line)) ?? '');
    checkContent(t, kind, await readTree(fixture));

    const copy: Volume = { ...fixture, file: await sparseCopy(fixture.file, path.join(workDir, `${kind}-copy.img`)) };
    t.deepEqual(await compareVolumes(fixture, copy), []);
    for (const mutation of mutations[kind]) {
      const changed: Volume = { ...fixture, file: await sparseCopy(fixture.file, path.join(workDir, `${kind}-changed.img`)) };
      await mutation.apply(changed);
      const differences = await compareVolumes(fixture, changed);
      t.true(differences.length > 0, `${mutation.name}: reported`);
      t.regex(differences.join('\n'), mutation.expect, mutation.name);
    }
  });
}

async function checkDiskCopies(t: ExecutionContext, disk: DiskFixture, name: string, pokes: Array<[string, number, RegExp]>): Promise<void> {
  const copy = await sparseCopy(disk.file, path.join(workDir, `${name}-copy.img`));
  t.deepEqual(await compareDisks(disk, copy), [], 'a sparse copy is equal');
  for (const [what, offset, expect] of pokes) {
    const changed = await sparseCopy(disk.file, path.join(workDir, `${name}-changed.img`));
    await flipByte(changed, offset);
    const differences = await compareDisks(disk, changed);
    t.regex(differences.join('\n'), expect, what);
  }
}

test('MBR disk fixture: table, boot code and gap, three clean filesystems; a copy is equal, a changed gap, boot code, table or file is not', async (t) => {
  t.timeout(10 * 60_000);
  const disk = await makeMbrDisk(workDir, 7);
  const dump = await dumpPartitionTable(disk.file);
  t.regex(dump, /label: dos/);
  t.regex(dump, /DISK5 : start=\s*\d+, size=\s*131072, type=7/);
  t.deepEqual(disk.partitions.map((partition) => `${partition.number}:${partition.content}`), ['1:ext4', '2:fat32', '3:extended', '5:ntfs']);
  for (const partition of disk.partitions) {
    if (partition.content === 'extended' || partition.content === 'bios-boot') continue;
    const fsck = await fsckVolume(partitionVolume(partition, disk.file));
    t.true(fsck.clean, `${partition.number}: ${fsck.output}`);
  }
  await checkDiskCopies(t, disk, 'mbr', [
    ['one byte of the gap', 300 * 512 + 7, /boot gap .* differs/],
    ['one byte of the boot code', 17, /boot code .* differs/],
  ]);
  const retyped = await sparseCopy(disk.file, path.join(workDir, 'mbr-retyped.img'));
  await execa('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', '--part-type', retyped, '2', 'b']);
  t.regex((await compareDisks(disk, retyped)).join('\n'), /partition tables differ[\s\S]*type=b/);
  const ext4 = disk.partitions.find((partition) => partition.content === 'ext4')!;
  const edited = await sparseCopy(disk.file, path.join(workDir, 'mbr-edited.img'));
  await withMountedVolume(partitionVolume(ext4, edited), 'rw', (root) => writeFile(path.join(root, 'docs/readme.txt'), 'changed'));
  t.regex((await compareDisks(disk, edited)).join('\n'), /partition 1 \(ext4\): differs: docs\/readme\.txt/);
});

test('GPT disk fixture: BIOS boot bytes, four clean filesystems, sgdisk -v clean; a larger copy needs its backup header moved; changes are reported', async (t) => {
  t.timeout(10 * 60_000);
  const disk = await makeGptDisk(workDir, 11);
  t.deepEqual(disk.partitions.map((partition) => `${partition.number}:${partition.content}`), ['1:bios-boot', '2:fat32', '3:ntfs', '4:exfat', '5:ext4']);
  const verified = await verifyGpt(disk.file);
  t.true(verified.clean, verified.output);
  const biosBoot = disk.partitions[0]!;
  await checkDiskCopies(t, disk, 'gpt', [
    ['one byte of the BIOS boot partition', biosBoot.offset + 1000, /BIOS boot partition 1 differs/],
    ['one byte of the boot code', 3, /boot code .* differs/],
  ]);
  const larger = await sparseCopy(disk.file, path.join(workDir, 'gpt-larger.img'));
  await truncate(larger, disk.sizeBytes + 64 * MiB);
  t.false((await verifyGpt(larger)).clean, 'backup header not at the end: sgdisk -v complains');
  await execa('sgdisk', ['-e', larger]);
  const moved = await verifyGpt(larger);
  t.true(moved.clean, moved.output);
  t.deepEqual(await compareDisks(disk, larger, { largerDisk: true }), []);
  t.regex((await compareDisks(disk, larger)).join('\n'), /last-lba/, 'without largerDisk the new last-lba is a difference');
});
