// The one table that maps error groups (and the outcomes that are not a group's) to process exit
// codes. Documented in README.md.

import type { ErrorCode, ErrorGroup } from '../../core/errors.ts';

/** Exit codes by error group; 0 is success. Stable: scripts depend on them. */
export const EXIT_CODES: Readonly<Record<ErrorGroup | 'ok', number>> = {
  ok: 0,
  internal: 1,
  input: 2,
  device: 3,
  filesystem: 4,
  repository: 5,
  network: 6,
  build: 7,
};

/**
 * Outcomes with an exit code of their own, outside the groups: a files backup that saved its
 * snapshot but left files or attributes out (restic's 3, which is our device group here), and a
 * run stopped by Ctrl-C or SIGTERM (LB_INPUT_STOPPED; 130 = 128 + SIGINT, as shells report it).
 */
export const OUTCOME_EXIT_CODES = {
  incomplete: 11,
  stopped: 130,
} as const;

/** The exit code of a failure: its group's, except LB_INPUT_STOPPED. */
export function exitCodeOf(error: { readonly code: ErrorCode; readonly group: ErrorGroup }): number {
  return error.code === 'LB_INPUT_STOPPED' ? OUTCOME_EXIT_CODES.stopped : EXIT_CODES[error.group];
}
