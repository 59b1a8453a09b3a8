// The backup's options screen in tmux (80x25, TERM=linux): it recaps the source (path, model,
// size, space in use) and the repository, and its compression level and verification reach the
// backup as `--compression` and `--no-verify` do: judged on the repository's index (every data
// blob stored uncompressed) and on the run log (the command line, no verify phase).

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { zstdDecompressSync } from 'node:zlib';
import path from 'node:path';
import { CLI_ENTRY } from '../helpers/repository-harness.ts';
import { leaveToHome, openLifeboatTui, quitTui, typeLine as type } from '../helpers/tmux.ts';
import { makeExt4Disk, MiB } from '../helpers/tui-disks.ts';

const LONG_MS = 180_000;
const STEP_MS = 60_000;

test('the options screen recaps source, size and repository; compression 0 and verification off reach the backup', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-options-'));
  // Text compresses well: stored uncompressed, the packs hold all of it.
  const image = await makeExt4Disk(dir, 'text.img', 32 * MiB, 'TEXT', { 'notes.txt': Buffer.from('lifeboat keeps this text. '.repeat(160_000)) });
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'init', '-r', repo]);
  const logDir = path.join(dir, 'logs');
  const session = await openLifeboatTui({ env: { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_LOG_DIR: logDir } });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repo}`), STEP_MS);
  await session.sendKeys('b');
  await session.waitFor(/What to back up\?/);
  await session.sendKeys('d');
  await session.waitFor(/Backup disk: source[\s\S]*Type a device/, STEP_MS);
  await session.sendKeys('t');
  await session.waitFor(/A block device or an image file/);
  await type(session, image);
  await session.waitFor(new RegExp(`Backup: repository[\\s\\S]*${repo}`));
  await session.sendKeys('Enter');
  const options = await session.waitFor(/Backup: options/, STEP_MS);
  t.regex(options, new RegExp(`Source:\\s+${image} \\(image file\\)`));
  t.regex(options, /Size:\s+32\.0 MiB, [\d.]+ MiB in use in 1 filesystem/);
  t.regex(options, new RegExp(`Repository:\\s+${repo}`));
  t.regex(options, /Compression:\s+zstd level 3 \(default\)/);
  t.regex(options, /Verification:\s+on/);
  await session.sendKeys('c');
  await session.waitFor(/The zstd level, 1 to 19/);
  await session.sendKeys('BSpace');
  await type(session, '0');
  await session.waitFor(/Compression:\s+none \(stored as read\)/);
  await session.sendKeys('v');
  await session.waitFor(/Verification:\s+off/);
  await session.sendKeys('s');
  const done = await session.waitFor(/100%\s+done/, LONG_MS);
  t.regex(done, /Snapshot [0-9a-f]{8} saved: [\d.]+ MiB backed up, [\d.]+ MiB new in the[\s│]+repository\./);
  t.notRegex(done, /verified/);
  await session.sendKeys('Enter');
  await leaveToHome(session);
  t.is(await quitTui(session), 0);

  // Compression 0: every data blob in the index is stored as read (level 3 compresses this text).
  const indexDir = path.join(repo, 'index');
  // Index files of a version-2 repository are one zstd frame of their JSON (FORMAT.md).
  const blobs = (await Promise.all((await readdir(indexDir)).map(async (name) => JSON.parse(zstdDecompressSync(await readFile(path.join(indexDir, name))).toString('utf8')) as { packs: Array<{ blobs: Array<{ type: string; compression: string }> }> })))
    .flatMap((index) => index.packs.flatMap((pack) => pack.blobs)).filter((blob) => blob.type === 'data');
  t.true(blobs.length > 0);
  t.deepEqual([...new Set(blobs.map((blob) => blob.compression))], ['none'], 'data blobs stored uncompressed');
  // Verification off: the run log's command line says so, and no verify phase ran.
  const logs = JSON.parse((await execa(process.execPath, [CLI_ENTRY, 'logs', 'list', '--json'], { env: { LIFEBOAT_LOG_DIR: logDir } })).stdout) as { logs: Array<{ name: string; path?: string; outcome: string }> };
  t.deepEqual(logs.logs.map((log) => [log.name.replace(/^\S+?Z-/, ''), log.outcome]), [['backup-disk.log', 'success']]);
  const log = await readFile(path.join(logDir, logs.logs[0]?.name ?? ''), 'utf8');
  t.regex(log, /backup disk \S+text\.img -r \S+repo --compression 0 --no-verify/);
  t.regex(log, /progress backup ended/);
  t.notRegex(log, /progress verify/);
});

test('a files backup that keeps an entry without its extended attributes says the snapshot is incomplete', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-incomplete-'));
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'tagged.txt'), 'has an attribute\n');
  await execa('setfattr', ['-n', 'user.colour', '-v', 'blue', path.join(tree, 'tagged.txt')]);
  // getfattr is not on this PATH (only the shell and xargs its loop runs), as on a medium without attr.
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  for (const name of ['sh', 'xargs']) await symlink((await execa('sh', ['-c', `command -v ${name}`])).stdout.trim(), path.join(bin, name));
  const repo = path.join(dir, 'repo');
  await execa(process.execPath, [CLI_ENTRY, 'init', '-r', repo]);
  const session = await openLifeboatTui({ env: { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_LOG_DIR: path.join(dir, 'logs'), PATH: bin } });
  t.teardown(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.waitFor(new RegExp(`Repositories[\\s\\S]*${repo}`), STEP_MS);
  await session.sendKeys('b');
  await session.waitFor(/What to back up\?/);
  await session.sendKeys('f');
  await session.waitFor(/The folder \(or file\) to back up/);
  await type(session, tree);
  await session.waitFor(new RegExp(`Backup: repository[\\s\\S]*${repo}`), STEP_MS);
  await session.sendKeys('Enter');
  await session.waitFor(/Backup: options/, STEP_MS);
  await session.sendKeys('s');
  const done = (await session.waitFor(/100%\s+done/, LONG_MS)).replace(/[│┌┐└┘─\s]+/g, ' ');
  t.regex(done, /Snapshot [0-9a-f]{8} saved: /);
  t.regex(done, /The snapshot is incomplete: \d+ entries are kept without their extended attributes \(see the notes above\)\./);
  await session.sendKeys('Enter');
  await leaveToHome(session);
  t.is(await quitTui(session), 0);
});
