// The TUI's main loop: the home screen, then the flow of the action chosen, then home again.
// Every failure of a flow is shown as its catalogue entry (code, message, fix); none ends the TUI.

import { TuiApp } from './app.ts';
import { runBackupFlow } from './backup-flow.ts';
import { runBrowseFlow } from './browse-flow.ts';
import { runCloneFlow } from './clone-flow.ts';
import { askText, confirm, showError } from './common-screens.ts';
import { loadDisks } from './disk-loading.ts';
import { showDisks } from './disks-screen.ts';
import { runHomeScreen, type HomeAction } from './home-screen.ts';
import { showLogs } from './logs-screen.ts';
import { startRepositorySearch, typeRepository, type TuiSession } from './repository-flow.ts';
import { runRestoreFlow } from './restore-flow.ts';
import type { TuiContext, TuiOutcome } from './tui-context.ts';
import { runVerifyFlow } from './verify-flow.ts';

/** Opens the TUI on the terminal; resolves when the user quits or asks for a shell. */
export async function runTui(given: TuiContext): Promise<TuiOutcome> {
  const app = new TuiApp({ version: given.cli.version });
  // Questions the CLI helpers ask on the terminal (passwords) become dialogs.
  const tui: TuiContext = {
    ...given,
    cli: { ...given.cli, repositories: { ...given.cli.repositories, ask: (prompt, options) => askText(app, { title: options.secret ? 'Password' : 'Question', prompt: [prompt], secret: options.secret }) } },
  };
  app.failed = (error) => void showError(app, error);
  // A failure in a screen's callback is shown with its code and fix; it never ends the TUI.
  const stray = (error: unknown) => void showError(app, error);
  process.on('uncaughtException', stray);
  process.on('unhandledRejection', stray);
  // The search mounts attached filesystems read-only; the home screen shows its result when it ends.
  const session: TuiSession = { repositories: [], skipped: [], searching: Promise.resolve() };
  void startRepositorySearch(tui, session);
  let last: HomeAction | undefined;
  try {
    for (;;) {
      const action = await runHomeScreen(app, { disks: loadDisks(tui.cli), session, ...(last ? { selected: last } : {}) });
      last = action;
      if (action === 'quit') return 'quit';
      if (action === 'shell') return 'shell';
      try {
        await runAction(app, tui, session, action);
      } catch (error) {
        await showError(app, error);
      }
    }
  } finally {
    process.off('uncaughtException', stray);
    process.off('unhandledRejection', stray);
    app.destroy();
    // Whatever the search mounted is unmounted (a search still running is waited for).
    await session.searching.catch(() => undefined);
    await tui.repositorySearch.release().catch(() => undefined);
  }
}

async function runAction(app: TuiApp, tui: TuiContext, session: TuiSession, action: Exclude<HomeAction, 'quit' | 'shell'>): Promise<void> {
  switch (action) {
    case 'backup': return runBackupFlow(app, tui, session);
    case 'restore': return runRestoreFlow(app, tui, session);
    case 'clone': return runCloneFlow(app, tui);
    case 'browse': return runBrowseFlow(app, tui, session);
    case 'verify': return runVerifyFlow(app, tui, session);
    case 'disks': return showDisks(app, () => loadDisks(tui.cli));
    case 'logs': return showLogs(app, tui.logs, (argv, run) => tui.cli.logs.runLogged(argv, run));
    case 'add-repository':
      await typeRepository(app, session);
      return;
    case 'refresh':
      await session.searching;
      void startRepositorySearch(tui, session);
      return;
    case 'poweroff':
    case 'reboot':
      if (await confirm(app, { title: action === 'poweroff' ? 'Power off' : 'Reboot', lines: [action === 'poweroff' ? 'Power the machine off now?' : 'Reboot the machine now?'] })) await tui.cli.repositories.powerAction(action);
      return;
  }
}

