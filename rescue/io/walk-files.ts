// The file system side of `backup files`: lists folders with lstat (links are never followed),
// applies the exclusions (.gitignore semantics through `ignore`, relative to each backed-up root),
// stays on one file system on request (st_dev), and reads extended attributes with getfattr.
// An entry that cannot be read is a notice; the walk goes on.
//
// Speed (measured on /usr/share/doc, 5,500 entries): folders are listed and small files read with
// synchronous calls (a cached lstat is ~3 µs; the promise API cost ~50 µs of main-thread time per
// call, and a backup is bound by that thread). Node has no llistxattr: extended attributes are read
// by getfattr, requested lazily (only for the entries whose metadata changed since the parent
// snapshot) and gathered across folders into one process per ~1,000 paths (one per folder had
// cost 0.7 s of process starts).

import type { ChildProcessByStdio } from 'node:child_process';
import ignore, { type Ignore } from 'ignore';
import { closeSync, constants, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { lstat, open, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import { DEFAULT_EXCLUDES, SYSTEM_ROOT_EXCLUDES, type FileSystemWalker, type FileWalkOptions, type LocalEntry, type LocalFile, type LocalRoot, type LocalXattr, type XattrReading } from '../core/repository/files-backup-port.ts';
import type { StoredKind } from '../core/repository/files-tree-blobs.ts';
import { execFileProgram, locateProgram, missingProgramError, spawnProgram } from './run-program.ts';

/** Paths per getfattr call at most, and bytes of paths (keeps the command line far below ARG_MAX). */
const XATTR_PATHS_PER_CALL = 1024;
const XATTR_PATH_BYTES_PER_CALL = 256 * 1024;
/** How long xattr requests are gathered before a getfattr starts with fewer paths. */
const XATTR_GATHER_MS = 20;
/** getfattr output of one call at most. */
const XATTR_OUTPUT_MAX_BYTES = 1024 * 1024 * 1024;

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

/** What one getfattr run over a batch of paths left: what it printed, its exit status (xargs's in the loop), its error lines. */
interface GetfattrRun {
  readonly output: Buffer;
  readonly status: number | undefined;
  readonly errors: string;
}

/** Runs one getfattr over `paths` (when the shell loop below cannot start). */
function runGetfattr(paths: readonly string[]): Promise<GetfattrRun> {
  return new Promise((resolve) => {
    execFileProgram(PROGRAMS.getfattr, ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', ...paths], { encoding: 'buffer', maxBuffer: XATTR_OUTPUT_MAX_BYTES }, (error, stdout, stderr) => {
      const code = (error as { code?: unknown } | null)?.code;
      resolve({ output: stdout, status: error === null ? 0 : typeof code === 'number' ? code : 127, errors: code === 'ENOENT' ? (error as Error).message : stderr.toString('utf8') });
    });
  });
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

function parseGetfattr(output: Buffer, found: Map<string, LocalXattr[]>): void {
  let current: LocalXattr[] | undefined;
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

/**
 * A long-lived shell that, for each line it reads (the name of a file of NUL-separated paths), runs
 * getfattr over those paths through xargs, then prints a NUL, xargs's exit status and a NUL
 * (getfattr's own output never holds one: names are escaped, values hex); getfattr's complaints go
 * into the file's .err beside it. The shell forks cheaply; forking this process (hundreds of MiB
 * mapped) cost ~4 ms per getfattr. Paths go over as bytes, so names that are not UTF-8 are read
 * too. (The paths are not piped to the shell: `read` takes a pipe one byte per system call; they go
 * through files in the temporary folder, $LIFEBOAT_TMPDIR or the system's, removed as they are used.)
 */
const GETFATTR_LOOP = `while IFS= read -r f; do xargs -0 -r getfattr -h -d -m - -e hex --absolute-names -- < "$f" 2>"$f.err"; printf '\\000%d\\000' "$?"; done`;

interface GetfattrRunner {
  run(paths: readonly Buffer[]): Promise<GetfattrRun>;
}

/** The shell loop above, or undefined when it cannot be started. */
function startGetfattrLoop(): GetfattrRunner | undefined {
  let child: ChildProcessByStdio<Writable, Readable, null>;
  let folder: string;
  try {
    folder = mkdtempSync(path.join(process.env.LIFEBOAT_TMPDIR ?? os.tmpdir(), 'lifeboat-xattrs-'));
    child = spawnProgram(PROGRAMS.sh, ['-c', GETFATTR_LOOP], { stdio: ['pipe', 'pipe', 'ignore'] }) as ChildProcessByStdio<Writable, Readable, null>;
  } catch {
    return undefined;
  }
  process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  const waiting: Array<{ file: string; resolve: (run: GetfattrRun) => void }> = [];
  // Tokens between NULs: a run's output, then its status.
  let received: Buffer[] = [];
  let output: Buffer | undefined;
  let ended: string | undefined;
  let next = 0;
  const handles = [child, child.stdin, child.stdout] as unknown as Array<{ ref?: () => void; unref?: () => void }>;
  // Idle, the helper must not keep the process alive (it ends with it: its input closes).
  const idle = () => handles.forEach((handle) => handle.unref?.());
  const busy = () => handles.forEach((handle) => handle.ref?.());
  const finish = (item: { file: string; resolve: (run: GetfattrRun) => void } | undefined, run: GetfattrRun) => {
    if (!item) return;
    let errors = run.errors;
    try {
      errors ||= readFileSync(`${item.file}.err`, 'utf8');
    } catch {
      // no error file: nothing was said
    }
    rmSync(item.file, { force: true });
    rmSync(`${item.file}.err`, { force: true });
    item.resolve({ ...run, errors });
  };
  const failAll = (why: string) => {
    ended ??= why;
    for (const item of waiting.splice(0)) finish(item, { output: Buffer.alloc(0), status: undefined, errors: `the getfattr helper (sh) ended: ${ended}` });
    idle();
  };
  child.on('error', (error) => failAll(error.message));
  child.on('exit', (code, signal) => failAll(signal ? `killed by ${signal}` : `exit status ${code}`));
  child.stdin.on('error', (error) => failAll(error.message));
  child.stdout.on('data', (data: Buffer) => {
    let start = 0;
    for (let end = data.indexOf(0); end >= 0; end = data.indexOf(0, start)) {
      received.push(data.subarray(start, end));
      const token = Buffer.concat(received);
      received = [];
      if (output === undefined) {
        output = token;
      } else {
        finish(waiting.shift(), { output, status: Number(token.toString('latin1')), errors: '' });
        output = undefined;
      }
      start = end + 1;
    }
    if (start < data.length) received.push(data.subarray(start));
    if (waiting.length === 0) idle();
  });
  idle();
  return {
    run: (paths) => new Promise((resolve) => {
      if (ended !== undefined) return resolve({ output: Buffer.alloc(0), status: undefined, errors: `the getfattr helper (sh) ended: ${ended}` });
      const file = path.join(folder, String(next++));
      const request: Buffer[] = [];
      for (const item of paths) request.push(item, NUL);
      try {
        writeFileSync(file, Buffer.concat(request));
      } catch (error) {
        return resolve({ output: Buffer.alloc(0), status: undefined, errors: `the list of paths for getfattr cannot be written (${errorText(error)})` });
      }
      waiting.push({ file, resolve });
      busy();
      child.stdin.write(`${file}\n`);
    }),
  };
}

const NUL = Buffer.alloc(1);

/**
 * Turns one run over `paths` into each path's reading. getfattr says "getfattr: PATH: REASON" for a
 * file it cannot list and "PATH: NAME: REASON" for an attribute it cannot read; a path gone since it
 * was listed is not a problem of its attributes. Complaints that name no path, and a status of 126
 * or 127 (xargs: getfattr could not be run), concern every path.
 */
function readingsOf(paths: readonly Buffer[], run: GetfattrRun): XattrReading[] {
  const found = new Map<string, LocalXattr[]>();
  parseGetfattr(run.output, found);
  const problems = new Map<string, string>();
  const general: string[] = [];
  const byLength = paths.map((item) => item.toString('utf8')).sort((a, b) => b.length - a.length);
  for (const line of run.errors.split('\n').map((text) => text.trim()).filter(Boolean)) {
    const text = line.startsWith('getfattr: ') ? line.slice('getfattr: '.length) : line;
    const named = byLength.find((candidate) => text.startsWith(`${candidate}: `));
    if (named === undefined) {
      general.push(line);
      continue;
    }
    const reason = text.slice(named.length + 2);
    if (line.startsWith('getfattr: ') && /No such file or directory$/.test(reason)) continue;
    if (!problems.has(named)) problems.set(named, reason);
  }
  const everywhere = run.status === undefined || run.status === 126 || run.status === 127 || (run.status !== 0 && problems.size === 0 && general.length > 0)
    ? (general.join('; ') || `getfattr could not be run (exit status ${run.status ?? 'unknown'})`)
    : undefined;
  return paths.map((item) => {
    const xattrs = found.get(item.toString('latin1')) ?? [];
    if (everywhere !== undefined) return { xattrs, problem: { reason: everywhere, everywhere: true } };
    const reason = problems.get(item.toString('utf8'));
    return reason === undefined ? { xattrs } : { xattrs, problem: { reason, everywhere: false } };
  });
}

/** Gathers xattr requests of many entries into few getfattr runs. */
function createXattrReader(): (path: Buffer) => Promise<XattrReading> {
  let loop: GetfattrRunner | undefined | 'none';
  // getfattr not on PATH: every entry's attributes are lost, for that one reason.
  const missing = locateProgram(PROGRAMS.getfattr) === undefined ? missingProgramError(PROGRAMS.getfattr).message : undefined;
  let pending: Array<{ path: Buffer; resolve: (reading: XattrReading) => void }> = [];
  let pendingBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    const batch = pending;
    pending = [];
    pendingBytes = 0;
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;
    const done = (paths: readonly Buffer[], result: GetfattrRun) => {
      const readings = readingsOf(paths, result);
      const byPath = new Map(paths.map((item, index) => [item.toString('latin1'), readings[index]!]));
      for (const item of batch) item.resolve(byPath.get(item.path.toString('latin1')) ?? { xattrs: [], problem: { reason: 'its name is not UTF-8, and getfattr runs without sh here', everywhere: false } });
    };
    if (missing !== undefined) {
      for (const item of batch) item.resolve({ xattrs: [], problem: { reason: missing, everywhere: true } });
      return;
    }
    loop ??= startGetfattrLoop() ?? 'none';
    if (loop !== 'none') {
      const paths = batch.map((item) => item.path);
      void loop.run(paths).then((result) => done(paths, result));
      return;
    }
    // No shell: one getfattr per batch; names that are not UTF-8 cannot be passed intact, their attributes are not read.
    const usable = batch.filter((item) => Buffer.from(item.path.toString('utf8')).equals(item.path)).map((item) => item.path);
    void runGetfattr(usable.map((item) => item.toString('utf8'))).then((result) => done(usable, result));
  };
  return (path) => new Promise((resolve) => {
    pending.push({ path, resolve });
    pendingBytes += path.length + 1;
    if (pending.length >= XATTR_PATHS_PER_CALL || pendingBytes >= XATTR_PATH_BYTES_PER_CALL) run();
    else timer ??= setTimeout(run, XATTR_GATHER_MS);
  });
}

/** Opens a file for reading without following a link, keeping its access time where allowed. */
function openForReading(path: Buffer): number {
  // O_NOATIME is allowed for the file's owner and root only.
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOATIME);
  } catch {
    return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
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
  const readXattrs = createXattrReader();

  const statEntry = (path: Buffer, name: Uint8Array): LocalEntry => {
    const info = lstatSync(path, { bigint: true });
    const mode = Number(info.mode);
    const kind = kindOf(mode);
    if (!kind) throw new LifeboatError('LB_INPUT_USAGE', { detail: `unknown file type ${mode.toString(8)}` });
    return {
      name, shownPath: path.toString('utf8'), kind, mode,
      uid: Number(info.uid), gid: Number(info.gid), size: kind === 'file' ? Number(info.size) : 0, links: Number(info.nlink),
      device: info.dev.toString(), inode: info.ino.toString(),
      mtimeNs: info.mtimeNs, atimeNs: info.atimeNs, ctimeNs: info.ctimeNs,
      ...(kind === 'char-device' || kind === 'block-device' ? { rdev: deviceNumbers(info.rdev) } : {}),
      ...(kind === 'symlink' ? { target: new Uint8Array(readlinkSync(path, { encoding: 'buffer' })) } : {}),
    };
  };
  const locate = (entry: LocalEntry): Located => {
    const where = located.get(entry);
    if (!where) throw new LifeboatError('LB_INTERNAL', { detail: 'An entry used that the walker did not return.' });
    return where;
  };

  return {
    statFolder: async (path) => {
      const bytes = Buffer.from(path);
      const entry = statEntry(bytes, Buffer.from(path.split('/').pop() ?? ''));
      if (entry.kind !== 'directory') throw new LifeboatError('LB_INPUT_USAGE', { detail: `${path} is not a folder.` });
      located.set(entry, { path: bytes, relative: '' });
      return entry;
    },
    openRoot: async (rootPath): Promise<LocalRoot> => {
      const rootBytes = Buffer.from(rootPath);
      let rootEntry: LocalEntry;
      try {
        rootEntry = statEntry(rootBytes, Buffer.from(rootPath === '/' ? '/' : (rootPath.split('/').pop() ?? '')));
      } catch (error) {
        throw new LifeboatError('LB_INPUT_PATH_NOT_FOUND', { detail: `${rootPath} cannot be read (${errorText(error)}).`, path: rootPath }, { cause: error });
      }
      located.set(rootEntry, { path: rootBytes, relative: '' });
      const isSystemRoot = rootPath === '/' || ((await lstat(`${rootPath}/etc`).catch(() => undefined))?.isDirectory() === true && (await lstat(`${rootPath}/usr`).catch(() => undefined))?.isDirectory() === true);
      const builtIn: Ignore = ignore({ ignorecase: true }).add(options.defaultExcludes ? [...DEFAULT_EXCLUDES] : []);
      const systemRules: Ignore = ignore({ ignorecase: false }).add(options.defaultExcludes && isSystemRoot ? [...SYSTEM_ROOT_EXCLUDES] : []);
      const user: Ignore = ignore({ ignorecase: false }).add(userPatterns);
      // Rule sets without patterns are not asked (each ask costs ~15 µs of path checks).
      // The built-in names (no wildcard, no inner slash) are matched as lower-case names, without
      // `ignore`'s path checks; anything else goes through `ignore`.
      const plainNames = DEFAULT_EXCLUDES.every((pattern) => /^[^*?[\]/\\!#]+\/?$/.test(pattern));
      const namesAnyKind = new Set(DEFAULT_EXCLUDES.filter((pattern) => !pattern.endsWith('/')).map((pattern) => pattern.toLowerCase()));
      const namesOfFolders = new Set(DEFAULT_EXCLUDES.filter((pattern) => pattern.endsWith('/')).map((pattern) => pattern.slice(0, -1).toLowerCase()));
      const builtInNames = {
        ignores: (key: string) => {
          const folder = key.endsWith('/');
          const name = (folder ? key.slice(0, -1) : key).split('/').pop()!.toLowerCase();
          return namesAnyKind.has(name) || (folder && namesOfFolders.has(name));
        },
      };
      const ruleSets: Array<{ ignores(key: string): boolean }> = [
        ...(options.defaultExcludes ? [plainNames ? builtInNames : builtIn] : []),
        ...(options.defaultExcludes && isSystemRoot ? [systemRules] : []),
        ...(userPatterns.some((pattern) => pattern.trim() !== '' && !pattern.startsWith('#')) ? [user] : []),
      ];
      const excluded = (relative: string, isFolder: boolean) => {
        const key = isFolder ? `${relative}/` : relative;
        try {
          return ruleSets.some((rules) => rules.ignores(key));
        } catch {
          return false; // a name `ignore` cannot take as a path (e.g. starting with "../"): kept
        }
      };
      return {
        entry: rootEntry,
        list: async (folder) => {
          const where = locate(folder);
          const notices: string[] = [];
          let names: Buffer[];
          try {
            names = readdirSync(where.path, { encoding: 'buffer' });
          } catch (error) {
            return { entries: [], notices: [`${folder.shownPath}: the folder cannot be read (${errorText(error)}); kept empty`] };
          }
          const entries: LocalEntry[] = [];
          for (const name of names) {
            const path = joinPath(where.path, name);
            const relative = where.relative === '' ? name.toString('utf8') : `${where.relative}/${name.toString('utf8')}`;
            let entry: LocalEntry;
            try {
              entry = statEntry(path, new Uint8Array(name));
            } catch (error) {
              notices.push(`${path.toString('utf8')}: cannot be read (${errorText(error)}); left out`);
              continue;
            }
            if (excluded(relative, entry.kind === 'directory')) continue;
            if (entry.kind === 'file' && options.excludeLargerThan !== undefined && entry.size > options.excludeLargerThan) continue;
            const other = entry.kind === 'directory' && options.oneFileSystem && entry.device !== rootEntry.device;
            const kept = other ? { ...entry, otherFileSystem: true } : entry;
            located.set(kept, { path, relative });
            entries.push(kept);
          }
          return { entries, notices };
        },
      };
    },
    openFile: async (entry): Promise<LocalFile> => {
      const where = locate(entry);
      // O_NOATIME keeps the files' access times as they were (allowed for their owner and root).
      const handle = await open(where.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NOATIME).catch(() => open(where.path, constants.O_RDONLY | constants.O_NOFOLLOW));
      return {
        read: async (target, position) => (await handle.read(target, 0, target.length, position)).bytesRead,
        close: async () => handle.close(),
      };
    },
    readSmallFile: (entry, target) => {
      const fd = openForReading(locate(entry).path);
      try {
        let filled = 0;
        for (let read = -1; filled < target.length && read !== 0; filled += read) read = readSync(fd, target, filled, target.length - filled, filled);
        return filled;
      } finally {
        closeSync(fd);
      }
    },
    readXattrs: (entry) => readXattrs(locate(entry).path),
  };
}
