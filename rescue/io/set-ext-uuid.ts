// Gives a cloned ext2/3/4 filesystem a new UUID (clone --new-ids) with e2fsprogs' own tool, on a
// loop device over its partition's bytes: e2fsck -f -p first (tune2fs refuses a filesystem not
// checked since it was last mounted, and with metadata_csum it rewrites every checksum, which
// needs a consistent filesystem), then tune2fs -U. Only the target is ever named.

import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import { withLoop } from './grow-filesystem.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';

/** The partition (bytes of the target's file or device) and the UUID to give its filesystem. */
export interface SetExtUuidRequest {
  readonly backingPath: string;
  readonly offset: number;
  readonly sizeBytes: number;
  readonly uuid: string;
}

/** Sets the ext filesystem's UUID; LB_FILESYSTEM_CORRUPT when e2fsck or tune2fs fails. */
export async function setExtUuid(request: SetExtUuidRequest): Promise<void> {
  await withLoop(request, async (device) => {
    // e2fsck -p: 0 clean, 1 errors corrected, 2 corrected and reboot advised; more is a failure.
    const check = await runProgram(PROGRAMS.e2fsck, ['-f', '-p', device]);
    if (check.exitCode === undefined || check.exitCode > 2 || check.signal !== undefined) {
      throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `Before giving it a new UUID: ${describeExit(check)}`, program: 'e2fsck', exitCode: check.exitCode, signal: check.signal });
    }
    const tune = await runProgram(PROGRAMS.tune2fs, ['-U', request.uuid, device]);
    if (!succeeded(tune)) throw new LifeboatError('LB_FILESYSTEM_CORRUPT', { detail: `tune2fs -U ${request.uuid}: ${describeExit(tune)}`, program: 'tune2fs', exitCode: tune.exitCode, signal: tune.signal });
  });
}
