// Run log pieces: which runs are logged and how files are named and kept (core/run-log.ts), and
// the entry the TUI uses for its operations (runWithLog + recordProgress in run-log-scope.ts)
// writing a real file through io/run-log.ts.

import test from 'ava';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { commandLabel, formatCommandLine, formatRunLogLines, isLoggedRun, isRunLogFileName, runLogFileName, runLogOutcome, runLogsToRemove } from '../../rescue/core/run-log.ts';
import { openRunLog } from '../../rescue/io/run-log.ts';
import { recordProgress, runWithLog } from '../../rescue/ui/cli/run-log-scope.ts';

test('help, version, errors, logs, tui and boot are not logged; every other command is', (t) => {
  for (const argv of [[], ['--help'], ['backup', 'disk', '--help'], ['-h'], ['--version'], ['errors'], ['errors', 'LB_INPUT_USAGE'], ['logs', 'export'], ['tui'], ['boot']]) t.false(isLoggedRun(argv), argv.join(' '));
  for (const argv of [['disks'], ['backup', 'disk', '/dev/sda', '-r', 'r'], ['run', 'job.json'], ['restore', '-r', 'r', 'latest', '/dev/sdb', '--yes']]) t.true(isLoggedRun(argv), argv.join(' '));
});

test('file names sort by time and say the command; old ones go first', (t) => {
  const time = new Date('2026-11-29T22:30:01.123Z');
  t.is(runLogFileName(time, ['backup', 'disk', '/dev/sda']), '20261129T223001.123Z-backup-disk.log');
  t.is(runLogFileName(time, ['restore', '-r', 'repo', 'latest', '/dev/sdb']), '20261129T223001.123Z-restore.log');
  t.is(runLogFileName(time, ['run', 'job.json'], 2), '20261129T223001.123Z-run-2.log');
  t.is(commandLabel(['import', 'clonezilla', 'dir']), 'import clonezilla');
  t.is(commandLabel(['clone', 'disk', '/dev/sda', '/dev/sdb', '--yes']), 'clone disk');
  t.true(isRunLogFileName(runLogFileName(time, ['disks'])));
  t.false(isRunLogFileName('notes.txt'));
  t.deepEqual(runLogsToRemove(['20260102T000000.000Z-b.log', 'x.txt', '20260101T000000.000Z-a.log', '20260103T000000.000Z-c.log'], 2), ['20260101T000000.000Z-a.log']);
  t.deepEqual(runLogsToRemove(['20260101T000000.000Z-a.log'], 5), []);
  t.is(formatCommandLine(['backup', 'disk', '/dev/sda', '--note', "it's new"]), "lifeboat backup disk /dev/sda --note 'it'\\''s new'");
  t.is(formatRunLogLines(time, 'out', 'a\r\nb\n'), '2026-11-29T22:30:01.123Z out      a\n2026-11-29T22:30:01.123Z out      b\n');
});

test('runWithLog: a TUI operation gets its own log with notices, phase figures and the result or the coded error', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-run-log-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const seen: string[] = [];
  const screen = { progress: (event: { phase: string }) => seen.push(event.phase), notice: (message: string) => seen.push(message) };
  const value = await runWithLog(openRunLog({ dir, argv: ['backup', 'disk', '/dev/sdz', '-r', '/repo'] }), 'lifeboat backup disk /dev/sdz -r /repo', async () => {
    const reporter = recordProgress(screen);
    reporter.notice('Created repository /repo.');
    reporter.progress({ phase: 'backup', bytesDone: 10, bytesTotal: 100 });
    reporter.progress({ phase: 'backup', bytesDone: 100, bytesTotal: 100, item: 'partition 1' });
    reporter.progress({ phase: 'verify', bytesDone: 50, bytesTotal: 50 });
    reporter.finish();
    return 42;
  });
  t.is(value, 42);
  t.deepEqual(seen, ['Created repository /repo.', 'backup', 'backup', 'verify'], 'the screen still sees everything');
  await t.throwsAsync(runWithLog(openRunLog({ dir, argv: ['restore', '-r', '/repo', 'latest', '/dev/sdz'] }), 'lifeboat restore -r /repo latest /dev/sdz', async () => {
    throw new LifeboatError('LB_DEVICE_TARGET_MOUNTED', { detail: '/dev/sdz1 is mounted.', target: '/dev/sdz' });
  }), { instanceOf: LifeboatError });
  const names = (await readdir(dir)).sort();
  t.is(names.length, 2);
  const backup = await readFile(path.join(dir, names.find((name) => name.endsWith('-backup-disk.log')) ?? ''), 'utf8');
  t.regex(backup, /start +lifeboat backup disk \/dev\/sdz -r \/repo\n/);
  t.regex(backup, /notice +Created repository \/repo\.\n/);
  t.regex(backup, /progress backup ended: 100 of 100 bytes, partition 1\n/);
  t.regex(backup, /progress verify ended: 50 of 50 bytes\n/);
  t.regex(backup, /result +success\n$/);
  const restore = await readFile(path.join(dir, names.find((name) => name.endsWith('-restore.log')) ?? ''), 'utf8');
  t.regex(restore, /error +LB_DEVICE_TARGET_MOUNTED: The target is in use.*\/dev\/sdz1 is mounted\.\n/);
  t.regex(restore, /error +details: \{"detail":"\/dev\/sdz1 is mounted\.","target":"\/dev\/sdz"\}/);
  t.notRegex(restore, /result/);
});

test('runLogOutcome: how a run ended, from its last result or coded error record', (t) => {
  const at = new Date('2026-11-30T01:00:00.000Z');
  const log = (...records: Array<[Parameters<typeof formatRunLogLines>[1], string]>) => records.map(([kind, text]) => formatRunLogLines(at, kind, text)).join('');
  t.is(runLogOutcome(log(['start', 'lifeboat backup disk /dev/sda -r r'], ['result', 'exit 0: success'])), 'success');
  t.is(runLogOutcome(log(['start', 'TUI backup'], ['result', 'success'])), 'success');
  t.is(runLogOutcome(log(['start', 'x'], ['error', 'LB_REPO_NOT_FOUND (exit 5): No Lifeboat repository was found.\nfix: init it\ndetails: {}'])), 'LB_REPO_NOT_FOUND');
  t.is(runLogOutcome(log(['start', 'x'], ['error', 'LB_INPUT_STOPPED: The operation was stopped.\nfix: again'])), 'LB_INPUT_STOPPED');
  t.is(runLogOutcome(log(['start', 'lifeboat run job.json'], ['step', 'lifeboat check -r r'], ['error', 'LB_REPO_CHECK_FAILED (exit 5): problems'], ['result', 'exit 5'])), 'exit 5', 'the run\'s own result comes last');
  t.is(runLogOutcome(log(['start', 'x'], ['progress', 'backup ended: 1 of 2 bytes'])), 'unfinished');
  t.is(runLogOutcome(''), 'unfinished');
});
