// Which commands re-execute with glibc's malloc tuning (rescue/io/malloc-tuning.ts): every one but a
// disk, partition or system backup, whose memory is allocated once.

import test from 'ava';
import { wantsMallocTuning } from '../../rescue/io/malloc-tuning.ts';

test('disk, partition and system backups run untuned; restores, file backups, the TUI and the rest are tuned', (t) => {
  for (const args of [
    ['backup', 'partition', '/dev/sdb1', '-r', '/mnt/repo'],
    ['backup', 'disk', '/dev/sdb', '-r', '/mnt/repo', '--json'],
    ['--json', 'backup', 'system', '/dev/sda', '-r', '/mnt/repo'],
  ]) t.false(wantsMallocTuning(args), args.join(' '));
  for (const args of [
    [],
    ['restore', '-r', '/mnt/repo', 'latest', '/dev/sdb', '--yes'],
    ['backup', 'files', '/home', '-r', '/mnt/repo'],
    ['check', '-r', '/mnt/repo', '--read-data'],
    ['backup'],
    // An option with a value before the command: read as another command, so tuned (the safe side).
    ['-r', '/mnt/repo', 'backup', 'partition', '/dev/sdb1'],
  ]) t.true(wantsMallocTuning(args), args.join(' ') || '(no arguments: the TUI)');
});
