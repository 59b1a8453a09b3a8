// `lifeboat restore -r REPO FILES_SNAPSHOT DEST_FOLDER`: a files snapshot goes back into a folder
// (content, modes, owners, times, links, empty folders, extended attributes) through the same
// safe writer as `get`; files that exist in DEST are refused, never overwritten.

import { formatBytes } from '../../core/disk-facts.ts';
import type { SnapshotManifest } from '../../core/repository/format.ts';
import type { RepositoryReader } from '../../core/repository/repository-port.ts';
import type { ProgressReporter } from '../../core/progress.ts';
import { leftOutError, restoreFiles } from '../../ops/restore-files.ts';
import { openFilesSnapshot } from '../../ops/snapshot-file-tree.ts';
import type { CliContext } from './context.ts';

/** Restores a files snapshot into the folder `args.target` (made when missing). */
export async function restoreFilesSnapshot(context: CliContext, args: { target: string; json: boolean; 'dry-run': boolean }, repository: RepositoryReader, snapshot: { id: string; manifest: SnapshotManifest }, reporter: ProgressReporter & { finish(): void; event(name: string, fields: Record<string, unknown>): void }, signal?: AbortSignal): Promise<void> {
  const { id, manifest } = snapshot;
  const line = `Snapshot ${id.slice(0, 8)}: files backup of ${manifest.files?.roots.join(', ') ?? '?'} (${manifest.files?.entries ?? 0} entries, ${formatBytes(manifest.stats.logicalBytes)}), ${manifest.time}; into the folder ${args.target}.`;
  if (args.json) reporter.event('plan', { snapshot: id, kind: 'files', destination: args.target });
  else context.stdout.write(`${line}\n`);
  if (args['dry-run']) {
    if (!args.json) context.stdout.write('Dry run: nothing was written.\n');
    return;
  }
  const destination = await context.browse.prepareDestination(args.target);
  const result = await restoreFiles({ tree: openFilesSnapshot(repository, manifest), paths: ['/'], destination, existing: 'refuse', writer: context.browse.fileWriter, reporter, ...(signal ? { signal } : {}) });
  reporter.finish();
  if (args.json) reporter.event('done', { snapshot: id, destination, ...result });
  else context.stdout.write(`Restored ${result.files} files (${formatBytes(result.bytes)}), ${result.folders} folders and ${result.links} links into ${destination}${result.remarks.length > 0 ? `; ${result.remarks.length} entries not restored (see above)` : ''}.\n`);
  const leftOut = leftOutError(result.remarks);
  if (leftOut) throw leftOut;
}
