// Choosing snapshots through the real CLI in a repository holding backups of two partitions and a
// folder: `latest` is refused with LB_INPUT_LATEST_AMBIGUOUS naming each source until --source,
// --host or --tag leaves one, and the choice is printed; `forget` prints its groups; `snapshots`
// shows tags; a job step narrows `latest` the same way.

import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

test('latest is refused among several sources, narrowed by --source, --host or --tag, and printed', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-choose-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const run = (args: readonly string[]) => execa(process.execPath, [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: path.join(dir, 'logs') } });
  const ok = async (args: readonly string[]) => {
    const result = await run(args);
    t.is(result.exitCode, 0, `${args.join(' ')}: ${result.stderr}`);
    return result;
  };
  const images: string[] = [];
  for (const name of ['alpha', 'beta']) {
    const content = path.join(dir, `${name}-content`);
    await mkdir(content);
    await writeFile(path.join(content, `${name}.txt`), `${name}\n`);
    const image = path.join(dir, `${name}.img`);
    await execa('truncate', ['-s', '8M', image]);
    await execa('mkfs.ext4', ['-q', '-F', '-d', content, image]);
    images.push(image);
  }
  const [alpha, beta] = images as [string, string];
  await ok(['backup', 'partition', alpha, '-r', 'repo', '--tag', 'first']);
  await ok(['backup', 'partition', alpha, '-r', 'repo']);
  await ok(['backup', 'partition', beta, '-r', 'repo', '--tag', 'other']);
  await ok(['backup', 'files', path.join(dir, 'alpha-content'), '-r', 'repo', '--tag', 'docs']);

  const listed = await ok(['snapshots', '-r', 'repo']);
  t.regex(listed.stdout, /TAGS/);
  for (const tag of ['first', 'other', 'docs']) t.regex(listed.stdout, new RegExp(`\\b${tag}\\b`), `snapshots shows the tag ${tag}`);

  const refused = await run(['ls', '-r', 'repo', 'latest']);
  t.is(refused.exitCode, 2);
  t.regex(refused.stderr, /LB_INPUT_LATEST_AMBIGUOUS: `latest` names no one snapshot: .* The snapshots are of 3 sources: files backup of \S+alpha-content on \S+ \(newest [0-9a-f]{8}, .*\); partition backup of \S+beta\.img on .*; partition backup of \S+alpha\.img on /);
  t.regex(refused.stderr, /fix: Say which with --source/);
  const restoreRefused = await run(['restore', '-r', 'repo', 'latest', path.join(dir, 'out.img')]);
  t.is(restoreRefused.exitCode, 2);
  t.regex(restoreRefused.stderr, /LB_INPUT_LATEST_AMBIGUOUS/);

  const bySource = await ok(['ls', '-r', 'repo', 'latest', '--source', 'beta.img']);
  t.regex(bySource.stdout, /beta\.txt/);
  t.regex(bySource.stderr, /note: latest is snapshot [0-9a-f]{8}: partition backup of \S+beta\.img on \S+, \d{4}-/);
  t.regex((await ok(['ls', '-r', 'repo', 'latest', '--tag', 'first'])).stdout, /alpha\.txt/);
  t.regex((await ok(['ls', '-r', 'repo', 'latest', '--source', path.join(dir, 'alpha-content')])).stdout, /tmp/);
  const hostRefused = await run(['ls', '-r', 'repo', 'latest', '--host', os.hostname()]);
  t.regex(hostRefused.stderr, /LB_INPUT_LATEST_AMBIGUOUS: .*The snapshots matching --host \S+ are of 3 sources/);
  const restored = await ok(['restore', '-r', 'repo', 'latest', path.join(dir, 'out.img'), '--source', alpha]);
  t.regex(restored.stderr, /note: latest is snapshot [0-9a-f]{8}: partition backup of \S+alpha\.img/);
  t.true((await readFile(path.join(dir, 'out.img'))).equals(await readFile(alpha)));

  await writeFile(path.join(dir, 'job.json'), JSON.stringify({ repository: 'repo', steps: [{ do: 'get', paths: ['/beta.txt'], destination: 'job-out', options: { source: beta } }] }));
  await ok(['run', 'job.json']);
  t.is(await readFile(path.join(dir, 'job-out', 'beta.txt'), 'utf8'), 'beta\n');

  const forgotten = await ok(['forget', '-r', 'repo', '--keep-last', '1', '--dry-run']);
  const lines = forgotten.stdout.split('\n');
  const heading = (name: string) => lines.findIndex((line) => new RegExp(`^partition backup of \\S+${name}\\.img:$`).test(line));
  t.true(heading('alpha') >= 0 && heading('beta') >= 0, forgotten.stdout);
  t.regex(lines[heading('alpha') + 1] ?? '', /^ {2}keep {3}[0-9a-f]{8} {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\(last\)$/);
  t.regex(lines[heading('alpha') + 2] ?? '', /^ {2}forget [0-9a-f]{8} {2}\d{4}-/);
  t.regex(forgotten.stdout, /^files backup of \S+alpha-content:$/m);
  t.regex(forgotten.stdout, /1 snapshot\(s\) would be forgotten\./);
});
