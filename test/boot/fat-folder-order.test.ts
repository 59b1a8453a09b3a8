// A power cut during the rename of a manifest on a FAT repository, then a backup that runs to its
// end: its snapshot must be on the disk for every FAT reader, not only for Linux. On FAT, a file's
// fsync writes only the sector that holds its short entry; when the entry's long-name slots start in
// the sector before, and those slots were the folder's end mark (zeros) on the disk, a cut before the
// folder's own sync left that end mark in front of a live entry. Linux and fsck.fat read past it;
// mtools (and FAT readers that follow the specification) stop there, and every file written into
// the folder after it was missing for them: the power-cut test's FAT chain failed so ("the backup
// reported snapshot 1920d461 saved, but after a power cut right after it returned the disk has ...").
//
// The guest (the medium's own kernel and lifeboat) runs four backups onto a FAT32 repository disk
// (opened with cache=none: the guest's writes reach the image file at once); the fourth manifest's
// entry starts at slot 30 of its folder (16 slots a sector) and ends in the next sector. The host
// watches the folder's cluster in the image and cuts the power the moment a fourth manifest entry
// is there, whatever Lifeboat's order of syncs put there first. A second boot repairs the disk with
// fsck.fat -a, as after any cut, and runs a backup to its end; the power is cut as it returns. On
// the host, the repository read with mtools must hold that backup's snapshot and pass
// check --read-data (an empty manifest, if the cut left one, is information). A third boot prunes
// after a cut left that manifest cut short beside its complete twin, and is cut the moment the
// twin's entry leaves the folder on the disk: the manifest must be whole there.

import test from 'ava';
import { execa } from 'execa';
import { open, mkdtemp, readdir, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extractKernelAndInitrd, requireMedia, TEST_MEDIA } from '../helpers/media.ts';
import { prng } from '../helpers/mutation.ts';
import { createLimiter } from '../helpers/qemu.ts';
import { startVmSession } from '../helpers/qemu-session.ts';
import { jsonEvents, makeExt4Image, MiB, writeMixedTree } from '../helpers/repository-harness.ts';

const PROMPT = /lifeboat:\S*# /;
const APPEND = 'console=ttyS0,115200n8 quiet loglevel=3 lifeboat.then=shell';
const REPO = '/mnt/r/repo';
const limit = createLimiter(1);

/** A FAT32 image read directly: where a folder's first cluster is, and its live short entries. */
class FatImage {
  private readonly handle: FileHandle;
  private readonly layout: { bytesPerSector: number; sectorsPerCluster: number; dataStart: number; rootCluster: number };

  private constructor(handle: FileHandle, layout: FatImage['layout']) {
    this.handle = handle;
    this.layout = layout;
  }

  static async open(file: string): Promise<FatImage> {
    const handle = await open(file, 'r');
    const boot = Buffer.alloc(512);
    await handle.read(boot, 0, 512, 0);
    const bytesPerSector = boot.readUInt16LE(11);
    const sectorsPerCluster = boot.readUInt8(13);
    const reserved = boot.readUInt16LE(14);
    const fats = boot.readUInt8(16);
    const fatSectors = boot.readUInt32LE(36);
    return new FatImage(handle, { bytesPerSector, sectorsPerCluster, dataStart: (reserved + fats * fatSectors) * bytesPerSector, rootCluster: boot.readUInt32LE(44) });
  }

  /** The bytes of a folder's first cluster. */
  async cluster(cluster: number): Promise<Buffer> {
    const size = this.layout.bytesPerSector * this.layout.sectorsPerCluster;
    const bytes = Buffer.alloc(size);
    await this.handle.read(bytes, 0, size, this.layout.dataStart + (cluster - 2) * size);
    return bytes;
  }

  /** The first cluster of a path of folders (long names compared without case), from the root. */
  async folder(names: readonly string[]): Promise<number> {
    let cluster = this.layout.rootCluster;
    for (const name of names) {
      const entries = await this.cluster(cluster);
      let long = '';
      let found: number | undefined;
      for (let at = 0; at < entries.length && found === undefined; at += 32) {
        const entry = entries.subarray(at, at + 32);
        if (entry[0] === 0 || entry[0] === 0xe5) long = '';
        else if (entry[11] === 0x0f) long = Buffer.concat([entry.subarray(1, 11), entry.subarray(14, 26), entry.subarray(28, 32)]).toString('utf16le').split('\0')[0] + long;
        else {
          const short = entry.toString('latin1', 0, 8).trim();
          if ((long || short).toLowerCase() === name.toLowerCase()) found = (entry.readUInt16LE(20) << 16) | entry.readUInt16LE(26);
          long = '';
        }
      }
      if (found === undefined) throw new Error(`no folder ${name} in the FAT image`);
      cluster = found;
    }
    return cluster;
  }

  /** Live short entries whose extension is `extension` in a folder's first cluster (zeros skipped, as Linux does). */
  async countEntries(cluster: number, extension: string): Promise<number> {
    const entries = await this.cluster(cluster);
    let count = 0;
    for (let at = 0; at < entries.length; at += 32) {
      if (entries[at] === 0 || entries[at] === 0xe5 || entries[at + 11] === 0x0f) continue;
      if (entries.toString('latin1', at + 8, at + 11) === extension) count++;
    }
    return count;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

test('FAT32: a manifest whose rename a power cut interrupted leaves no end mark in front of the next snapshot (mtools lists it, check passes)', async (t) => {
  t.timeout(20 * 60_000);
  await requireMedia(TEST_MEDIA.executable);
  const iso = await requireMedia(TEST_MEDIA.runIso);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fat-order-'));
  // LIFEBOAT_FAT_ORDER_KEEP=1 keeps the work folder (the disk after each boot, transcripts) for a look after a failure.
  if (process.env.LIFEBOAT_FAT_ORDER_KEEP) t.log(`work folder kept: ${dir}`);
  else t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { kernel, initrd } = await extractKernelAndInitrd(iso, dir);
  const run = async (args: string[]) => {
    const result = await execa(TEST_MEDIA.executable, args, { reject: false, stdin: 'ignore', env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
    return { exitCode: result.exitCode ?? -1, output: `${String(result.stdout)}\n${String(result.stderr)}` };
  };

  const tree = path.join(dir, 'tree');
  await writeMixedTree(tree, prng(7), 2 * MiB);
  const source = path.join(dir, 'source.img');
  await makeExt4Image(source, 16 * MiB, tree);
  const content = path.join(dir, 'content');
  const init = await run(['init', '-r', path.join(content, 'repo')]);
  t.is(init.exitCode, 0, init.output);
  const disk = path.join(dir, 'repo.img');
  await execa('truncate', ['-s', String(512 * MiB), disk]);
  await execa('mkfs.vfat', ['-F', '32', '-n', 'FATORDER', disk]);
  await execa('mcopy', ['-s', '-i', disk, path.join(content, 'repo'), '::/repo']);

  /** Boots, types `script`, and cuts the power when `until` shows on the console or `cutWhen` says so (polled as fast as the image can be read). */
  const boot = async (script: string, until: RegExp, cutWhen?: () => Promise<boolean>) => limit(async () => {
    const vm = await startVmSession({
      firmware: 'seabios', memoryMiB: 512, medium: { kind: 'kernel', file: kernel, initrd, append: APPEND },
      disks: [{ file: source, serial: 'ORDERSRC', cache: 'none', aio: 'native' }, { file: disk, serial: 'ORDERREPO', cache: 'none', aio: 'native' }],
    });
    let watching = true;
    try {
      const prompt = await vm.waitFor(PROMPT, { timeoutMs: 400_000 });
      vm.type(`${script}\n`);
      const watcher = (async () => {
        while (watching && cutWhen) {
          if (await cutWhen()) {
            vm.cut();
            return true;
          }
        }
        return false;
      })();
      await Promise.race([vm.waitFor(until, { from: prompt, timeoutMs: 300_000 }).catch(() => undefined), vm.ended]);
      vm.cut();
      await vm.ended;
      watching = false;
      return { transcript: vm.transcript().slice(prompt), cutByWatcher: await watcher };
    } finally {
      watching = false;
      vm.cut();
      await vm.ended;
    }
  });
  const backup = `lifeboat backup partition /dev/vda -r ${REPO} --json`;
  const mount = "mkdir -p /mnt/r; fsck.fat -a /dev/vdb 2>&1 | sed 's/^/GUEST-FSCK: /'; mount -t vfat /dev/vdb /mnt/r";
  /** What the guest's fsck.fat -a said at the mount, one line. */
  const guestFsck = (transcript: string) => transcript.split('\n').filter((line) => line.startsWith('GUEST-FSCK: ') && !/fsck\.fat \d|^GUEST-FSCK: \/dev\/vdb: \d+ files/.test(line)).map((line) => line.slice(12).trim()).join(' / ') || 'nothing';

  // Four backups; the power goes the moment the fourth manifest has an entry on the disk.
  const image = await FatImage.open(disk);
  const snapshotsFolder = await image.folder(['repo', 'snapshots']);
  const first = await boot(`${mount}; for n in 1 2 3 4; do ${backup} >/dev/null || echo "FAILED=$n"; done; echo "ALL-DONE=$((3 + 4))"`, /FAILED=\d|ALL-DONE=7/, async () => (await image.countEntries(snapshotsFolder, 'JSO')) >= 4);
  await image.close();
  t.true(first.cutByWatcher, `the fourth manifest never reached the disk before the backups ended:\n${first.transcript.slice(-3000)}`);

  // What the cut left, before any repair (read only).
  const leftByCut = (await execa('fsck.fat', ['-n', disk], { reject: false })).stdout.split('\n').slice(1, -1).join(' / ') || 'clean';
  await execa('cp', ['--sparse=always', disk, path.join(dir, 'after-first-boot.img')]);
  // The next boot: repaired as after any cut, a backup to its end, the power cut as it returns.
  const { transcript: second } = await boot(`${mount}; ${backup}; echo "BACKUP-EXIT=$?"`, /BACKUP-EXIT=\d+/);
  t.regex(second, /BACKUP-EXIT=0/, second.slice(-3000));
  const done = jsonEvents(second.split('\n').filter((line) => line.trimStart().startsWith('{')).join('\n')).find((event) => event.event === 'done');
  const id = String((done?.snapshot as { id?: unknown } | undefined)?.id ?? '');
  t.regex(id, /^[0-9a-f]{64}$/, `no done event:\n${second.slice(-3000)}`);

  const repaired = path.join(dir, 'repaired.img');
  await execa('cp', ['--sparse=always', disk, repaired]);
  const fsck = await execa('fsck.fat', ['-a', repaired], { reject: false });
  const extracted = path.join(dir, 'extracted');
  await execa('mkdir', ['-p', extracted]);
  await execa('mcopy', ['-s', '-n', '-i', repaired, '::/repo', extracted]);
  const repo = path.join(extracted, 'repo');
  const listing = (await execa('mdir', ['-/', '-a', '-i', repaired, '::/repo/snapshots'], { reject: false })).stdout;
  const names = await readdir(path.join(repo, 'snapshots'));
  t.true(names.includes(`${id}.json`), `snapshot ${id.slice(0, 8)}, saved after the cut, is not in snapshots/ as mtools reads it: ${names.join(', ')}\nfsck.fat -a: ${fsck.stdout}\nmdir:\n${listing}`);
  for (const lock of await readdir(path.join(repo, 'locks'))) await rm(path.join(repo, 'locks', lock));
  const check = await run(['check', '-r', repo, '--read-data', '--json']);
  await writeFile(path.join(dir, 'check.txt'), check.output);
  t.is(check.exitCode, 0, `${check.output}\nfsck.fat -n after the first boot's cut: ${leftByCut}\nfsck.fat -a in the second boot: ${guestFsck(second)}\nfsck.fat -a after the second boot: ${fsck.stdout}\nmdir:\n${listing}`);
  const report = jsonEvents(check.output).find((event) => event.event === 'check') as { info?: string[] } | undefined;
  t.log(`fsck.fat -a after the second boot: ${fsck.stdout.split('\n').filter((line) => /share|Truncat|fragment|Reclaimed|Orphan/.test(line)).join(' / ') || 'nothing to repair'}; check's information: ${(report?.info ?? []).join(' / ') || 'none'}`);

  // A third boot: that manifest as an earlier cut leaves it (cut short, its complete twin NAME.tmp
  // beside it, made here with mtools); forget --prune puts the twin in its place, and the power is
  // cut the moment the twin's entry is gone on the disk. The manifest must then be whole: a rename
  // of the twin over it left, on FAT, the old entry's size and clusters until the file was synced.
  await execa('fsck.fat', ['-a', disk], { reject: false });
  const manifestPath = `::/repo/snapshots/${id}.json`;
  const whole = await readFile(path.join(repo, 'snapshots', `${id}.json`));
  t.true(whole.length > 0, `snapshot ${id.slice(0, 8)}'s manifest is empty before the third boot`);
  await writeFile(path.join(dir, 'twin.json'), whole);
  await writeFile(path.join(dir, 'short.json'), whole.subarray(0, Math.floor(whole.length / 2)));
  await execa('mcopy', ['-o', '-i', disk, path.join(dir, 'twin.json'), `${manifestPath}.tmp`]);
  await execa('mcopy', ['-o', '-i', disk, path.join(dir, 'short.json'), manifestPath]);
  // The power goes the moment the twin's entry is gone from the folder on the disk (or as prune returns).
  const watched = await FatImage.open(disk);
  const twinsBefore = await watched.countEntries(snapshotsFolder, 'TMP');
  t.true(twinsBefore >= 1, 'the twin made with mcopy is not in the first cluster of snapshots/');
  const { transcript: third, cutByWatcher } = await boot(`${mount}; lifeboat forget -r ${REPO} --prune --json; echo "PRUNE-EXIT=$?"`, /PRUNE-EXIT=\d+/, async () => (await watched.countEntries(snapshotsFolder, 'TMP')) < twinsBefore);
  await watched.close();
  t.true(cutByWatcher || /PRUNE-EXIT=0/.test(third), third.slice(-3000));
  const pruned = path.join(dir, 'pruned.img');
  await execa('cp', ['--sparse=always', disk, pruned]);
  await execa('fsck.fat', ['-a', pruned], { reject: false });
  const after = path.join(dir, 'after-prune.json');
  await execa('mcopy', ['-n', '-i', pruned, manifestPath, after]);
  const placed = await readFile(after);
  const folderAfter = (await execa('mdir', ['-/', '-a', '-i', pruned, '::/repo/snapshots'], { reject: false })).stdout;
  const pruneReport = third.split('\n').find((line) => line.includes('"event":"forget"')) ?? 'no forget event';
  t.log(`third boot: ${cutByWatcher ? 'cut the moment the twin left the folder' : `prune returned first: ${pruneReport.trim()}`}; manifest ${placed.length} of ${whole.length} bytes after the cut`);
  t.true(placed.equals(whole), `after prune put the twin in place and the power was cut, the manifest holds ${placed.length} of its ${whole.length} bytes${placed.length === 0 ? ' (empty: the renamed entry never got its size)' : ''}\nmdir:\n${folderAfter}`);
  t.false(folderAfter.includes(`${id}.json.tmp`), `the twin is still there after prune:\n${folderAfter}`);
});
