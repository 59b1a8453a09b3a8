// Every error code in the catalogue is reached by at least one test (its name appears in a test
// other than the catalogue's own checks) or is marked `reserved` with the reason no test reaches
// it; every code that is not reserved is raised somewhere in the program. Also reaches two codes
// no other test named: a table on a disk too small for it, and a missing /sys.

import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { bufferSource } from '../../rescue/core/byte-source.ts';
import { ERROR_CATALOGUE, LifeboatError, type ErrorCode, type ErrorSpec } from '../../rescue/core/errors.ts';
import { readPartitionTable } from '../../rescue/core/partition-table/partition-table.ts';
import { listDisks } from '../../rescue/io/sysfs-disks.ts';

/** The catalogue's own checks name codes without reaching them. */
const CATALOGUE_ONLY = new Set(['test/unit/errors.test.ts']);

async function textsUnder(dir: string, skip: ReadonlySet<string> = new Set()): Promise<string[]> {
  const entries = await readdir(path.join(PROJECT_ROOT, dir), { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && /\.(ts|mjs|sh)$/.test(entry.name))
    .map((entry) => path.relative(PROJECT_ROOT, path.join(entry.parentPath, entry.name)))
    .filter((file) => !skip.has(file));
  return Promise.all(files.map((file) => readFile(path.join(PROJECT_ROOT, file), 'utf8')));
}

const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
const spec = (code: ErrorCode): ErrorSpec => ERROR_CATALOGUE[code];

test('every code is reached by a test or marked reserved (with a reason), never both', async (t) => {
  const tests = (await textsUnder('test', CATALOGUE_ONLY)).join('\n');
  const unreached = codes.filter((code) => !new RegExp(`\\b${code}\\b`).test(tests) && spec(code).reserved === undefined);
  t.deepEqual(unreached, [], 'write a test that reaches these codes, or mark them reserved with the reason');
  const reachedButReserved = codes.filter((code) => spec(code).reserved !== undefined && new RegExp(`\\b${code}\\b`).test(tests));
  t.deepEqual(reachedButReserved, [], 'a test reaches these codes now: remove their reserved mark');
  for (const code of codes) {
    const reason = spec(code).reserved;
    if (reason !== undefined) t.regex(reason, /^[A-Z].{20,}\.$/, `${code}: say why no test reaches it`);
  }
});

test('every code that is not reserved is raised somewhere in the program', async (t) => {
  const sources = [...(await textsUnder('rescue', new Set(['rescue/core/errors.ts']))), ...(await textsUnder('builder'))].join('\n');
  const neverRaised = codes.filter((code) => code !== 'LB_INTERNAL' && !sources.includes(`'${code}'`));
  t.deepEqual(neverRaised.filter((code) => spec(code).reserved === undefined), [], 'codes no source raises must be reserved (or removed)');
});

test('LB_DEVICE_TABLE_TRUNCATED: a disk smaller than one sector, or a GPT header past the end', async (t) => {
  const empty = await t.throwsAsync(readPartitionTable(bufferSource(new Uint8Array(100)), 512), { instanceOf: LifeboatError });
  t.is(empty?.code, 'LB_DEVICE_TABLE_TRUNCATED');
  t.is(empty?.details.offset, 0);
  // A protective MBR (type ee) on a one-sector disk: the GPT header it announces (LBA 1) is not there.
  const mbr = new Uint8Array(512);
  mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], 446);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const cut = await t.throwsAsync(readPartitionTable(bufferSource(mbr), 512), { instanceOf: LifeboatError });
  t.is(cut?.code, 'LB_DEVICE_TABLE_TRUNCATED');
  t.regex(cut?.message ?? '', /LBA 1 is past the end/);
});

test('LB_DEVICE_SYSFS_UNREADABLE: no /sys to list disks from', async (t) => {
  const error = await t.throwsAsync(listDisks({ sysRoot: path.join(PROJECT_ROOT, 'no-such-sysfs') }), { instanceOf: LifeboatError });
  t.is(error?.code, 'LB_DEVICE_SYSFS_UNREADABLE');
});
