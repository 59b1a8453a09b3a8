// What `ls` and `get` share: SOURCE is SNAPSHOT[:N] with -r (a volume inside a snapshot, read
// through the chunk index) or a device, image file or DISK:N without; the file tree is opened,
// used and closed.

import type { Argv } from 'yargs';
import { LifeboatError } from '../../core/errors.ts';
import type { FileTree } from '../../core/file-trees/file-tree.ts';
import type { SnapshotManifest, SnapshotVolume } from '../../core/repository/format.ts';
import { parseSnapshotSpec } from '../../core/repository/select-snapshot.ts';
import { openFilesSnapshot } from '../../ops/snapshot-file-tree.ts';
import { openSnapshotVolume } from '../../ops/snapshot-source.ts';
import type { CliContext } from './context.ts';
import { repositoryFor, withRepository, type RepositoryArgs } from './repository-access.ts';
import { findSnapshot, snapshotFilter, withSnapshotChoiceOptions } from './snapshot-choice.ts';

/** Options of the browsing commands. */
export interface BrowseArgs {
  repo: string | undefined;
  'password-file': string | undefined;
  tag: string | undefined;
  host: string | undefined;
  source: string | undefined;
  json: boolean;
}

/** Adds -r (optional here), --password-file, --tag and --json. */
export function withBrowseOptions<T>(yargs: Argv<T>): Argv<T & BrowseArgs> {
  return withSnapshotChoiceOptions(yargs)
    .option('repo', { alias: 'r', type: 'string', describe: 'Read SOURCE as SNAPSHOT[:N] from this repository (default for a SOURCE like latest or an id: $LIFEBOAT_REPOSITORY)' })
    .option('password-file', { type: 'string', describe: 'Read the repository password from this file (else LIFEBOAT_PASSWORD, else a prompt)' })
    .option('tag', { type: 'string', describe: 'With latest: the latest snapshot carrying this tag' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' }) as unknown as Argv<T & BrowseArgs>;
}

/** The volume of a snapshot that SNAPSHOT:N names (N optional when there is only one). */
export function pickVolume(manifest: SnapshotManifest, partition: number | undefined, shortId: string): SnapshotVolume {
  if (manifest.kind === 'partition' || partition === undefined) {
    const only = manifest.volumes.length === 1 ? manifest.volumes[0] : undefined;
    if (only && (partition === undefined || manifest.kind === 'partition')) return only;
    const numbers = manifest.volumes.map((volume) => `${shortId}:${volume.partition} (${volume.filesystem?.type ?? 'unknown'}${volume.filesystem?.label ? ` "${volume.filesystem.label}"` : ''})`);
    throw new LifeboatError('LB_INPUT_USAGE', { detail: `Snapshot ${shortId} holds ${manifest.volumes.length} partitions; name one: ${numbers.join(', ')}.` });
  }
  const volume = manifest.volumes.find((candidate) => candidate.partition === partition);
  if (!volume) throw new LifeboatError('LB_INPUT_USAGE', { detail: `Snapshot ${shortId} has no partition ${partition} (it has ${manifest.volumes.map((v) => v.partition).join(', ')}).` });
  return volume;
}

/** Opens SOURCE's file tree, runs `use` (after printing the reader's notices to stderr), always closes what it opened. */
export async function withFileTree<T>(context: CliContext, args: BrowseArgs, source: string, command: string, useTree: (tree: FileTree, label: string) => Promise<T>): Promise<T> {
  const use = (tree: FileTree, label: string): Promise<T> => {
    for (const notice of tree.notices ?? []) context.stderr.write(`notice: ${label}: ${notice}\n`);
    return useTree(tree, label);
  };
  const repo = repositoryFor(args, source);
  if (repo === undefined) {
    const volume = await context.browse.openVolume(source);
    try {
      return await use(await context.browse.openFileTree(volume.source), volume.label);
    } finally {
      await volume.close();
    }
  }
  const spec = parseSnapshotSpec(source);
  const repositoryArgs: RepositoryArgs = { repo, 'password-file': args['password-file'], json: args.json };
  return withRepository(context, repositoryArgs, { exclusive: false, command }, async (repository) => {
    const { id, manifest } = await findSnapshot(repository, spec.snapshot, snapshotFilter(args), (line) => context.stderr.write(`note: ${line}\n`));
    if (manifest.kind === 'files') return use(openFilesSnapshot(repository, manifest), id.slice(0, 8));
    const volume = pickVolume(manifest, spec.partition, id.slice(0, 8));
    const bytes = await openSnapshotVolume(repository, volume.content, manifest.chunkBytes);
    const label = `${id.slice(0, 8)}${volume.partition === null ? '' : `:${volume.partition}`}`;
    return use(await context.browse.openFileTree(bytes), label);
  });
}
