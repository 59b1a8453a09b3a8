// `backup files` end to end through the CLI: a real tree (a copy of /usr/share/doc) plus generated
// edge cases (empty folders, hard links, symlinks incl. dangling ones, a fifo, user xattrs inline
// and in a blob, odd modes and owners, times to the nanosecond, non-ASCII and 255-byte names, a
// sparse file, files above 8 MiB) backed up, restored into a new folder and compared entry by entry
// with lstat and getfattr; exclusions; a second backup after edits stores about the edits; ls, get,
// forget --prune and check on a repository holding files snapshots; a parent snapshot spares
// reading unchanged files (and re-reads files whose ctime or inode changed; --force reads all).

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { appendFile, chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lifeboat, MiB, type CliResult } from '../helpers/repository-harness.ts';

const isRoot = process.getuid?.() === 0;
let work: string;
let source: string;

/** Deterministic pseudo-random bytes (so chunk boundaries, and the asserted sizes, repeat run to run). */
function seededBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; counter++) {
    const block = createHash('sha256').update(`${seed}:${counter}`).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

async function run(t: ExecutionContext, args: string[]): Promise<CliResult> {
  const result = await lifeboat(args);
  if (result.exitCode !== 0) t.log(result.stdout, result.stderr);
  return result;
}

interface DoneEvent {
  snapshot: { id: string; shortId: string };
  parent: string | null;
  entries: number;
  stats: { newBytes: number; newChunks: number; logicalBytes: number; readBytes: number; filesRead: number; filesReused: number; bytesReused: number; leftOut: number; xattrsDropped: number };
  incomplete: boolean;
}

function doneEvent(result: CliResult): DoneEvent {
  const line = result.stdout.split('\n').find((text) => text.includes('"event":"done"'));
  if (!line) throw new Error(`no done event in: ${result.stdout} ${result.stderr}`);
  return JSON.parse(line);
}

async function makeEdgeCases(root: string): Promise<void> {
  const edge = path.join(root, 'edge');
  await mkdir(path.join(edge, 'empty'), { recursive: true });
  await mkdir(path.join(edge, 'nested', 'deeper', 'deepest-empty'), { recursive: true });
  await writeFile(path.join(edge, 'linked.txt'), 'one file, three names\n');
  await mkdir(path.join(edge, 'other'));
  await link(path.join(edge, 'linked.txt'), path.join(edge, 'linked-2.txt'));
  await link(path.join(edge, 'linked.txt'), path.join(edge, 'other', 'linked-3.txt'));
  await symlink('linked.txt', path.join(edge, 'relative-link'));
  await symlink('/etc/hostname', path.join(edge, 'absolute-link'));
  await symlink('does/not/exist', path.join(edge, 'dangling-link'));
  await execa('mkfifo', [path.join(edge, 'fifo')]);
  await writeFile(path.join(edge, 'xattrs.txt'), 'with attributes\n');
  await execa('setfattr', ['-n', 'user.small', '-v', 'hello', path.join(edge, 'xattrs.txt')]);
  await execa('setfattr', ['-n', 'user.binary', '-v', '0x00ff10', path.join(edge, 'xattrs.txt')]);
  await execa('setfattr', ['-n', 'user.large', '-v', `0x${seededBytes('xattr', 3000).toString('hex')}`, path.join(edge, 'xattrs.txt')]);
  await execa('setfattr', ['-n', 'user.on-folder', '-v', 'yes', path.join(edge, 'nested')]);
  for (const [name, mode] of [['setuid', 0o4755], ['sticky-dir', 0o1777], ['private', 0o600], ['nothing', 0o000], ['group-only', 0o070]] as const) {
    const target = path.join(edge, name);
    if (name.endsWith('dir')) await mkdir(target);
    else await writeFile(target, `${name}\n`);
    await chmod(target, mode);
  }
  if (isRoot) {
    await execa('chown', ['1234:5678', path.join(edge, 'private')]);
    await execa('chown', ['-h', '4321:8765', path.join(edge, 'relative-link')]);
    await execa('chown', ['65534:65534', path.join(edge, 'nested')]);
  }
  await writeFile(path.join(edge, 'old.txt'), 'old\n');
  await execa('touch', ['-d', '1999-12-31 23:59:59.123456789', path.join(edge, 'old.txt')]);
  await execa('touch', ['-h', '-d', '2001-02-03 04:05:06.987654321', path.join(edge, 'dangling-link')]);
  await writeFile(path.join(edge, 'ünïcödé – 日本語 🚀.txt'), 'non-ASCII name\n');
  await writeFile(path.join(edge, `${'L'.repeat(251)}.txt`), 'a 255-byte name\n');
  await writeFile(path.join(edge, 'große Datei'), seededBytes('big', 12 * MiB));
  await writeFile(path.join(edge, 'edit-middle.bin'), seededBytes('middle', 20 * MiB));
  await writeFile(path.join(edge, 'append.log'), 'line\n'.repeat(20000));
  // Sparse: 24 MiB with data at 3 places.
  const sparse = path.join(edge, 'sparse.img');
  await execa('truncate', ['-s', '24M', sparse]);
  for (const offset of [0, 9 * MiB, 24 * MiB - 4096]) await execa('dd', ['if=/dev/urandom', `of=${sparse}`, 'bs=4096', 'count=1', `seek=${offset / 4096}`, 'conv=notrunc', 'status=none']);
  // To be excluded.
  await writeFile(path.join(edge, 'pagefile.sys'), 'windows swap\n');
  await mkdir(path.join(edge, 'lost+found'));
  await writeFile(path.join(edge, 'lost+found', '#123'), 'fsck leftovers\n');
  await mkdir(path.join(edge, 'cache'));
  await writeFile(path.join(edge, 'cache', 'a.tmp'), 'temporary\n');
  await writeFile(path.join(edge, 'cache', 'keep.txt'), 'kept\n');
  await mkdir(path.join(edge, 'build-output'));
  await writeFile(path.join(edge, 'build-output', 'artifact.o'), 'object\n');
  await execa('truncate', ['-s', '40M', path.join(edge, 'huge-sparse.bin')]);
}

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-file-backup-'));
  source = path.join(work, 'source');
  await mkdir(source);
  await execa('cp', ['-a', '/usr/share/doc', path.join(source, 'doc')]);
  await makeEdgeCases(source);
  await writeFile(path.join(work, 'excludes.txt'), '# comment\nbuild-output/\n');
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const EXCLUDED = new Set(['edge/pagefile.sys', 'edge/lost+found', 'edge/cache/a.tmp', 'edge/build-output', 'edge/huge-sparse.bin']);

interface Facts {
  readonly kind: string;
  readonly mode: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly inode: bigint;
  readonly links: bigint;
  readonly target?: string;
  readonly hash?: string;
  readonly blocks: bigint;
}

/** Every entry under root (relative path -> facts), lstat-ed, links never followed. */
async function collect(root: string): Promise<Map<string, Facts>> {
  const facts = new Map<string, Facts>();
  const walk = async (folder: string, relative: string) => {
    for (const name of await readdir(folder)) {
      const full = path.join(folder, name);
      const rel = relative === '' ? name : `${relative}/${name}`;
      const info = await lstat(full, { bigint: true });
      const kind = info.isFile() ? 'file' : info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'link' : info.isFIFO() ? 'fifo' : 'other';
      facts.set(rel, {
        kind, mode: info.mode, uid: info.uid, gid: info.gid, size: kind === 'dir' ? 0n : info.size, mtimeNs: info.mtimeNs, inode: info.ino, links: info.nlink, blocks: info.blocks,
        ...(kind === 'link' ? { target: await readlink(full) } : {}),
        ...(kind === 'file' ? { hash: createHash('sha256').update(await readFile(full)).digest('hex') } : {}),
      });
      if (kind === 'dir') await walk(full, rel);
    }
  };
  await walk(root, '');
  return facts;
}

/** getfattr -R of a tree: relative path -> "name=0xvalue" lines. */
async function xattrsOf(root: string): Promise<Map<string, string>> {
  const { stdout } = await execa('getfattr', ['-R', '-P', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: root, reject: false });
  const map = new Map<string, string>();
  for (const block of stdout.split('\n\n')) {
    const [header, ...lines] = block.trim().split('\n');
    if (header?.startsWith('# file: ')) map.set(header.slice('# file: '.length).replace(/^\.\//, ''), lines.sort().join('\n'));
  }
  return map;
}

/** Node's utimes takes seconds as a double: restored times are exact to ~0.25 µs (the format keeps ns). */
const TIME_TOLERANCE_NS = 1000n;

function compareTrees(t: ExecutionContext, original: Map<string, Facts>, restored: Map<string, Facts>, excluded: ReadonlySet<string>): void {
  const isExcluded = (rel: string) => [...excluded].some((item) => rel === item || rel.startsWith(`${item}/`));
  const expected = [...original.keys()].filter((rel) => !isExcluded(rel)).sort();
  t.deepEqual([...restored.keys()].sort(), expected, 'the same entries, minus the excluded ones');
  const groups = new Map<bigint, bigint>();
  let mismatches = 0;
  for (const rel of expected) {
    const a = original.get(rel)!;
    const b = restored.get(rel);
    if (!b) continue;
    const problems: string[] = [];
    if (a.kind !== b.kind) problems.push(`kind ${a.kind} vs ${b.kind}`);
    if (a.kind !== 'link' && a.mode !== b.mode) problems.push(`mode ${a.mode.toString(8)} vs ${b.mode.toString(8)}`);
    if (isRoot && (a.uid !== b.uid || a.gid !== b.gid)) problems.push(`owner ${a.uid}:${a.gid} vs ${b.uid}:${b.gid}`);
    if (a.size !== b.size) problems.push(`size ${a.size} vs ${b.size}`);
    if (a.hash !== b.hash) problems.push('content');
    if (a.target !== b.target) problems.push(`target ${a.target} vs ${b.target}`);
    const drift = a.mtimeNs > b.mtimeNs ? a.mtimeNs - b.mtimeNs : b.mtimeNs - a.mtimeNs;
    if (drift > TIME_TOLERANCE_NS) problems.push(`mtime ${a.mtimeNs} vs ${b.mtimeNs}`);
    if (a.kind === 'file' && a.links > 1n) {
      // Hard links: names sharing an inode in the source share one in the copy.
      const known = groups.get(a.inode);
      if (known === undefined) groups.set(a.inode, b.inode);
      else if (known !== b.inode) problems.push('hard link not shared');
    }
    if (problems.length > 0 && mismatches++ < 20) t.fail(`${rel}: ${problems.join(', ')}`);
  }
  t.is(mismatches, 0);
}

test.serial('files round trip: content, modes, owners, times, links, empty folders, xattrs; exclusions', async (t) => {
  if (!isRoot) return t.fail('needs root: the source\'s owners are set with chown and compared after the restore');
  const repo = path.join(work, 'repo');
  const backup = await run(t, ['backup', 'files', source, '-r', repo, '--json', '--exclude', '*.tmp', '--exclude-file', path.join(work, 'excludes.txt'), '--exclude-larger-than', '30M']);
  t.is(backup.exitCode, 0);
  const done = doneEvent(backup);
  t.true(done.entries > 3000, `${done.entries} entries`);
  const out = path.join(work, 'restored');
  const restore = await run(t, ['restore', '-r', repo, done.snapshot.shortId, out]);
  t.is(restore.exitCode, 0);
  const restoredRoot = path.join(out, source);
  compareTrees(t, await collect(source), await collect(restoredRoot), EXCLUDED);
  // Extended attributes, every entry (getfattr on both trees).
  const before = await xattrsOf(source);
  const after = await xattrsOf(restoredRoot);
  for (const excluded of EXCLUDED) before.delete(excluded);
  t.deepEqual(after, before);
  t.true((after.get('edge/xattrs.txt') ?? '').includes('user.large=0x'), 'the large xattr (a data blob) came back');
  // Sparse stays sparse where a whole chunk is zeros (zeros have no cut points: chunks of 4 MiB):
  // 3 of the 6 chunks hold data, the other 3 stay holes.
  const sparse = await lstat(path.join(restoredRoot, 'edge', 'sparse.img'));
  t.true(sparse.blocks * 512 <= 12 * MiB, `${sparse.blocks} blocks`);
  // The folders above the root are kept with their own metadata, so the path leads to the root.
  t.true((await lstat(path.join(out, work))).isDirectory());
});

test.serial('built-in exclusions, --no-default-excludes, system roots keep /proc, /tmp... empty', async (t) => {
  const sysroot = path.join(work, 'sysroot');
  for (const folder of ['etc', 'usr/bin', 'proc/1', 'tmp', 'run/user', 'home/me', 'dev']) await mkdir(path.join(sysroot, folder), { recursive: true });
  await writeFile(path.join(sysroot, 'proc', '1', 'status'), 'State: R\n');
  await writeFile(path.join(sysroot, 'tmp', 'scratch'), 'x\n');
  await writeFile(path.join(sysroot, 'run', 'user', 'sock'), 'x\n');
  await writeFile(path.join(sysroot, 'home', 'me', 'hiberfil.sys'), 'x\n');
  await mkdir(path.join(sysroot, 'home', 'me', '$RECYCLE.BIN'));
  await mkdir(path.join(sysroot, 'home', 'me', 'system volume information'));
  await writeFile(path.join(sysroot, 'home', 'me', 'notes.txt'), 'kept\n');
  await writeFile(path.join(sysroot, 'etc', 'fstab'), '# fstab\n');
  const repo = path.join(work, 'repo-sys');
  const withDefaults = await run(t, ['backup', 'files', sysroot, '-r', repo, '--json', '--no-verify']);
  t.is(withDefaults.exitCode, 0);
  const without = await run(t, ['backup', 'files', sysroot, '-r', repo, '--json', '--no-default-excludes']);
  t.is(without.exitCode, 0);
  const restoredDefaults = path.join(work, 'sys-defaults');
  const restoredAll = path.join(work, 'sys-all');
  t.is((await run(t, ['restore', '-r', repo, doneEvent(withDefaults).snapshot.shortId, restoredDefaults])).exitCode, 0);
  t.is((await run(t, ['restore', '-r', repo, doneEvent(without).snapshot.shortId, restoredAll])).exitCode, 0);
  const listDefaults = [...(await collect(path.join(restoredDefaults, sysroot))).keys()].sort();
  const listAll = [...(await collect(path.join(restoredAll, sysroot))).keys()].sort();
  t.deepEqual(listDefaults, ['dev', 'etc', 'etc/fstab', 'home', 'home/me', 'home/me/notes.txt', 'proc', 'run', 'tmp', 'usr', 'usr/bin']);
  t.deepEqual(listAll, [...(await collect(sysroot)).keys()].sort());
  // --help lists the built-in exclusions.
  const help = await lifeboat(['backup', 'files', '--help']);
  const helpText = help.stdout.replace(/\s+/g, ' ');
  for (const name of ['pagefile.sys', 'hiberfil.sys', 'swapfile.sys', '$RECYCLE.BIN', 'System Volume Information', 'lost+found', '/proc', '/sys', '/dev', '/run', '/tmp', '--no-default-excludes']) t.true(helpText.includes(name), name);
});

test.serial('a second backup after edits stores about the edits; ls, get, forget --prune and check', async (t) => {
  const repo = path.join(work, 'repo-edits');
  const first = await run(t, ['backup', 'files', source, '-r', repo, '--json', '--no-verify']);
  t.is(first.exitCode, 0);
  const firstDone = doneEvent(first);
  // Insert 100 bytes in the middle of a 20 MiB file, append 1 KiB to a log, touch a text file.
  const middle = path.join(source, 'edge', 'edit-middle.bin');
  const bytes = await readFile(middle);
  const inserted = Buffer.concat([bytes.subarray(0, 10 * MiB), seededBytes('insert', 100), bytes.subarray(10 * MiB)]);
  await writeFile(middle, inserted);
  await appendFile(path.join(source, 'edge', 'append.log'), 'more\n'.repeat(205));
  const second = await run(t, ['backup', 'files', source, '-r', repo, '--json']);
  t.is(second.exitCode, 0);
  const secondDone = doneEvent(second);
  // The insertion changes one or two chunks of at most 4 MiB (random bytes: incompressible); the log
  // is one small file; folder trees on the edited path are rewritten. Far below the first backup.
  t.log(`first backup: ${firstDone.stats.newBytes} new bytes; second: ${secondDone.stats.newBytes}`);
  t.true(secondDone.stats.newBytes < 2 * 4 * MiB + 512 * 1024, `${secondDone.stats.newBytes} new bytes`);
  t.true(secondDone.stats.newBytes < firstDone.stats.newBytes / 5);

  // ls lists a folder of the files snapshot; get brings one file back.
  const listing = await run(t, ['ls', '-r', repo, secondDone.snapshot.shortId, `${source}/edge`]);
  t.is(listing.exitCode, 0);
  for (const name of ['edit-middle.bin', 'relative-link', 'fifo', 'empty', 'ünïcödé – 日本語 🚀.txt']) t.true(listing.stdout.includes(name), name);
  const getDestination = path.join(work, 'got');
  const got = await run(t, ['get', '-r', repo, secondDone.snapshot.shortId, `${source}/edge/edit-middle.bin`, `${source}/edge/nested`, getDestination]);
  t.is(got.exitCode, 0);
  t.true((await readFile(path.join(getDestination, 'edit-middle.bin'))).equals(inserted));
  t.true((await lstat(path.join(getDestination, 'nested', 'deeper', 'deepest-empty'))).isDirectory());

  // Forgetting the first snapshot and pruning keeps everything the second needs.
  const forget = await run(t, ['forget', '-r', repo, firstDone.snapshot.id, '--prune']);
  t.is(forget.exitCode, 0);
  const check = await run(t, ['check', '-r', repo, '--read-data']);
  t.is(check.exitCode, 0);
  const out = path.join(work, 'after-prune');
  t.is((await run(t, ['restore', '-r', repo, secondDone.snapshot.shortId, out])).exitCode, 0);
  compareTrees(t, await collect(source), await collect(path.join(out, source)), new Set(['edge/pagefile.sys', 'edge/lost+found']));
});

/** `touch -d @SECONDS.NANOSECONDS`: puts an exact mtime back. */
async function setMtimeNs(file: string, mtimeNs: bigint): Promise<void> {
  const seconds = mtimeNs / 1_000_000_000n;
  const nanoseconds = (mtimeNs % 1_000_000_000n).toString().padStart(9, '0');
  await execa('touch', ['-m', '-d', `@${seconds}.${nanoseconds}`, file]);
}

test.serial('parent snapshot: an unchanged tree is not read again; ctime, inode and xattr changes are seen; --force reads all', async (t) => {
  const tree = path.join(work, 'parent-source');
  await mkdir(tree);
  await execa('cp', ['-a', '/usr/share/doc', path.join(tree, 'doc')]);
  await makeEdgeCases(tree);
  const repo = path.join(work, 'repo-parent');
  const first = doneEvent(await run(t, ['backup', 'files', tree, '-r', repo, '--json', '--no-verify']));
  t.is(first.parent, null);
  t.is(first.stats.filesReused, 0);
  t.true(first.stats.filesRead > 3000 && first.stats.readBytes === first.stats.logicalBytes, JSON.stringify(first.stats));

  // Unchanged: nothing read, nothing new, and the snapshot restores identical (content, metadata, xattrs).
  const second = doneEvent(await run(t, ['backup', 'files', tree, '-r', repo, '--json']));
  t.is(second.parent, first.snapshot.id);
  t.is(second.stats.readBytes, 0);
  t.is(second.stats.filesRead, 0);
  t.is(second.stats.filesReused, first.stats.filesRead);
  t.is(second.stats.bytesReused, first.stats.logicalBytes);
  // No new chunk; only folder trees whose atime the first backup's listing moved are new.
  t.is(second.stats.newChunks, 0);
  t.true(second.stats.newBytes < first.stats.newBytes / 100, `${second.stats.newBytes} new bytes`);
  const restored = path.join(work, 'parent-restored');
  t.is((await run(t, ['restore', '-r', repo, second.snapshot.shortId, restored])).exitCode, 0);
  const parentExcluded = new Set(['edge/pagefile.sys', 'edge/lost+found']);
  compareTrees(t, await collect(tree), await collect(path.join(restored, tree)), parentExcluded);
  const xattrsBefore = await xattrsOf(tree);
  for (const excluded of parentExcluded) xattrsBefore.delete(excluded);
  t.deepEqual(await xattrsOf(path.join(restored, tree)), xattrsBefore);

  // Same size, mtime put back, but the write changed ctime: read again.
  const touched = path.join(tree, 'edge', 'append.log');
  const touchedBefore = await lstat(touched, { bigint: true });
  const touchedContent = Buffer.from('LINE\n'.repeat(20000));
  await writeFile(touched, touchedContent);
  await setMtimeNs(touched, touchedBefore.mtimeNs);
  const touchedAfter = await lstat(touched, { bigint: true });
  t.is(touchedAfter.mtimeNs, touchedBefore.mtimeNs);
  t.is(touchedAfter.size, touchedBefore.size);
  t.not(touchedAfter.ctimeNs, touchedBefore.ctimeNs);
  // Replaced by a rename: same size and mtime, another inode: read again.
  const replaced = path.join(tree, 'edge', 'große Datei');
  const replacedBefore = await lstat(replaced, { bigint: true });
  const replacement = seededBytes('replacement', Number(replacedBefore.size));
  const temporary = path.join(tree, 'edge', '.replacement.tmp');
  await writeFile(temporary, replacement);
  await setMtimeNs(temporary, replacedBefore.mtimeNs);
  await execa('mv', [temporary, replaced]);
  const replacedAfter = await lstat(replaced, { bigint: true });
  t.is(replacedAfter.mtimeNs, replacedBefore.mtimeNs);
  t.not(replacedAfter.ino, replacedBefore.ino);
  // An xattr changed (ctime too): the file's content is not read... but its xattrs are.
  const tagged = path.join(tree, 'edge', 'xattrs.txt');
  await execa('setfattr', ['-n', 'user.small', '-v', 'changed', tagged]);

  const third = doneEvent(await run(t, ['backup', 'files', tree, '-r', repo, '--json']));
  t.is(third.parent, second.snapshot.id);
  t.is(third.stats.filesRead, 3, 'the rewritten, the replaced and the re-tagged file');
  t.is(third.stats.readBytes, Number(touchedAfter.size + replacedAfter.size) + 'with attributes\n'.length);
  t.is(third.stats.filesReused, first.stats.filesRead - 3);
  const thirdOut = path.join(work, 'parent-restored-3');
  t.is((await run(t, ['get', '-r', repo, third.snapshot.shortId, touched, replaced, tagged, thirdOut])).exitCode, 0);
  t.true((await readFile(path.join(thirdOut, 'append.log'))).equals(touchedContent));
  t.true((await readFile(path.join(thirdOut, 'große Datei'))).equals(replacement));
  t.true((await xattrsOf(thirdOut)).get('xattrs.txt')?.includes(`user.small=0x${Buffer.from('changed').toString('hex')}`));

  // --force reads everything again; --parent names the parent; --no-parent uses none.
  const forced = doneEvent(await run(t, ['backup', 'files', tree, '-r', repo, '--json', '--no-verify', '--force']));
  t.is(forced.parent, null);
  t.is(forced.stats.filesReused, 0);
  t.is(forced.stats.readBytes, forced.stats.logicalBytes);
  t.is(forced.stats.newChunks, 0, 'read again, all of it is already stored');
  const named = doneEvent(await run(t, ['backup', 'files', tree, '-r', repo, '--json', '--no-verify', '--parent', first.snapshot.shortId]));
  t.is(named.parent, first.snapshot.id);
  t.is(named.stats.filesRead, 3);
  const none = doneEvent(await run(t, ['backup', 'files', tree, '-r', repo, '--json', '--no-verify', '--no-parent']));
  t.is(none.parent, null);
  t.is(none.stats.filesReused, 0);
  t.is((await run(t, ['check', '-r', repo])).exitCode, 0);
});

test.serial('files that cannot be read (small and large) are notices; the rest is kept', async (t) => {
  if (!isRoot) return t.fail('needs root: the backup runs as user nobody (su) so that files of mode 000 cannot be read');
  const tree = path.join(work, 'unreadable');
  await mkdir(tree);
  await chmod(work, 0o755);
  await writeFile(path.join(tree, 'open.txt'), 'open\n');
  await writeFile(path.join(tree, 'secret.txt'), 'secret\n', { mode: 0o000 });
  await writeFile(path.join(tree, 'secret.bin'), seededBytes('secret', 2 * MiB), { mode: 0o000 });
  const repo = path.join(work, 'repo-unreadable');
  await mkdir(repo);
  await execa('chown', ['nobody', repo]);
  const cli = path.join(import.meta.dirname, '..', '..', 'rescue', 'bin', 'lifeboat.mjs');
  const result = await execa('su', ['nobody', '-s', '/bin/sh', '-c', `'${process.execPath}' '${cli}' backup files '${tree}' -r '${repo}' --json --no-verify`], { reject: false });
  // Saved without the two files: exit 11 (incomplete), not 0.
  t.is(result.exitCode, 11, result.stderr);
  // --json: notices are events on stdout.
  t.regex(result.stdout, /secret\.txt: cannot be read \(EACCES\); left out/);
  t.regex(result.stdout, /secret\.bin: cannot be read \(EACCES\); left out/);
  const done = doneEvent({ exitCode: result.exitCode ?? null, signal: null, stdout: result.stdout, stderr: result.stderr });
  t.is(done.stats.filesRead, 1);
  t.is(done.stats.leftOut, 2);
  t.true(done.incomplete);
  const listing = await run(t, ['ls', '-r', repo, done.snapshot.shortId, tree]);
  t.true(listing.stdout.includes('open.txt'));
  t.false(listing.stdout.includes('secret'));
});
