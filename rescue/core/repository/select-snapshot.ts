// Turns what the user typed (`latest`, an id prefix, with an optional `:N` partition and --tag)
// into one snapshot, or a coded error saying why none or several matched.

import { LifeboatError } from '../errors.ts';
import { describeSnapshotGroup, matchesSource, snapshotGroupKey, type GroupedManifest } from './snapshot-groups.ts';

/** What selection needs to know of a snapshot (host, kind and source: which group it is of). */
export interface SelectableSnapshot {
  readonly id: string;
  readonly manifest: GroupedManifest & { readonly time: string; readonly tags: readonly string[] };
}

/** What narrows the choice: --tag, --host, --source (a path, serial or folder; any of the forms given). */
export interface SnapshotFilter {
  readonly tag?: string | undefined;
  readonly host?: string | undefined;
  readonly source?: readonly string[] | undefined;
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

function newestFirst<T extends SelectableSnapshot>(snapshots: readonly T[]): T[] {
  return [...snapshots].sort((a, b) => Date.parse(b.manifest.time) - Date.parse(a.manifest.time) || b.id.localeCompare(a.id));
}

function describeFilter(filter: SnapshotFilter): string {
  return [filter.tag === undefined ? '' : `--tag ${filter.tag}`, filter.host === undefined ? '' : `--host ${filter.host}`, filter.source === undefined ? '' : `--source ${filter.source[0] ?? ''}`].filter(Boolean).join(' ');
}

/**
 * The snapshot `spec` names among `snapshots` (a tag alone may be given as a string). The filter
 * narrows both `latest` and id prefixes. `latest` must fall in one group (snapshotGroupKey): when
 * the snapshots left are of several sources it is refused (LB_INPUT_LATEST_AMBIGUOUS), naming them.
 */
export function selectSnapshot<T extends SelectableSnapshot>(snapshots: readonly T[], spec: string, filterOrTag: SnapshotFilter | string = {}): T {
  const filter: SnapshotFilter = typeof filterOrTag === 'string' ? { tag: filterOrTag } : filterOrTag;
  const candidates = snapshots.filter((snapshot) => (filter.tag === undefined || snapshot.manifest.tags.includes(filter.tag))
    && (filter.host === undefined || snapshot.manifest.host === filter.host)
    && (filter.source === undefined || matchesSource(snapshot.manifest, filter.source)));
  const narrowed = describeFilter(filter);
  if (spec === 'latest') {
    const sorted = newestFirst(candidates);
    const newest = sorted[0];
    if (!newest) throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: narrowed === '' ? 'The repository holds no snapshot.' : filter.tag !== undefined && narrowed === `--tag ${filter.tag}` ? `No snapshot carries the tag "${filter.tag}".` : `No snapshot matches ${narrowed}.`, ...(filter.tag === undefined ? {} : { tag: filter.tag }) });
    const groups = new Map<string, T>();
    for (const snapshot of sorted) if (!groups.has(snapshotGroupKey(snapshot.manifest))) groups.set(snapshotGroupKey(snapshot.manifest), snapshot);
    if (groups.size > 1) {
      const sources = [...groups.values()].map((snapshot) => ({ source: describeSnapshotGroup(snapshot.manifest), host: snapshot.manifest.host ?? '', newest: snapshot.id.slice(0, 8), time: snapshot.manifest.time }));
      throw new LifeboatError('LB_INPUT_LATEST_AMBIGUOUS', {
        detail: `The snapshots${narrowed === '' ? '' : ` matching ${narrowed}`} are of ${groups.size} sources: ${sources.map((entry) => `${entry.source} on ${entry.host} (newest ${entry.newest}, ${entry.time})`).join('; ')}.`,
        sources,
      });
    }
    return newest;
  }
  const matches = candidates.filter((snapshot) => snapshot.id.startsWith(spec));
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length === 0) throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: `No snapshot id starts with "${spec}"${narrowed === '' ? '' : ` among those matching ${narrowed}`}.`, spec });
  throw new LifeboatError('LB_REPO_SNAPSHOT_NOT_FOUND', { detail: `"${spec}" is ambiguous: ${matches.length} snapshots start with it; give more characters.`, spec, matches: matches.length });
}
