// `lifeboat tui` (and `lifeboat` alone on a terminal): opens the text user interface.

import type { CommandModule } from 'yargs';
import type { HomeChoice } from '../tui/home-screen.ts';
import type { CliContext } from './context.ts';
import { EXIT_WANTS_SHELL } from './boot-command.ts';

/** Opens the TUI; main.ts passes the screen runner so tests of the CLI need no terminal. */
export function tuiCommand(context: CliContext, openTui: () => Promise<HomeChoice>): CommandModule<object, object> {
  return {
    command: 'tui',
    describe: 'Open the text user interface (the default on a terminal)',
    handler: async () => {
      const choice = await openTui();
      if (choice === 'shell') process.exitCode = EXIT_WANTS_SHELL;
      void context;
    },
  };
}
