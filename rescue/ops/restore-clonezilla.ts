// Executes a Clonezilla restore plan (core/clonezilla/clonezilla-restore-plan.ts): the boot gap,
// each partition's used blocks (partclone's checksums are verified as the image streams), swap areas
// re-created, and the partition table last. io supplies the partition writer, the gap bytes and mkswap
// (core/clonezilla/clonezilla-ports.ts).

import { LifeboatError, toLifeboatError } from '../core/errors.ts';
import type { ClonezillaRestorePlan } from '../core/clonezilla/clonezilla-restore-plan.ts';
import { throwIfStopped, type ProgressReporter } from '../core/progress.ts';
import type { ClonezillaRestoreIo, ClonezillaTargetWriter } from '../core/clonezilla/clonezilla-ports.ts';
import type { ByteRun } from '../core/space-outside.ts';

/** Restores a Clonezilla image by its plan onto an opened target. */
export async function restoreClonezilla(options: { plan: ClonezillaRestorePlan; target: ClonezillaTargetWriter; io: ClonezillaRestoreIo; reporter: ProgressReporter; signal?: AbortSignal }): Promise<void> {
  const { plan, target, io, reporter } = options;
  const total = plan.steps.reduce((sum, step) => sum + (step.kind === 'partition' || step.kind === 'boot-gap' || step.kind === 'zero' ? step.sizeBytes : 0), 0);
  let done = 0;
  reporter.progress({ phase: 'restore', bytesDone: 0, bytesTotal: total });
  for (const step of plan.steps) {
    throwIfStopped(options.signal, 'the Clonezilla image');
    if (step.kind === 'boot-gap') {
      const bytes = await io.readBootGap(step.disk);
      await target.write(step.offset, bytes.subarray(0, step.sizeBytes));
      done += step.sizeBytes;
    } else if (step.kind === 'partition') {
      const before = done;
      await target.sync();
      const { bytesWritten } = await io.writePartition({
        partition: step.partition,
        offset: step.offset,
        onProgress: (bytesDone) => reporter.progress({ phase: 'restore', bytesDone: before + bytesDone, bytesTotal: total, item: step.partition }),
      }).catch((error: unknown) => {
        throw namePartition(error, step.partition);
      });
      done = before + Math.max(bytesWritten, 0);
    } else if (step.kind === 'zero') {
      done = await writeZeros(target, step.runs, { done, total, reporter });
    } else if (step.kind === 'swap') {
      await target.sync();
      await io.makeSwap({ offset: step.offset, sizeBytes: step.sizeBytes, uuid: step.uuid, label: step.swapLabel });
    } else {
      for (const { lba, bytes } of step.sectors) {
        const out = new Uint8Array(Math.ceil(bytes.length / step.sectorSize) * step.sectorSize);
        out.set(bytes);
        await target.write(lba * step.sectorSize, out);
      }
    }
    reporter.progress({ phase: 'restore', bytesDone: done, bytesTotal: total, item: 'partition' in step ? step.partition : step.kind });
  }
  await target.sync();
}

/** Bytes of zeros written at once. */
const ZERO_WRITE_BYTES = 1024 * 1024;

/** Writes zeros over `runs`; returns the bytes done so far. */
async function writeZeros(target: ClonezillaTargetWriter, runs: readonly ByteRun[], progress: { done: number; total: number; reporter: ProgressReporter }): Promise<number> {
  const zeros = new Uint8Array(ZERO_WRITE_BYTES);
  let { done } = progress;
  for (const run of runs) {
    for (let at = 0; at < run.length; at += ZERO_WRITE_BYTES) {
      const length = Math.min(ZERO_WRITE_BYTES, run.length - at);
      await target.write(run.offset + at, zeros.subarray(0, length));
      done += length;
      progress.reporter.progress({ phase: 'restore', bytesDone: done, bytesTotal: progress.total, item: 'zeros where the disk has no partition' });
    }
  }
  return done;
}

/** The same coded error, its message and details naming the partition whose image failed. */
function namePartition(error: unknown, partition: string): LifeboatError {
  const coded = toLifeboatError(error);
  const detail = typeof coded.details.detail === 'string' ? coded.details.detail : coded.message;
  return new LifeboatError(coded.code, { ...coded.details, detail: `partition ${partition}: ${detail}`, partition }, { cause: error });
}
