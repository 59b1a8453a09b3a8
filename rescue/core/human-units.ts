// Sizes, rates and offsets written for people: binary units with three significant digits
// ("48.0 MiB", "476 B/s"), offsets exact where a unit divides them ("1 MiB"). The one place that
// turns byte counts into text, for the CLI, the TUI and the plans alike.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** A byte count for people: binary units, three significant digits; whole bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const sign = bytes < 0 ? '-' : '';
  if (unit === 0) return `${sign}${Math.round(value)} B`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${sign}${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A rate in bytes per second for people ("12.3 MiB/s"); "-" when there is none to show. */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '- B/s';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * A position on a disk for people: exact in the largest unit that divides it when that is a
 * short number ("0 B", "1 MiB", "11 MiB", "32 KiB"), else the rounded size with the exact byte
 * ("64.0 MiB (byte 67091968)"), so a plan stays exact where it matters.
 */
export function formatOffset(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) return formatBytes(bytes);
  for (let unit = UNITS.length - 1; unit >= 0; unit--) {
    const size = 1024 ** unit;
    if (bytes % size === 0 && bytes / size < 1024) return `${bytes / size} ${UNITS[unit]}`;
  }
  return `${formatBytes(bytes)} (byte ${bytes})`;
}
