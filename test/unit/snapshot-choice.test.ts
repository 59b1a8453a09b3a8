// Choosing a snapshot: `latest` is the newest snapshot of one source; in a repository holding
// backups of several sources it is refused (LB_INPUT_LATEST_AMBIGUOUS, naming each source and its
// newest snapshot) unless --source, --host or --tag leaves one. Forget's groups are the same.

import test from 'ava';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { selectSnapshot, type SelectableSnapshot } from '../../rescue/core/repository/select-snapshot.ts';
import { describeSnapshotGroup, snapshotGroupKey } from '../../rescue/core/repository/snapshot-groups.ts';

function snapshot(id: string, time: string, fields: { kind: string; host: string; path: string; serial?: string; model?: string; tags?: string[]; roots?: string[] }): SelectableSnapshot {
  return {
    id,
    manifest: {
      time, tags: fields.tags ?? [], kind: fields.kind, host: fields.host,
      source: { path: fields.path, serial: fields.serial ?? '', model: fields.model ?? '' },
      ...(fields.roots ? { files: { roots: fields.roots } } : {}),
    },
  };
}

const laptopDisk = snapshot('aa11', '2026-01-01T10:00:00Z', { kind: 'disk', host: 'medium', path: '/dev/sda', serial: 'S5XY', model: 'Samsung SSD', tags: ['weekly'] });
const laptopDiskLater = snapshot('aa22', '2026-01-08T10:00:00Z', { kind: 'disk', host: 'medium', path: '/dev/sdb', serial: 'S5XY', model: 'Samsung SSD', tags: ['weekly'] });
const stick = snapshot('bb11', '2026-01-09T10:00:00Z', { kind: 'partition', host: 'medium', path: '/dev/sdc1', serial: 'USB1', model: 'SanDisk' });
const home = snapshot('cc11', '2026-01-10T10:00:00Z', { kind: 'files', host: 'desktop', path: '/home', roots: ['/home'], tags: ['daily'] });
const all = [laptopDisk, laptopDiskLater, stick, home];

test('latest in a repository of one source is its newest snapshot (the disk is known by its serial, whatever its name)', (t) => {
  t.is(selectSnapshot([laptopDisk, laptopDiskLater], 'latest').id, 'aa22');
});

test('latest among several sources is refused with each source and its newest snapshot', (t) => {
  const error = t.throws(() => selectSnapshot(all, 'latest'), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_INPUT_LATEST_AMBIGUOUS');
  t.regex(error?.message ?? '', /The snapshots are of 3 sources: files backup of \/home on desktop \(newest cc11, .*\); partition backup of SanDisk USB1 \(\/dev\/sdc1\) on medium \(newest bb11, .*\); disk backup of Samsung SSD S5XY \(\/dev\/sdb\) on medium \(newest aa22, 2026-01-08T10:00:00Z\)\./);
  t.is((error?.details.sources as unknown[]).length, 3);
});

test('--source (path, serial or folder), --host and --tag narrow latest to one source', (t) => {
  t.is(selectSnapshot(all, 'latest', { source: ['S5XY'] }).id, 'aa22');
  t.is(selectSnapshot(all, 'latest', { source: ['/dev/sda'] }).id, 'aa11', 'the path it had then');
  t.is(selectSnapshot(all, 'latest', { source: ['/home'] }).id, 'cc11');
  t.is(selectSnapshot(all, 'latest', { host: 'desktop' }).id, 'cc11');
  t.is(selectSnapshot(all, 'latest', { tag: 'weekly' }).id, 'aa22');
  t.is(selectSnapshot(all, 'latest', 'weekly').id, 'aa22', 'a tag alone as before');
  const still = t.throws(() => selectSnapshot(all, 'latest', { host: 'medium' }), { instanceOf: LifeboatError });
  t.is(still?.code, 'LB_INPUT_LATEST_AMBIGUOUS');
  t.regex(still?.message ?? '', /The snapshots matching --host medium are of 2 sources/);
  const none = t.throws(() => selectSnapshot(all, 'latest', { host: 'nas' }), { instanceOf: LifeboatError });
  t.is(none?.code, 'LB_REPO_SNAPSHOT_NOT_FOUND');
  t.regex(none?.message ?? '', /No snapshot matches --host nas\./);
});

test('an id prefix needs no narrowing; the filters apply to it too', (t) => {
  t.is(selectSnapshot(all, 'bb').id, 'bb11');
  t.throws(() => selectSnapshot(all, 'bb', { host: 'desktop' }), { instanceOf: LifeboatError });
});

test('groups: kind and serial (else path); described in words', (t) => {
  t.is(snapshotGroupKey(laptopDisk.manifest), snapshotGroupKey(laptopDiskLater.manifest));
  t.not(snapshotGroupKey(laptopDisk.manifest), snapshotGroupKey({ ...laptopDisk.manifest, kind: 'system' }));
  t.is(describeSnapshotGroup(home.manifest), 'files backup of /home');
  t.is(describeSnapshotGroup({ kind: 'partition', source: { path: '/tmp/part.img', serial: '', model: 'image file' } }), 'partition backup of /tmp/part.img');
});
