// `lifeboat tui` (and `lifeboat` alone on a terminal): opens the text user interface.

import type { CommandModule } from 'yargs';
import type { TuiOutcome } from '../tui/tui-context.ts';
import { EXIT_WANTS_SHELL } from './boot-command.ts';
import { withExamples } from './command-examples.ts';

/** Where a command leaves an exit status that is not an error (the TUI's Shell choice). */
export interface CommandOutcome {
  exitCode: number;
}

/** Opens the TUI; main.ts passes the screen runner so the CLI needs no terminal to be built. */
export function tuiCommand(openTui: () => Promise<TuiOutcome>, outcome: CommandOutcome): CommandModule<object, object> {
  return {
    command: 'tui',
    describe: 'Open the text user interface (the default on a terminal)',
    builder: (yargs) => withExamples(yargs, 'tui'),
    handler: async () => {
      const choice = await openTui();
      if (choice === 'shell') outcome.exitCode = EXIT_WANTS_SHELL;
    },
  };
}
