import test from 'ava';
import { readFile } from 'node:fs/promises';
import { ERROR_CATALOGUE, GROUP_CODE_PREFIX, LifeboatError, toLifeboatError, type ErrorCode } from '../../rescue/core/errors.ts';
import { EXIT_CODES } from '../../rescue/ui/cli/exit-codes.ts';
import { LIFEBOAT_VERSION } from '../../rescue/version.ts';

test('every catalogue entry has a stable code, a group with an exit code, a cause and a fix', (t) => {
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
    t.regex(code, /^LB_[A-Z]+(_[A-Z0-9]+)*$/);
    t.true(code.startsWith(GROUP_CODE_PREFIX[spec.group]), code);
    t.true(EXIT_CODES[spec.group] > 0, code);
    for (const text of [spec.message, spec.cause, spec.fix]) t.regex(text, /^[A-Z`].*\.$/, code);
  }
});

test('exit codes are distinct per group', (t) => {
  const values = Object.values(EXIT_CODES);
  t.is(new Set(values).size, values.length);
});

test('errors carry code, details, cause and the fix; unknown throws become LB_INTERNAL', (t) => {
  const cause = new Error('disk went away');
  const error = new LifeboatError('LB_DEVICE_SYSFS_UNREADABLE', { sysRoot: '/nope' }, { cause });
  t.is(error.code, 'LB_DEVICE_SYSFS_UNREADABLE');
  t.is(error.cause, cause);
  t.is(error.fix, ERROR_CATALOGUE.LB_DEVICE_SYSFS_UNREADABLE.fix);
  t.deepEqual(error.toJSON().details, { sysRoot: '/nope' });
  const wrapped = toLifeboatError(new TypeError('boom'));
  t.is(wrapped.code satisfies ErrorCode, 'LB_INTERNAL');
  t.regex(wrapped.message, /boom/);
  t.is(toLifeboatError(error), error);
});

test('the version in the program equals package.json', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.is(LIFEBOAT_VERSION, pkg.version);
});
