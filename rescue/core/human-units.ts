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
  let text = value.toFixed(digits);
  // Rounding may carry into the next digit or unit: 9.999 MiB is "10.0 MiB", 1023.9 KiB is "1.00 MiB".
  if (Number(text) >= 1024 && unit < UNITS.length - 1) return `${sign}${(value / 1024).toFixed(2)} ${UNITS[unit + 1]}`;
  if (digits > 0 && Number(text) >= 10 ** (3 - digits)) text = value.toFixed(digits - 1);
  return `${sign}${text} ${UNITS[unit]}`;
}

/** A size where the exact count matters too (a refusal's figures): "48.0 MiB (50331648 bytes)"; whole bytes below 1 KiB. */
export function formatBytesExact(bytes: number): string {
  return Math.abs(bytes) < 1024 || !Number.isFinite(bytes) ? formatBytes(bytes) : `${formatBytes(bytes)} (${bytes} bytes)`;
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
