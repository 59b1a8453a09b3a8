// clone --new-ids, the pure parts (core/clone/new-ids.ts, core/filesystems/volume-serials.ts): new
// ids are planned for the table and each filesystem Lifeboat can renew (never equal to the old);
// fstab, crypttab and grub.cfg text names the new ids, keeps its length and leaves ids that only
// share a prefix alone; and each filesystem's id written by withVolumeSerial into filesystems made
// by mkfs.fat (FAT32 and FAT16), mkntfs, mkfs.exfat and mkswap is what blkid then reads, with the
// filesystem's own checker clean (FAT32's backup boot sector, NTFS's backup boot sector and
// exFAT's boot checksum follow).

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { idRenames, planNewIds, rewriteIdsInText } from '../../rescue/core/clone/new-ids.ts';
import { serialRegions, withVolumeSerial } from '../../rescue/core/filesystems/volume-serials.ts';

/** Counting bytes: a fixed "random" source whose first draw may repeat an old id. */
function counting(start = 1): (count: number) => Uint8Array {
  let next = start;
  return (count) => Uint8Array.from({ length: count }, () => next++ & 0xff);
}

test('planNewIds: a new GPT disk GUID, partition GUIDs and filesystem ids, each unlike the old; unknown filesystems keep theirs', (t) => {
  const ids = planNewIds({
    table: { kind: 'gpt', id: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE', partitions: [{ number: 1, uuid: '11111111-2222-4333-8444-555555555555' }, { number: 2, uuid: '66666666-7777-4888-9999-AAAAAAAAAAAA' }] },
    volumes: [
      { partition: 1, filesystem: 'vfat', uuid: '1234-ABCD' },
      { partition: 2, filesystem: 'ext4', uuid: '2b014d9c-8543-4f53-92b9-60f210280aa3' },
      { partition: 3, filesystem: 'ntfs', uuid: '5A17C0DE0B0A7C01' },
      { partition: 4, filesystem: 'xfs', uuid: 'c0ffee00-0000-4000-8000-000000000000' },
    ],
    random: counting(),
  });
  t.deepEqual(ids.changes.map((change) => `${change.what}:${change.partition ?? '-'}`), ['disk-guid:-', 'partition-guid:1', 'partition-guid:2', 'filesystem:1', 'filesystem:2', 'filesystem:3']);
  for (const change of ids.changes) t.not(change.to.toLowerCase(), change.from.toLowerCase());
  t.regex(ids.changes[0]?.to ?? '', /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  t.regex(ids.changes[3]?.to ?? '', /^[0-9A-F]{4}-[0-9A-F]{4}$/);
  t.regex(ids.changes[4]?.to ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.regex(ids.changes[5]?.to ?? '', /^[0-9A-F]{16}$/);
  t.is(ids.kept.length, 1);
  t.regex(ids.kept[0] ?? '', /partition 4 \(xfs\) keeps its id/);
  // A draw equal to the old id is drawn again.
  const repeat = planNewIds({ volumes: [{ partition: undefined, filesystem: 'vfat', uuid: '0403-0201' }], random: counting() });
  t.is(repeat.changes[0]?.to, '0807-0605');
});

test('rewriteIdsInText: UUID=, PARTUUID= (GPT and MBR), root=UUID= and search --fs-uuid follow; the length and other ids stay', (t) => {
  const ids = planNewIds({
    table: { kind: 'mbr', id: '0xc96d596c', partitions: [{ number: 1 }, { number: 5 }] },
    volumes: [{ partition: 1, filesystem: 'ext4', uuid: '2b014d9c-8543-4f53-92b9-60f210280aa3' }, { partition: 5, filesystem: 'vfat', uuid: '4A3B-2C1D' }],
    random: counting(7),
  });
  const renames = idRenames(ids, [1, 5]);
  const root = ids.changes.find((change) => change.partition === 1)?.to ?? '';
  const fat = ids.changes.find((change) => change.partition === 5)?.to ?? '';
  const signature = (ids.changes.find((change) => change.what === 'mbr-signature')?.to ?? '').slice(2);
  const fstab = [
    'UUID=2b014d9c-8543-4f53-92b9-60f210280aa3 / ext4 defaults 0 1',
    'uuid=4a3b-2c1d /boot/efi vfat umask=0077 0 1',
    'PARTUUID=c96d596c-05 /data ext4 defaults 0 2',
    'UUID=2b014d9c-8543-4f53-92b9-60f210280aa3x /not-an-id ext4 defaults 0 2',
    'PARTUUID=c96d596c-051 /nor-this ext4 defaults 0 2',
  ].join('\n');
  const out = rewriteIdsInText(fstab, renames);
  t.is(out.replaced, 3);
  t.is(out.text.length, fstab.length);
  t.deepEqual(out.text.split('\n'), [
    `UUID=${root} / ext4 defaults 0 1`,
    `uuid=${fat.toLowerCase()} /boot/efi vfat umask=0077 0 1`,
    `PARTUUID=${signature}-05 /data ext4 defaults 0 2`,
    'UUID=2b014d9c-8543-4f53-92b9-60f210280aa3x /not-an-id ext4 defaults 0 2',
    'PARTUUID=c96d596c-051 /nor-this ext4 defaults 0 2',
  ]);
  const grub = "search --no-floppy --fs-uuid --set=root 2b014d9c-8543-4f53-92b9-60f210280aa3\nlinux /vmlinuz root=UUID=2b014d9c-8543-4f53-92b9-60f210280aa3 ro\nsearch.fs_uuid 2B014D9C-8543-4F53-92B9-60F210280AA3 root hd0,msdos1\n";
  const grubOut = rewriteIdsInText(grub, renames);
  t.is(grubOut.replaced, 3);
  t.is(grubOut.text, `search --no-floppy --fs-uuid --set=root ${root}\nlinux /vmlinuz root=UUID=${root} ro\nsearch.fs_uuid ${root.toUpperCase()} root hd0,msdos1\n`);
  const crypttab = 'cryptroot UUID=2b014d9c-8543-4f53-92b9-60f210280aa3 none luks,discard\n';
  t.is(rewriteIdsInText(crypttab, renames).text, `cryptroot UUID=${root} none luks,discard\n`);
});

async function blkid(file: string, tag: string): Promise<string> {
  return (await execa('blkid', ['-p', '-s', tag, '-o', 'value', file], { reject: false })).stdout.trim();
}

async function renew(file: string, filesystem: string, to: string): Promise<number> {
  const handle = await open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const boot = Buffer.alloc(512);
    await handle.read(boot, 0, 512, 0);
    let written = 0;
    for (const region of serialRegions(filesystem, boot, size)) {
      const bytes = Buffer.alloc(region.length);
      await handle.read(bytes, 0, region.length, region.offset);
      const patched = withVolumeSerial(filesystem, bytes, to);
      if (!patched) continue;
      await handle.write(patched, 0, patched.length, region.offset);
      written++;
    }
    return written;
  } finally {
    await handle.close();
  }
}

const MAKERS: ReadonlyArray<{ name: string; filesystem: string; make: (file: string) => Promise<unknown>; to: string; tag: string; regions: number; check?: (file: string) => Promise<{ exitCode?: number; stdout: string; stderr: string }> }> = [
  { name: 'FAT32 (mkfs.fat -F 32)', filesystem: 'vfat', make: (file) => execa('mkfs.fat', ['-F', '32', '-i', '4A3B2C1D', '-C', file, String(40 * 1024)]), to: '1A2B-3C4D', tag: 'UUID', regions: 2, check: (file) => execa('fsck.fat', ['-n', '-V', file], { reject: false }) },
  { name: 'FAT16 (mkfs.fat -F 16)', filesystem: 'vfat', make: (file) => execa('mkfs.fat', ['-F', '16', '-i', '4A3B2C1D', '-C', file, String(16 * 1024)]), to: '0F0E-0D0C', tag: 'UUID', regions: 1, check: (file) => execa('fsck.fat', ['-n', '-V', file], { reject: false }) },
  { name: 'NTFS (mkntfs)', filesystem: 'ntfs', make: async (file) => { await execa('truncate', ['-s', '16M', file]); return execa('mkntfs', ['-F', '-f', '-q', file]); }, to: '0123456789ABCDEF', tag: 'UUID', regions: 2, check: (file) => execa('ntfsfix', ['-n', file], { reject: false }) },
  { name: 'exFAT (mkfs.exfat)', filesystem: 'exfat', make: async (file) => { await execa('truncate', ['-s', '16M', file]); return execa('mkfs.exfat', [file]); }, to: 'CAFE-F00D', tag: 'UUID', regions: 2, check: (file) => execa('fsck.exfat', ['-n', file], { reject: false }) },
  { name: 'swap (mkswap)', filesystem: 'swap', make: async (file) => { await execa('truncate', ['-s', '4M', file]); return execa('mkswap', [file]); }, to: '01234567-89ab-4def-8123-456789abcdef', tag: 'UUID', regions: 1 },
];

for (const maker of MAKERS) {
  test(`withVolumeSerial: ${maker.name} takes its new id where blkid reads it, its checker clean`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-serials-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'volume.img');
    await maker.make(file);
    const before = await blkid(file, maker.tag);
    t.not(before, maker.to);
    t.is(await renew(file, maker.filesystem, maker.to), maker.regions, 'boot sector and its backup (where the filesystem has one)');
    t.is(await blkid(file, maker.tag), maker.to);
    if (maker.check) {
      const result = await maker.check(file);
      t.is(result.exitCode, 0, `${result.stdout}\n${result.stderr}`);
      t.notRegex(`${result.stdout}\n${result.stderr}`, /differences between boot sector|checksum|corrupt/i);
    }
  });
}
