// human-units: the one function each for sizes, rates and offsets that the CLI, the TUI and the
// plans print (issue 14: never `476.19047619047615 B/s`, never `at byte 67091968` alone).

import test from 'ava';
import { formatBytes, formatBytesExact, formatOffset, formatRate } from '../../rescue/core/human-units.ts';

const MiB = 1024 * 1024;

test('formatBytes: binary units, three significant digits, whole bytes below 1 KiB', (t) => {
  t.is(formatBytes(0), '0 B');
  t.is(formatBytes(512), '512 B');
  t.is(formatBytes(476.19047619047615), '476 B');
  t.is(formatBytes(1536), '1.50 KiB');
  t.is(formatBytes(67112448), '64.0 MiB');
  t.is(formatBytes(256 * 1024 ** 3), '256 GiB');
  t.is(formatBytes(Number.NaN), '-');
  // Rounding carries: never "10.00 MiB" or "1024 KiB".
  t.is(formatBytes(10 * MiB - 1), '10.0 MiB');
  t.is(formatBytes(1023.9 * 1024), '1.00 MiB');
  t.is(formatBytes(99.999 * 1024), '100 KiB');
});

test('formatRate: a size per second, never a raw fraction', (t) => {
  t.is(formatRate(476.19047619047615), '476 B/s');
  t.is(formatRate(12.5 * MiB), '12.5 MiB/s');
  t.is(formatRate(Number.POSITIVE_INFINITY), '- B/s');
});

test('formatOffset: exact in the largest unit that divides it, else rounded with the exact byte', (t) => {
  t.is(formatOffset(0), '0 B');
  t.is(formatOffset(512), '512 B');
  t.is(formatOffset(32 * 1024), '32 KiB');
  t.is(formatOffset(MiB), '1 MiB');
  t.is(formatOffset(11 * MiB), '11 MiB');
  t.is(formatOffset(2 * 1024 * MiB), '2 GiB');
  t.is(formatOffset(MiB + 512), '1.00 MiB (byte 1049088)');
  t.is(formatOffset(67091968), '64.0 MiB (byte 67091968)');
});

test('formatBytesExact: the rounded size with the exact count beside it', (t) => {
  t.is(formatBytesExact(512), '512 B');
  t.is(formatBytesExact(10 * MiB - 1), '10.0 MiB (10485759 bytes)');
});
