// What runClone needs from io, for the CLI's clone command and the TUI's Clone action alike: ext
// UUIDs, fstab nofail in the copy, growing and shrinking filesystems, all at the target's place,
// with progress reported and the bytes done counted (for a stopped clone's message).

import type { ProgressReporter } from '../../core/progress.ts';
import type { CloneOptions } from '../../ops/clone.ts';
import { cloneShrinkPorts } from '../../ops/clone-shrink.ts';
import type { OpenedRestoreTarget } from '../../ops/restore.ts';
import type { ShrinkRoom } from '../../ops/shrink-volume.ts';
import type { CliContext } from './context.ts';

/** runClone's ports onto `target`; `done.bytes` follows the progress. */
export function cloneRunPorts(context: CliContext, target: OpenedRestoreTarget, options: { reporter: ProgressReporter; done: { bytes: number }; shrinkRoom: ShrinkRoom | undefined }): Pick<CloneOptions, 'reporter' | 'setExtUuid' | 'addNofail' | 'growFilesystem' | 'shrink'> {
  const { reporter, done } = options;
  const services = context.repositories;
  return {
    setExtUuid: (request) => context.clone.setExtUuid({ ...request, backingPath: target.backing.path, offset: target.backing.offset + request.offset }),
    reporter: { progress: (event) => { done.bytes = event.bytesDone; reporter.progress(event); }, notice: (message) => reporter.notice(message) },
    addNofail: async (step) => reporter.notice(await context.clone.addNofailInCopy({ backingPath: target.backing.path, backingOffset: target.backing.offset, step })),
    growFilesystem: async (step) => {
      const notice = await services.growFilesystem({ backingPath: target.backing.path, partition: step.partition, offset: target.backing.offset + step.offset, sizeBytes: step.sizeBytes, filesystem: step.filesystem });
      if (notice) reporter.notice(notice);
    },
    shrink: cloneShrinkPorts(services.shrink, target, options.shrinkRoom),
  };
}
