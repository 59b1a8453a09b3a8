// `--then poweroff|reboot` after long operations, seen through LIFEBOAT_TEST_POWER_ACTION_FILE
// (rescue/io/machine.ts records the action there instead of switching the host off): asked for
// once after a backup or a check that succeeded, never after one that failed.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { ERROR_CATALOGUE } from '../../rescue/core/errors.ts';
import { EXIT_CODES } from '../../rescue/ui/cli/exit-codes.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

test('backup and check --then: the power action follows success only', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-power-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const power = path.join(dir, 'power-actions');
  const run = (args: readonly string[]) => execa('node', [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs'), LIFEBOAT_TEST_POWER_ACTION_FILE: power } });
  const actions = async () => (await readFile(power, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const content = path.join(dir, 'content');
  await mkdir(content);
  await writeFile(path.join(content, 'a.txt'), 'power test\n'.repeat(500));
  await execa('truncate', ['-s', '8M', path.join(dir, 'source.img')]);
  await execa('mkfs.ext4', ['-q', '-F', '-d', content, path.join(dir, 'source.img')]);

  const backup = await run(['backup', 'partition', 'source.img', '-r', 'repo', '--then', 'poweroff']);
  t.is(backup.exitCode, 0, backup.stderr);
  t.deepEqual(await actions(), ['poweroff']);
  const check = await run(['check', '-r', 'repo', '--read-data', '--then', 'reboot']);
  t.is(check.exitCode, 0, check.stderr);
  t.regex(check.stdout, /no problems found/);
  t.deepEqual(await actions(), ['poweroff', 'reboot']);

  // Failures: a backup of a missing source, a check that finds a pack missing.
  t.is((await run(['backup', 'partition', 'missing.img', '-r', 'repo', '--then', 'poweroff'])).exitCode, EXIT_CODES[ERROR_CATALOGUE.LB_DEVICE_NOT_FOUND.group]);
  const packs = (await readdir(path.join(dir, 'repo', 'data'), { recursive: true })).filter((name) => name.endsWith('.pack'));
  await rm(path.join(dir, 'repo', 'data', packs[0] ?? ''));
  const failed = await run(['check', '-r', 'repo', '--then', 'poweroff']);
  t.is(failed.exitCode, 5);
  t.deepEqual(await actions(), ['poweroff', 'reboot'], 'nothing was added by the failed runs');
});
