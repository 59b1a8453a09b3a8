// A damaged repository, a wrong password, a held lock and bad restore targets: each case on a fresh
// small repository must end with its own error code and exit code, and must not write the target.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flipByte, withLoop } from '../helpers/filesystem-images.ts';
import { prng } from '../helpers/mutation.ts';
import {
  MiB,
  codesIn,
  describe,
  doneSnapshotId,
  errorCode,
  lifeboat,
  listSnapshots,
  makeExt4Image,
  pseudoRandomBytes,
  repoFiles,
  sha256File,
  sleep,
  startLifeboat,
  writeMixedTree,
  type CliOptions,
  type CliResult,
} from '../helpers/repository-harness.ts';

const IMAGE_BYTES = 16 * MiB;
const NOTE = 'damage-test-note';
const PASSWORD = 'correct horse battery staple';
const WITH_PASSWORD: CliOptions = { env: { LIFEBOAT_PASSWORD: PASSWORD } };

/** The source image every case backs up (made once), and its SHA-256. */
let source = '';
let sourceSha = '';
let root = '';

test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-damage-'));
  const tree = path.join(root, 'tree');
  await writeMixedTree(tree, prng(0xda3a9e), 6 * MiB, 'damage');
  source = await makeExt4Image(path.join(root, 'source.img'), IMAGE_BYTES, tree);
  sourceSha = await sha256File(source);
});

test.after.always(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true });
});

/** A scratch folder of one case. */
async function caseDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'case-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh repository in `dir` holding one snapshot of the source; plain, or encrypted with PASSWORD. */
async function repositoryWithSnapshot(t: ExecutionContext, dir: string, encrypted = false): Promise<{ repo: string; id: string }> {
  const repo = path.join(dir, 'repo');
  if (encrypted) {
    const init = await lifeboat(['init', '-r', repo, '--encrypt'], WITH_PASSWORD);
    if (init.exitCode !== 0) throw new Error(`init --encrypt: ${describe(init)}`);
  }
  const backup = await lifeboat(['backup', 'partition', source, '-r', repo, '--json', '--note', NOTE], encrypted ? WITH_PASSWORD : {});
  const id = doneSnapshotId(backup.stdout);
  if (backup.exitCode !== 0 || id === undefined) throw new Error(`backup: ${describe(backup)}`);
  t.log(`snapshot ${id.slice(0, 8)} in ${encrypted ? 'an encrypted' : 'a plain'} repository`);
  return { repo, id };
}

/** The command failed with exit `exitCode` and stderr names `code` as its error. */
function assertFails(t: ExecutionContext, result: CliResult, code: string, exitCode: number, what: string): void {
  t.is(errorCode(result), code, `${what}: ${describe(result)}`);
  t.is(result.exitCode, exitCode, `${what}: ${describe(result)}`);
}

/** `check` found problems: exit 5 and `code` among the problems it printed. */
function assertCheckReports(t: ExecutionContext, result: CliResult, code: string, what: string): void {
  t.is(result.exitCode, 5, `${what}: ${describe(result)}`);
  t.true(codesIn(result).includes(code), `${what}: ${code} not reported\n${describe(result)}`);
}

/** The largest pack file of a repository. */
async function largestPack(repo: string): Promise<string> {
  const packs = await repoFiles(repo, 'data', '.pack');
  let best = '';
  let bestSize = -1;
  for (const pack of packs) {
    const size = (await stat(pack)).size;
    if (size > bestSize) [best, bestSize] = [pack, size];
  }
  if (best === '') throw new Error(`no pack files under ${repo}/data`);
  return best;
}

/** Flips a byte in the middle of the largest pack: inside blob data, not in a header. */
async function flipPackByte(repo: string): Promise<string> {
  const pack = await largestPack(repo);
  await flipByte(pack, Math.floor((await stat(pack)).size / 2));
  return pack;
}

/** Another alphanumeric character of the same kind (hex digit stays a hex digit), so the JSON stays valid. */
function otherCharacter(character: string): string {
  if (/[0-9]/.test(character)) return character === '7' ? '3' : '7';
  if (/[a-f]/.test(character)) return character === 'c' ? 'a' : 'c';
  if (/[A-Z]/.test(character)) return character === 'Q' ? 'R' : 'Q';
  return character === 'q' ? 'r' : 'q';
}

/** Changes one character of a plain (JSON) snapshot manifest, keeping valid JSON: in the note when it is readable, else in the longest string. */
function tamperJson(text: string): { tampered: string; at: number } {
  let at = text.indexOf(NOTE);
  if (at >= 0) at += NOTE.length - 1;
  else {
    const longest = [...text.matchAll(/"([A-Za-z0-9+/=_-]{16,})"/g)].sort((a, b) => b[0].length - a[0].length)[0];
    if (longest?.index === undefined) throw new Error('no string to tamper with');
    at = longest.index + 1 + Math.floor((longest[1]?.length ?? 2) / 2);
    while (!/[A-Za-z0-9]/.test(text[at] ?? '')) at++;
  }
  const tampered = text.slice(0, at) + otherCharacter(text[at] ?? 'a') + text.slice(at + 1);
  JSON.parse(tampered);
  return { tampered, at };
}

/** Alters a snapshot manifest: one character of a plain JSON manifest (still valid JSON), or one byte mid-way through a sealed (encrypted) one. */
async function tamperSnapshot(file: string): Promise<string> {
  const text = await readFile(file, 'latin1');
  let isJson = true;
  try {
    JSON.parse(text);
  } catch {
    isJson = false;
  }
  if (!isJson) {
    const at = Math.floor(text.length / 2);
    await flipByte(file, at);
    return `flipped byte ${at} of the sealed manifest`;
  }
  const { tampered, at } = tamperJson(text);
  await writeFile(file, tampered, 'latin1');
  return `${text[at]} -> ${tampered[at]} at ${at}`;
}

/** Restores into a fresh file that must not end up equal to the source (a failed restore must not look restored). */
async function failingRestore(t: ExecutionContext, dir: string, repo: string, id: string, options: CliOptions = {}): Promise<CliResult> {
  const target = path.join(dir, `target-${Math.random().toString(16).slice(2)}.img`);
  const result = await lifeboat(['restore', '-r', repo, id, target, '--yes'], options);
  if (existsSync(target)) t.not(await sha256File(target), sourceSha, `the failed restore left a target identical to the source: ${describe(result)}`);
  return result;
}

/** A file of `bytes` random bytes (a target that is not zeros, so any write shows). */
async function patternFile(file: string, bytes: number): Promise<string> {
  await writeFile(file, pseudoRandomBytes(file, bytes));
  return sha256File(file);
}

test.serial('a flipped byte in a pack: check --read-data and restore report LB_REPO_DATA_CORRUPT (exit 5)', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  t.is((await lifeboat(['check', '-r', repo, '--read-data'])).exitCode, 0, 'the undamaged repository passes check');
  const packId = path.basename(await flipPackByte(repo), '.pack');
  t.log(`flipped a byte in pack ${packId}`);
  const check = await lifeboat(['check', '-r', repo, '--read-data']);
  assertCheckReports(t, check, 'LB_REPO_DATA_CORRUPT', 'check --read-data');
  t.true(`${check.stdout}${check.stderr}`.includes(packId), `check does not name the damaged pack: ${describe(check)}`);
  const restore = await failingRestore(t, dir, repo, id);
  assertFails(t, restore, 'LB_REPO_DATA_CORRUPT', 5, 'restore');
  t.true(restore.stderr.includes(packId), `restore does not name the damaged pack: ${describe(restore)}`);
});

test.serial('a truncated pack: check reports LB_REPO_PACK_TRUNCATED, restore fails with a repository error', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const pack = await largestPack(repo);
  await truncate(pack, Math.floor((await stat(pack)).size / 2));
  assertCheckReports(t, await lifeboat(['check', '-r', repo]), 'LB_REPO_PACK_TRUNCATED', 'check');
  assertCheckReports(t, await lifeboat(['check', '-r', repo, '--read-data']), 'LB_REPO_PACK_TRUNCATED', 'check --read-data');
  const restore = await failingRestore(t, dir, repo, id);
  t.is(restore.exitCode, 5, describe(restore));
  t.regex(errorCode(restore) ?? '', /^LB_REPO_/, describe(restore));
});

test.serial('a deleted pack: check and restore report LB_REPO_PACK_MISSING', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  await rm(await largestPack(repo));
  assertCheckReports(t, await lifeboat(['check', '-r', repo]), 'LB_REPO_PACK_MISSING', 'check');
  assertCheckReports(t, await lifeboat(['check', '-r', repo, '--read-data']), 'LB_REPO_PACK_MISSING', 'check --read-data');
  assertFails(t, await failingRestore(t, dir, repo, id), 'LB_REPO_PACK_MISSING', 5, 'restore');
});

test.serial('every index file deleted: check and restore report LB_REPO_INDEX_MISSING', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const indexes = await repoFiles(repo, 'index', '.json');
  t.true(indexes.length > 0, 'the repository has index files');
  for (const index of indexes) await rm(index);
  assertCheckReports(t, await lifeboat(['check', '-r', repo]), 'LB_REPO_INDEX_MISSING', 'check');
  assertCheckReports(t, await lifeboat(['check', '-r', repo, '--read-data']), 'LB_REPO_INDEX_MISSING', 'check --read-data');
  assertFails(t, await failingRestore(t, dir, repo, id), 'LB_REPO_INDEX_MISSING', 5, 'restore');
});

test.serial('a tampered snapshot manifest (one character, still valid JSON): LB_REPO_SNAPSHOT_CORRUPT', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const [manifest] = await repoFiles(repo, 'snapshots', '.json');
  if (manifest === undefined) throw new Error('no snapshot manifest');
  t.log(`tampered ${path.basename(manifest)}: ${await tamperSnapshot(manifest)}`);
  assertCheckReports(t, await lifeboat(['check', '-r', repo]), 'LB_REPO_SNAPSHOT_CORRUPT', 'check');
  assertFails(t, await failingRestore(t, dir, repo, id), 'LB_REPO_SNAPSHOT_CORRUPT', 5, 'restore');
});

test.serial('encrypted repository: a wrong password is LB_REPO_WRONG_PASSWORD for snapshots, restore and backup; none is LB_REPO_PASSWORD_REQUIRED', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir, true);
  t.true((await repoFiles(repo, 'keys', '.json')).length > 0, 'an encrypted repository has key files');
  const wrongFile = path.join(dir, 'wrong-password');
  const rightFile = path.join(dir, 'right-password');
  await writeFile(wrongFile, 'not the password\n');
  await writeFile(rightFile, `${PASSWORD}\n`);
  const wrongWays: Array<[string, string[], CliOptions]> = [
    ['LIFEBOAT_PASSWORD', [], { env: { LIFEBOAT_PASSWORD: 'not the password' } }],
    ['--password-file', ['--password-file', wrongFile], {}],
  ];
  for (const [how, extra, options] of wrongWays) {
    assertFails(t, await lifeboat(['snapshots', '-r', repo, ...extra], options), 'LB_REPO_WRONG_PASSWORD', 5, `snapshots, wrong password by ${how}`);
    const target = path.join(dir, 'never-written.img');
    assertFails(t, await lifeboat(['restore', '-r', repo, id, target, '--yes', ...extra], options), 'LB_REPO_WRONG_PASSWORD', 5, `restore, wrong password by ${how}`);
    t.false(existsSync(target), `restore with a wrong password (${how}) created the target`);
    assertFails(t, await lifeboat(['backup', 'partition', source, '-r', repo, ...extra], options), 'LB_REPO_WRONG_PASSWORD', 5, `backup, wrong password by ${how}`);
  }
  const none = await lifeboat(['snapshots', '-r', repo]);
  assertFails(t, none, 'LB_REPO_PASSWORD_REQUIRED', 5, 'snapshots without a password or a terminal');
  assertFails(t, await lifeboat(['restore', '-r', repo, id, path.join(dir, 'x.img'), '--yes']), 'LB_REPO_PASSWORD_REQUIRED', 5, 'restore without a password');
  assertFails(t, await lifeboat(['backup', 'partition', source, '-r', repo]), 'LB_REPO_PASSWORD_REQUIRED', 5, 'backup without a password');
  const right = await lifeboat(['snapshots', '-r', repo, '--json', '--password-file', rightFile]);
  t.is(right.exitCode, 0, describe(right));
  t.deepEqual((JSON.parse(right.stdout) as Array<{ id: string }>).map((entry) => entry.id), [id], 'the failed backups added no snapshot');
});

test.serial('encrypted repository: a flipped pack byte is LB_REPO_DATA_CORRUPT, a tampered snapshot LB_REPO_SNAPSHOT_CORRUPT', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir, true);
  const check = await lifeboat(['check', '-r', repo, '--read-data'], WITH_PASSWORD);
  t.is(check.exitCode, 0, `the undamaged encrypted repository passes check: ${describe(check)}`);
  await flipPackByte(repo);
  assertCheckReports(t, await lifeboat(['check', '-r', repo, '--read-data'], WITH_PASSWORD), 'LB_REPO_DATA_CORRUPT', 'check --read-data');
  assertFails(t, await failingRestore(t, dir, repo, id, WITH_PASSWORD), 'LB_REPO_DATA_CORRUPT', 5, 'restore');

  await mkdir(path.join(dir, 'second'));
  const second = await repositoryWithSnapshot(t, path.join(dir, 'second'), true);
  const [manifest] = await repoFiles(second.repo, 'snapshots', '.json');
  if (manifest === undefined) throw new Error('no snapshot manifest');
  t.log(`tampered ${path.basename(manifest)}: ${await tamperSnapshot(manifest)}`);
  assertCheckReports(t, await lifeboat(['check', '-r', second.repo], WITH_PASSWORD), 'LB_REPO_SNAPSHOT_CORRUPT', 'check');
  assertFails(t, await failingRestore(t, dir, second.repo, second.id, WITH_PASSWORD), 'LB_REPO_SNAPSHOT_CORRUPT', 5, 'restore');
});

test.serial('a second writer while a live process holds the lock gets LB_REPO_LOCKED', async (t) => {
  const dir = await caseDir(t);
  const { repo } = await repositoryWithSnapshot(t, dir);
  const bigTree = path.join(dir, 'big-tree');
  await writeMixedTree(bigTree, prng(0x10c6), 40 * MiB, 'lock');
  const bigSource = await makeExt4Image(path.join(dir, 'big.img'), 96 * MiB, bigTree);
  const holder = startLifeboat(['backup', 'partition', bigSource, '-r', repo, '--json']);
  try {
    const locked = await waitForLock(repo, holder.done);
    t.true(locked, 'the running backup never showed a lock file in REPO/locks');
    holder.pause();
    assertFails(t, await lifeboat(['backup', 'partition', source, '-r', repo], { timeoutMs: 60_000 }), 'LB_REPO_LOCKED', 5, 'a second backup');
    assertFails(t, await lifeboat(['forget', '-r', repo, '--keep-last', '1', '--prune'], { timeoutMs: 60_000 }), 'LB_REPO_LOCKED', 5, 'forget --prune');
  } finally {
    holder.resume();
  }
  const first = await holder.done;
  t.is(first.exitCode, 0, `the lock holder finishes normally: ${describe(first)}`);
  t.is((await listSnapshots(repo)).length, 2, 'the refused commands changed nothing');
  t.deepEqual(await repoFiles(repo, 'locks', '.json'), [], 'the lock is released');
});

/** Polls REPO/locks until a lock file appears (true) or the process ends (false). */
async function waitForLock(repo: string, done: Promise<CliResult>): Promise<boolean> {
  let ended = false;
  void done.then(() => (ended = true));
  while (!ended) {
    if ((await repoFiles(repo, 'locks', '.json')).length > 0) return true;
    await sleep(5);
  }
  return false;
}

test.serial('restore onto an existing image file without --yes and without a terminal: LB_INPUT_CONFIRMATION_REQUIRED, the target untouched', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const target = path.join(dir, 'target.img');
  const before = await patternFile(target, IMAGE_BYTES);
  assertFails(t, await lifeboat(['restore', '-r', repo, id, target]), 'LB_INPUT_CONFIRMATION_REQUIRED', 2, 'restore onto an existing file');
  t.is(await sha256File(target), before, 'the target was written');
});

test.serial('restore onto a new image file needs no --yes (nothing is overwritten): the file is created and equals the source', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const missing = path.join(dir, 'missing.img');
  const result = await lifeboat(['restore', '-r', repo, id, missing]);
  t.is(result.exitCode, 0, describe(result));
  t.true(existsSync(missing), 'the new target file was not created');
  t.regex(result.stdout, /\(new file\)/, 'the plan names the target as a new file');
});

test.serial('restore onto a target smaller than the source: LB_DEVICE_TARGET_TOO_SMALL, the target untouched', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const target = path.join(dir, 'small.img');
  const before = await patternFile(target, IMAGE_BYTES / 2);
  assertFails(t, await lifeboat(['restore', '-r', repo, id, target, '--yes']), 'LB_DEVICE_TARGET_TOO_SMALL', 3, 'restore');
  t.is(await sha256File(target), before, 'the target was written');
  t.is((await stat(target)).size, IMAGE_BYTES / 2, 'the target file changed size');
});

test.serial('restore onto a loop device whose filesystem is mounted: LB_DEVICE_TARGET_MOUNTED', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const backing = path.join(dir, 'mounted.img');
  await writeFile(backing, '');
  await truncate(backing, IMAGE_BYTES);
  await execa('mkfs.ext4', ['-q', '-F', backing]);
  const mountPoint = path.join(dir, 'mnt');
  await mkdir(mountPoint);
  await withLoop(backing, async (device) => {
    await execa('mount', [device, mountPoint]);
    try {
      await writeFile(path.join(mountPoint, 'canary.txt'), 'still here\n');
      assertFails(t, await lifeboat(['restore', '-r', repo, id, device, '--yes']), 'LB_DEVICE_TARGET_MOUNTED', 3, `restore onto ${device}`);
      t.is(await readFile(path.join(mountPoint, 'canary.txt'), 'utf8'), 'still here\n');
    } finally {
      await execa('umount', [mountPoint], { reject: false });
    }
  });
  const fsck = await execa('e2fsck', ['-fn', backing], { reject: false });
  t.is(fsck.exitCode, 0, `the mounted filesystem was damaged: ${fsck.stdout}`);
});

test.serial('restore --dry-run prints a plan and writes nothing', async (t) => {
  const dir = await caseDir(t);
  const { repo, id } = await repositoryWithSnapshot(t, dir);
  const target = path.join(dir, 'target.img');
  const before = await patternFile(target, IMAGE_BYTES);
  const dry = await lifeboat(['restore', '-r', repo, id, target, '--dry-run', '--yes']);
  t.is(dry.exitCode, 0, describe(dry));
  t.true(dry.stdout.trim().length > 0, `no plan printed: ${describe(dry)}`);
  t.true(dry.stdout.includes(target) || dry.stdout.includes(id.slice(0, 8)), `the plan names neither the target nor the snapshot: ${describe(dry)}`);
  t.is(await sha256File(target), before, '--dry-run wrote to the target');
  const missing = path.join(dir, 'missing.img');
  const dryNew = await lifeboat(['restore', '-r', repo, id, missing, '--dry-run', '--yes']);
  t.is(dryNew.exitCode, 0, describe(dryNew));
  t.false(existsSync(missing), '--dry-run created the target file');
});
