// `lifeboat snapshots -r REPO`: what the repository holds.

import type { CommandModule } from 'yargs';
import { formatBytes } from '../../core/disk-facts.ts';
import type { StoredSnapshot } from '../../core/repository/repository-port.ts';
import type { CliContext } from './context.ts';
import { formatTable } from './format-table.ts';
import { withRepository, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { withExamples } from './command-examples.ts';

/** The listing form of a snapshot (JSON output). */
export function describeSnapshot({ id, manifest }: StoredSnapshot): Record<string, unknown> {
  return {
    id, shortId: id.slice(0, 8), time: manifest.time, kind: manifest.kind, host: manifest.host,
    source: { path: manifest.source.path, model: manifest.source.model, serial: manifest.source.serial, sizeBytes: manifest.source.sizeBytes, logicalSectorSize: manifest.source.logicalSectorSize },
    tags: manifest.tags, note: manifest.note, logicalBytes: manifest.stats.logicalBytes, storedBytes: manifest.stats.newBytes,
    partitions: manifest.volumes.map((volume) => ({ number: volume.partition ?? null, filesystem: volume.filesystem?.type ?? null, label: volume.filesystem?.label ?? null, sizeBytes: volume.content.sizeBytes, usedBytes: volume.content.usedBytes, method: volume.method })),
    lifeboatVersion: manifest.lifeboatVersion,
  };
}

/** The snapshots command. */
export function snapshotsCommand(context: CliContext): CommandModule<object, RepositoryArgs> {
  return {
    command: 'snapshots',
    describe: 'List the snapshots in a repository',
    builder: (yargs) => withRepositoryOptions(withExamples(yargs, 'snapshots')) as never,
    handler: async (args) => {
      await withRepository(context, args, { exclusive: false, command: 'snapshots', tolerant: true }, async (repository) => {
        const { snapshots, problems } = await repository.scanSnapshots();
        snapshots.sort((a, b) => Date.parse(a.manifest.time) - Date.parse(b.manifest.time));
        for (const problem of problems) context.stderr.write(`warning: ${problem.message}\n`);
        if (args.json) {
          context.stdout.write(`${JSON.stringify(snapshots.map(describeSnapshot), null, 2)}\n`);
          return;
        }
        context.stdout.write(`${formatTable(snapshots, [
          { heading: 'ID', cell: (s) => s.id.slice(0, 8) },
          { heading: 'TIME', cell: (s) => s.manifest.time.replace('T', ' ').slice(0, 19) },
          { heading: 'KIND', cell: (s) => s.manifest.kind },
          { heading: 'SOURCE', cell: (s) => `${s.manifest.source.model}${s.manifest.source.serial ? ` ${s.manifest.source.serial}` : ''} (${s.manifest.source.path})` },
          { heading: 'SIZE', cell: (s) => formatBytes(s.manifest.source.sizeBytes), alignRight: true },
          { heading: 'DATA', cell: (s) => formatBytes(s.manifest.stats.logicalBytes), alignRight: true },
          { heading: 'ADDED', cell: (s) => formatBytes(s.manifest.stats.newBytes), alignRight: true },
          { heading: 'TAGS', cell: (s) => s.manifest.tags.join(',') || '-' },
          { heading: 'NOTE', cell: (s) => s.manifest.note || '-' },
        ])}\n`);
      });
    },
  };
}
