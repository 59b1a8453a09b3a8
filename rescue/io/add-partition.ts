// Adds the copy's partition to a disk's table after `clone partition SOURCE DISK:free` wrote it:
// sfdisk --append with the planned start, size and type (sfdisk keeps every other entry and the
// backup GPT as they are). An image file is not announced to the kernel; a disk is (sfdisk tells it).

import type { NewPartition } from '../core/clone/free-area.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import { describeExit, runProgram, succeeded } from './run-program.ts';

/** Appends the partition to the disk's table; LB_DEVICE_WRITE_FAILED carries sfdisk's words. */
export async function addPartition(request: { disk: string; isBlockDevice: boolean; partition: NewPartition }): Promise<void> {
  const { partition } = request;
  const line = `start=${partition.startLba}, size=${partition.sectors}, type=${partition.type}\n`;
  const quiet = request.isBlockDevice ? [] : ['--no-reread', '--no-tell-kernel'];
  const result = await runProgram(PROGRAMS.sfdisk, ['--append', '--quiet', ...quiet, request.disk], { input: line });
  if (!succeeded(result)) {
    throw new LifeboatError('LB_DEVICE_WRITE_FAILED', { detail: `The copy is written, but sfdisk --append did not add partition ${partition.number} (${line.trim()}) to ${request.disk}: ${describeExit(result)}. Add it by hand with that line.`, path: request.disk, exitCode: result.exitCode, signal: result.signal });
  }
}
