// Verify: checks a repository as `lifeboat check --read-data` does (every snapshot's trees, every
// pack read and every chunk hashed), on the progress screen; problems are listed with their codes.

import { LifeboatError } from '../../core/errors.ts';
import { checkRepository } from '../../ops/check-repository.ts';
import { withRepository } from '../cli/repository-access.ts';
import type { TuiApp } from './app.ts';
import { chooseFromList } from './common-screens.ts';
import { runLogged } from './logged-operation.ts';
import { runWithProgress } from './progress-screen.ts';
import { chooseRepository, repositoryArgs, type TuiSession } from './repository-flow.ts';
import type { TuiContext } from './tui-context.ts';

/** The verify flow. */
export async function runVerifyFlow(app: TuiApp, tui: TuiContext, session: TuiSession): Promise<void> {
  const folder = await chooseRepository(app, tui, session, 'read');
  if (!folder) return;
  const readData = await chooseFromList(app, {
    title: 'Verify', intro: ['How thoroughly?'],
    rows: [{ label: 'a  Read all data and check every chunk (slow, complete)', value: true, key: 'a' }, { label: 'q  Check the structure only (quick)', value: false, key: 'q' }],
  });
  if (readData === undefined) return;
  await runWithProgress(app, {
    title: `Verify ${folder}`,
    whenDone: 'stay',
    stopNote: ['A check writes nothing: stopping it changes nothing.'],
    run: (screen, signal) => runLogged(tui, ['check', '-r', folder, ...(readData ? ['--read-data'] : [])], screen, async (reporter) => {
      const report = await withRepository(tui.cli, repositoryArgs(folder), { exclusive: false, command: 'check', tolerant: true }, (repository) => checkRepository(repository, { readData, signal }, reporter));
      for (const line of report.info) reporter.notice(line);
      for (const problem of report.problems) reporter.notice(`${problem.code}: ${problem.detail}`);
      if (report.problems.length > 0) throw new LifeboatError('LB_REPO_CHECK_FAILED', { detail: `${report.problems.length} problem(s), listed above.` });
      return [`${report.snapshots} snapshots and ${report.packs} packs checked${readData ? `, ${report.blobsRead} chunks read` : ''}: no problems.`];
    }),
  });
}
