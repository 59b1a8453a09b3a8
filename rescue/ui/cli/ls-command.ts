// `lifeboat ls [-r REPO] SOURCE [PATH] [-l] [--json]`: a folder (or one entry) of a partition, an
// image or a snapshot, read in place: nothing is restored first.

import type { CommandModule } from 'yargs';
import type { FileEntry, FileKind, FileTree } from '../../core/file-trees/file-tree.ts';
import { walkPath } from '../../core/file-trees/walk-path.ts';
import type { CliContext } from './context.ts';
import { withBrowseOptions, withFileTree, type BrowseArgs } from './browse-access.ts';
import { withExamples } from './command-examples.ts';

interface LsArgs extends BrowseArgs {
  /** The positional SOURCE (upper case: --source is the option that narrows latest). */
  SOURCE: string;
  path: string;
  long: boolean;
}

const KIND_LETTER: Record<FileKind, string> = {
  file: '-', directory: 'd', symlink: 'l', 'char-device': 'c', 'block-device': 'b', fifo: 'p', socket: 's', 'reparse-point': 'r', damaged: '?',
};

/** rwx letters of a mode, with setuid/setgid/sticky; FAT/NTFS entries without a mode get one from the DOS read-only bit. */
export function modeString(entry: FileEntry): string {
  const mode = entry.mode ?? (entry.kind === 'directory' ? 0o755 : (entry.dosAttributes ?? 0) & 0x01 ? 0o444 : 0o644);
  let text = KIND_LETTER[entry.kind];
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    const special = shift === 6 ? mode & 0o4000 : shift === 3 ? mode & 0o2000 : mode & 0o1000;
    const executeLetter = shift === 0 ? (special ? (bits & 1 ? 't' : 'T') : bits & 1 ? 'x' : '-') : special ? (bits & 1 ? 's' : 'S') : bits & 1 ? 'x' : '-';
    text += `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${executeLetter}`;
  }
  return text;
}

function isoTime(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

async function describeEntry(tree: FileTree, entry: FileEntry): Promise<Record<string, unknown>> {
  const target = entry.kind === 'symlink' ? await tree.readLink(entry).catch(() => null) : undefined;
  return {
    name: entry.name, kind: entry.kind, size: entry.size, mode: entry.mode ?? null, uid: entry.uid ?? null, gid: entry.gid ?? null,
    links: entry.links ?? null, mtime: isoTime(entry.mtimeMs), atime: isoTime(entry.atimeMs), ctime: isoTime(entry.ctimeMs), birthtime: isoTime(entry.birthtimeMs),
    ...(entry.dosAttributes === undefined ? {} : { dosAttributes: entry.dosAttributes }),
    ...(entry.device ? { device: entry.device } : {}),
    ...(entry.streams && entry.streams.length > 0 ? { streams: entry.streams } : {}),
    ...(target === undefined ? {} : { target }),
    ...(entry.damage ? { damage: entry.damage } : {}),
  };
}

function longLine(entry: FileEntry, target: string | undefined): string {
  const time = entry.mtimeMs === undefined ? '-'.padEnd(16) : new Date(entry.mtimeMs).toISOString().replace('T', ' ').slice(0, 16);
  const size = entry.device ? `${entry.device.major}, ${entry.device.minor}` : String(entry.size);
  const owner = `${entry.uid ?? '-'} ${entry.gid ?? '-'}`;
  return `${modeString(entry)} ${String(entry.links ?? 1).padStart(3)} ${owner.padEnd(11)} ${size.padStart(12)} ${time} ${entry.name}${target === undefined ? '' : ` -> ${target}`}`;
}

/** The ls command. */
export function lsCommand(context: CliContext): CommandModule<object, LsArgs> {
  return {
    command: 'ls <SOURCE> [path]',
    describe: 'List a folder of a partition, a disk image partition (DISK:N) or a snapshot (-r REPO SNAPSHOT[:N]) without restoring it',
    builder: (yargs) => withBrowseOptions(withExamples(yargs, 'ls'))
      .positional('SOURCE', { type: 'string', demandOption: true, describe: 'SNAPSHOT[:N] with -r; else a device, an image file, or DISK:N' })
      .positional('path', { type: 'string', default: '/', describe: 'The folder (or file) inside the filesystem' })
      .option('long', { alias: 'l', type: 'boolean', default: false, describe: 'Mode, links, owner, size and time for each entry' }) as never,
    handler: async (args) => {
      await withFileTree(context, args, args.SOURCE, 'ls', async (tree, label) => {
        const found = await walkPath(tree, args.path);
        const entries = found.entry.kind === 'directory' ? await tree.list(found.entry) : [found.entry];
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        if (args.json) {
          const described = [];
          for (const entry of entries) described.push(await describeEntry(tree, entry));
          context.stdout.write(`${JSON.stringify({ source: label, filesystem: tree.filesystem, path: found.path, entries: described }, null, 2)}\n`);
          return;
        }
        const lines: string[] = [];
        for (const entry of entries) {
          if (entry.damage) {
            lines.push(`${entry.name}  [damaged: ${entry.damage.code}: ${entry.damage.message}]`);
            continue;
          }
          if (!args.long) {
            lines.push(`${entry.name}${entry.kind === 'directory' ? '/' : ''}`);
            continue;
          }
          const target = entry.kind === 'symlink' ? await tree.readLink(entry).catch(() => '?') : undefined;
          lines.push(longLine(entry, target));
        }
        context.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
      });
    },
  };
}
