// What the TUI receives from main.ts: the same capabilities the CLI commands get (CliContext),
// plus where repositories are found on their own and the logs.

import type { RepositoryPlace, ScanReport } from '../../core/attached-repositories.ts';
import type { DiskSummary } from '../../core/disk-facts.ts';
import type { CliContext } from '../cli/context.ts';
import type { MapDisk } from '../../core/disk-layout.ts';

/** The logs part of issue 6 (run logs, `logs export`), wired in when it exists. */
export interface LogServices {
  /** Lines that describe the logs kept so far. */
  describe(): Promise<string[]>;
  /** Writes the logs and a system report as one archive into `folder`; returns the archive's path. */
  exportTo(folder: string): Promise<string>;
}

/** Repositories found without asking, and the mounts that finding them needed. */
export interface RepositorySearch {
  /**
   * LIFEBOAT_REPOSITORY, the medium's data partition, then every attached filesystem holding one
   * (mounted read-only for the search); the partitions not searched come with the reason.
   */
  find(): Promise<ScanReport>;
  /** Before a backup writes into `folder`: makes its mount writable when the search mounted it read-only; a line for the user, or undefined. */
  prepareForWriting(folder: string): Promise<string | undefined>;
  /** Where a folder lives when it is on a partition the search mounted. */
  placeOf(folder: string): RepositoryPlace | undefined;
  /** Unmounts what the search mounted (when the TUI ends). */
  release(): Promise<void>;
}

/** Everything the TUI's flows may call. */
export interface TuiContext {
  readonly cli: CliContext;
  readonly repositorySearch: RepositorySearch;
  readonly logs?: LogServices;
}

/** How the TUI ended: the user quit, or asked for a shell (exit status 10 on the medium). */
export type TuiOutcome = 'quit' | 'shell';

/** A disk with its map, as the home screen, the disk list and the target list show it. */
export interface LoadedDisk {
  readonly summary: DiskSummary;
  readonly map: MapDisk;
}
