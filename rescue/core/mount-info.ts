// Parses /proc/self/mountinfo: which block device (major:minor, or the source path of a FUSE mount)
// is mounted where and how, so Lifeboat can refuse mounted targets, show where each partition is in
// use, and search mounted partitions for repositories.

/** One mount. */
export interface MountEntry {
  /** "major:minor" of the mounted device. */
  readonly device: string;
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  /** Mounted read-only (the per-mount ro flag). */
  readonly readOnly: boolean;
  /** The per-mount options, then the superblock's (ro, relatime, norecovery...). */
  readonly options: readonly string[];
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
      readOnly: (fields[5] ?? '').split(',').includes('ro'),
      options: [...(fields[5] ?? '').split(','), ...(fields[separator + 3] ?? '').split(',')].filter(Boolean),
    });
  }
  return entries;
}
