// `lifeboat run JOB.json` through the real CLI on file-backed images: backup, verify, get and a
// confirmed restore run in order into one log and end with the job's power action (recorded
// through LIFEBOAT_TEST_POWER_ACTION_FILE instead of switching the host off); a wrong job is
// refused before any step runs; a failing step stops the job, is logged, and nothing powers off.

import test from 'ava';
import { execa } from 'execa';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const LIFEBOAT = path.join(PROJECT_ROOT, 'rescue/bin/lifeboat.mjs');

interface Work {
  readonly dir: string;
  readonly power: string;
  run(args: readonly string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
  job(name: string, job: unknown): Promise<string>;
  logs(): Promise<string[]>;
}

async function work(t: { teardown: (fn: () => Promise<void>) => void }): Promise<Work> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-jobs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const power = path.join(dir, 'power-actions');
  const logDir = path.join(dir, 'logs');
  await mkdir(path.join(dir, 'jobs'));
  return {
    dir,
    power,
    run: async (args) => {
      const result = await execa('node', [LIFEBOAT, ...args], { cwd: dir, reject: false, env: { LIFEBOAT_LOG_DIR: logDir, LIFEBOAT_TEST_POWER_ACTION_FILE: power } });
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
    },
    job: async (name, job) => {
      const file = path.join(dir, 'jobs', name);
      await writeFile(file, typeof job === 'string' ? job : JSON.stringify(job, null, 2));
      return file;
    },
    logs: async () => {
      const names = (await readdir(logDir).catch(() => [] as string[])).sort();
      return Promise.all(names.map((name) => readFile(path.join(logDir, name), 'utf8')));
    },
  };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/** A 16 MiB disk image: GPT with one ext4 partition holding two files (mkfs.ext4 -d, no mount). */
async function diskImage(dir: string): Promise<string> {
  const content = path.join(dir, 'content');
  await mkdir(path.join(content, 'docs'), { recursive: true });
  await writeFile(path.join(content, 'docs', 'letter.txt'), 'Dear support,\nthe job ran.\n');
  await writeFile(path.join(content, 'numbers.txt'), Array.from({ length: 20000 }, (_, index) => `${index}\n`).join(''));
  const partition = path.join(dir, 'part.img');
  await execa('truncate', ['-s', '14M', partition]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'JOBDATA', '-d', content, partition]);
  const disk = path.join(dir, 'disk.img');
  await execa('truncate', ['-s', '16M', disk]);
  await execa('sfdisk', ['--quiet', disk], { input: 'label: gpt\nstart=2048, size=28672, type=0FC63DAF-8483-4772-8E3D-693D477DE47D\n' });
  await execa('dd', [`if=${partition}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc', 'status=none']);
  return disk;
}

async function sha256(file: string): Promise<string> {
  return (await execa('sha256sum', [file])).stdout.split(' ')[0] ?? '';
}

test('a job backs up, verifies, restores a file and the disk, logs each step, then powers off', async (t) => {
  const w = await work(t);
  const disk = await diskImage(w.dir);
  const target = path.join(w.dir, 'target.img');
  await execa('truncate', ['-s', '16M', target]);
  const job = await w.job('nightly.json', {
    repository: '../repo',
    confirm: true,
    steps: [
      { do: 'backup', kind: 'disk', source: '../disk.img', options: { tag: 'nightly', note: 'job run' } },
      { do: 'verify' },
      { do: 'get', snapshot: 'latest:1', paths: ['/docs/letter.txt', '/numbers.txt'], destination: '../restored' },
      { do: 'restore', snapshot: 'latest', target: '../target.img' },
    ],
    then: 'poweroff',
  });
  const result = await w.run(['run', job]);
  t.is(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
  t.regex(result.stdout, /job .*nightly\.json: 4 step\(s\), then poweroff\./);
  for (const [index, kind] of ['backup', 'verify', 'get', 'restore'].entries()) t.regex(result.stdout, new RegExp(`== step ${index + 1}/4 \\(${kind}\\) done\\.`));
  t.regex(result.stdout, /powering off\./);
  t.is(await readFile(w.power, 'utf8'), 'poweroff\n', 'the power action was asked for once, after the last step');
  const logs = await w.logs();
  t.is(logs.length, 1, 'the steps log into the job\'s file');

  // What the steps did: one snapshot with the job's tag, the files back, the disk restored byte for byte.
  const snapshots = JSON.parse((await w.run(['snapshots', '-r', path.join(w.dir, 'repo'), '--json'])).stdout) as Array<{ tags: string[]; note: string }>;
  t.is(snapshots.length, 1);
  t.deepEqual(snapshots[0]?.tags, ['nightly']);
  t.is(await readFile(path.join(w.dir, 'restored', 'letter.txt'), 'utf8'), 'Dear support,\nthe job ran.\n');
  t.is((await readFile(path.join(w.dir, 'restored', 'numbers.txt'), 'utf8')).split('\n').length, 20001);
  t.is(await sha256(target), await sha256(disk));

  // One log for the whole job, each step's command line and result inside it.
  const [log] = logs;
  t.regex(log ?? '', /start +lifeboat run .*nightly\.json/);
  t.regex(log ?? '', new RegExp(`step +lifeboat backup disk ${w.dir}/disk\\.img -r ${w.dir}/repo --tag nightly --note 'job run'`));
  t.regex(log ?? '', new RegExp(`step +lifeboat check -r ${w.dir}/repo --read-data`));
  t.regex(log ?? '', /step +lifeboat get -r .*\/repo latest:1 \/docs\/letter\.txt \/numbers\.txt .*\/restored/);
  t.regex(log ?? '', /step +lifeboat restore -r .*\/repo latest .*\/target\.img --yes/);
  for (const kind of ['backup', 'verify', 'get', 'restore']) t.regex(log ?? '', new RegExp(`step +step \\d/4 \\(${kind}\\) ended with exit 0`));
  t.regex(log ?? '', /progress backup ended: /);
  t.regex(log ?? '', /progress restore ended: /);
  t.regex(log ?? '', /step +job done: poweroff/);
  t.is((log ?? '').match(/start +lifeboat [a-z]/g)?.length, 1, 'one start: the job\'s');
});

test('a wrong job is refused before any step runs, naming the step and the field', async (t) => {
  const w = await work(t);
  const disk = await diskImage(w.dir);
  const bad = await w.job('bad.json', {
    repository: '../repo',
    steps: [
      { do: 'backup', kind: 'disk', source: disk },
      { do: 'verify' },
      { do: 'get', snapshot: 'latest:1', paths: '/docs', destination: '../out' },
    ],
    then: 'poweroff',
  });
  const result = await w.run(['run', bad]);
  t.is(result.exitCode, 2);
  t.regex(result.stderr, /LB_INPUT_BAD_JOB: The job file is not valid; no step was run\. Step 3 \(get\): "paths" must be a non-empty list/);
  t.false(await exists(path.join(w.dir, 'repo')), 'step 1 did not run');
  t.false(await exists(w.power));
  const [log] = await w.logs();
  t.regex(log ?? '', /error +LB_INPUT_BAD_JOB \(exit 2\)/);
  t.regex(log ?? '', /"step":3/);
  t.notRegex(log ?? '', /step +lifeboat/);

  // A restore without "confirm": true is refused as a whole too.
  const target = path.join(w.dir, 'target.img');
  await execa('truncate', ['-s', '16M', target]);
  const unconfirmed = await w.job('unconfirmed.json', { repository: '../repo', steps: [{ do: 'backup', kind: 'disk', source: disk }, { do: 'restore', target }] });
  const refused = await w.run(['run', unconfirmed]);
  t.is(refused.exitCode, 2);
  t.regex(refused.stderr, /LB_INPUT_JOB_NOT_CONFIRMED: .*Step 2 \(restore\) overwrites .*target\.img/);
  t.false(await exists(path.join(w.dir, 'repo')));

  // Not JSON, and a file that is not there.
  t.regex((await w.run(['run', await w.job('broken.json', '{"steps": [')])).stderr, /LB_INPUT_BAD_JOB: .*not JSON/);
  t.regex((await w.run(['run', path.join(w.dir, 'missing.json')])).stderr, /LB_INPUT_BAD_JOB: .*cannot be read/);
});

test('a failing step stops the job with its exit code and is logged; the job does not power off', async (t) => {
  const w = await work(t);
  const disk = await diskImage(w.dir);
  const job = await w.job('fails.json', {
    steps: [
      { do: 'backup', kind: 'disk', source: disk, repository: '../repo' },
      { do: 'verify', repository: '../no-such-repo' },
      { do: 'get', repository: '../repo', snapshot: 'latest:1', paths: ['/numbers.txt'], destination: '../out' },
    ],
    then: 'poweroff',
  });
  const result = await w.run(['run', job]);
  t.is(result.exitCode, 5, 'the exit code of the failed step (repository group)');
  t.regex(result.stderr, /LB_REPO_NOT_FOUND/);
  t.regex(result.stdout, /== step 2\/3 \(verify\) failed \(exit 5\); the job stops here: 1 step\(s\) not run\./);
  t.regex(result.stdout, /job .* failed; no poweroff\./);
  t.false(await exists(path.join(w.dir, 'out')), 'step 3 did not run');
  t.false(await exists(w.power), 'no power action after a failed job');
  const [log] = await w.logs();
  t.regex(log ?? '', /step +step 1\/3 \(backup\) ended with exit 0/);
  t.regex(log ?? '', /error +LB_REPO_NOT_FOUND \(exit 5\)/);
  t.regex(log ?? '', /step +step 2\/3 \(verify\) ended with exit 5/);
  t.notRegex(log ?? '', /step 3\/3/);
  t.regex(log ?? '', /result +exit 5$/m);

  // With "continue-on-error" the next steps still run; the job still fails and does not power off.
  const lenient = await w.job('lenient.json', { ...JSON.parse(await readFile(job, 'utf8')) as object, 'continue-on-error': true });
  const second = await w.run(['run', lenient]);
  t.is(second.exitCode, 5);
  t.regex(second.stdout, /== step 2\/3 \(verify\) failed \(exit 5\); continuing/);
  t.regex(second.stdout, /== step 3\/3 \(get\) done\./);
  t.is((await readFile(path.join(w.dir, 'out', 'numbers.txt'), 'utf8')).split('\n').length, 20001);
  t.false(await exists(w.power));
});
