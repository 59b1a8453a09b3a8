// `lifeboat disks IMAGE` on a real disk image: a GPT made by sfdisk, filesystems made by mkfs in
// their partitions; the report must agree with sfdisk --json and blkid on every partition.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';

const MiB = 1024 * 1024;

async function lifeboat(args: readonly string[]) {
  return execa('node', [path.join(PROJECT_ROOT, 'rescue', 'bin', 'lifeboat.mjs'), ...args], { reject: false });
}

async function blkid(image: string, offset: number): Promise<Record<string, string>> {
  const { stdout } = await execa('blkid', ['-p', '-o', 'export', '-O', String(offset), image], { reject: false });
  return Object.fromEntries(stdout.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

test('disks IMAGE: a GPT disk with ESP, swap, ext4 and a BIOS boot partition, checked against sfdisk and blkid', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-disks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const image = path.join(dir, 'disk.img');
  await execa('truncate', ['-s', String(96 * MiB), image]);
  await execa('sfdisk', ['--quiet', image], {
    input: 'label: gpt\nsize=1MiB, type=21686148-6449-6E6F-744E-656564454649\nsize=33MiB, type=U, name="EFI system"\nsize=8MiB, type=S\nsize=40MiB, type=L, name="root"\n',
  });
  const layout = JSON.parse((await execa('sfdisk', ['--json', image])).stdout) as { partitiontable: { partitions: Array<{ start: number; size: number; type: string; uuid: string }> } };
  const parts = layout.partitiontable.partitions;
  const make = async (index: number, command: string, args: string[]) => {
    const file = path.join(dir, `p${index}.img`);
    const partition = parts[index];
    if (!partition) throw new Error('no partition');
    await execa('truncate', ['-s', String(partition.size * 512), file]);
    await execa(command, [...args, file]);
    await execa('dd', [`if=${file}`, `of=${image}`, 'bs=1M', `seek=${partition.start * 512}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  };
  await make(1, 'mkfs.vfat', ['-F', '32', '-n', 'ESP']);
  await make(2, 'mkswap', ['-L', 'swappy']);
  await make(3, 'mkfs.ext4', ['-q', '-F', '-L', 'rootfs']);
  const result = await lifeboat(['disks', image, '--json']);
  t.is(result.exitCode, 0, result.stderr);
  const [disk] = (JSON.parse(result.stdout) as { disks: Array<{ transport: string; sizeBytes: number; table: { kind: string; partitions: Array<{ number: number; startLba: number; sectors: number; uuid: string; role: string; filesystem?: { type: string; label?: string; uuid?: string } }> } }> }).disks;
  t.like(disk, { transport: 'file', sizeBytes: 96 * MiB, table: { kind: 'gpt' } });
  const reported = disk?.table.partitions ?? [];
  t.deepEqual(reported.map((p) => [p.startLba, p.sectors, p.uuid]), parts.map((p) => [p.start, p.size, p.uuid]));
  t.deepEqual(reported.map((p) => p.role), ['bios-boot', 'esp', 'linux-swap', 'linux-root-candidate']);
  for (const partition of reported) {
    const theirs = await blkid(image, (parts[partition.number - 1]?.start ?? 0) * 512);
    t.is(partition.filesystem?.type, theirs.TYPE, `partition ${partition.number} type`);
    t.is(partition.filesystem?.label, theirs.LABEL, `partition ${partition.number} label`);
    t.is(partition.filesystem?.uuid, theirs.UUID, `partition ${partition.number} uuid`);
  }
  const text = await lifeboat(['disks', image]);
  t.regex(text.stdout, /table: GPT [0-9A-F-]{36}, 512-byte sectors/);
  t.regex(text.stdout, /EFI System\s+vfat\s+ESP/);
  t.regex(text.stdout, /Linux filesystem\s+ext4\s+rootfs\s+[\d.]+ \w+\s+clean\s+linux-root-candidate/);
});

test('disks on a damaged image reports the coded error and goes on with the next target', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-disks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const broken = path.join(dir, 'broken.img');
  const good = path.join(dir, 'good.img');
  for (const file of [broken, good]) {
    await execa('truncate', ['-s', String(8 * MiB), file]);
    await execa('sfdisk', ['--quiet', file], { input: 'label: gpt\n,,L\n' });
  }
  // wreck both GPT headers of the first image
  await execa('dd', ['if=/dev/urandom', `of=${broken}`, 'bs=512', 'seek=1', 'count=1', 'conv=notrunc', 'status=none']);
  await execa('dd', ['if=/dev/urandom', `of=${broken}`, 'bs=512', `seek=${8 * 2048 - 1}`, 'count=1', 'conv=notrunc', 'status=none']);
  const result = await lifeboat(['disks', broken, good, '--json']);
  t.is(result.exitCode, 0);
  const { disks } = JSON.parse(result.stdout) as { disks: Array<{ problem?: { code: string }; table?: { partitions: unknown[] } }> };
  t.is(disks[0]?.problem?.code, 'LB_DEVICE_GPT_INVALID');
  t.is(disks[1]?.table?.partitions.length, 1);
  const missing = await lifeboat(['disks', path.join(dir, 'nope.img')]);
  t.is(missing.exitCode, 3);
  t.regex(missing.stderr, /LB_DEVICE_NOT_FOUND/);
});
