// Every refusal of `lifeboat clone disk` comes before anything is written: its code is shown and
// the target's bytes (and the source's) are unchanged. The target is the source (the same file, or
// a loop device over it); the target is mounted; the logical sector sizes differ (a loop device
// with 4096-byte sectors); the target is smaller than the ext4 can shrink to (the numbers in the
// details, against resize2fs -P); no confirmation without a terminal (also with --new-ids, whose dry run lists old -> new
// ids and writes nothing). Also a clone killed
// (SIGKILL) midway: the target had a valid table before, it has none after, the source is as it was.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeFilesystemImage } from '../helpers/disk-fixtures.ts';
import { describe, errorCode, jsonEvents, lifeboat, sha256File, startLifeboat } from '../helpers/repository-harness.ts';

const MiB = 1024 * 1024;

let workDir = '';

test.before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-clone-refusals-'));
});

test.after.always(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A 64 MiB MBR disk (sfdisk) with one 40 MiB ext4 partition at 1 MiB, holding `bulkMiB` of random files; the same layout and an ext4 when `file` exists already. */
async function makeSmallDisk(name: string, options: { diskMiB?: number; bulkMiB?: number } = {}): Promise<string> {
  const diskMiB = options.diskMiB ?? 64;
  const file = path.join(workDir, name);
  await writeFile(file, '');
  await truncate(file, diskMiB * MiB);
  await execa('sfdisk', ['-q', file], { input: `label: dos\nstart=2048, size=${(diskMiB - 8) * 2048}, type=83\n` });
  const part = path.join(workDir, `${name}-p1`);
  await makeFilesystemImage('ext4', part, { sizeMiB: diskMiB - 8, seed: 5, bulkMiB: options.bulkMiB ?? 0 });
  await execa('dd', [`if=${part}`, `of=${file}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none']);
  await rm(part);
  return file;
}

let shared: Promise<string> | undefined;
const smallDisk = () => (shared ??= makeSmallDisk('source.img'));

async function sparse(name: string, bytes: number): Promise<string> {
  const file = path.join(workDir, name);
  await writeFile(file, Buffer.alloc(4096, 0x77));
  await truncate(file, bytes);
  return file;
}

/** Runs a refused clone: its code, and neither the source's nor the target's bytes changed. */
async function refused(t: import('ava').ExecutionContext, args: readonly string[], files: { source: string; target: string }, code: string): Promise<string> {
  const [source, target] = [await sha256File(files.source), await sha256File(files.target)];
  const result = await lifeboat(['clone', 'disk', ...args]);
  t.is(errorCode(result), code, describe(result));
  t.is(await sha256File(files.source), source, 'the source is unchanged');
  t.is(await sha256File(files.target), target, 'the target is unchanged');
  return result.stderr;
}

async function withLoop<T>(file: string, extra: readonly string[], use: (device: string) => Promise<T>): Promise<T> {
  const device = (await execa('losetup', ['--find', '--show', ...extra, file])).stdout.trim();
  try {
    return await use(device);
  } finally {
    await execa('losetup', ['-d', device], { reject: false });
  }
}

test('LB_DEVICE_TARGET_IS_SOURCE: the same file, or a loop device over it', async (t) => {
  const source = await smallDisk();
  await refused(t, [source, source, '--yes'], { source, target: source }, 'LB_DEVICE_TARGET_IS_SOURCE');
  await withLoop(source, ['--read-only'], (device) => refused(t, [source, device, '--yes'], { source, target: source }, 'LB_DEVICE_TARGET_IS_SOURCE'));
});

test('LB_DEVICE_TARGET_MOUNTED: a target image file whose loop device is mounted', async (t) => {
  const source = await smallDisk();
  const target = path.join(workDir, 'mounted.img');
  await makeFilesystemImage('ext4', target, { sizeMiB: 80, seed: 9 });
  const mountPoint = await mkdtemp(path.join(workDir, 'mnt-'));
  await execa('mount', ['-o', 'loop,ro,noload', target, mountPoint]);
  try {
    await refused(t, [source, target, '--yes'], { source, target }, 'LB_DEVICE_TARGET_MOUNTED');
  } finally {
    await execa('umount', [mountPoint], { reject: false });
  }
});

test('LB_DEVICE_SECTOR_SIZE_MISMATCH: a target loop device with 4096-byte sectors', async (t) => {
  const source = await smallDisk();
  const target = await sparse('4kn.img', 80 * MiB);
  await withLoop(target, ['--sector-size', '4096'], (device) => refused(t, [source, device, '--yes'], { source, target }, 'LB_DEVICE_SECTOR_SIZE_MISMATCH'));
});

test('LB_DEVICE_TARGET_BELOW_MINIMUM: a target smaller than the ext4 can shrink to, with the numbers (resize2fs -P)', async (t) => {
  const source = await smallDisk();
  const target = await sparse('small.img', 12 * MiB);
  const minimum = await withLoop(source, ['--read-only', '--offset', String(MiB), '--sizelimit', String(56 * MiB)], async (device) => {
    const blocks = Number(/minimum size of the filesystem: (\d+)/.exec((await execa('resize2fs', ['-P', device])).stdout)?.[1]);
    const blockSize = Number(/^Block size:\s+(\d+)/m.exec((await execa('dumpe2fs', ['-h', device])).stdout)?.[1]);
    return blocks * blockSize;
  });
  const [before] = [await sha256File(target)];
  const result = await lifeboat(['clone', 'disk', source, target, '--yes', '--json']);
  t.is(errorCode(result), 'LB_DEVICE_TARGET_BELOW_MINIMUM', describe(result));
  const details = (JSON.parse(result.stderr.trim().split('\n').at(-1) ?? '{}') as { error: { details: { targetBytes: number; minimumBytes: number; partitions: Array<{ minimumBytes: number; rule: string }> } } }).error.details;
  t.is(details.targetBytes, 12 * MiB);
  t.true(minimum > 12 * MiB && minimum < 56 * MiB, `resize2fs -P: ${minimum}`);
  t.is(details.partitions[0]?.minimumBytes, Math.ceil(minimum / 512) * 512, 'the ext4 at resize2fs -P');
  t.is(details.minimumBytes, MiB + Math.ceil(minimum / 512) * 512, 'the partition at its minimum, at 1 MiB');
  t.regex(details.partitions[0]?.rule ?? '', /ext4 can shrink to/);
  t.is(await sha256File(target), before, 'the target is unchanged');
});

test('LB_INPUT_CONFIRMATION_REQUIRED without a terminal and --yes (also with --new-ids); --dry-run writes nothing and says which ids the copy gets', async (t) => {
  const source = await smallDisk();
  const target = await sparse('unconfirmed.img', 80 * MiB);
  await refused(t, [source, target], { source, target }, 'LB_INPUT_CONFIRMATION_REQUIRED');
  await refused(t, [source, target, '--new-ids'], { source, target }, 'LB_INPUT_CONFIRMATION_REQUIRED');
  const before = await sha256File(target);
  const dry = await lifeboat(['clone', 'disk', source, target, '--dry-run']);
  t.is(dry.exitCode, 0, describe(dry));
  t.regex(dry.stdout, /1: ext4, 56\.0 MiB -> 79\.0 MiB at 1 MiB, grows/);
  t.regex(dry.stdout, /write the MBR partition table \(last\)/);
  t.regex(dry.stdout, /Dry run: nothing was written/);
  t.regex(dry.stdout, /Ids: kept \(/, 'without --new-ids the plan says the ids are kept');
  const renewed = await lifeboat(['clone', 'disk', source, target, '--dry-run', '--new-ids']);
  t.regex(renewed.stdout, /Ids: new \(--new-ids[\s\S]*MBR disk signature: 0x[0-9a-f]{8} -> 0x[0-9a-f]{8}\n  partition 1 ext4 UUID: [0-9a-f-]{36} -> [0-9a-f-]{36}/, describe(renewed));
  const renewedJson = await lifeboat(['clone', 'disk', source, target, '--dry-run', '--json', '--new-ids']);
  const renewedPlan = jsonEvents(renewedJson.stdout).find((event) => event.event === 'plan') as { plan?: { steps?: Array<{ kind: string }>; ids?: { changes?: Array<{ what: string; from: string; to: string }> } } } | undefined;
  t.deepEqual(renewedPlan?.plan?.steps?.map((step) => step.kind), ['wipe', 'volume', 'grow-filesystem', 'boot-gap', 'new-ids', 'table']);
  t.deepEqual(renewedPlan?.plan?.ids?.changes?.map((change) => change.what), ['mbr-signature', 'filesystem']);
  t.true(renewedPlan?.plan?.ids?.changes?.every((change) => change.from !== change.to), 'every id changes');
  const json = await lifeboat(['clone', 'disk', source, target, '--dry-run', '--json']);
  const plan = jsonEvents(json.stdout).find((event) => event.event === 'plan') as { plan?: { steps?: Array<{ kind: string }> } } | undefined;
  t.deepEqual(plan?.plan?.steps?.map((step) => step.kind), ['wipe', 'volume', 'grow-filesystem', 'boot-gap', 'table']);
  t.is(await sha256File(target), before, 'the target is unchanged');
});

test('a clone killed (SIGKILL) midway leaves no valid partition table on a target that had one, and the source unchanged', async (t) => {
  const source = await makeSmallDisk('big-source.img', { diskMiB: 400, bulkMiB: 300 });
  const target = path.join(workDir, 'killed.img');
  await execa('cp', ['--sparse=always', source, target]);
  const before = await sha256File(source);
  t.is((await execa('sfdisk', ['-d', target])).exitCode, 0, 'the target starts with a valid table');
  let stoppedAt: { bytesDone: number; bytesTotal: number } | undefined;
  const run = startLifeboat(['clone', 'disk', source, target, '--yes', '--json'], (line) => {
    const event = JSON.parse(line) as { event?: string; bytesDone?: number; bytesTotal?: number };
    if (stoppedAt || event.event !== 'progress' || !event.bytesDone || !event.bytesTotal || event.bytesDone >= event.bytesTotal) return;
    run.pause();
    stoppedAt = { bytesDone: event.bytesDone, bytesTotal: event.bytesTotal };
    run.kill();
  });
  const result = await run.done;
  t.is(result.signal, 'SIGKILL', `killed midway (${JSON.stringify(stoppedAt)}); ${describe(result)}`);
  t.truthy(stoppedAt);
  const table = await execa('sfdisk', ['-d', target], { reject: false });
  t.not(table.exitCode, 0, `no valid table: ${table.stdout}`);
  t.regex(table.stderr, /does not contain a recognized partition table/);
  const probe = await execa('blkid', ['-p', target], { reject: false });
  t.notRegex(probe.stdout, /PTTYPE/, 'blkid finds no partition table');
  t.is(await sha256File(source), before, 'the source is unchanged');
});
