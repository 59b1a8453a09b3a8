// The FAT boot sector's label field and FAT32's backup boot sector, found in boot sectors made by
// mkfs.fat (FAT16 and FAT32), checked against the label mkfs.fat was given and the backup
// sector minfo (mtools) reports.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fatLabelPlace, readFatBootLabel } from '../../rescue/core/filesystems/fat-boot-label.ts';

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fat-label-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

for (const variant of [{ fat: '16', megabytes: 32, label: 'SIXTEEN', labelOffset: 0x2b, backup: undefined }, { fat: '32', megabytes: 64, label: 'THIRTYTWO', labelOffset: 0x47, backup: 6 }]) {
  test(`FAT${variant.fat} made by mkfs.fat: the label at 0x${variant.labelOffset.toString(16)}, backup boot sector ${String(variant.backup)}`, async (t) => {
    const image = path.join(workDir, `fat${variant.fat}.img`);
    await writeFile(image, '');
    await truncate(image, variant.megabytes * 1024 * 1024);
    await execa('mkfs.fat', ['-F', variant.fat, '-n', variant.label, image]);
    const sector = await readFile(image).then((bytes) => bytes.subarray(0, 512));
    t.deepEqual(fatLabelPlace(sector), { labelOffset: variant.labelOffset, backupSector: variant.backup, bytesPerSector: 512 });
    t.is(Buffer.from(readFatBootLabel(sector)).toString('latin1'), variant.label.padEnd(11, ' '));
    if (variant.backup !== undefined) {
      const { stdout } = await execa('minfo', ['-i', image, '::'], { env: { MTOOLS_SKIP_CHECK: '1' } });
      t.regex(stdout, new RegExp(`^backup boot sector=${variant.backup}$`, 'm'), stdout);
    }
  });
}
