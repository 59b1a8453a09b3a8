// A conversion that fails midway because the storage refuses writes: the disk is a loop device the
// test makes read-only (blockdev --setro) after the undo file is written and the backup GPT array
// and header are on the disk, so the kernel refuses the third write (EPERM). The operation stops
// with LB_DEVICE_WRITE_FAILED, the disk is half converted (backup GPT written, MBR intact), and
// `lifeboat convert undo` on the device gives back the byte-identical image. The product has no
// failure flag: the refusal comes from the kernel. Needs root (losetup, blockdev). Wall time ~6 s.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { planConversion } from '../../rescue/core/convert/convert-plan.ts';
import type { ConvertDisk } from '../../rescue/core/convert/convert-ports.ts';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { convertPorts, newGuid, openConvertDisk } from '../../rescue/io/convert-disk.ts';
import { readConversionInventory } from '../../rescue/ops/convert-inventory.ts';
import { convertToUefi } from '../../rescue/ops/convert-uefi.ts';
import { describe, lifeboat, sha256File } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;
let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-convert-midway-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('a write refused midway (read-only loop device) stops the conversion; convert undo restores the original bytes', async (t) => {
  const file = path.join(workDir, 'disk.img');
  await writeFile(file, '');
  await truncate(file, 400 * MiB);
  await execa('sfdisk', ['-q', file], { input: 'label: dos\nstart=2048, size=64MiB, type=83\nsize=40MiB, type=5\n5: size=32MiB, type=83\n' });
  await execa('mkfs.ext4', ['-q', '-F', '-E', `offset=${MiB}`, file, `${64 * 1024}k`]);
  const original = await sha256File(file);
  const undoFile = path.join(workDir, 'disk.lbundo');
  const device = (await execa('losetup', ['--find', '--show', file])).stdout.trim();
  try {
    const opened = await openConvertDisk(device, { writable: true });
    let writes = 0;
    const disk: ConvertDisk = {
      ...opened,
      read: (offset, length) => opened.read(offset, length),
      write: async (offset, bytes) => {
        // After the backup array and header: the storage turns read-only under the operation.
        if (writes === 2) await execa('blockdev', ['--setro', device]);
        writes += 1;
        await opened.write(offset, bytes);
      },
    };
    try {
      const plan = planConversion(await readConversionInventory(disk), { espBytes: 64 * MiB, newGuid });
      const error = await t.throwsAsync(convertToUefi({ disk, plan, undoFile, ports: convertPorts(() => undefined), now: () => new Date() }), { instanceOf: LifeboatError });
      t.is(error?.code, 'LB_DEVICE_WRITE_FAILED');
      t.regex(error?.message ?? '', /EPERM/);
      t.is(writes, 3, 'the third write (the primary array) was refused');
    } finally {
      await opened.close();
      await execa('blockdev', ['--setrw', device]);
    }
    t.not(await sha256File(file), original, 'the disk is half converted (backup GPT written)');
    const undo = await lifeboat(['convert', 'undo', undoFile, device, '--yes']);
    t.is(undo.exitCode, 0, describe(undo));
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
  t.is(await sha256File(file), original, 'convert undo gives back the byte-identical disk');
});
