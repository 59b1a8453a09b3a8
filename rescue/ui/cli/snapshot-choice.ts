// How restore, ls and get choose a snapshot: SNAPSHOT is an id prefix or `latest`, narrowed by
// --tag, --host and --source; `latest` must then fall on snapshots of one source, and the choice is
// printed. Also the snapshot's one-line description the messages use.

import path from 'node:path';
import type { Argv } from 'yargs';
import { LifeboatError } from '../../core/errors.ts';
import type { StoredSnapshot } from '../../core/repository/repository-port.ts';
import { selectSnapshot, type SnapshotFilter } from '../../core/repository/select-snapshot.ts';
import { describeSnapshotGroup } from '../../core/repository/snapshot-groups.ts';
import type { RepositoryHandle } from './context.ts';

/** The options that narrow the choice (--tag is declared by each command). */
export interface SnapshotChoiceArgs {
  tag: string | undefined;
  host: string | undefined;
  source: string | undefined;
}

/** Adds --host and --source. */
export function withSnapshotChoiceOptions<T>(yargs: Argv<T>): Argv<T & Omit<SnapshotChoiceArgs, 'tag'>> {
  return yargs
    .option('host', { type: 'string', describe: 'Only snapshots made on this host (see lifeboat snapshots)' })
    .option('source', { type: 'string', describe: 'Only snapshots of this source: a device or image path, a disk serial, or a backed-up folder' }) as unknown as Argv<T & Omit<SnapshotChoiceArgs, 'tag'>>;
}

/** The filter the arguments give (a relative --source is also tried as an absolute path: image files are kept so). */
export function snapshotFilter(args: Partial<SnapshotChoiceArgs>): SnapshotFilter {
  return {
    ...(args.tag === undefined ? {} : { tag: args.tag }),
    ...(args.host === undefined ? {} : { host: args.host }),
    ...(args.source === undefined ? {} : { source: [args.source, path.resolve(args.source)] }),
  };
}

/** "disk backup of Samsung SSD S5XY (/dev/sda) on host, 2026-...": what a chosen snapshot is. */
export function describeChoice(snapshot: StoredSnapshot): string {
  return `${describeSnapshotGroup(snapshot.manifest)} on ${snapshot.manifest.host}, ${snapshot.manifest.time}`;
}

/**
 * Picks the snapshot; a damaged manifest is never skipped silently when it could be the one meant.
 * `latest` is resolved among the snapshots the filter leaves, and the choice is told to `say`.
 */
export async function findSnapshot(repository: RepositoryHandle, spec: string, filter: SnapshotFilter, say?: (line: string) => void): Promise<StoredSnapshot> {
  const { snapshots, problems } = await repository.scanSnapshots();
  const damaged = problems.map((problem) => problem as LifeboatError);
  const named = damaged.find((problem) => typeof problem.details?.snapshot === 'string' && (problem.details.snapshot as string).startsWith(spec));
  if (named) throw named;
  if (spec === 'latest' && damaged[0]) throw damaged[0];
  const chosen = selectSnapshot(snapshots, spec, filter);
  if (spec === 'latest') say?.(`latest is snapshot ${chosen.id.slice(0, 8)}: ${describeChoice(chosen)}.`);
  return chosen;
}
