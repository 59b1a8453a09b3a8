// Images made by Debian's own Clonezilla (package clonezilla 5.3.17, `ocs-sr -b ... savedisk` on a loop
// device holding a generated disk), not by our imitation of it: an MBR disk with an extended
// partition (ext4, NTFS and swap logicals) saved with zstd, and a GPT disk (ESP FAT32, ext4, swap)
// saved with pigz. `lifeboat restore DIR` rebuilds each disk byte for byte (tables, EBRs, boot code,
// hidden data, partitions, swap identity, the NTFS backup boot sector), onto a larger loop device
// the kernel finds the logical partitions (blkid, e2fsck, ntfscat), `ls`/`get` read its
// partitions, and `import clonezilla` gives a snapshot that restores to the same bytes and browses.

import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { assertImportRestoresDisk, assertPayloadBrowses, buildSpecDisk, GPT_TYPES, newScratchRoot, removeClonezillaTestDisks, SPEC_SWAP, type BuiltSpecDisk, type DiskSpec } from '../helpers/clonezilla.ts';
import { sparseFile } from '../helpers/filesystem-images.ts';
import { describe, lifeboat } from '../helpers/repository-harness.ts';

const OCS_SR = '/usr/sbin/ocs-sr';

const cannotRun = process.getuid?.() !== 0
  ? 'ocs-sr reads loop devices and writes /var/log: it needs root'
  : await access(OCS_SR).then(() => undefined, () => `${OCS_SR} is missing (scripts/setup.sh test installs the Debian package clonezilla)`);
/** A test that needs root and ocs-sr: without them it fails with the reason. */
const ocsTest = (title: string, body: (t: ExecutionContext) => Promise<void>) => test.serial(title, async (t) => {
  if (cannotRun) return t.fail(cannotRun);
  await body(t);
});

test.after.always(removeClonezillaTestDisks);

const MBR_DISK: DiskSpec = {
  label: 'dos',
  labelId: '0x0c5e0c5e',
  sectors: 133120,
  partitions: [
    { number: 1, start: 2048, size: 32768, type: '83', fs: 'ext4', bootable: true },
    { number: 2, start: 34816, size: 98304, type: '5' },
    { number: 5, start: 36864, size: 32768, type: '83', fs: 'ext4' },
    { number: 6, start: 71680, size: 40960, type: '7', fs: 'ntfs' },
    { number: 7, start: 114688, size: 8192, type: '82', fs: 'swap' },
  ],
};

const GPT_DISK: DiskSpec = {
  label: 'gpt',
  labelId: '0C5E0C5E-1111-4222-8333-444455556666',
  sectors: 122880,
  partitions: [
    { number: 1, start: 2048, size: 69632, type: GPT_TYPES.esp, fs: 'vfat', name: 'EFI system partition' },
    { number: 2, start: 71680, size: 32768, type: GPT_TYPES.linux, fs: 'ext4', name: 'root' },
    { number: 3, start: 104448, size: 8192, type: GPT_TYPES.swap, fs: 'swap', name: 'swap' },
  ],
};

/** Runs ocs-sr savedisk on the disk attached to a loop device (partition nodes made by partx), into `root/partimag/name`. */
async function saveWithOcsSr(b: BuiltSpecDisk, name: string, compression: '-z9' | '-z1p'): Promise<{ dir: string; loop: string; log: string }> {
  const loop = (await execa('losetup', ['-f', '--show', b.disk])).stdout.trim();
  const ocsroot = path.join(b.root, 'partimag');
  await mkdir(ocsroot, { recursive: true });
  try {
    await execa('partx', ['-a', loop]);
    const args = ['-b', '-q2', '-j2', compression, '-i', '4096', '-sfsck', '-senc', '-scs', '-nogui', '-or', ocsroot, '-p', 'true', 'savedisk', name, path.basename(loop)];
    const result = await execa(OCS_SR, args, { stdin: 'ignore', all: true, reject: false, timeout: 300_000 });
    if (result.exitCode !== 0 || !/This image was saved successfully/.test(result.all ?? '')) throw new Error(`ocs-sr ${args.join(' ')} failed (${result.exitCode}):\n${(result.all ?? '').slice(-3000)}`);
    return { dir: path.join(ocsroot, name), loop: path.basename(loop), log: result.all ?? '' };
  } finally {
    await execa('partx', ['-d', loop], { reject: false });
    await execa('losetup', ['-d', loop], { reject: false });
  }
}

ocsTest(`ocs-sr savedisk of an MBR disk with ext4, NTFS and swap logicals (zstd): restore byte-identical, ls/get the logicals, import`, async (t) => {
  t.timeout(600_000);
  const root = await newScratchRoot('ocs-sr-mbr');
  const b = await buildSpecDisk(root, MBR_DISK);
  const { dir, loop } = await saveWithOcsSr(b, 'mbr-logicals', '-z9');
  const files = await readdir(dir);
  t.log(`ocs-sr wrote: ${files.join(' ')}`);
  t.is((await readFile(path.join(dir, 'parts'), 'utf8')).trim(), `${loop}p1 ${loop}p5 ${loop}p6`);
  for (const file of [`${loop}-pt.sf`, `${loop}-mbr`, `${loop}-hidden-data-after-mbr`, `${loop}p2-ebr`, `swappt-${loop}p7.info`, `${loop}p5.ext4-ptcl-img.zst.aa`, `${loop}p6.ntfs-ptcl-img.zst.aa`]) t.true(files.includes(file), `${file} saved`);
  t.regex(await readFile(path.join(dir, `swappt-${loop}p7.info`), 'utf8'), new RegExp(SPEC_SWAP.uuid));

  const target = path.join(root, 'restored.img');
  const restored = await lifeboat(['restore', dir, target, '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /with 3 logical partitions in a chain of EBRs/);
  t.regex(restored.stdout, new RegExp(`${loop}p7: new swap area`));
  t.true((await readFile(target)).equals(await readFile(b.disk)), 'the whole disk is byte-identical (MBR, EBRs, hidden data, ext4, NTFS with its backup boot sector, swap)');

  // Onto a larger block device: the kernel finds the logical partitions through the EBR chain.
  const larger = await sparseFile(path.join(root, 'larger.img'), (MBR_DISK.sectors + 20480) * 512);
  const device = (await execa('losetup', ['-f', '--show', larger])).stdout.trim();
  try {
    const onto = await lifeboat(['restore', dir, device, '--yes']);
    t.is(onto.exitCode, 0, describe(onto));
    await execa('partx', ['-a', device]);
    const probe = async (n: number) => (await execa('blkid', ['-p', '-o', 'export', `${device}p${n}`], { reject: false })).stdout;
    t.regex(await probe(5), /^TYPE=ext4$/m);
    t.regex(await probe(6), /^TYPE=ntfs$/m);
    t.regex(await probe(7), new RegExp(`^UUID=${SPEC_SWAP.uuid}$`, 'm'));
    const fsck = await execa('e2fsck', ['-fn', `${device}p5`], { reject: false });
    t.is(fsck.exitCode, 0, fsck.stdout);
    const ntfscat = await execa('ntfscat', [`${device}p6`, '/payload-sda6.bin'], { encoding: 'buffer', reject: false });
    t.true(Buffer.from(ntfscat.stdout).equals(b.payloads.sda6!), `ntfscat reads the payload from ${device}p6`);
  } finally {
    await execa('partx', ['-d', device], { reject: false });
    await execa('losetup', ['-d', device], { reject: false });
  }

  const dest = path.join(root, 'got');
  await assertPayloadBrowses(t, [`${dir}:${loop}p5`], 'sda5', b, path.join(dest, 'p5'));
  await assertPayloadBrowses(t, [`${dir}:6`], 'sda6', b, path.join(dest, 'p6'));

  const repo = await assertImportRestoresDisk(t, dir, b);
  await assertPayloadBrowses(t, ['-r', repo, 'latest:6'], 'sda6', b, path.join(dest, 'repo6'));
});

ocsTest(`ocs-sr savedisk of a GPT disk (ESP FAT32, ext4, swap; pigz): restore byte-identical, ls/get, import`, async (t) => {
  t.timeout(600_000);
  const root = await newScratchRoot('ocs-sr-gpt');
  const b = await buildSpecDisk(root, GPT_DISK);
  const { dir, loop } = await saveWithOcsSr(b, 'gpt', '-z1p');
  const files = await readdir(dir);
  t.log(`ocs-sr wrote: ${files.join(' ')}`);
  for (const file of [`${loop}-pt.sf`, `${loop}-gpt-1st`, `${loop}-gpt-2nd`, `${loop}-gpt.gdisk`, `${loop}-mbr`, `swappt-${loop}p3.info`, `${loop}p1.vfat-ptcl-img.gz.aa`, `${loop}p2.ext4-ptcl-img.gz.aa`]) t.true(files.includes(file), `${file} saved`);

  const target = path.join(root, 'restored.img');
  const restored = await lifeboat(['restore', dir, target, '--yes']);
  t.is(restored.exitCode, 0, describe(restored));
  t.regex(restored.stdout, /GPT \(3 partitions, disk GUID 0C5E0C5E-1111-4222-8333-444455556666\)/);
  t.true((await readFile(target)).equals(await readFile(b.disk)), 'the whole disk is byte-identical (protective MBR, both GPTs, ESP, ext4, swap)');
  const verify = await execa('sgdisk', ['-v', target], { reject: false });
  t.regex(verify.stdout, /No problems found/);

  const dest = path.join(root, 'got');
  await assertPayloadBrowses(t, [`${dir}:${loop}p1`], 'sda1', b, path.join(dest, 'esp'));
  await assertPayloadBrowses(t, [`${dir}:2`], 'sda2', b, path.join(dest, 'root'));

  const repo = await assertImportRestoresDisk(t, dir, b);
  await assertPayloadBrowses(t, ['-r', repo, 'latest:1'], 'sda1', b, path.join(dest, 'repo-esp'));
});
