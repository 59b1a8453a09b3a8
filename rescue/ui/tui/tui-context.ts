// What the TUI receives from main.ts: the same capabilities the CLI commands get (CliContext),
// plus where repositories are found on their own and, later, the logs.

import type { DiskSummary } from '../../core/disk-facts.ts';
import type { CliContext } from '../cli/context.ts';
import type { MapDisk } from './disk-map.ts';

/** The logs part of issue 6 (run logs, `logs export`), wired in when it exists. */
export interface LogServices {
  /** Lines that describe the logs kept so far. */
  describe(): Promise<string[]>;
  /** Writes the logs and a system report as one archive into `folder`; returns the archive's path. */
  exportTo(folder: string): Promise<string>;
}

/** Everything the TUI's flows may call. */
export interface TuiContext {
  readonly cli: CliContext;
  /** Repository folders found without asking (LIFEBOAT_REPOSITORY, the medium's data partition). */
  readonly findRepositories: () => Promise<string[]>;
  readonly logs?: LogServices;
}

/** How the TUI ended: the user quit, or asked for a shell (exit status 10 on the medium). */
export type TuiOutcome = 'quit' | 'shell';

/** A disk with its map, as the home screen, the disk list and the target list show it. */
export interface LoadedDisk {
  readonly summary: DiskSummary;
  readonly map: MapDisk;
}
