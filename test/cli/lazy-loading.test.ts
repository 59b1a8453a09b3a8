// Start-up (issue 15): short commands load only what they use, and re-execute for the malloc tuning
// only when it helps. LIFEBOAT_TRACE_MODULES (rescue/io/module-trace.ts) makes the program write the
// modules it evaluated and whether it ran tuned; the single executable reports them through the
// bundle's module wrappers, a checkout through Node's module hooks. No time is measured here
// (npm run bench:start does that); these tests prove what is loaded and that everything still runs.

import test from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LIFEBOAT_VERSION } from '../../rescue/version.ts';
import { requireMedia, TEST_MEDIA } from '../helpers/media.ts';
import { startTerminal } from '../helpers/tmux.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const LAUNCHER = path.join(ROOT, 'rescue/bin/lifeboat.mjs');

/** Every command, as main.ts lists them. */
const COMMANDS = ['disks', 'init', 'backup', 'snapshots', 'restore', 'import', 'ls', 'get', 'check', 'forget', 'clone', 'convert', 'errors', 'tui', 'build', 'logs', 'run', 'boot'];

/** Modules a short command must not evaluate: the TUI, the builder, the chunk workers, execa, backup and restore. */
const HEAVY = [
  /^node_modules\/blessed\//,
  /^node_modules\/blessed-contrib\//,
  /^node_modules\/execa\//,
  /^node_modules\/string-width\//,
  /^builder\//,
  /^rescue\/ui\/tui\//,
  /^rescue\/io\/repository\/compression-pool\.ts$/,
  /^rescue\/ops\/backup-/,
  /^rescue\/ops\/restore-(disk|partition|plan)/,
];

interface Traced {
  readonly stdout: string;
  readonly tuned: boolean;
  readonly modules: string[];
  /** Whether V8 took the executable's code cache (accepted, rejected; none in a checkout). */
  readonly codeCache: string;
}

/** Runs `argv` with the module trace on; its output, whether it ran tuned, and the modules it evaluated. */
async function traced(argv: readonly string[], dir: string, env: Record<string, string>): Promise<Traced> {
  const file = path.join(dir, `trace-${Math.random().toString(36).slice(2)}.txt`);
  const [command = '', ...args] = argv;
  const result = await execa(command, args, { cwd: dir, env: { ...env, LIFEBOAT_TRACE_MODULES: file, LIFEBOAT_LOG_DIR: path.join(dir, 'logs') }, reject: false });
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
  const [first = '', second = '', ...modules] = (await readFile(file, 'utf8')).trim().split('\n');
  return { stdout: result.stdout, tuned: first === 'malloc-tuning: on', codeCache: second.replace(/^code-cache: /, ''), modules };
}

function heavyIn(modules: readonly string[]): string[] {
  return modules.filter((name) => HEAVY.some((pattern) => pattern.test(name)));
}

/** A small ext4 image backed up into a repository by the single executable. */
async function fixture(executable: string): Promise<{ dir: string; file: Buffer }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-lazy-'));
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'docs'), { recursive: true });
  const file = randomBytes(3 * 1024 * 1024);
  await writeFile(path.join(tree, 'docs', 'data.bin'), file);
  await writeFile(path.join(tree, 'readme.txt'), 'lazy loading\n');
  await execa('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', tree, path.join(dir, 'source.img'), '16M']);
  const env = { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') };
  await execa(executable, ['init', '-r', 'repo'], { cwd: dir, env });
  await execa(executable, ['backup', 'partition', 'source.img', '-r', 'repo'], { cwd: dir, env });
  return { dir, file };
}

test('the single executable: --version, snapshots, ls and get load neither the TUI, the builder, execa nor the chunk workers, and only get re-executes', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const { dir, file } = await fixture(executable);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

  const version = await traced([executable, '--version'], dir, env);
  t.is(version.stdout.trim(), LIFEBOAT_VERSION);
  const snapshots = await traced([executable, 'snapshots', '-r', 'repo'], dir, env);
  t.regex(snapshots.stdout, /partition/);
  const ls = await traced([executable, 'ls', '-r', 'repo', 'latest:1', '/docs'], dir, env);
  t.regex(ls.stdout, /data\.bin/);
  const get = await traced([executable, 'get', '-r', 'repo', 'latest:1', '/docs/data.bin', 'out'], dir, env);
  t.true(Buffer.compare(await readFile(path.join(dir, 'out', 'data.bin')), file) === 0, 'get restores the file byte for byte');

  // The trace sees the command's own module: an empty or broken trace cannot pass the checks below.
  t.true(snapshots.modules.includes('rescue/ui/cli/snapshots-command.ts'), snapshots.modules.join(' '));
  t.true(ls.modules.includes('rescue/ui/cli/ls-command.ts'));
  t.true(get.modules.includes('rescue/ops/restore-files.ts'));
  for (const [name, run] of Object.entries({ version, snapshots, ls, get })) {
    t.deepEqual(heavyIn(run.modules), [], `${name} loads none of them`);
  }
  t.deepEqual(version.modules.filter((name) => name.endsWith('-command.ts')), [], '--version loads no command');
  t.false(ls.modules.includes('rescue/ui/cli/restore-command.ts'), 'ls loads no other command');
  t.deepEqual([version.tuned, snapshots.tuned, ls.tuned, get.tuned], [false, false, false, false], 'short commands and get (kept chunk memory) are not re-executed');
  // Node's built-ins are traced too; node:assert is left to a failed check (yargs fails one on every
  // run when it finds no package.json: builder/bundle.ts ASSERT_STAND_IN_SOURCE), and hashing an index
  // file or a manifest needs no webcrypto.
  t.true(ls.modules.includes('node:fs/promises'), 'the trace lists built-in modules');
  // node:crypto (~15 ms) is for commands that hash: main.ts's ports load it when they are called.
  t.false(version.modules.includes('node:crypto'), '--version loads no node:crypto');
  for (const [name, run] of Object.entries({ version, snapshots, ls })) {
    t.false(run.modules.includes('node:assert'), `${name} loads no node:assert`);
    t.false(run.modules.includes('node:internal/crypto/webcrypto'), `${name} loads no webcrypto`);
  }
  // The code cache made by the build's warm-up run (builder/sea-code-cache.ts) fits this V8: a
  // rejected one would compile every function again at each start, silently.
  t.deepEqual([version.codeCache, snapshots.codeCache, ls.codeCache, get.codeCache], ['accepted', 'accepted', 'accepted', 'accepted']);
});

test('the single executable still runs every command: each --help, the full help, a restore (untuned) and check --read-data (tuned)', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const { dir } = await fixture(executable);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const help = await traced([executable, '--help'], dir, env);
  // boot is left out of the help (the medium runs it).
  for (const command of COMMANDS.filter((name) => name !== 'boot')) t.regex(help.stdout, new RegExp(`lifeboat ${command}\\b`), `--help lists ${command}`);
  for (const command of COMMANDS) {
    const result = await execa(executable, [command, '--help'], { cwd: dir, env, reject: false });
    t.is(result.exitCode, 0, `${command} --help: ${result.stderr}`);
    t.regex(result.stdout, new RegExp(`lifeboat ${command}`), `${command} --help shows its usage`);
  }
  t.false(help.tuned, '--help is not re-executed');
  await execa('truncate', ['-s', '16M', path.join(dir, 'target.img')]);
  const restore = await traced([executable, 'restore', '-r', 'repo', 'latest', 'target.img', '--yes'], dir, env);
  t.false(restore.tuned, 'a restore (kept chunk memory) is not re-executed');
  t.is((await execa('cmp', [path.join(dir, 'source.img'), path.join(dir, 'target.img')], { reject: false })).exitCode, 0, 'restored image equals the source');
  const check = await traced([executable, 'check', '-r', 'repo', '--read-data'], dir, env);
  t.true(check.tuned, 'check --read-data runs with the malloc tuning');
  t.true(check.modules.includes('rescue/ui/cli/check-command.ts'), check.modules.join(' '));
});

test('the TUI loads blessed when it opens (the trace sees what the short commands leave out)', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-lazy-tui-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'trace.txt');
  const session = await startTerminal(executable, { term: 'linux', env: { LIFEBOAT_TRACE_MODULES: file, TMPDIR: dir } });
  t.teardown(session.close);
  await session.waitFor(/Disks/);
  await session.sendKeys('q');
  t.is(await session.waitForExit(), 0);
  const [first, second, ...modules] = (await readFile(file, 'utf8')).trim().split('\n');
  t.is(first, 'malloc-tuning: on', 'the TUI runs with the malloc tuning');
  t.is(second, 'code-cache: accepted', 'the re-executed process takes the code cache too');
  t.true(modules.some((name) => name.startsWith('node_modules/blessed/')), 'blessed');
  t.true(modules.includes('rescue/ui/tui/tui.ts'));
  t.false(modules.some((name) => name.startsWith('builder/')), 'not the builder');
});

test('a checkout (npx lifeboat) loads lazily too: ls evaluates no TUI, builder or backup module', async (t) => {
  const executable = await requireMedia(TEST_MEDIA.executable);
  const { dir } = await fixture(executable);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ls = await traced([NODE, LAUNCHER, 'ls', '-r', 'repo', 'latest:1', '/'], dir, { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  t.regex(ls.stdout, /readme\.txt/);
  t.true(ls.modules.includes('rescue/ui/cli/ls-command.ts'), ls.modules.slice(0, 20).join(' '));
  t.false(ls.tuned);
  t.is(ls.codeCache, 'none', 'a checkout has no executable code cache');
  // string-width is deferred only in the bundle (builder/bundle.ts DEFERRED_PACKAGES).
  t.deepEqual(heavyIn(ls.modules).filter((name) => !name.startsWith('node_modules/string-width/')), []);
});
