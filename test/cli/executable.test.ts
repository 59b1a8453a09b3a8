// The single executable on its own: no Node, no node_modules, stripped, and blessed drawing.

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NODE_LINUX_BINARY, SEA_SENTINEL_FUSE } from '../../builder/build-sea.ts';
import { LIFEBOAT_VERSION } from '../../rescue/version.ts';
import { requireMedia, TEST_MEDIA } from '../helpers/media.ts';
import { startTerminal } from '../helpers/tmux.ts';

test('runs from an empty folder with an empty environment (no node, no node_modules)', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-sea-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const copy = path.join(dir, 'lifeboat');
  await copyFile(executable, copy);
  await execa('chmod', ['+x', copy]);
  const result = await execa(copy, ['--version'], { cwd: dir, env: {}, extendEnv: false });
  t.is(result.stdout.trim(), LIFEBOAT_VERSION);
  t.is(result.stderr, '', 'no experimental or deprecation warnings');
  const disks = await execa(copy, ['disks', '--json'], { cwd: dir, env: {}, extendEnv: false });
  t.true(Array.isArray((JSON.parse(disks.stdout) as { disks: unknown[] }).disks));
});

test('is the official Node 24 binary, stripped, carrying the blob', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const sections = (await execa('readelf', ['-S', '-W', executable])).stdout;
  t.false(sections.includes('.symtab'), 'stripped before injection');
  const bytes = await readFile(executable);
  t.true(bytes.includes(`${SEA_SENTINEL_FUSE}:1`), 'postject flipped the SEA fuse');
  t.false(bytes.includes(`${SEA_SENTINEL_FUSE}:0`));
  const { stdout: nodeVersion } = await execa(NODE_LINUX_BINARY, ['--version']);
  t.regex(nodeVersion, /^v24\./);
  const inside = await execa(executable, ['-e', 'process.stdout.write(process.version)'], { reject: false });
  // A SEA ignores node's own flags and runs the bundle: -e is an unknown argument to lifeboat.
  t.is(inside.exitCode, 2);
});

test('backs up, checks and restores an ext4 image with its chunk workers (bundled into the executable)', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-sea-backup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tree = path.join(dir, 'tree');
  await mkdir(tree);
  await writeFile(path.join(tree, 'log.txt'), 'lifeboat chunk worker '.repeat(200_000));
  await writeFile(path.join(tree, 'noise.bin'), randomBytes(3 * 1024 * 1024));
  const source = path.join(dir, 'source.img');
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', tree, source, '32M']);
  // An empty environment: the workers cannot load anything from a checkout. Encrypted, so ids are HMACs.
  const env = { LIFEBOAT_PASSWORD: 'sea-worker', LIFEBOAT_LOG_DIR: path.join(dir, 'logs') };
  const lifeboat = (...args: string[]) => execa(executable, args, { cwd: dir, env, extendEnv: false, reject: false });
  const ok = (result: { exitCode?: number; stderr: string }, what: string) => t.is(result.exitCode, 0, `${what}: ${result.stderr}`);
  ok(await lifeboat('init', '-r', 'repo', '--encrypt'), 'init');
  ok(await lifeboat('backup', 'partition', 'source.img', '-r', 'repo'), 'first backup');
  // A few changed blocks: the second backup stores them as a delta against the first snapshot's chunk.
  await execa('debugfs', ['-w', '-R', `write ${path.join(tree, 'log.txt')} again.txt`, source]);
  const second = await lifeboat('backup', 'partition', 'source.img', '-r', 'repo', '--json');
  ok(second, 'second backup');
  const done = second.stdout.split('\n').map((line) => JSON.parse(line) as { event: string; stats?: { deltaChunks: number; newBytes: number } }).find((event) => event.event === 'done');
  t.true((done?.stats?.deltaChunks ?? 0) > 0, `the changed chunks are deltas: ${JSON.stringify(done?.stats)}`);
  ok(await lifeboat('check', '-r', 'repo', '--read-data'), 'check --read-data');
  const target = path.join(dir, 'target.img');
  await execa('truncate', ['-s', '32M', target]);
  ok(await lifeboat('restore', '-r', 'repo', 'latest', 'target.img', '--yes'), 'restore');
  t.is((await execa('cmp', [source, target], { reject: false })).exitCode, 0, 'the restored image equals the source');
});

const terminals = ['linux', 'vt220', 'xterm-256color', 'no-such-terminal'];
for (const term of terminals) {
  test(`draws the blessed home screen in a pseudo-terminal with TERM=${term}`, async (t) => {
    const executable = await requireMedia(TEST_MEDIA.executable);
    const { stdout } = await execa(executable, ['disks', '--json']);
    const disks = (JSON.parse(stdout) as { disks: Array<{ path: string }> }).disks;
    // A fresh TMPDIR makes the executable unpack blessed's terminfo and fonts from its assets.
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-tui-'));
    const session = await startTerminal(executable, { term, columns: 80, rows: 25, env: { TMPDIR: tmp } });
    t.teardown(async () => {
      await session.close();
      await rm(tmp, { recursive: true, force: true });
    });
    // The disk map fills in once every disk's table has been read.
    const screen = await session.waitFor(new RegExp(`Lifeboat \\d+\\.\\d+\\.\\d+[\\s\\S]*${disks.map((disk) => `${disk.path}[\\s\\S]*`).join('')}`), 60_000);
    t.regex(screen, /Disks/);
    t.regex(screen, /Device\s+Size\s+Bus\s+Model/);
    for (const disk of disks) t.true(screen.includes(disk.path), `${disk.path} on screen`);
    t.regex(screen, /q quit/);
    await session.sendKeys('q');
    t.is(await session.waitForExit(), 0);
  });
}

test('the home screen hands over to a shell with exit status 10 when s is pressed', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const session = await startTerminal(executable, { term: 'linux' });
  t.teardown(session.close);
  await session.waitFor(/Disks/);
  await session.sendKeys('s');
  t.is(await session.waitForExit(), 10);
});

/** Colour SGR codes (foreground 30-37/90-97, background 40-47/100-107) in a styled screen. */
function colourCodes(styled: string): string[] {
  const codes: string[] = [];
  for (const match of styled.matchAll(/\x1b\[([0-9;]*)m/g)) {
    for (const code of (match[1] ?? '').split(';')) if (/^(3[0-7]|4[0-7]|9[0-7]|10[0-7])$/.test(code)) codes.push(code);
  }
  return codes;
}

test('colours are readable: none on a monochrome serial vt220 (reverse video marks the selection), colour on the Linux console', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const serial = await startTerminal(executable, { term: 'vt220' });
  t.teardown(serial.close);
  await serial.waitFor(/Disks/);
  const mono = await serial.styledScreen();
  t.deepEqual(colourCodes(mono), [], 'no colour at all on vt220');
  t.regex(mono, /\x1b\[[0-9;]*7m/, 'selection in reverse video');
  const console = await startTerminal(executable, { term: 'linux' });
  t.teardown(console.close);
  await console.waitFor(/Disks/);
  t.true(colourCodes(await console.styledScreen()).includes('36'), 'cyan accents on the Linux console');
});
