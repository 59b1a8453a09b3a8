// The system-partition planner (core/repository/system-selection.ts) on hand-made tables and facts,
// the system restore planner's refusals, and parseManifest's checks of a system manifest.

import test from 'ava';
import { findFstabPartition, parseFstab, selectSystemPartitions, type PartitionContents, type SelectionPartition, type SystemSelectionInput } from '../../rescue/core/repository/system-selection.ts';

const EMPTY: PartitionContents = { hasWindowsSystem32: false, hasEfiFolder: false, hasBootManager: false, looksLikeLinuxRoot: false };
const MiB_SECTORS = 2048;

function input(kind: 'gpt' | 'mbr', parts: Array<[SelectionPartition, PartitionContents]>): SystemSelectionInput {
  return { tableKind: kind, tableId: kind === 'mbr' ? '0x1b2c3d4e' : 'GUID', sectorSize: 512, partitions: parts.map(([p]) => p), contents: new Map(parts.map(([p, c]) => [p.number, c])) };
}

function mbr(number: number, type: string, startMiB: number, sizeMiB: number): SelectionPartition {
  return { number, type, kind: 'primary', startLba: startMiB * MiB_SECTORS, sectors: sizeMiB * MiB_SECTORS };
}

const ext4 = (uuid: string, label = ''): PartitionContents['filesystem'] => ({ type: 'ext4', kind: 'filesystem', label, uuid });

test('parseFstab skips comments and decodes \\040', (t) => {
  t.deepEqual(parseFstab('# c\nLABEL=My\\040Disk /mnt/a\\040b ext4 defaults 0 2\n\nUUID=x / ext4\n'), [{ spec: 'LABEL=My Disk', mountPoint: '/mnt/a b' }, { spec: 'UUID=x', mountPoint: '/' }]);
});

test('fstab names partitions by LABEL=, PARTUUID= (MBR signature-NN) and /dev/ names', (t) => {
  const data = input('mbr', [[mbr(1, '83', 1, 100), { ...EMPTY, filesystem: ext4('aaaa', 'boot') }], [mbr(2, '83', 101, 100), { ...EMPTY, filesystem: ext4('bbbb') }]]);
  t.is(findFstabPartition(data, 'LABEL=boot')?.number, 1);
  t.is(findFstabPartition(data, 'PARTUUID=1b2c3d4e-02')?.number, 2);
  t.is(findFstabPartition(data, '/dev/nvme0n1p2')?.number, 2);
  t.is(findFstabPartition(data, '/dev/sda9'), undefined);
  t.is(findFstabPartition(data, 'UUID=cccc'), undefined);
});

test('a Linux root is chosen with what its fstab mounts on /boot/efi; a copy of another fstab does not make a root', (t) => {
  const fstab = 'UUID=root / ext4 defaults 0 1\nPARTUUID=1b2c3d4e-01 /boot/efi vfat umask=0077 0 1\n';
  const choices = selectSystemPartitions(input('mbr', [
    [mbr(1, 'c', 1, 100), { ...EMPTY, filesystem: { type: 'vfat', kind: 'filesystem', label: '', uuid: 'AB-CD' } }],
    [mbr(2, '83', 101, 100), { ...EMPTY, filesystem: ext4('root'), fstab, looksLikeLinuxRoot: true }],
    [mbr(3, '83', 201, 100), { ...EMPTY, filesystem: ext4('backup'), fstab, looksLikeLinuxRoot: true }],
  ]));
  t.deepEqual(choices.map((c) => `${c.partition}:${c.role}:${c.chosen}`), ['1:linux-boot:true', '2:linux-root:true', '3:data:false']);
  t.regex(choices[0]?.reason ?? '', /\/boot\/efi/);
});

test('system reserved: a small NTFS with bootmgr is chosen, a large one is data; MBR ef is an ESP; 27 is recovery', (t) => {
  const ntfs = { type: 'ntfs', kind: 'filesystem', label: '', uuid: '' };
  const choices = selectSystemPartitions(input('mbr', [
    [mbr(1, '7', 1, 500), { ...EMPTY, filesystem: ntfs, hasBootManager: true }],
    [mbr(2, '7', 501, 4096), { ...EMPTY, filesystem: ntfs, hasBootManager: true }],
    [mbr(3, 'ef', 4597, 100), EMPTY],
    [mbr(4, '27', 4697, 500), { ...EMPTY, filesystem: ntfs }],
  ]));
  t.deepEqual(choices.map((c) => `${c.partition}:${c.role}:${c.chosen}`), ['1:windows-boot:true', '2:data:false', '3:esp:true', '4:windows-recovery:true']);
});
