// What every CLI command receives from main.ts: the io functions it may call and where it writes.

import type { DiskSummary } from '../../core/disk-facts.ts';

/** The capabilities main.ts wires in; commands never import io themselves. */
export interface CliContext {
  readonly listDisks: (options: { includeVirtual: boolean }) => Promise<DiskSummary[]>;
  readonly readKernelCmdline: () => Promise<string>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Version of this Lifeboat build. */
  readonly version: string;
}
