// One CLI suite, run against the TypeScript source (npx lifeboat) and the single executable.

import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { ERROR_CATALOGUE } from '../../rescue/core/errors.ts';
import { TEST_MEDIA } from '../helpers/media.ts';

interface Runner {
  readonly name: string;
  readonly run: (args: readonly string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

const runners: Runner[] = [
  {
    name: 'npx lifeboat',
    run: async (args) => {
      const result = await execa('npx', ['--no-install', 'lifeboat', ...args], { cwd: PROJECT_ROOT, reject: false });
      return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
    },
  },
  {
    name: 'dist/lifeboat',
    run: async (args) => {
      const result = await execa(TEST_MEDIA.executable, [...args], { cwd: os.tmpdir(), reject: false });
      return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
    },
  },
];

interface LsblkDevice {
  name: string;
  size: number;
  type: string;
}

async function lsblkDisks(): Promise<LsblkDevice[]> {
  const { stdout } = await execa('lsblk', ['--bytes', '--nodeps', '--json', '--output', 'NAME,SIZE,TYPE']);
  return (JSON.parse(stdout) as { blockdevices: LsblkDevice[] }).blockdevices;
}

for (const runner of runners) {
  test(`${runner.name}: --help lists the commands, and every command has --help`, async (t) => {
    const help = await runner.run(['--help']);
    t.is(help.exitCode, 0);
    for (const command of ['disks', 'errors', 'tui', 'build']) t.regex(help.stdout, new RegExp(`lifeboat ${command}`));
    for (const args of [['disks'], ['errors'], ['tui'], ['build'], ['build', 'linux'], ['build', 'sea']]) {
      const result = await runner.run([...args, '--help']);
      t.is(result.exitCode, 0, args.join(' '));
      t.regex(result.stdout, /--help/, args.join(' '));
    }
    const linuxHelp = await runner.run(['build', 'linux', '--help']);
    for (const option of ['--output', '--kernel', '--cache', '--append']) t.true(linuxHelp.stdout.includes(option), option);
  });

  test(`${runner.name}: disks --json lists what lsblk lists, with exact sizes`, async (t) => {
    const result = await runner.run(['disks', '--json']);
    t.is(result.exitCode, 0, result.stderr);
    const { disks } = JSON.parse(result.stdout) as { disks: Array<{ name: string; sizeBytes: number; path: string }> };
    const expected = (await lsblkDisks()).filter((device) => !/^(loop|ram|zram)\d+$/.test(device.name));
    t.deepEqual(
      disks.map((disk) => [disk.name, disk.sizeBytes]).sort(),
      expected.map((device) => [device.name, device.size]).sort(),
    );
    for (const disk of disks) t.is(disk.path, `/dev/${disk.name}`);
    const table = await runner.run(['disks']);
    for (const disk of disks) t.true(table.stdout.includes(disk.path));
  });

  test(`${runner.name}: disks --all shows a loop device with its exact size; without --all it is hidden`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-loop-'));
    const image = path.join(dir, 'disk.img');
    const bytes = 10 * 1024 * 1024 + 3 * 512;
    await truncate(image, bytes).catch(async () => execa('truncate', ['-s', String(bytes), image]));
    const { stdout: device } = await execa('losetup', ['--find', '--show', image]);
    t.teardown(async () => {
      await execa('losetup', ['-d', device], { reject: false });
      await rm(dir, { recursive: true, force: true });
    });
    const name = path.basename(device);
    const all = JSON.parse((await runner.run(['disks', '--all', '--json'])).stdout) as { disks: Array<{ name: string; sizeBytes: number; transport: string }> };
    t.like(all.disks.find((disk) => disk.name === name), { sizeBytes: bytes, transport: 'loop' });
    const plain = JSON.parse((await runner.run(['disks', '--json'])).stdout) as { disks: Array<{ name: string }> };
    t.false(plain.disks.some((disk) => disk.name === name));
  });

  test(`${runner.name}: bad usage exits 2 with a code and a fix`, async (t) => {
    const result = await runner.run(['no-such-command']);
    t.is(result.exitCode, 2);
    t.regex(result.stderr, /LB_INPUT_USAGE/);
    t.regex(result.stderr, /fix: Run the command with --help/);
    const json = await runner.run(['disks', '--json', '--bogus']);
    t.is(json.exitCode, 2);
    t.is((JSON.parse(json.stderr) as { error: { code: string } }).error.code, 'LB_INPUT_USAGE');
  });

  test(`${runner.name}: errors --json prints the whole catalogue with exit codes`, async (t) => {
    const result = await runner.run(['errors', '--json']);
    t.is(result.exitCode, 0);
    const { errors } = JSON.parse(result.stdout) as { errors: Array<{ code: string; exitCode: number; fix: string }> };
    t.deepEqual(errors.map((entry) => entry.code).sort(), Object.keys(ERROR_CATALOGUE).sort());
    const unknown = await runner.run(['errors', 'LB_NOPE']);
    t.is(unknown.exitCode, 2);
  });

  test(`${runner.name}: boot without lifeboat.* parameters does nothing and succeeds`, async (t) => {
    const result = await runner.run(['boot']);
    t.is(result.exitCode, 0);
    t.is(result.stdout, '');
  });
}

test('dist/lifeboat refuses to build media, with its code and exit code 7', async (t) => {
  const result = await runners[1]!.run(['build', 'linux', '-o', path.join(os.tmpdir(), 'never.iso')]);
  t.is(result.exitCode, 7);
  t.regex(result.stderr, /LB_BUILD_NEEDS_CHECKOUT/);
});

test('disks --json reports sector sizes, partitions with mount points, and the root disk as mounted', async (t) => {
  const result = await runners[0]!.run(['disks', '--json']);
  const { disks } = JSON.parse(result.stdout) as { disks: Array<{ name: string; logicalSectorSize: number; physicalSectorSize: number; mountPoints: string[]; partitions: Array<{ mountPoints: string[] }> }> };
  const { stdout } = await execa('lsblk', ['--json', '--bytes', '--output', 'NAME,LOG-SEC,PHY-SEC,MOUNTPOINTS', '--nodeps']);
  for (const device of (JSON.parse(stdout) as { blockdevices: Array<{ name: string; 'log-sec': number; 'phy-sec': number; mountpoints: Array<string | null> }> }).blockdevices) {
    const disk = disks.find((entry) => entry.name === device.name);
    if (!disk) continue;
    t.is(disk.logicalSectorSize, device['log-sec'], device.name);
    t.is(disk.physicalSectorSize, device['phy-sec'], device.name);
    t.deepEqual([...disk.mountPoints].sort(), device.mountpoints.filter((m): m is string => m !== null).sort(), device.name);
  }
  const rootDevice = (await execa('findmnt', ['--noheadings', '--output', 'SOURCE', '/'])).stdout.trim();
  const all = disks.flatMap((disk) => [disk.mountPoints, ...disk.partitions.map((partition) => partition.mountPoints)]);
  if (rootDevice.startsWith('/dev/')) t.true(all.some((points) => points.includes('/')), 'the disk holding / shows it');
});
