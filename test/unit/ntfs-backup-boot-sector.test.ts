// The NTFS backup boot sector (rescue/core/clonezilla/ntfs-backup-boot-sector.ts) on a volume made by
// mkntfs: its place is the partition's last sector and its bytes are the boot sector, as mkntfs wrote
// them; nothing is proposed for a non-NTFS sector, inside the blocks the image covers, or past the partition.

import test from 'ava';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ntfsBackupBootSector } from '../../rescue/core/clonezilla/ntfs-backup-boot-sector.ts';
import { newScratchRoot, removeClonezillaTestDisks } from '../helpers/clonezilla.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';

test.after.always(removeClonezillaTestDisks);

test('mkntfs volume: the backup is the boot sector at the last sector of the partition', async (t) => {
  const root = await newScratchRoot('ntfs-bbs');
  const partitionBytes = 24 * 1024 * 1024;
  const file = await sparseFile(path.join(root, 'ntfs.img'), partitionBytes);
  await execa('mkntfs', ['-q', '-F', '-f', file]);
  const bytes = await readFile(file);
  const boot = bytes.subarray(0, 4096);
  const backup = ntfsBackupBootSector(boot, { imageBytes: partitionBytes - 4096, partitionBytes });
  t.is(backup?.offset, partitionBytes - 512);
  t.deepEqual(Buffer.from(backup!.bytes), bytes.subarray(partitionBytes - 512), 'equal to what mkntfs wrote there');
  t.is(ntfsBackupBootSector(boot, { imageBytes: partitionBytes, partitionBytes }), undefined, 'inside the image: left to the image');
  t.is(ntfsBackupBootSector(boot, { imageBytes: 0, partitionBytes: partitionBytes - 512 }), undefined, 'past the partition');
  const notNtfs = Buffer.from(boot);
  notNtfs.write('MSDOS5.0', 3, 'latin1');
  t.is(ntfsBackupBootSector(notNtfs, { imageBytes: 0, partitionBytes }), undefined, 'not NTFS');
  const badSectorSize = Buffer.from(boot);
  badSectorSize.writeUInt16LE(700, 0x0b);
  t.is(ntfsBackupBootSector(badSectorSize, { imageBytes: 0, partitionBytes }), undefined, 'bytes per sector not a power of two');
});
