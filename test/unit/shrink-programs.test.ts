// The programs a shrink needs are declared once (core/external-programs.ts shrinkProgramsFor), so a
// clone or restore plan can check them before it writes anything: without qemu-storage-daemon the
// check names it and its package; filesystems no tool shrinks have none.

import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { PROGRAMS, shrinkProgramsFor } from '../../rescue/core/external-programs.ts';
import { checkPrograms } from '../../rescue/io/run-program.ts';

test('ext and NTFS shrink through qemu-storage-daemon (started by setpriv), FAT and exFAT are made again and copied (mtools; exfat-fuse and cp); a missing one is LB_DEVICE_TOOL_MISSING with its package; XFS has no shrink program', async (t) => {
  t.deepEqual(shrinkProgramsFor('ext4'), [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.e2fsck, PROGRAMS.resize2fs]);
  t.deepEqual(shrinkProgramsFor('ntfs'), [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.ntfsresize]);
  t.deepEqual(shrinkProgramsFor('vfat'), [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.mkfsFat, PROGRAMS.mcopy]);
  t.deepEqual(shrinkProgramsFor('exfat'), [PROGRAMS.setpriv, PROGRAMS.qemuStorageDaemon, PROGRAMS.losetup, PROGRAMS.mkfsExfat, PROGRAMS.tuneExfat, PROGRAMS.mountExfatFuse, PROGRAMS.cp, PROGRAMS.umount]);
  for (const filesystem of ['xfs', 'btrfs']) t.is(shrinkProgramsFor(filesystem), undefined, filesystem);
  const empty = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-shrink-programs-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const refusal = await t.throwsAsync(checkPrograms(shrinkProgramsFor('ntfs')!, { PATH: empty }), { instanceOf: LifeboatError });
  t.is(refusal?.code, 'LB_DEVICE_TOOL_MISSING');
  t.regex(refusal?.message ?? '', /qemu-storage-daemon \(qemu-system-common\)/);
  await t.notThrowsAsync(checkPrograms(shrinkProgramsFor('ext4')!));
});
