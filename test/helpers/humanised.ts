// What "humanised" means in the tests: no number with 3 or more decimals (a raw float such as
// 476.19047619047615; times such as 16:27:03.377 are not figures), and no plain byte count of 1024 or more ("1048576 B", "byte 1048576",
// "67108864 bytes"); core/human-units.ts prints those in KiB, MiB, GiB. An exact byte after a
// humanised offset, as formatOffset adds it ("64.0 MiB (byte 67091968)"), is not raw.

/** The raw figures of `text`, each as it appears; empty when everything is humanised. */
export function rawFigures(text: string): string[] {
  const found: string[] = [];
  text = text.replace(/(\d(?:\.\d+)? [KMGTP]iB) \(byte \d+\)/g, '$1');
  for (const match of text.matchAll(/(?<![:\d])\d+\.\d{3,}/g)) found.push(match[0]);
  for (const match of text.matchAll(/\b(\d+(?:\.\d+)?) ?(B|bytes)\b|\bbytes? (\d+)\b/g)) {
    const value = Number(match[1] ?? match[3]);
    if (value >= 1024 || !Number.isInteger(value)) found.push(match[0]);
  }
  return found;
}
