// The job format (rescue/core/job.ts): each step becomes the command line the CLI runs; a wrong
// job is refused as a whole with the step and the field named; the countdown before a job on the
// medium (rescue/core/job-countdown.ts) driven by a fake clock and a fake keyboard.

import test from 'ava';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { runCountdown } from '../../rescue/core/job-countdown.ts';
import { parseJob } from '../../rescue/core/job.ts';
import { parseBootRequest } from '../../rescue/core/kernel-cmdline.ts';

const base = { baseDir: '/mnt/data/jobs' };

test('steps become the CLI command lines; relative paths are taken from the job folder', (t) => {
  const job = parseJob(JSON.stringify({
    repository: '../repo',
    'password-file': 'pass.txt',
    confirm: true,
    then: 'poweroff',
    steps: [
      { do: 'backup', kind: 'disk', source: '/dev/sdb', options: { tag: ['nightly', 'b'], note: 'a note', compression: 5, verify: false, 'sector-by-sector': true, 'allow-mounted': true } },
      { do: 'verify' },
      { do: 'verify', repository: '/other', options: { 'read-data': false } },
      { do: 'restore', snapshot: 'latest:2', target: '/dev/sdc', options: { grow: true, tag: 'nightly' } },
      { do: 'restore', target: 'disk.img', options: { 'dry-run': true } },
      { do: 'get', paths: ['/etc/fstab', '/home'], destination: 'out' },
      { do: 'get', source: '/dev/sdb1', paths: ['/x'], destination: '/tmp/out', options: { overwrite: true } },
      { do: 'backup', kind: 'files', source: ['/home', 'docs'], options: { exclude: '*.tmp', 'one-file-system': true } },
    ],
  }), base);
  t.is(job.then, 'poweroff');
  t.false(job.continueOnError);
  const pass = ['--password-file', '/mnt/data/jobs/pass.txt'];
  t.deepEqual(job.steps.map((step) => step.argv), [
    ['backup', 'disk', '/dev/sdb', '-r', '/mnt/data/repo', ...pass, '--tag', 'nightly', '--tag', 'b', '--note', 'a note', '--compression', '5', '--no-verify', '--sector-by-sector', '--allow-mounted'],
    ['check', '-r', '/mnt/data/repo', ...pass, '--read-data'],
    ['check', '-r', '/other', ...pass, '--no-read-data'],
    ['restore', '-r', '/mnt/data/repo', ...pass, 'latest:2', '/dev/sdc', '--grow', '--tag', 'nightly', '--yes'],
    ['restore', '-r', '/mnt/data/repo', ...pass, 'latest', '/mnt/data/jobs/disk.img', '--dry-run'],
    ['get', '-r', '/mnt/data/repo', ...pass, 'latest', '/etc/fstab', '/home', '/mnt/data/jobs/out'],
    ['get', '/dev/sdb1', '/x', '/tmp/out', '--overwrite'],
    ['backup', 'files', '/home', '/mnt/data/jobs/docs', '-r', '/mnt/data/repo', ...pass, '--exclude', '*.tmp', '--one-file-system'],
  ]);
  t.deepEqual(job.steps.map((step) => step.destructive), [false, false, false, true, false, false, false, false]);
  t.is(parseJob('{"steps":[{"do":"verify","repository":"/r"}]}', base).then, 'stay');
});

function refusal(t: { throws: (fn: () => unknown, expectations: { instanceOf: typeof LifeboatError }) => unknown }, job: unknown): LifeboatError {
  return t.throws(() => parseJob(typeof job === 'string' ? job : JSON.stringify(job), base), { instanceOf: LifeboatError }) as LifeboatError;
}

test('a wrong job is refused with LB_INPUT_BAD_JOB naming the step and the field', (t) => {
  const cases: Array<[unknown, number | undefined, string, RegExp]> = [
    ['{"steps": [', undefined, '', /not JSON/],
    [[], undefined, 'steps', /list of steps/],
    [{ steps: [] }, undefined, 'steps', /non-empty list/],
    [{ steps: [{ do: 'verify', repository: '/r' }], then: 'halt' }, undefined, 'then', /poweroff, reboot, stay/],
    [{ steps: [{ do: 'verify', repository: '/r' }], confirm: 'yes' }, undefined, 'confirm', /true or false/],
    [{ steps: [{ do: 'verify', repository: '/r' }], stpes: [] }, undefined, 'stpes', /not a job field/],
    [{ steps: [{ do: 'verify', repository: '/r' }, { do: 'format' }] }, 2, 'do', /Step 2: "do" must be one of backup, verify, restore, get, not "format"/],
    [{ steps: [{ do: 'backup', kind: 'disk', repository: '/r' }] }, 1, 'source', /Step 1 \(backup\): "source" must be a non-empty string/],
    [{ steps: [{ do: 'backup', kind: 'floppy', source: '/dev/fd0', repository: '/r' }] }, 1, 'kind', /disk, partition, system, files/],
    [{ steps: [{ do: 'verify', repository: '/r' }, { do: 'verify', repository: '/r' }, { do: 'verify' }] }, 3, 'repository', /Step 3 \(verify\)/],
    [{ steps: [{ do: 'backup', kind: 'disk', source: '/dev/sda', repository: '/r', options: { then: 'poweroff' } }] }, 1, 'options.then', /belong to the job/],
    [{ steps: [{ do: 'backup', kind: 'disk', source: '/dev/sda', repository: '/r', options: { compression: 'high' } }] }, 1, 'options.compression', /whole number/],
    [{ steps: [{ do: 'backup', kind: 'disk', source: '/dev/sda', repository: '/r', options: { exclude: ['x'] } }] }, 1, 'options.exclude', /not an option of backup steps/],
    [{ steps: [{ do: 'get', repository: '/r', paths: [], destination: '/o' }] }, 1, 'paths', /non-empty list/],
    [{ steps: [{ do: 'get', repository: '/r', snapshot: 'latest', source: '/dev/sda1', paths: ['/a'], destination: '/o' }] }, 1, 'source', /cannot be given with "snapshot"/],
    [{ steps: [{ do: 'verify', repository: '/r', target: '/dev/sda' }] }, 1, 'target', /not a field of verify steps/],
  ];
  for (const [job, step, field, detail] of cases) {
    const error = refusal(t, job);
    t.is(error.code, 'LB_INPUT_BAD_JOB', JSON.stringify(job));
    t.is(error.details.field, field, JSON.stringify(job));
    t.is(error.details.step, step, JSON.stringify(job));
    t.regex(error.message, detail);
  }
});

test('a restore step needs "confirm": true in the job (a dry run does not)', (t) => {
  const error = refusal(t, { steps: [{ do: 'verify', repository: '/r' }, { do: 'restore', repository: '/r', target: '/dev/sdc' }] });
  t.is(error.code, 'LB_INPUT_JOB_NOT_CONFIRMED');
  t.is(error.details.step, 2);
  t.regex(error.message, /Step 2 \(restore\) overwrites \/dev\/sdc/);
  t.notThrows(() => parseJob(JSON.stringify({ steps: [{ do: 'restore', repository: '/r', target: '/dev/sdc', options: { 'dry-run': true } }] }), base));
});

test('lifeboat.job and lifeboat.countdown on the kernel command line', (t) => {
  const request = parseBootRequest('quiet lifeboat.job=jobs/nightly.json lifeboat.countdown=3');
  t.is(request.run, undefined);
  t.is(request.job, 'jobs/nightly.json');
  t.is(request.countdownSeconds, 3);
  t.is(parseBootRequest('quiet').job, undefined);
  for (const bad of ['lifeboat.job=', 'lifeboat.job=/j.json lifeboat.countdown=soon']) {
    t.is(t.throws(() => parseBootRequest(bad), { instanceOf: LifeboatError })?.code, 'LB_INPUT_BAD_CMDLINE', bad);
  }
});

/** A clock that moves only when the test says so, and a keyboard the test presses. */
function fakeConsole() {
  const waits: Array<() => void> = [];
  const lines: string[] = [];
  let press: () => void = () => undefined;
  const keyPressed = new Promise<void>((resolve) => {
    press = resolve;
  });
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    lines,
    io: { wait: (_ms: number) => new Promise<void>((resolve) => waits.push(resolve)), keyPressed, print: (line: string) => lines.push(line) },
    /** Lets one second pass. */
    tick: async () => {
      await settle();
      waits.shift()?.();
      await settle();
    },
    press: async () => {
      press();
      await settle();
    },
    pendingWaits: () => waits.length,
  };
}

test('the countdown prints each second and starts the job when no key is pressed', async (t) => {
  const console = fakeConsole();
  let outcome: string | undefined;
  const done = runCountdown(3, 'Job /j.json', console.io).then((value) => {
    outcome = value;
  });
  for (let second = 0; second < 3; second += 1) {
    await console.tick();
  }
  await done;
  t.is(outcome, 'start');
  t.deepEqual(console.lines, [
    'Job /j.json starts in 3 s; press any key to cancel.',
    'Job /j.json starts in 2 s; press any key to cancel.',
    'Job /j.json starts in 1 s; press any key to cancel.',
    'Job /j.json starts now.',
  ]);
});

test('a key press cancels the countdown at once, without waiting for the clock', async (t) => {
  const console = fakeConsole();
  let outcome: string | undefined;
  const done = runCountdown(10, 'Job /j.json', console.io).then((value) => {
    outcome = value;
  });
  await console.tick();
  await console.tick();
  t.is(outcome, undefined, 'still counting after 2 of 10 seconds');
  await console.press();
  await done;
  t.is(outcome, 'cancelled');
  t.is(console.lines.at(-1), 'Job /j.json cancelled: nothing was run.');
  t.is(console.lines.filter((line) => line.includes('starts in')).length, 3);
  t.false(console.lines.some((line) => line.includes('starts now')));
});
