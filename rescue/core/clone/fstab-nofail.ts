// `clone system` leaves data partitions out; a line of the copy's /etc/fstab that mounts one of them
// without nofail would hold the copy's boot up (systemd waits 90 s for the device, then stops in
// emergency mode). So the plan adds nofail to each such line in the copy only (never the source),
// with a comment saying why: the line stays, so the partition is still mounted wherever it is found
// (the old disk plugged in beside the copy). Pure: io reads and writes the file (debugfs).

/** A line to mark: the fstab spec and mount point that name a left-out partition. */
export interface NofailLine {
  readonly spec: string;
  readonly mountPoint: string;
  readonly partition: number;
}

/** The step: the copy's root filesystem (ext2/3/4) at `offset` of the target gets nofail on these lines of /etc/fstab. */
export interface FstabNofailStep {
  readonly kind: 'fstab-nofail';
  readonly label: string;
  /** The root's partition number and place on the target. */
  readonly partition: number;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly lines: readonly NofailLine[];
}

/** The comment put above each changed line. */
export const NOFAIL_COMMENT = '# lifeboat clone system: nofail added, partition';

/** The fstab's fields 1 and 2 as parseFstab compares them (\040 decoded, trailing slashes gone). */
function specAndMountPoint(fields: readonly string[]): { spec: string; mountPoint: string } {
  const decode = (value: string) => value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return { spec: decode(fields[0] ?? ''), mountPoint: decode(fields[1] ?? '').replace(/\/+$/, '') || '/' };
}

/** `text` with nofail added to the options of each line in `lines` that lacks it (fields 3 and on kept; a missing options field becomes defaults,nofail). */
export function withNofail(text: string, lines: readonly NofailLine[]): { text: string; changed: number } {
  let changed = 0;
  const out = text.split('\n').flatMap((line) => {
    const body = line.replace(/#.*/, '');
    const fields = body.trim().split(/\s+/);
    if (fields.length < 2 || fields[0] === '') return [line];
    const { spec, mountPoint } = specAndMountPoint(fields);
    const match = lines.find((entry) => entry.spec === spec && entry.mountPoint === mountPoint);
    const options = fields[3];
    if (!match || (options ?? '').split(',').includes('nofail')) return [line];
    changed += 1;
    const rest = line.slice(body.length);
    const head = body.match(/^\s*/)?.[0] ?? '';
    const newFields = [...fields.slice(0, 2), fields[2] ?? 'auto', options === undefined ? 'defaults,nofail' : `${options},nofail`, ...fields.slice(4)];
    return [`${NOFAIL_COMMENT} ${match.partition} was left out of this copy`, `${head}${newFields.join(' ')}${rest ? ` ${rest.trimStart()}` : ''}`];
  });
  return { text: out.join('\n'), changed };
}
