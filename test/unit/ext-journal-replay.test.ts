// The ext journal replay against the kernel and e2fsck. An ext4 image is mounted through a loop
// device, filled and synced (home blocks written), then changed (rename, delete, new files, a file
// rewritten) and one file fsync'ed: that commits the running jbd2 transaction but leaves the
// changed metadata only in the journal (the block device's dirty buffers are written back ~30 s
// later). The backing file is copied while still mounted: the copy has needs_recovery and committed
// transactions. A second copy is replayed by `e2fsck -fy`; debugfs `rdump` of it is the truth the
// reader must show. The unreplayed view must differ from it (else the setup proved nothing and the
// test says so). Then hostile journals: each gives a notice and no crash or hang. Last, a partition
// backup of such a copy, restored and replayed by e2fsck, holds the same files (its used-block map
// includes what only the journal allocates).

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32cUpdate } from '../../rescue/core/filesystems/crc32c.ts';
import { openExtTreeWith } from '../../rescue/core/file-trees/ext-tree.ts';
import type { FileEntry, FileTree } from '../../rescue/core/file-trees/file-tree.ts';
import { openByteSource } from '../../rescue/io/file-source.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { lifeboat } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
const JBD2_MAGIC = Buffer.from([0xc0, 0x3b, 0x39, 0x98]);
const ATTEMPTS = 3;
let work = '';

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-journal-'));
});

test.after.always(async () => {
  if (work) {
    for (const name of await readdir(work)) if (name.startsWith('mnt-')) await execa('umount', [path.join(work, name)], { reject: false });
    await rm(work, { recursive: true, force: true });
  }
});

/** path -> "kind size sha256" (or the link target) for every entry under the root. */
async function treeOf(tree: FileTree): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (folder: FileEntry, prefix: string): Promise<void> => {
    for (const entry of await tree.list(folder)) {
      const name = `${prefix}/${entry.name}`;
      if (entry.kind === 'directory') {
        found.set(name, 'directory');
        if (entry.name !== 'lost+found') await walk(entry, name);
      } else if (entry.kind === 'file') {
        const content = await tree.openFile(entry);
        found.set(name, `file ${entry.size} ${createHash('sha256').update(await content.read(0, content.size)).digest('hex')}`);
      } else if (entry.kind === 'symlink') found.set(name, `symlink ${await tree.readLink(entry)}`);
      else found.set(name, entry.kind);
    }
  };
  await walk(await tree.root(), '');
  return found;
}

/** The same map from debugfs rdump of an image (what e2fsprogs reads). */
async function debugfsTree(image: string, scratch: string): Promise<Map<string, string>> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  await execa('debugfs', ['-R', `rdump / ${scratch}`, image]);
  const found = new Map<string, string>();
  const walk = async (folder: string, prefix: string): Promise<void> => {
    for (const name of await readdir(folder)) {
      const full = path.join(folder, name);
      const info = await lstat(full);
      const key = `${prefix}/${name}`;
      if (info.isDirectory()) {
        found.set(key, 'directory');
        if (name !== 'lost+found') await walk(full, key);
      } else if (info.isFile()) found.set(key, `file ${info.size} ${createHash('sha256').update(await readFile(full)).digest('hex')}`);
      else if (info.isSymbolicLink()) found.set(key, `symlink ${await readlink(full)}`);
    }
  };
  await walk(scratch, '');
  return found;
}

async function readTree(image: string, replayJournal: boolean): Promise<{ entries: Map<string, string>; notices: readonly string[] }> {
  const source = await openByteSource(image);
  try {
    const tree = await openExtTreeWith(source, { replayJournal });
    if (!tree) throw new Error(`${image} holds no ext filesystem`);
    return { entries: await treeOf(tree), notices: tree.notices ?? [] };
  } finally {
    await source.close();
  }
}

interface CrashCopy {
  /** Copied while mounted: needs_recovery, committed transactions not checkpointed. */
  readonly image: string;
  /** Another copy, replayed by e2fsck -fy. */
  readonly replayed: string;
  readonly truth: Map<string, string>;
  readonly unreplayed: Map<string, string>;
}

/**
 * Makes the crash copy: `before` fills the mounted filesystem (then syncfs writes every home
 * block), `after` changes it, an fsync commits the transaction, and the image is copied while still
 * mounted. Retried when the copy's unreplayed view already equals the truth (the kernel wrote the
 * home blocks in between); fails clearly when no attempt produced a journal to replay.
 */
async function crashCopy(t: ExecutionContext, name: string, { mountOptions = '', mkfsOptions = [] }: { mountOptions?: string; mkfsOptions?: readonly string[] }, before: (root: string) => Promise<void>, after: (root: string) => Promise<void>): Promise<CrashCopy> {
  const mnt = path.join(work, `mnt-${name}`);
  await mkdir(mnt, { recursive: true });
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const base = path.join(work, `${name}-${attempt}`);
    const live = await sparseFile(`${base}-live.img`, 64 * MiB);
    await execa('mkfs.ext4', ['-q', '-F', ...mkfsOptions, live]);
    const image = `${base}.img`;
    const replayed = `${base}-replayed.img`;
    await execa('mount', ['-o', `loop${mountOptions ? `,${mountOptions}` : ''}`, live, mnt]);
    try {
      await before(mnt);
      await execa('sync', ['-f', mnt]); // syncfs: this filesystem and its own block device only
      await after(mnt);
      await writeFile(path.join(mnt, 'fsync-marker'), ''); // empty: needs no data block on a full filesystem
      await execa('sync', [path.join(mnt, 'fsync-marker')]); // fsync: commits the running transaction only
      await execa('cp', ['--sparse=always', live, image]);
    } finally {
      await execa('umount', [mnt]);
    }
    await copyFile(image, replayed);
    const { stdout: features } = await execa('dumpe2fs', ['-h', image], { reject: false });
    const { stdout: log } = await execa('debugfs', ['-R', 'logdump', image]);
    t.regex(features, /needs_recovery/, 'the copy taken while mounted has needs_recovery');
    if (!/commit block/.test(log)) {
      t.log(`attempt ${attempt}: the copy's journal holds no commit block:\n${log}`);
      continue;
    }
    const fsck = await execa('e2fsck', ['-fy', replayed], { reject: false });
    t.true(fsck.exitCode === 0 || fsck.exitCode === 1, `e2fsck -fy replays the journal: ${fsck.stdout}`);
    const truth = await debugfsTree(replayed, `${base}-rdump`);
    const unreplayed = (await readTree(image, false)).entries;
    if (JSON.stringify([...unreplayed]) === JSON.stringify([...truth])) {
      t.log(`attempt ${attempt}: the home blocks were already written; nothing to replay`);
      continue;
    }
    return { image, replayed, truth, unreplayed };
  }
  throw new Error(`no attempt of ${ATTEMPTS} produced a copy whose journal holds changes missing from its main area: the test setup failed, not the reader`);
}

/** Writes and fsyncs a file: its blocks are allocated and its size committed (delayed allocation would leave it empty after a crash). */
async function writeDurably(file: string, content: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function renameDeleteAndAdd(root: string): Promise<void> {
  await rename(path.join(root, 'dir', 'f01'), path.join(root, 'dir', 'renamed'));
  await unlink(path.join(root, 'dir', 'f02'));
  await rm(path.join(root, 'gone'), { recursive: true });
  await writeDurably(path.join(root, 'new.txt'), 'written after the sync\n');
  await writeDurably(path.join(root, 'big.bin'), randomBytes(700 * 1024));
  await mkdir(path.join(root, 'newdir/sub'), { recursive: true });
  for (let i = 0; i < 50; i++) await writeDurably(path.join(root, 'newdir/sub', `n${i}`), `new ${i}\n`);
}

async function fillBase(root: string): Promise<void> {
  await mkdir(path.join(root, 'dir'));
  for (let i = 1; i <= 30; i++) await writeFile(path.join(root, 'dir', `f${String(i).padStart(2, '0')}`), `file ${i}\n`);
  await mkdir(path.join(root, 'gone'));
  for (let i = 0; i < 40; i++) await writeFile(path.join(root, 'gone', `g${i}`), randomBytes(3000));
  await writeFile(path.join(root, 'big.bin'), randomBytes(300 * 1024));
}

test.serial('a copy of a mounted ext4 reads as e2fsck replays it: renamed, deleted and new files; the unreplayed view is stale', async (t) => {
  const copy = await crashCopy(t, 'ordered', {}, fillBase, renameDeleteAndAdd);
  const { entries, notices } = await readTree(copy.image, true);
  t.deepEqual([...entries].sort(), [...copy.truth].sort());
  t.regex(notices.join('\n'), /committed journal transaction\(s\) .* replayed in memory/);
  // The copy was not written: e2fsck -n still finds the journal to replay.
  const { stdout } = await execa('dumpe2fs', ['-h', copy.image]);
  t.regex(stdout, /needs_recovery/);

  // As a user runs it: ls shows the new names with a notice, get restores a file only the journal knows.
  const listed = await lifeboat(['ls', copy.image, '/dir']);
  t.is(listed.exitCode, 0, listed.stderr);
  t.true(listed.stdout.split('\n').includes('renamed'));
  t.false(listed.stdout.split('\n').includes('f02'));
  t.regex(listed.stderr, /notice: .*replayed in memory; nothing was written/);
  const dest = path.join(work, 'get-ordered');
  const got = await lifeboat(['get', copy.image, '/newdir', '/new.txt', dest]);
  t.is(got.exitCode, 0, got.stderr);
  t.is(await readFile(path.join(dest, 'new.txt'), 'utf8'), 'written after the sync\n');
  t.is((await readdir(path.join(dest, 'newdir', 'sub'))).length, 50);
});

for (const [name, mkfsOptions] of [
  ['ext4 without 64bit and metadata_csum (8-byte tags, no journal checksums)', ['-O', '^64bit,^metadata_csum']],
  ['ext3 (block maps, 8-byte tags)', ['-t', 'ext3']],
] as const) {
  test.serial(`${name}: the copy of the mounted filesystem reads as e2fsck replays it`, async (t) => {
    const copy = await crashCopy(t, name.split(' ')[0]!.concat(name.includes('ext3') ? '' : '-plain'), { mkfsOptions }, fillBase, renameDeleteAndAdd);
    const features = /^Journal features:(.*)$/m.exec((await execa('dumpe2fs', ['-h', copy.image])).stdout)?.[1] ?? '';
    t.notRegex(features, /64bit|checksum/, 'a journal with 32-bit tags and no checksums');
    const { entries } = await readTree(copy.image, true);
    t.deepEqual([...entries].sort(), [...copy.truth].sort());
  });
}

test.serial('data=journal: file contents come from the journal, and a block that began with the jbd2 magic is unescaped', async (t) => {
  const magicFile = Buffer.concat([JBD2_MAGIC, randomBytes(3 * 4096 - 4)]);
  magicFile.set(JBD2_MAGIC, 4096); // the second block begins with the magic too
  const copy = await crashCopy(t, 'journal', { mountOptions: 'data=journal' }, fillBase, async (root) => {
    await renameDeleteAndAdd(root);
    await writeDurably(path.join(root, 'magic.bin'), magicFile);
    await writeDurably(path.join(root, 'dir', 'f03'), 'rewritten in place\n');
  });
  const { stdout: log } = await execa('debugfs', ['-R', 'logdump', copy.image]);
  t.regex(log, /commit block/);
  const { entries } = await readTree(copy.image, true);
  t.deepEqual([...entries].sort(), [...copy.truth].sort());
  t.is(entries.get('/dir/f03'), `file 19 ${createHash('sha256').update('rewritten in place\n').digest('hex')}`);
  t.is(entries.get('/magic.bin'), `file ${magicFile.length} ${createHash('sha256').update(magicFile).digest('hex')}`);
});

test.serial('revoke records: a folder\'s blocks logged, then freed and reused for file data in place, are not replayed over that data', async (t) => {
  // A nearly full filesystem (no reserved blocks): the folder's blocks are among the few free ones,
  // and the file written after its deletion fills every free block, so it reuses them.
  const copy = await crashCopy(t, 'revoke', { mkfsOptions: ['-m', '0'] }, async (root) => {
    await writeFile(path.join(root, 'keep.txt'), 'kept\n');
  }, async (root) => {
    const { stdout } = await execa('df', ['--output=avail', '-B1024', root]);
    const availableKiB = Number(stdout.trim().split('\n').pop());
    await execa('fallocate', ['-l', String((availableKiB - 300) * 1024), path.join(root, 'filler')]);
    await mkdir(path.join(root, 'D'));
    for (let i = 0; i < 300; i++) await writeFile(path.join(root, 'D', `entry-with-a-long-name-${i}`), '');
    await execa('sync', [path.join(root, 'D')]); // commits the folder's blocks into the journal
    await rm(path.join(root, 'D'), { recursive: true });
    await execa('sync', [path.join(root, 'keep.txt')]); // commits the deletion: revoke records
    const fill = await open(path.join(root, 'B'), 'w');
    try {
      for (;;) await fill.write(Buffer.alloc(1024, 0x42));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      await fill.sync().catch(() => undefined);
      await fill.close();
    }
  });
  const { stdout: log } = await execa('debugfs', ['-R', 'logdump', copy.image]);
  t.regex(log, /revoke table/, 'the journal holds revoke records');
  const { entries } = await readTree(copy.image, true);
  t.deepEqual([...entries].sort(), [...copy.truth].sort());
  t.regex(entries.get('/B') ?? '', /^file [1-9]/);
});

/** Journal block `n`'s byte offset in the image (debugfs bmap of inode 8). */
async function journalBlockOffset(image: string, block: number): Promise<number> {
  const { stdout } = await execa('debugfs', ['-R', `bmap <8> ${block}`, image]);
  const { stdout: size } = await execa('dumpe2fs', ['-h', image]);
  const blockSize = Number(/Block size:\s+(\d+)/.exec(size)?.[1]);
  return Number(stdout.trim()) * blockSize;
}

/**
 * Finds the last descriptor tag (csum v3, 16-byte tags) that logs filesystem block 1, the superblock
 * of a 1 KiB-block filesystem; sets s_log_block_size to 9 in that copy and reseals it. False when
 * the journal logs no superblock.
 */
async function corruptLoggedSuperblock(image: string): Promise<boolean> {
  const blockSize = 1024;
  const { stdout } = await execa('debugfs', ['-R', 'logdump', image]);
  const descriptors = [...stdout.matchAll(/Found expected sequence (\d+), type 1 \(descriptor block\) at block (\d+)/g)].map((match) => ({ sequence: Number(match[1]), block: Number(match[2]) }));
  const bytes = await readFile(image);
  const sbAt = await journalBlockOffset(image, 0);
  const seed = crc32cUpdate(0xffffffff, bytes.subarray(sbAt + 0x30, sbAt + 0x40));
  let found: { descriptorAt: number; tagAt: number; dataAt: number; sequence: number } | undefined;
  for (const descriptor of descriptors) {
    const descriptorAt = await journalBlockOffset(image, descriptor.block);
    let at = 12;
    for (let index = 0; at + 16 <= blockSize - 4; index++) {
      const target = bytes.readUInt32BE(descriptorAt + at);
      const flags = bytes.readUInt32BE(descriptorAt + at + 4);
      if (target === 1) found = { descriptorAt, tagAt: descriptorAt + at, dataAt: await journalBlockOffset(image, descriptor.block + 1 + index), sequence: descriptor.sequence };
      at += 16 + (flags & 0x2 ? 0 : 16);
      if (flags & 0x8) break;
    }
  }
  if (!found) return false;
  const copy = bytes.subarray(found.dataAt, found.dataAt + blockSize);
  copy.writeUInt32LE(9, 0x18); // s_log_block_size: 512 KiB blocks
  copy.writeUInt32LE(crc32cUpdate(0xffffffff, copy.subarray(0, 0x3fc)), 0x3fc);
  const sequence = Buffer.alloc(4);
  sequence.writeUInt32BE(found.sequence);
  bytes.writeUInt32BE(crc32cUpdate(crc32cUpdate(seed, sequence), copy), found.tagAt + 12);
  const descriptor = bytes.subarray(found.descriptorAt, found.descriptorAt + blockSize);
  descriptor.writeUInt32BE(0, blockSize - 4);
  descriptor.writeUInt32BE(crc32cUpdate(seed, descriptor), blockSize - 4);
  await writeFile(image, bytes);
  return true;
}

/** Rewrites the journal superblock field at `at` (big-endian u32) and its crc32c (csum v3). */
async function patchJournalSuperblock(image: string, at: number, value: number): Promise<void> {
  const offset = await journalBlockOffset(image, 0);
  const bytes = await readFile(image);
  const sb = bytes.subarray(offset, offset + 1024);
  sb.writeUInt32BE(value, at);
  sb.writeUInt32BE(0, 0xfc);
  sb.writeUInt32BE(crc32cUpdate(0xffffffff, sb), 0xfc);
  await writeFile(image, bytes);
}

test.serial('hostile journals: an absurd size, a logged block past the filesystem, a journal mapped outside it, a damaged superblock copy and a log that wraps onto itself give notices, never a crash or a hang', async (t) => {
  const copy = await crashCopy(t, 'hostile', {}, fillBase, renameDeleteAndAdd);
  const stale = [...copy.unreplayed].sort();

  const huge = path.join(work, 'hostile-maxlen.img');
  await copyFile(copy.image, huge);
  await patchJournalSuperblock(huge, 0x10, 0xffffffff);
  const hugeRead = await readTree(huge, true);
  t.deepEqual([...hugeRead.entries].sort(), stale, 'the damaged journal is ignored: the main area as it stands');
  t.regex(hugeRead.notices.join('\n'), /journal is damaged \(LB_FILESYSTEM_CORRUPT: .*s_maxlen/);

  // The first tag of the first descriptor names a block far past the filesystem (tail checksum recomputed).
  const far = path.join(work, 'hostile-target.img');
  await copyFile(copy.image, far);
  const { stdout: log } = await execa('debugfs', ['-R', 'logdump', far]);
  const descriptorAt = Number(/descriptor block\) at block (\d+)/.exec(log)?.[1]);
  const offset = await journalBlockOffset(far, descriptorAt);
  const bytes = await readFile(far);
  const blockSize = (await journalBlockOffset(far, 1)) - (await journalBlockOffset(far, 0));
  const descriptor = bytes.subarray(offset, offset + blockSize);
  descriptor.writeUInt32BE(0x7fffffff, 12);
  descriptor.writeUInt32BE(0, blockSize - 4);
  const sbOffset = await journalBlockOffset(far, 0);
  const seed = crc32cUpdate(0xffffffff, bytes.subarray(sbOffset + 0x30, sbOffset + 0x40));
  descriptor.writeUInt32BE(crc32cUpdate(seed, descriptor), blockSize - 4);
  await writeFile(far, bytes);
  const farRead = await readTree(far, true);
  t.regex(farRead.notices.join('\n'), /logs block 2147483647, past the filesystem's \d+ blocks; that block was skipped/);
  t.true(farRead.entries.has('/dir'), 'the folder still reads');

  // The journal inode's first extent moved past the end of the filesystem (i_block[5] is its ee_start_lo).
  const outside = path.join(work, 'hostile-extent.img');
  await copyFile(copy.image, outside);
  await execa('debugfs', ['-w', '-R', 'sif <8> block[5] 0x7ffffff0', outside]);
  // As e2fsck does, the journal is then found through its copy in the superblock (s_jnl_blocks).
  const fromCopy = await readTree(outside, true);
  t.deepEqual([...fromCopy.entries].sort(), [...copy.truth].sort(), 'the journal read through its superblock copy replays');
  t.regex(fromCopy.notices.join('\n'), /journal inode 8 is damaged \(.*outside the filesystem.*its copy in the superblock \(s_jnl_blocks\) was used/);
  // Without that copy (s_jnl_backup_type 0), the journal cannot be read.
  await execa('debugfs', ['-w', '-R', 'ssv jnl_backup_type 0', outside]);
  const outsideRead = await readTree(outside, true);
  t.deepEqual([...outsideRead.entries].sort(), stale, 'the journal cannot be read: the main area as it stands');
  t.regex(outsideRead.notices.join('\n'), /journal is damaged \(LB_FILESYSTEM_CORRUPT: .*outside the filesystem/);

  // The journal's newest copy of the superblock (block 1 with 1 KiB blocks) made invalid, every checksum
  // on the way recomputed (superblock, the tag's data checksum, the descriptor tail): the replayed view
  // cannot be opened, so the files read without replay, with a notice.
  const badSuper = path.join(work, 'hostile-superblock.img');
  await copyFile(copy.image, badSuper);
  t.true(await corruptLoggedSuperblock(badSuper), 'the journal logs the superblock (unlinks put inodes on the orphan list)');
  const badSuperRead = await readTree(badSuper, true);
  t.deepEqual([...badSuperRead.entries].sort(), stale);
  t.regex(badSuperRead.notices.join('\n'), /replayed superblock is damaged \(LB_FILESYSTEM_CORRUPT: .*s_log_block_size/);

  // s_maxlen shrunk to 3 blocks: the log (descriptor at 1, data at 2) wraps onto itself.
  const tiny = path.join(work, 'hostile-wrap.img');
  await copyFile(copy.image, tiny);
  await patchJournalSuperblock(tiny, 0x10, 3);
  const tinyRead = await readTree(tiny, true);
  t.deepEqual([...tinyRead.entries].sort(), stale, 'no transaction completes inside 2 log blocks');
  t.regex(tinyRead.notices.join('\n'), /names more blocks than the log holds/);
});

test.serial('partition backup of a needs_recovery ext4: blocks only the journal allocates are backed up, so the restored copy replays to the same files', async (t) => {
  const copy = await crashCopy(t, 'backup', {}, fillBase, renameDeleteAndAdd);
  const repo = path.join(work, 'backup-repo');
  const password = path.join(work, 'backup-password');
  await writeFile(password, 'journal test\n');
  const init = await lifeboat(['init', '-r', repo, '--password-file', password]);
  t.is(init.exitCode, 0, init.stderr);
  const backup = await lifeboat(['backup', 'partition', copy.image, '-r', repo, '--password-file', password]);
  t.is(backup.exitCode, 0, backup.stderr);
  const restored = await sparseFile(path.join(work, 'backup-restored.img'), 64 * MiB);
  const restore = await lifeboat(['restore', 'latest', restored, '-r', repo, '--password-file', password, '-y']);
  t.is(restore.exitCode, 0, restore.stderr);
  const fsck = await execa('e2fsck', ['-fy', restored], { reject: false });
  t.true(fsck.exitCode === 0 || fsck.exitCode === 1, `e2fsck -fy replays the restored journal: ${fsck.stdout}`);
  t.deepEqual([...(await debugfsTree(restored, path.join(work, 'backup-rdump')))].sort(), [...copy.truth].sort());
  t.is((await execa('e2fsck', ['-fn', restored], { reject: false })).exitCode, 0, 'the restored, replayed filesystem is clean');
});

test.serial('an external journal (mkfs.ext4 -J device=) is not on the source: the files read as they stand, with a notice saying so', async (t) => {
  const journal = await sparseFile(path.join(work, 'external-journal.img'), 8 * MiB);
  await execa('mke2fs', ['-q', '-F', '-O', 'journal_dev', '-b', '4096', journal]);
  const image = await sparseFile(path.join(work, 'external.img'), 64 * MiB);
  const device = (await execa('losetup', ['-f', '--show', journal])).stdout.trim();
  try {
    await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-J', `device=${device}`, image]);
  } finally {
    await execa('losetup', ['-d', device]);
  }
  // As the kernel leaves it while mounted (or after a crash): needs_recovery set.
  await execa('debugfs', ['-w', '-R', 'feature needs_recovery', image]);
  t.regex((await execa('dumpe2fs', ['-h', image])).stdout, /Journal device:/);
  const { entries, notices } = await readTree(image, true);
  t.deepEqual([...entries.keys()], ['/lost+found']);
  t.regex(notices.join('\n'), /journal was not replayed.*external journal/);
});
