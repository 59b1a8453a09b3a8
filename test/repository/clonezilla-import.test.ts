// `lifeboat restore CLONEZILLA_DIR TARGET` and `lifeboat import clonezilla DIR -r REPO` on an image
// directory saved the way ocs-sr saves a real MBR disk (ext4 bootable, FAT32, swap; partclone | zstd
// split, partclone | gzip split): the restored disk has the source's table (sfdisk -d), boot code and
// boot gap, each partition equals what partclone.restore writes, fsck is clean, swap keeps its UUID
// and label; an import restores to the same disk and browses; a damaged block fails the import with
// a coded error naming partition and block and leaves the repository as it was; --dry-run writes nothing.

import test from 'ava';
import { execa } from 'execa';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { P1, P2, P3, partcloneRestore, removeClonezillaTestDisks, saveLikeOcsSr, SECTOR, sharedClonezillaSourceDisk, SWAP, type BuiltClonezillaDisk } from '../helpers/clonezilla.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { describe, errorCode, lifeboat, listSnapshots } from '../helpers/repository-harness.ts';

const source = sharedClonezillaSourceDisk;

test.after.always(removeClonezillaTestDisks);

const PARTS = [
  { name: 'sda1', range: P1, fsck: ['e2fsck', '-fn'] },
  { name: 'sda2', range: P2, fsck: ['fsck.fat', '-n'] },
] as const;

const sfdiskDump = async (file: string): Promise<string> => (await execa('sfdisk', ['-d', file])).stdout.replaceAll(file, 'DISK');

/** The restored disk equals the source where Clonezilla saved it: table, boot code, gap, used blocks, swap identity; fsck clean. */
async function assertSameDisk(t: import('ava').ExecutionContext, b: BuiltClonezillaDisk, restored: string, tag: string): Promise<void> {
  t.is(await sfdiskDump(restored), await sfdiskDump(b.disk), `${tag}: partition table`);
  const want = await readFile(b.disk);
  const got = await readFile(restored);
  t.true(got.subarray(0, 440).equals(want.subarray(0, 440)), `${tag}: boot code`);
  t.true(got.subarray(512, P1.start * SECTOR).equals(want.subarray(512, P1.start * SECTOR)), `${tag}: hidden data after the MBR`);
  for (const part of PARTS) {
    const bytes = got.subarray(part.range.start * SECTOR, (part.range.start + part.range.size) * SECTOR);
    const oracle = await partcloneRestore(b.ptcl[part.name], part.range.size * SECTOR, `${tag}-${part.name}`);
    t.true(bytes.equals(oracle), `${tag}: ${part.name} equals partclone.restore's output`);
    const file = `${restored}.${part.name}`;
    await writeFile(file, bytes);
    const fsck = await execa(part.fsck[0], [...part.fsck.slice(1), file], { reject: false });
    t.is(fsck.exitCode, 0, `${tag}: ${part.fsck.join(' ')} ${part.name}\n${fsck.stdout}\n${fsck.stderr}`);
    await rm(file);
  }
  const swap = await execa('blkid', ['-p', '-o', 'export', '-O', String(P3.start * SECTOR), restored], { reject: false });
  t.regex(swap.stdout, new RegExp(`^UUID=${SWAP.uuid}$`, 'm'), `${tag}: swap UUID\n${swap.stdout}`);
  t.regex(swap.stdout, new RegExp(`^LABEL=${SWAP.label}$`, 'm'), `${tag}: swap label`);
  t.regex(swap.stdout, /^TYPE=swap$/m);
}

test.serial('restore DIR disk.img rebuilds the disk: table, boot code, gap, partitions, swap', async (t) => {
  t.timeout(180_000);
  const b = await source();
  const dir = await saveLikeOcsSr(b, 'restore-dir', { sda1: 'zst', sda2: 'gz', splitSda2: true });
  const target = path.join(b.root, 'from-dir.img');
  const result = await lifeboat(['restore', dir, target, '--yes']);
  t.is(result.exitCode, 0, describe(result));
  t.regex(result.stdout, /sda1 \(ext4, used blocks/);
  t.regex(result.stdout, /sda3: new swap area/);
  t.is((await stat(target)).size, (await stat(b.disk)).size, 'the new file has the size sda-pt.parted saved');
  await assertSameDisk(t, b, target, 'restore DIR');

  // One partition onto a partition-sized file: DIR:sda2 FILE.
  const one = path.join(b.root, 'sda2-only.img');
  const single = await lifeboat(['restore', `${dir}:sda2`, one, '--yes']);
  t.is(single.exitCode, 0, describe(single));
  t.true((await readFile(one)).equals(await partcloneRestore(b.ptcl.sda2, P2.size * SECTOR, 'single')));
  // Without -r, something that is not an image directory is still a usage error.
  const missing = await lifeboat(['restore', path.join(b.root, 'nothing-here'), target, '--yes']);
  t.is(errorCode(missing), 'LB_INPUT_USAGE', describe(missing));
});

test.serial('--dry-run prints the plan and writes nothing', async (t) => {
  t.timeout(120_000);
  const b = await source();
  const dir = await saveLikeOcsSr(b, 'dry-dir', { sda1: 'zst', sda2: 'uncomp', splitSda2: false });
  const fresh = path.join(b.root, 'dry-new.img');
  const planned = await lifeboat(['restore', dir, fresh, '--dry-run']);
  t.is(planned.exitCode, 0, describe(planned));
  t.regex(planned.stdout, /MBR partition table \(3 partitions, disk id 0x1234abcd\)/);
  t.regex(planned.stdout, /Dry run: nothing was written/);
  await t.throwsAsync(stat(fresh), undefined, 'no file was created');
  const existing = await sparseFile(path.join(b.root, 'dry-existing.img'), (P3.start + P3.size + 2048) * SECTOR);
  await writeFile(existing, Buffer.alloc(4096, 0x5a), { flag: 'r+' });
  const before = await readFile(existing);
  const again = await lifeboat(['restore', dir, existing, '--dry-run']);
  t.is(again.exitCode, 0, describe(again));
  t.true((await readFile(existing)).equals(before), 'the existing target is unchanged');
});

test.serial('import clonezilla DIR -r REPO, then restore and ls from the repository; a damaged block fails the import and adds nothing', async (t) => {
  t.timeout(240_000);
  const b = await source();
  const dir = await saveLikeOcsSr(b, 'import-dir', { sda1: 'zst', sda2: 'gz', splitSda2: true });
  const repo = path.join(b.root, 'repo');
  const imported = await lifeboat(['import', 'clonezilla', dir, '-r', repo, '--tag', 'from-ocs', '--note', 'old laptop']);
  t.is(imported.exitCode, 0, describe(imported));
  const snapshots = await listSnapshots(repo);
  t.is(snapshots.length, 1);
  t.deepEqual(snapshots[0]?.tags, ['from-ocs']);
  t.regex(snapshots[0]?.note ?? '', /old laptop.*Imported from the Clonezilla image/);

  const out = path.join(b.root, 'from-repo.img');
  const restored = await lifeboat(['restore', '-r', repo, 'latest', out, '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /Clonezilla image/);
  await assertSameDisk(t, b, out, 'import then restore');
  const fromDir = path.join(b.root, 'import-compare.img');
  t.is((await lifeboat(['restore', dir, fromDir, '--yes'])).exitCode, 0);
  t.true((await readFile(out)).equals(await readFile(fromDir)), 'restoring the snapshot gives the same bytes as restoring the directory');

  const listed = await lifeboat(['ls', '-r', repo, 'latest:1', '/']);
  t.is(listed.exitCode, 0, describe(listed));
  const debugfs = (await execa('debugfs', ['-R', 'ls -p /', await partitionFile(out, 'p1')])).stdout;
  const names = [...debugfs.matchAll(/^\/\d+\/\d+\/\d+\/\d+\/([^/]*)\//gm)].map((m) => m[1]).filter((n) => n !== '.' && n !== '..').sort();
  t.true(names.includes('lost+found'));
  t.deepEqual(listed.stdout.split('\n').filter(Boolean).map((line) => line.replace(/\/$/, '')).sort(), names);

  // A data block flipped in sda2's (uncompressed) partclone image: checksum mismatch, coded, nothing stored.
  const damaged = await saveLikeOcsSr(b, 'damaged-dir', { sda1: 'zst', sda2: 'uncomp', splitSda2: false });
  const sda2 = path.join(damaged, 'sda2.vfat-ptcl-img.uncomp');
  const bytes = await readFile(sda2);
  const flipAt = bytes.length - 200_000;
  bytes[flipAt] = bytes[flipAt]! ^ 0x10;
  await writeFile(sda2, bytes);
  const failed = await lifeboat(['import', 'clonezilla', damaged, '-r', repo]);
  t.is(failed.exitCode, 2, describe(failed));
  t.is(errorCode(failed), 'LB_INPUT_IMAGE_CORRUPT', describe(failed));
  t.regex(failed.stderr, /partition sda2: .*checksum mismatch at block \d+/);
  t.is((await listSnapshots(repo)).length, 1, 'no new snapshot');
  const check = await lifeboat(['check', '-r', repo]);
  t.is(check.exitCode, 0, describe(check));
  await rm(`${out}.p1`, { force: true });
});

/** Partition 1 of a disk image written out to its own file (for debugfs). */
async function partitionFile(disk: string, tag: string): Promise<string> {
  const file = `${disk}.${tag}`;
  const bytes = await readFile(disk);
  await writeFile(file, bytes.subarray(P1.start * SECTOR, (P1.start + P1.size) * SECTOR));
  return file;
}
