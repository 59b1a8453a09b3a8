// The file system side of `backup files`: lists folders with lstat (links are never followed),
// applies the exclusions (.gitignore semantics through `ignore`, relative to each backed-up root),
// stays on one file system on request (st_dev), and reads extended attributes with getfattr, one
// process per folder. An entry that cannot be read is a notice; the walk goes on.

import { execa } from 'execa';
import ignore, { type Ignore } from 'ignore';
import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, readlink } from 'node:fs/promises';
import { LifeboatError } from '../core/errors.ts';
import { DEFAULT_EXCLUDES, SYSTEM_ROOT_EXCLUDES, type FileSystemWalker, type FileWalkOptions, type LocalEntry, type LocalFile, type LocalRoot } from '../core/repository/files-backup-port.ts';
import type { StoredKind } from '../core/repository/files-tree-blobs.ts';

/** lstat calls in flight per folder. */
const STATS_AT_ONCE = 32;
/** Paths per getfattr call (keeps the command line short). */
const XATTR_PATHS_PER_CALL = 256;
/** How long xattr requests of folders listed at the same time are gathered into one getfattr. */
const XATTR_GATHER_MS = 5;

interface Located {
  readonly path: Buffer;
  /** Relative to the root, '/'-separated, '' for the root itself. */
  readonly relative: string;
}

function kindOf(mode: number): StoredKind | undefined {
  switch (mode & 0o170000) {
    case 0o100000: return 'file';
    case 0o040000: return 'directory';
    case 0o120000: return 'symlink';
    case 0o010000: return 'fifo';
    case 0o140000: return 'socket';
    case 0o020000: return 'char-device';
    case 0o060000: return 'block-device';
    default: return undefined;
  }
}

function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function joinPath(folder: Buffer, name: Uint8Array): Buffer {
  return folder.length === 1 && folder[0] === 0x2f ? Buffer.concat([folder, name]) : Buffer.concat([folder, Buffer.from('/'), name]);
}

function errorText(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return code ?? message ?? String(error);
}

/** The extended attributes of `paths` (all in one folder), one getfattr per XATTR_PATHS_PER_CALL. */
async function readXattrs(paths: readonly Buffer[], state: { missing: boolean }): Promise<Map<string, Array<{ name: string; value: Uint8Array }>>> {
  const found = new Map<string, Array<{ name: string; value: Uint8Array }>>();
  // Names that are not UTF-8 cannot be passed on a command line intact: their attributes are not read.
  const usable = paths.filter((path) => Buffer.from(path.toString('utf8')).equals(path));
  for (let start = 0; start < usable.length && !state.missing; start += XATTR_PATHS_PER_CALL) {
    const batch = usable.slice(start, start + XATTR_PATHS_PER_CALL).map((path) => path.toString('utf8'));
    const result = await execa('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', ...batch], { reject: false, encoding: 'buffer', stripFinalNewline: false });
    if ((result as { code?: string }).code === 'ENOENT') {
      state.missing = true;
      break;
    }
    parseGetfattr(Buffer.from(result.stdout as Uint8Array), found);
  }
  return found;
}

/** Undoes getfattr's octal escapes (\ooo) in a file name. */
function unescapeName(text: Buffer): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === 0x5c && i + 3 < text.length + 0 && /^[0-7]{3}$/.test(text.toString('latin1', i + 1, i + 4))) {
      bytes.push(Number.parseInt(text.toString('latin1', i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(text[i]!);
    }
  }
  return Buffer.from(bytes);
}

function parseGetfattr(output: Buffer, found: Map<string, Array<{ name: string; value: Uint8Array }>>): void {
  let current: Array<{ name: string; value: Uint8Array }> | undefined;
  let start = 0;
  while (start < output.length) {
    let end = output.indexOf(0x0a, start);
    if (end < 0) end = output.length;
    const line = output.subarray(start, end);
    start = end + 1;
    if (line.subarray(0, 8).toString('latin1') === '# file: ') {
      current = [];
      found.set(unescapeName(line.subarray(8)).toString('latin1'), current);
      continue;
    }
    if (!current || line.length === 0) continue;
    const text = line.toString('utf8');
    const equals = text.indexOf('=');
    const name = equals < 0 ? text : text.slice(0, equals);
    const raw = equals < 0 ? '' : text.slice(equals + 1);
    let value: Uint8Array;
    if (raw.startsWith('0x')) value = Buffer.from(raw.slice(2), 'hex');
    else if (raw.startsWith('0s')) value = Buffer.from(raw.slice(2), 'base64');
    else value = Buffer.from(raw.replace(/^"|"$/g, ''), 'utf8');
    current.push({ name, value: new Uint8Array(value) });
  }
}

/** A walker over the local file system. */
export async function createFileWalker(options: FileWalkOptions): Promise<FileSystemWalker> {
  const userPatterns = [...options.excludes];
  if (options.excludeFile !== undefined) {
    const text = await readFile(options.excludeFile, 'utf8').catch((error: unknown) => {
      throw new LifeboatError('LB_INPUT_USAGE', { detail: `The exclude file ${options.excludeFile} cannot be read (${errorText(error)}).`, path: options.excludeFile }, { cause: error });
    });
    userPatterns.push(...text.split(/\r?\n/));
  }
  const located = new WeakMap<LocalEntry, Located>();
  const xattrState = { missing: false };

  const statEntry = async (path: Buffer, name: Uint8Array, xattrs: Array<{ name: string; value: Uint8Array }>): Promise<LocalEntry> => {
    const info = await lstat(path, { bigint: true });
    const mode = Number(info.mode);
    const kind = kindOf(mode);
    if (!kind) throw new LifeboatError('LB_INPUT_USAGE', { detail: `unknown file type ${mode.toString(8)}` });
    const entry: LocalEntry = {
      name, shownPath: path.toString('utf8'), kind, mode,
      uid: Number(info.uid), gid: Number(info.gid), size: kind === 'file' ? Number(info.size) : 0, links: Number(info.nlink),
      device: info.dev.toString(), inode: info.ino.toString(),
      mtimeNs: info.mtimeNs, atimeNs: info.atimeNs, ctimeNs: info.ctimeNs,
      ...(kind === 'char-device' || kind === 'block-device' ? { rdev: deviceNumbers(info.rdev) } : {}),
      ...(kind === 'symlink' ? { target: new Uint8Array(await readlink(path, { encoding: 'buffer' })) } : {}),
      xattrs,
    };
    return entry;
  };

  // Folders listed at the same time share getfattr processes: requests are gathered for a few
  // milliseconds (or up to XATTR_PATHS_PER_CALL paths), so a tree of small folders does not cost
  // one process start per folder.
  let pending: Array<{ paths: Buffer[]; resolve: (found: Map<string, Array<{ name: string; value: Uint8Array }>>) => void; reject: (error: unknown) => void }> = [];
  let timer: NodeJS.Timeout | undefined;
  const runPending = () => {
    const batch = pending;
    pending = [];
    if (timer) clearTimeout(timer);
    timer = undefined;
    readXattrs(batch.flatMap((item) => item.paths), xattrState).then((found) => batch.forEach((item) => item.resolve(found)), (error: unknown) => batch.forEach((item) => item.reject(error)));
  };
  const withXattrs = async (entries: Array<{ path: Buffer; name: Uint8Array }>) => {
    const xattrs = await new Promise<Map<string, Array<{ name: string; value: Uint8Array }>>>((resolve, reject) => {
      pending.push({ paths: entries.map((entry) => entry.path), resolve, reject });
      if (pending.reduce((sum, item) => sum + item.paths.length, 0) >= XATTR_PATHS_PER_CALL) runPending();
      else timer ??= setTimeout(runPending, XATTR_GATHER_MS);
    });
    return (path: Buffer) => xattrs.get(path.toString('latin1')) ?? [];
  };

  return {
    statFolder: async (path) => {
      const bytes = Buffer.from(path);
      const lookup = await withXattrs([{ path: bytes, name: bytes }]);
      const entry = await statEntry(bytes, Buffer.from(path.split('/').pop() ?? ''), lookup(bytes));
      if (entry.kind !== 'directory') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${path} is not a folder.` });
      return entry;
    },
    openRoot: async (rootPath): Promise<LocalRoot> => {
      const rootBytes = Buffer.from(rootPath);
      const lookup = await withXattrs([{ path: rootBytes, name: rootBytes }]);
      const rootEntry = await statEntry(rootBytes, Buffer.from(rootPath === '/' ? '/' : (rootPath.split('/').pop() ?? '')), lookup(rootBytes)).catch((error: unknown) => {
        throw new LifeboatError('LB_INPUT_PATH_NOT_FOUND', { detail: `${rootPath} cannot be read (${errorText(error)}).`, path: rootPath }, { cause: error });
      });
      located.set(rootEntry, { path: rootBytes, relative: '' });
      const isSystemRoot = rootPath === '/' || ((await lstat(`${rootPath}/etc`).catch(() => undefined))?.isDirectory() === true && (await lstat(`${rootPath}/usr`).catch(() => undefined))?.isDirectory() === true);
      const builtIn: Ignore = ignore({ ignorecase: true }).add(options.defaultExcludes ? [...DEFAULT_EXCLUDES] : []);
      const systemRules: Ignore = ignore({ ignorecase: false }).add(options.defaultExcludes && isSystemRoot ? [...SYSTEM_ROOT_EXCLUDES] : []);
      const user: Ignore = ignore({ ignorecase: false }).add(userPatterns);
      const excluded = (relative: string, isFolder: boolean) => {
        const key = isFolder ? `${relative}/` : relative;
        try {
          return builtIn.ignores(key) || systemRules.ignores(key) || user.ignores(key);
        } catch {
          return false; // a name `ignore` cannot take as a path (e.g. starting with "../"): kept
        }
      };
      return {
        entry: rootEntry,
        list: async (folder) => {
          const where = located.get(folder);
          if (!where) throw new LifeboatError('LB_INTERNAL', { detail: 'A folder listed that the walker did not return.' });
          const notices: string[] = [];
          let names: Buffer[];
          try {
            names = await readdir(where.path, { encoding: 'buffer' });
          } catch (error) {
            return { entries: [], notices: [`${folder.shownPath}: the folder cannot be read (${errorText(error)}); kept empty`] };
          }
          const children = names.map((name) => ({ name: new Uint8Array(name), path: joinPath(where.path, name), relative: where.relative === '' ? name.toString('utf8') : `${where.relative}/${name.toString('utf8')}` }));
          const lookup = await withXattrs(children);
          const entries: LocalEntry[] = [];
          for (let start = 0; start < children.length; start += STATS_AT_ONCE) {
            const batch = children.slice(start, start + STATS_AT_ONCE);
            const stated = await Promise.all(batch.map(async (child) => {
              try {
                return await statEntry(child.path, child.name, lookup(child.path));
              } catch (error) {
                notices.push(`${child.path.toString('utf8')}: cannot be read (${errorText(error)}); left out`);
                return undefined;
              }
            }));
            stated.forEach((entry, index) => {
              const child = batch[index]!;
              if (!entry || excluded(child.relative, entry.kind === 'directory')) return;
              if (entry.kind === 'file' && options.excludeLargerThan !== undefined && entry.size > options.excludeLargerThan) return;
              const other = entry.kind === 'directory' && options.oneFileSystem && entry.device !== rootEntry.device;
              const kept = other ? { ...entry, otherFileSystem: true } : entry;
              located.set(kept, { path: child.path, relative: child.relative });
              entries.push(kept);
            });
          }
          return { entries, notices };
        },
      };
    },
    openFile: async (entry): Promise<LocalFile> => {
      const where = located.get(entry);
      if (!where) throw new LifeboatError('LB_INTERNAL', { detail: 'A file opened that the walker did not return.' });
      // O_NOATIME keeps the files' access times as they were (allowed for their owner and root).
      const handle = await open(where.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOATIME).catch(() => open(where.path, constants.O_RDONLY | constants.O_NOFOLLOW));
      return {
        read: async (target, position) => (await handle.read(target, 0, target.length, position)).bytesRead,
        close: async () => handle.close(),
      };
    },
  };
}
