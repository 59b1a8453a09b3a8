// Adds nofail to fstab lines inside a clone's copy (clone system's fstab-nofail step): debugfs dumps
// /etc/fstab of the ext2/3/4 root at its offset in the target (`PATH?offset=N`, no loop device or
// mount) into a private folder, byte for byte (its output on stdout loses the last newline),
// core/clone/fstab-nofail.ts changes the lines, and debugfs writes the file back in place of the
// old one (mode, owner and group as they were) and dumps it again to be sure. Only the target is
// written; the source is never opened here.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withNofail, type FstabNofailStep } from '../core/clone/fstab-nofail.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';

/** What to edit: the target's disk (file or device) and the step. */
export interface NofailRequest {
  readonly backingPath: string;
  /** Where the target's disk starts in backingPath (0 for a disk). */
  readonly backingOffset: number;
  readonly step: FstabNofailStep;
}

async function debugfs(request: NofailRequest, args: readonly string[], input?: string): Promise<string> {
  const device = `${request.backingPath}?offset=${request.backingOffset + request.step.offset}`;
  const result = await runProgram(PROGRAMS.debugfs, [...args, device], input === undefined ? {} : { input });
  // debugfs exits 0 when a request fails; it says so on stderr after its banner.
  const complaints = result.stderr.split('\n').filter((line) => line.trim() !== '' && !/^debugfs \d/.test(line));
  if (!succeeded(result) || complaints.length > 0) {
    throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `debugfs on partition ${request.step.partition} of the copy (/etc/fstab): ${complaints.join('; ') || describeExit(result)}`, program: 'debugfs', partition: request.step.partition, exitCode: result.exitCode });
  }
  return result.stdout;
}

/** The octal mode, owner and group debugfs's stat prints for a file. */
function ownership(stat: string, partition: number): { mode: string; uid: string; gid: string } {
  const mode = /Mode:\s+0?([0-7]{3,4})/.exec(stat)?.[1];
  const uid = /User:\s+(\d+)/.exec(stat)?.[1];
  const gid = /Group:\s+(\d+)/.exec(stat)?.[1];
  if (!/Type: regular/.test(stat) || !mode || !uid || !gid) throw new LifeboatError('LB_FILESYSTEM_UNSUPPORTED', { detail: `/etc/fstab of the copy's partition ${partition} is not a regular file Lifeboat can rewrite (debugfs stat: ${stat.split('\n')[0] ?? ''})` });
  return { mode, uid, gid };
}

/** Adds nofail to the step's lines of /etc/fstab in the copy; returns a notice of what changed. */
export async function addNofailInCopy(request: NofailRequest): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-fstab-'));
  try {
    const dump = async (name: string) => {
      await debugfs(request, ['-R', `dump /etc/fstab ${path.join(dir, name)}`]);
      return readFile(path.join(dir, name), 'utf8');
    };
    const { text, changed } = withNofail(await dump('before'), request.step.lines);
    if (changed === 0) return `partition ${request.step.partition}: /etc/fstab of the copy needed no change.`;
    const { mode, uid, gid } = ownership(await debugfs(request, ['-R', 'stat /etc/fstab']), request.step.partition);
    const file = path.join(dir, 'fstab');
    await writeFile(file, text);
    await debugfs(request, ['-w', '-f', '-'], [
      'rm /etc/fstab', `write ${file} /etc/fstab`, `sif /etc/fstab mode 0100${mode.padStart(4, '0').slice(-3)}`, `sif /etc/fstab uid ${uid}`, `sif /etc/fstab gid ${gid}`, '',
    ].join('\n'));
    return checked(request, text, changed, await dump('after'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The notice of a write that reads back as written; LB_DEVICE_WRITE_FAILED otherwise. */
function checked(request: NofailRequest, text: string, changed: number, after: string): string {
  if (after !== text) throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `/etc/fstab of the copy's partition ${request.step.partition} reads back ${after.length} bytes, not the ${text.length} written.`, partition: request.step.partition });
  return `partition ${request.step.partition}: nofail added to ${changed} line${changed === 1 ? '' : 's'} of the copy's /etc/fstab (${request.step.lines.map((line) => line.mountPoint).join(', ')}).`;
}
