// The one table that maps error groups to process exit codes. Documented in README.md.

import type { ErrorGroup } from '../../core/errors.ts';

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
