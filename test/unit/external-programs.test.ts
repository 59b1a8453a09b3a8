// The one list of external programs (rescue/core/external-programs.ts): every process the recovery
// program starts goes through io/run-program.ts and names a listed program (a static scan of
// rescue/, and the helper refusing anything else); a missing program is LB_DEVICE_TOOL_MISSING with
// its package, before anything runs; a failure carries its real exit status or signal; the error
// catalogue's fixes name only listed programs.

import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { ERROR_CATALOGUE, LifeboatError } from '../../rescue/core/errors.ts';
import type { ClonezillaLayout, ClonezillaRestorePlan } from '../../rescue/core/clonezilla/clonezilla-restore-plan.ts';
import { decompressorFor, growProgramsFor, PROGRAM_LIST, PROGRAMS, type ExternalProgram } from '../../rescue/core/external-programs.ts';
import { programsForClonezillaPlan, programsForRestorePlan } from '../../rescue/core/plan-programs.ts';
import type { RestorePlan } from '../../rescue/core/repository/restore-plan.ts';
import { checkPrograms, describeExit, locateProgram, programNamed, runProgram, succeeded } from '../../rescue/io/run-program.ts';

const RUN_PROGRAM_FILE = 'rescue/io/run-program.ts';
const HELPERS = ['runProgram', 'startProgram', 'spawnProgram', 'execFileProgram', 'runProgramSync', 'locateProgram', 'resolveProgram'];

async function rescueSources(): Promise<Array<{ file: string; text: string }>> {
  const entries = await readdir(path.join(PROJECT_ROOT, 'rescue'), { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile() && /\.(ts|mjs)$/.test(entry.name)).map((entry) => path.relative(PROJECT_ROOT, path.join(entry.parentPath, entry.name)));
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(path.join(PROJECT_ROOT, file), 'utf8') })));
}

async function scratchDir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-programs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('static scan: only io/run-program.ts starts processes (execa, node:child_process); every call of its helpers names a listed program', async (t) => {
  const problems: string[] = [];
  for (const { file, text } of await rescueSources()) {
    if (file === RUN_PROGRAM_FILE) continue;
    for (const match of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'(execa|node:child_process|child_process)'/gm)) {
      if (!match[1]) problems.push(`${file}: imports ${match[2]} (go through ${RUN_PROGRAM_FILE})`);
    }
    if (/\brequire\(\s*'(node:)?child_process'\s*\)|\bprocess\.binding\(/.test(text)) problems.push(`${file}: reaches child_process another way`);
    for (const call of text.matchAll(new RegExp(`\\b(${HELPERS.join('|')})\\(([^,)]*)`, 'g'))) {
      const argument = (call[2] ?? '').trim();
      const listed = /^PROGRAMS\.(\w+)$/.exec(argument);
      if (listed) {
        if (!(listed[1]! in PROGRAMS)) problems.push(`${file}: ${call[1]}(${argument}): no such program on the list`);
      } else if (!/^(PROGRAMS\[\w+\]|programNamed\(.*|program)$/.test(argument)) {
        problems.push(`${file}: ${call[1]}(${argument}): name a listed program (PROGRAMS.x)`);
      }
    }
  }
  t.deepEqual(problems, []);
  // The scan sees the callers it must: grow, mkswap, the system report, mounts, xattrs, decompressors.
  const sources = (await rescueSources()).map(({ text }) => text).join('\n');
  for (const name of ['losetup', 'resize2fs', 'ntfsresize', 'fatresize', 'mkswap', 'lsblk', 'sfdisk', 'blkid', 'getfattr', 'setfattr', 'blockdev', 'umount']) {
    t.true(sources.includes(`PROGRAMS.${name}`), name);
  }
});

test('the list: unique names, a Debian package, an absolute medium path and a purpose for each', (t) => {
  const names = PROGRAM_LIST.map((program) => program.name);
  t.is(new Set(names).size, names.length);
  for (const program of PROGRAM_LIST) {
    t.regex(program.debianPackage, /^[a-z0-9][a-z0-9.+-]+$/, program.name);
    t.regex(program.mediumPath, new RegExp(`^/(usr/)?s?bin/${program.name.replace(/[.]/g, '\\.')}$`), program.name);
    t.true(program.purpose.length > 10, program.name);
  }
  for (const wanted of ['e2fsck', 'resize2fs', 'mke2fs', 'debugfs', 'fsck.fat', 'mkfs.fat', 'fatresize', 'fsck.exfat', 'mkfs.exfat', 'ntfsresize', 'ntfsfix', 'mkntfs', 'ntfsinfo', 'ntfs-3g',
    'losetup', 'sfdisk', 'lsblk', 'blkid', 'mkswap', 'wipefs', 'blockdev', 'sgdisk', 'getfattr', 'setfattr', 'smartctl', 'ddrescue', 'testdisk']) t.true(names.includes(wanted), wanted);
});

test('the helper refuses a program that is not on the list (even a copy of a listed entry)', async (t) => {
  const copy = { ...PROGRAMS.sh };
  const refused = await t.throwsAsync(runProgram(copy, ['-c', 'true']), { instanceOf: LifeboatError });
  t.is(refused?.code, 'LB_INTERNAL');
  t.regex(refused?.message ?? '', /not on the list/);
  t.throws(() => locateProgram({ ...PROGRAMS.resize2fs }), { message: /not on the list/ });
  t.throws(() => programNamed('rm'), { message: /rm is not on the list/ });
  t.is(programNamed('ntfs-3g'), PROGRAMS.ntfs3g);
});

test('a missing program is LB_DEVICE_TOOL_MISSING naming it and its Debian package; checkPrograms names every one missing', async (t) => {
  const empty = await scratchDir(t);
  const missing = await t.throwsAsync(runProgram(PROGRAMS.resize2fs, ['/dev/null'], { env: { PATH: empty } }), { instanceOf: LifeboatError });
  t.is(missing?.code, 'LB_DEVICE_TOOL_MISSING');
  t.like(missing?.details, { program: 'resize2fs', package: 'e2fsprogs' });
  t.notRegex(missing?.message ?? '', /undefined/);
  const refusal = await t.throwsAsync(checkPrograms(growProgramsFor('ext4') ?? [], { PATH: empty }), { instanceOf: LifeboatError });
  t.is(refusal?.code, 'LB_DEVICE_TOOL_MISSING');
  t.regex(refusal?.message ?? '', /losetup \(mount\).*e2fsck \(e2fsprogs\).*resize2fs \(e2fsprogs\).*Nothing was written/);
  t.deepEqual(refusal?.details.packages, ['mount', 'e2fsprogs']);
  await t.notThrowsAsync(checkPrograms(growProgramsFor('ext4') ?? []));
});

test("checkPrograms refuses busybox's losetup and mkswap (no --offset/--sizelimit, no -U) where util-linux's are needed", async (t) => {
  const dir = await scratchDir(t);
  await symlink('/bin/busybox', path.join(dir, 'losetup'));
  await symlink('/bin/busybox', path.join(dir, 'mkswap'));
  const refused = await t.throwsAsync(checkPrograms([PROGRAMS.losetup, PROGRAMS.mkswap], { PATH: dir }), { instanceOf: LifeboatError });
  t.is(refused?.code, 'LB_DEVICE_TOOL_MISSING');
  t.regex(refused?.message ?? '', /losetup is not mount's losetup.*mkswap is not util-linux's mkswap/);
});

test('a failed program is reported with its real exit status, its signal or its timeout, and its stderr; never "undefined"', async (t) => {
  const failed = await runProgram(PROGRAMS.sh, ['-c', 'echo partial; echo "it broke" >&2; exit 3']);
  t.false(succeeded(failed));
  t.is(failed.exitCode, 3);
  t.is(describeExit(failed), 'sh -c echo partial; echo "it broke" >&2; exit 3 exited with status 3: it broke');
  const killed = await runProgram(PROGRAMS.sh, ['-c', 'kill -9 $$']);
  t.is(killed.signal, 'SIGKILL');
  t.regex(describeExit(killed), /was killed by SIGKILL$/);
  const slow = await runProgram(PROGRAMS.sh, ['-c', 'exec sleep 5'], { timeoutMs: 200 });
  t.true(slow.timedOut);
  t.regex(describeExit(slow), /timed out/);
  for (const result of [failed, killed, slow]) t.notRegex(describeExit(result), /undefined/);
  t.true(succeeded(await runProgram(PROGRAMS.sh, ['-c', 'true'])));
});

test('every fix in the error catalogue names only programs on the list (the medium carries them)', (t) => {
  // English words that happen to be programs on Debian, and lifeboat's own subcommands, are not tool names.
  // 'shutdown' is Windows' own (shutdown /s /t 0, run in Windows before a clone or a conversion).
  const words = new Set(['size', 'as', 'write', 'install', 'yes', 'file', 'true', 'make', 'which', 'id', 'time', 'test', 'more', 'less', 'top', 'watch', 'kill', 'wait', 'sleep', 'last', 'find', 'join', 'link', 'free', 'shutdown']);
  const listed = new Set([...PROGRAM_LIST.map((program) => program.name), 'lifeboat']);
  const folders = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin'];
  const named: string[] = [];
  const problems: string[] = [];
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
    if (spec.group === 'build') continue; // build fixes are for the build host (npm run setup)
    for (const match of spec.fix.matchAll(/(lifeboat\s+)?([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z])/g)) {
      const word = match[2]!;
      if (match[1] || words.has(word)) continue;
      const isProgram = listed.has(word) || folders.some((folder) => existsSync(path.join(folder, word)));
      if (!isProgram) continue;
      named.push(word);
      if (!listed.has(word)) problems.push(`${code}: ${word}`);
    }
  }
  t.deepEqual(problems, []);
  for (const tool of ['e2fsck', 'fsck.fat', 'sgdisk', 'testdisk', 'smartctl', 'ddrescue', 'sfdisk', 'ntfsfix', 'fsck.exfat']) t.true(named.includes(tool), `the scan sees ${tool}`);
});

test('a plan needs the programs of its steps: grow tools per filesystem, util-linux mkswap for swap, the decompressor of xz/lzma/bz2/lz4 images', (t) => {
  const grow = (filesystem: string) => ({ kind: 'grow-filesystem', filesystem, offset: 0, sizeBytes: 1, partition: 1, label: '' });
  const plan = (steps: unknown[]) => ({ steps }) as unknown as RestorePlan;
  const names = (programs: readonly ExternalProgram[]) => programs.map((program) => program.name);
  t.deepEqual(names(programsForRestorePlan(plan([grow('ext4')]))), ['losetup', 'e2fsck', 'resize2fs']);
  t.deepEqual(names(programsForRestorePlan(plan([grow('ntfs')]))), ['losetup', 'ntfsresize']);
  t.deepEqual(names(programsForRestorePlan(plan([grow('vfat')]))), ['fatresize']);
  t.deepEqual(names(programsForRestorePlan(plan([grow('xfs'), { kind: 'gpt' }]))), [], 'no grow tool: a notice later, nothing to check');
  const layout = { directory: '/x', disks: [], partitions: [{ name: 'sda1', compression: 'xz' }, { name: 'sda2', compression: 'zst' }, { name: 'sda3', compression: 'lz4' }] } as unknown as ClonezillaLayout;
  const clonezilla = { steps: [{ kind: 'partition', partition: 'sda1' }, { kind: 'partition', partition: 'sda2' }, { kind: 'swap', partition: 'sda4' }, { kind: 'partition', partition: 'sda3' }] } as unknown as ClonezillaRestorePlan;
  t.deepEqual(names(programsForClonezillaPlan(clonezilla, layout)), ['xz', 'mkswap', 'lz4']);
  t.is(decompressorFor('lzma'), PROGRAMS.xz);
  t.is(decompressorFor('bz2'), PROGRAMS.bzip2);
  t.is(decompressorFor('gz'), undefined);
});
