// The file system side of `get` (ops/restore-files.ts): files are created exclusively and never
// through a symlink (O_EXCL | O_NOFOLLOW), metadata is applied without following links, device
// nodes and fifos are made with mknod, extended attributes with setfattr (Debian's attr) when it
// is there.

import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import type { FileEntry } from '../core/file-trees/file-tree.ts';
import type { FileWriter } from '../core/file-trees/file-writer-port.ts';

/** The program runner (execa), loaded only for a restore that needs setfattr or mknod. */
const programs = () => import('./run-program.ts');

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Errors by which a destination refuses one entry (its name, kind or size) and may take the others. */
const REFUSES_ENTRY = new Set(['ENAMETOOLONG', 'EILSEQ', 'EINVAL', 'ENOENT', 'ENOSYS', 'EOPNOTSUPP', 'ENOTSUP', 'EMLINK', 'EFBIG']);

/**
 * A failed write at `target` as a coded error: one the destination's filesystem raises for this
 * entry only (a name FAT or exFAT forbids, a link it cannot hold, a file over FAT32's 4 GiB) is
 * LB_INPUT_DESTINATION_CANNOT_HOLD, and the restore goes on; a full, read-only, failing or
 * forbidden destination is LB_DEVICE_WRITE_FAILED, and the restore stops.
 */
function destinationError(error: unknown, target: string, doing: string, { linkLike = false } = {}): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const errno = (error as { code?: string }).code ?? 'unknown';
  const reason = (error as { message?: string }).message?.replace(/^\w+: /, '').replace(/, \w+ '.*$/, '') ?? errno;
  if (REFUSES_ENTRY.has(errno) || (linkLike && errno === 'EPERM')) {
    return new LifeboatError('LB_INPUT_DESTINATION_CANNOT_HOLD', { detail: `${doing} ${target} failed: ${reason} (${errno}).`, path: target, errno }, { cause: error });
  }
  const why = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'the destination is full' : errno === 'EROFS' ? 'the destination is mounted read-only'
    : errno === 'EACCES' || errno === 'EPERM' ? 'no permission to write there' : reason;
  return new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `${doing} ${target} failed: ${why} (${errno}).`, path: target, errno }, { cause: error });
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Sets the extended attributes with setfattr; the problems found (never throws). */
async function setExtendedAttributes(target: string, xattrs: ReadonlyArray<{ name: string; value: Uint8Array }>): Promise<string[]> {
  const problems: string[] = [];
  const { describeExit, runProgram, succeeded } = await programs();
  for (const { name, value } of xattrs) {
    const result = await runProgram(PROGRAMS.setfattr, ['-h', '-n', name, '-v', `0x${Buffer.from(value).toString('hex') || '00'}`, '--', target]).catch((error: LifeboatError) => error);
    if (result instanceof LifeboatError) problems.push(`extended attribute ${name} not restored: setfattr (Debian package attr) is missing`);
    else if (!succeeded(result)) problems.push(`extended attribute ${name} not restored: ${describeExit(result)}`);
  }
  return problems;
}

/** Makes the destination folder (and parents) when missing; anything there that is not a folder is refused. */
export async function prepareDestination(folder: string): Promise<string> {
  const resolved = path.resolve(folder);
  await mkdir(resolved, { recursive: true }).catch(() => undefined);
  const info = await stat(resolved).catch(() => undefined);
  if (!info?.isDirectory()) throw new LifeboatError('LB_INPUT_USAGE', { detail: `The destination ${folder} is not a folder and cannot be made one.`, path: folder });
  return resolved;
}

/** A FileWriter over the local file system. */
export function localFileWriter(): FileWriter {
  return {
    join: (folder, name) => path.join(folder, name),
    makeFolder: async (target) => {
      try {
        await mkdir(target, { mode: 0o700 });
        return true;
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw destinationError(error, target, 'Creating the folder');
        if ((await lstat(target)).isDirectory()) return false;
        throw new LifeboatError('LB_INPUT_DESTINATION_EXISTS', { detail: `${target} exists and is not a folder (never followed if it is a link).`, path: target });
      }
    },
    exists: async (target) => lstat(target).then(() => true, () => false),
    remove: async (target) => unlink(target).catch((error: unknown) => {
      throw destinationError(error, target, 'Replacing');
    }),
    createFile: async (target, size) => {
      const handle = await open(target, CREATE_FLAGS, 0o600).catch((error: unknown) => {
        throw destinationError(error, target, 'Creating the file');
      });
      try {
        await handle.truncate(size);
      } catch (error) {
        await handle.close();
        await unlink(target).catch(() => undefined);
        throw destinationError(error, target, 'Sizing the file');
      }
      return {
        write: async (offset, bytes) => {
          let done = 0;
          try {
            while (done < bytes.length) {
              const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done);
              done += bytesWritten;
            }
          } catch (error) {
            throw destinationError(error, target, 'Writing the file');
          }
        },
        close: async () => handle.close().catch((error: unknown) => {
          throw destinationError(error, target, 'Closing the file');
        }),
      };
    },
    symlink: async (target, at) => symlink(target, at).catch((error: unknown) => {
      throw destinationError(error, at, 'Creating the link', { linkLike: true });
    }),
    hardLink: async (existing, at) => link(existing, at).catch((error: unknown) => {
      throw destinationError(error, at, 'Creating the hard link', { linkLike: true });
    }),
    special: async (target, entry) => {
      const type = entry.kind === 'fifo' ? ['p'] : entry.kind === 'char-device' && entry.device ? ['c', String(entry.device.major), String(entry.device.minor)]
        : entry.kind === 'block-device' && entry.device ? ['b', String(entry.device.major), String(entry.device.minor)] : undefined;
      if (!type) return false;
      const { runProgram, succeeded } = await programs();
      const made = await runProgram(PROGRAMS.mknod, ['-m', '600', target, ...type]).catch(() => undefined);
      return made !== undefined && succeeded(made);
    },
    applyMetadata: async (target, entry: FileEntry, xattrs) => {
      const problems: string[] = [];
      const isLink = entry.kind === 'symlink';
      if (isRoot() && entry.uid !== undefined && entry.gid !== undefined) {
        await lchown(target, entry.uid, entry.gid).catch((error: unknown) => problems.push(`owner not restored: ${(error as Error).message}`));
      }
      if (!isLink && entry.mode !== undefined) {
        await chmod(target, entry.mode & 0o7777).catch((error: unknown) => problems.push(`permissions not restored: ${(error as Error).message}`));
      } else if (!isLink && entry.kind === 'file') {
        // No POSIX mode kept (FAT, exFAT, NTFS): readable files, read-only when the DOS attribute says so.
        await chmod(target, (entry.dosAttributes ?? 0) & 0x01 ? 0o444 : 0o644).catch(() => undefined);
      } else if (entry.kind === 'directory') {
        await chmod(target, 0o755).catch(() => undefined);
      }
      if (xattrs.length > 0) problems.push(...(await setExtendedAttributes(target, xattrs)));
      const mtime = entry.mtimeMs ?? entry.ctimeMs;
      if (mtime !== undefined) {
        const atime = entry.atimeMs ?? mtime;
        await lutimes(target, atime / 1000, mtime / 1000).catch((error: unknown) => problems.push(`times not restored: ${(error as Error).message}`));
      }
      return problems;
    },
  };
}
