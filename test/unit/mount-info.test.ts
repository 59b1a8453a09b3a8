import test from 'ava';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { parseMountInfo } from '../../rescue/core/mount-info.ts';

test('mountinfo lines with optional fields and escaped spaces', (t) => {
  const text = [
    '36 35 98:0 /mnt1 /mnt/my\\040disk rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
    '22 27 0:21 / /proc rw,relatime - proc proc rw',
    '40 35 7:17 / /run/lifeboat/mnt/loop1p1 ro,relatime - ext4 /dev/loop1p1 ro,norecovery',
    'garbage line',
  ].join('\n');
  t.deepEqual(parseMountInfo(text), [
    { device: '98:0', mountPoint: '/mnt/my disk', fsType: 'ext3', source: '/dev/root', readOnly: false, options: ['rw', 'noatime', 'rw', 'errors=continue'] },
    { device: '0:21', mountPoint: '/proc', fsType: 'proc', source: 'proc', readOnly: false, options: ['rw', 'relatime', 'rw'] },
    { device: '7:17', mountPoint: '/run/lifeboat/mnt/loop1p1', fsType: 'ext4', source: '/dev/loop1p1', readOnly: true, options: ['ro', 'relatime', 'ro', 'norecovery'] },
  ]);
});

test('agrees with findmnt on this machine', async (t) => {
  const ours = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const { stdout } = await execa('findmnt', ['--kernel', '--list', '--noheadings', '--output', 'MAJ:MIN,TARGET,FSTYPE']);
  const theirs = stdout.split('\n').map((line) => line.trim().split(/\s+/)).map(([device, target, fsType]) => ({ device, target, fsType }));
  t.is(ours.length, theirs.length);
  for (const mount of theirs) t.true(ours.some((entry) => entry.device === mount.device && entry.mountPoint === mount.target && entry.fsType === mount.fsType), JSON.stringify(mount));
});
