// Which commands re-execute with glibc's malloc tuning (rescue/io/malloc-tuning.ts): those that move
// a snapshot's worth of chunks through fresh memory or may (import, file backups, check --read-data,
// forget --prune, jobs, the TUI); not the short ones, nor disk, partition and system backups, whose
// memory is allocated once, nor restore and get, which read chunks into kept memory. test/cli/lazy-loading.test.ts sees it in a process.

import test from 'ava';
import { wantsMallocTuning } from '../../rescue/io/malloc-tuning.ts';

test('short commands, help, disk, partition and system backups, restore and get run untuned', (t) => {
  for (const args of [
    ['--version'],
    ['--help'],
    ['restore', '--help'],
    ['snapshots', '-r', '/mnt/repo'],
    ['ls', '-r', '/mnt/repo', 'latest:1', '/'],
    ['check', '-r', '/mnt/repo'],
    ['forget', '-r', '/mnt/repo', '--keep-last', '3'],
    ['disks', '--json'],
    ['errors'],
    ['init', '-r', '/mnt/repo'],
    ['logs', 'list'],
    ['backup', 'partition', '/dev/sdb1', '-r', '/mnt/repo'],
    ['backup', 'disk', '/dev/sdb', '-r', '/mnt/repo', '--json'],
    ['--json', 'backup', 'system', '/dev/sda', '-r', '/mnt/repo'],
    // An option's value before the command is skipped: the first command name found decides.
    ['-r', '/mnt/repo', 'backup', 'partition', '/dev/sdb1'],
    ['restore', '-r', '/mnt/repo', 'latest', '/dev/sdb', '--yes'],
    ['-r', '/mnt/repo', 'restore', 'latest', '/dev/sdb'],
    ['get', '-r', '/mnt/repo', 'latest:1', '/home', '/mnt/out'],
  ]) t.false(wantsMallocTuning(args), args.join(' '));
});

test('imports, file backups, check --read-data, forget --prune, jobs, boot and the TUI are tuned', (t) => {
  for (const args of [
    [],
    ['tui'],
    ['import', 'clonezilla', '/mnt/img', '-r', '/mnt/repo'],
    ['backup', 'files', '/home', '-r', '/mnt/repo'],
    ['check', '-r', '/mnt/repo', '--read-data'],
    ['forget', '-r', '/mnt/repo', '--keep-last', '3', '--prune'],
    ['run', 'job.json'],
    ['boot'],
    ['-r', '/mnt/repo', 'check', '--read-data'],
  ]) t.true(wantsMallocTuning(args), args.join(' ') || '(no arguments: the TUI)');
});
