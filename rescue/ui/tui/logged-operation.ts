// Operations started from the TUI write a run log as the same command typed in a shell would:
// the equivalent command line, notices and each phase's figures, the summary, then the result or
// the coded error (`lifeboat logs list` shows how it ended).

import type { ProgressReporter } from '../../core/progress.ts';
import { currentRunLog, recordProgress } from '../cli/run-log-scope.ts';
import type { TuiContext } from './tui-context.ts';

/** Runs `run` inside a run log headed by `argv` (e.g. ['backup', 'disk', '/dev/sda', '-r', REPO]); its summary lines are logged too. */
export function runLogged(tui: TuiContext, argv: readonly string[], reporter: ProgressReporter, run: (reporter: ProgressReporter) => Promise<readonly string[]>): Promise<readonly string[]> {
  return tui.cli.logs.runLogged(argv, async () => {
    currentRunLog()?.record('event', 'started from the TUI');
    const recording = recordProgress(reporter);
    try {
      const summary = await run(recording);
      if (summary.length > 0) currentRunLog()?.record('out', summary.join('\n'));
      return summary;
    } finally {
      recording.finish();
    }
  });
}
