// Parses /proc/self/mountinfo: which block device (major:minor) is mounted where, so Lifeboat can
// refuse mounted targets and show where each partition is in use.

/** One mount. */
export interface MountEntry {
  /** "major:minor" of the mounted device. */
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

/** Undoes the kernel's octal escapes (\040 for space, \011 tab, \012 newline, \134 backslash). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses mountinfo lines: ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (fields.length < 10 || separator < 0) continue;
    const device = fields[2] ?? '';
    if (!/^\d+:\d+$/.test(device)) continue;
    entries.push({
      device,
      mountPoint: unescapeMountField(fields[4] ?? ''),
      fsType: fields[separator + 1] ?? '',
      source: unescapeMountField(fields[separator + 2] ?? ''),
    });
  }
  return entries;
}
