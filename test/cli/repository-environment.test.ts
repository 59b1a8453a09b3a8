// LIFEBOAT_REPOSITORY stands for -r in every command that takes it (as RESTIC_REPOSITORY does for
// restic) and in job steps that name no repository; -r still wins. For ls, get and restore, whose
// SOURCE may also be a device, an image or a Clonezilla directory, it applies only when SOURCE
// looks like a snapshot (latest, an id prefix, :N).

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

test('every repository command and a job run against $LIFEBOAT_REPOSITORY without -r', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-env-repo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const repo = path.join(dir, 'repo');
  const withEnv = (args: readonly string[], env: Record<string, string> = { LIFEBOAT_REPOSITORY: repo }) =>
    execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs'), ...env } });
  await mkdir(path.join(dir, 'content'));
  await writeFile(path.join(dir, 'content', 'a.txt'), 'from the environment\n');
  const image = path.join(dir, 'part.img');
  await execa('truncate', ['-s', '8M', image]);
  await execa('mkfs.ext4', ['-q', '-F', '-d', path.join(dir, 'content'), image]);

  const ok = async (args: readonly string[]) => {
    const result = await withEnv(args);
    t.is(result.exitCode, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  await ok(['init']);
  t.true((await readdir(repo)).includes('config.json'), 'init made the repository named by the environment');
  await ok(['backup', 'files', path.join(dir, 'content')]);
  await ok(['backup', 'partition', image, '--tag', 'disk']);
  t.regex(await ok(['snapshots']), /files[\s\S]*partition/);
  t.regex(await ok(['check', '--read-data']), /2 snapshot\(s\).*no problems found/);
  t.regex(await ok(['ls', 'latest', '--tag', 'disk']), /a\.txt/, 'a snapshot SOURCE is read from the repository');
  t.regex(await ok(['ls', image]), /a\.txt/, 'an image SOURCE is still read as an image');
  await ok(['get', 'latest', '/a.txt', path.join(dir, 'got'), '--tag', 'disk']);
  t.regex(await readFile(path.join(dir, 'got', 'a.txt'), 'utf8'), /from the environment/);
  await ok(['restore', 'latest', path.join(dir, 'restored'), '--tag', 'disk']);
  t.true((await readFile(path.join(dir, 'restored'))).equals(await readFile(image)));
  await writeFile(path.join(dir, 'job.json'), JSON.stringify({ steps: [{ do: 'verify', options: { 'read-data': false } }, { do: 'get', snapshot: 'latest', paths: ['/a.txt'], destination: 'job-out', options: { tag: 'disk' } }] }));
  const job = await ok(['run', 'job.json']);
  t.regex(job, new RegExp(`check -r ${repo}`), 'the job step names the repository from the environment');
  t.regex(await readFile(path.join(dir, 'job-out', 'a.txt'), 'utf8'), /from the environment/);
  await ok(['forget', '--keep-last', '1', '--prune']);

  // -r wins over the environment; without either, the command line is not valid.
  const other = path.join(dir, 'other');
  t.is((await withEnv(['init', '-r', other])).exitCode, 0);
  t.true((await readdir(other)).includes('config.json'));
  const none = await withEnv(['snapshots'], {});
  t.is(none.exitCode, 2);
  t.regex(none.stderr, /LB_INPUT_USAGE: .*Missing required argument: repo/);
  const noJobRepository = await withEnv(['run', 'job.json'], {});
  t.is(noJobRepository.exitCode, 2);
  t.regex(noJobRepository.stderr, /LB_INPUT_BAD_JOB: .*"repository" is missing: give it in the step, in the job, or with the LIFEBOAT_REPOSITORY environment variable\./);
});
