// Logs: what the run logs hold and, where the logs part is wired in, exporting them with a system
// report to a folder (the same as `lifeboat logs export`).

import { hintLine, type TuiApp } from './app.ts';
import { askText, escapeTags, showMessage } from './common-screens.ts';
import type { LogServices } from './tui-context.ts';

/** The logs screen; without log services it says where logs will come from. The export writes a run log of its own (`runLogged`). */
export async function showLogs(app: TuiApp, logs: LogServices | undefined, runLogged: <T>(argv: readonly string[], run: () => Promise<T>) => Promise<T>): Promise<void> {
  if (!logs) {
    await showMessage(app, { title: 'Logs', lines: ['Run logs and their export are not part of this build yet.', 'Errors are shown with their code and fix; `lifeboat errors` lists them all.'] });
    return;
  }
  const lines = await logs.describe();
  const exportThem = await showMessage(app, { title: 'Logs', lines: [...lines.map((line) => escapeTags(line)), '', 'Enter: export them into a folder; Esc: back.'], hint: hintLine([['Enter', 'export'], ['Esc', 'back']]) });
  if (!exportThem) return;
  const folder = (await askText(app, { title: 'Export logs', prompt: ['The folder to write the logs archive into:'] }))?.trim();
  if (!folder) return;
  const archive = await runLogged(['logs', 'export', folder], () => logs.exportTo(folder));
  await showMessage(app, { title: 'Logs exported', lines: [escapeTags(`Written: ${archive}`)] });
}
