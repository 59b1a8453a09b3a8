// Turns what the user typed (`latest`, an id prefix, with an optional `:N` partition and --tag)
// into one snapshot, or a coded error saying why none or several matched.

import { LifeboatError } from '../errors.ts';

/** What selection needs to know of a snapshot. */
export interface SelectableSnapshot {
  readonly id: string;
  readonly manifest: { readonly time: string; readonly tags: readonly string[] };
}

/** A parsed SNAPSHOT[:N] argument. */
export interface SnapshotSpec {
  readonly snapshot: string;
  readonly partition: number | undefined;
}

/** Splits `ID[:N]`; N is a partition number. */
export function parseSnapshotSpec(text: string): SnapshotSpec {
  const match = /^([0-9a-fA-F]+|latest)(?::(\d{1,3}))?$/.exec(text.trim());
  if (!match?.[1]) throw new LifeboatError('LB_INPUT_USAGE', { detail: `"${text}" is not a snapshot (an id prefix or latest, optionally :N for partition N).` });
  return { snapshot: match[1].toLowerCase(), partition: match[2] === undefined ? undefined : Number(match[2]) };
}

/** The snapshot `spec` names among `snapshots`; `tag` restricts `latest` (and prefixes) to snapshots carrying it. */
export function selectSnapshot<T extends SelectableSnapshot>(snapshots: readonly T[], spec: string, tag?: string): T {
  const candidates = tag === undefined ? snapshots : snapshots.filter((snapshot) => snapshot.manifest.tags.includes(tag));
  if (spec === 'latest') {
    const newest = [...candidates].sort((a, b) => Date.parse(b.manifest.time) - Date.parse(a.manifest.time) || b.id.localeCompare(a.id))[0];
    if (!newest) throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: tag === undefined ? 'The repository holds no snapshot.' : `No snapshot carries the tag "${tag}".`, tag });
    return newest;
  }
  const matches = candidates.filter((snapshot) => snapshot.id.startsWith(spec));
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length === 0) throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: `No snapshot id starts with "${spec}".`, spec });
  throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: `"${spec}" is ambiguous: ${matches.length} snapshots start with it; give more characters.`, spec, matches: matches.length });
}
