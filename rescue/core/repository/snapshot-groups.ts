// What a snapshot is a backup of: its group. forget's retention policy works within each group,
// and `latest` must name one group (a repository holding two disks has no one latest snapshot).

/** The parts of a manifest the grouping reads (optional where older callers lack them). */
export interface GroupedManifest {
  readonly kind?: string;
  readonly host?: string;
  readonly source?: { readonly path: string; readonly serial: string; readonly model?: string };
  readonly files?: { readonly roots: readonly string[] };
}

/** The group's key: the kind and the source disk (its serial, else its path) or folders. */
export function snapshotGroupKey(manifest: GroupedManifest): string {
  const source = manifest.source;
  return `${manifest.kind ?? ''}:${source?.serial || source?.path || ''}`;
}

/** The group in words, e.g. "disk backup of Samsung SSD 870 S5XYNG0R (/dev/sda)" or "files backup of /home /etc". */
export function describeSnapshotGroup(manifest: GroupedManifest): string {
  const source = manifest.source;
  if (!source) return 'snapshots';
  if (manifest.kind === 'files') return `files backup of ${manifest.files?.roots.join(' ') ?? source.path}`;
  const disk = [source.model, source.serial].filter((part) => part !== undefined && part !== '' && part !== 'image file').join(' ');
  return `${manifest.kind ?? ''} backup of ${disk ? `${disk} (${source.path})` : source.path}`.trim();
}

/** True when `source` names the snapshot's source: its path, its serial, or (files) one of its folders. */
export function matchesSource(manifest: GroupedManifest, sources: readonly string[]): boolean {
  const source = manifest.source;
  return sources.some((wanted) => wanted !== '' && (wanted === source?.path || wanted === source?.serial || (manifest.files?.roots.includes(wanted) ?? false)));
}
