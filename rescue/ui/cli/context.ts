// What every CLI command receives from main.ts: the io functions it may call and where it writes.

import type { DiskSummary } from '../../core/disk-facts.ts';
import type { DiskContents } from '../../ops/inspect-disk.ts';

/** The capabilities main.ts wires in; commands never import io themselves. */
export interface CliContext {
  readonly listDisks: (options: { includeVirtual: boolean }) => Promise<DiskSummary[]>;
  /** The summary of a named block device or image file. */
  readonly describeTarget: (target: string) => Promise<DiskSummary>;
  /** Reads a disk's table and probes its filesystems (read-only). */
  readonly inspectTarget: (target: string, sectorSize: number | 'detect') => Promise<DiskContents>;
  readonly readKernelCmdline: () => Promise<string>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Version of this Lifeboat build. */
  readonly version: string;
}
