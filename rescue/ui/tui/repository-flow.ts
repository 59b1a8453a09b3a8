// Choosing a repository: the ones found (LIFEBOAT_REPOSITORY, the medium's data partition), the
// ones typed this session, or a folder typed now; for a backup, an empty or missing folder
// becomes a new repository (encrypted if asked, the password typed twice).

import type { RepositoryArgs } from '../cli/repository-access.ts';
import { newPassword } from '../cli/init-command.ts';
import type { TuiApp } from './app.ts';
import { askText, chooseFromList, escapeTags } from './common-screens.ts';
import type { TuiContext } from './tui-context.ts';

/** Repositories known in this session (found, then typed). */
export interface TuiSession {
  readonly repositories: string[];
}

/** The arguments the CLI's repository helpers take, for a folder chosen in the TUI. */
export function repositoryArgs(folder: string): RepositoryArgs {
  return { repo: folder, 'password-file': undefined, json: false };
}

/** Asks for a folder and remembers it for the session. */
export async function typeRepository(app: TuiApp, session: TuiSession): Promise<string | undefined> {
  const typed = (await askText(app, { title: 'Repository folder', prompt: ['The folder of the repository (on a mounted disk):'] }))?.trim();
  if (!typed) return undefined;
  if (!session.repositories.includes(typed)) session.repositories.push(typed);
  return typed;
}

/** Picks a repository; for `backup`, creates one in an empty or missing folder (asking first). */
export async function chooseRepository(app: TuiApp, tui: TuiContext, session: TuiSession, purpose: 'backup' | 'read'): Promise<string | undefined> {
  const TYPE = '\u0000type';
  const rows = [...session.repositories.map((folder) => ({ label: folder, value: folder })), { label: 't  Type a folder...', value: TYPE, key: 't' }];
  const chosen = await chooseFromList(app, { title: purpose === 'backup' ? 'Backup: repository' : 'Repository', intro: ['Where the backups are kept.'], rows });
  if (chosen === undefined) return undefined;
  const folder = chosen === TYPE ? await typeRepository(app, session) : chosen;
  if (!folder || purpose === 'read') return folder;
  const services = tui.cli.repositories;
  if (await services.isEmptyFolder(folder)) {
    const mode = await chooseFromList(app, {
      title: 'New repository',
      intro: [`${escapeTags(folder)} is empty or missing: create a repository there?`],
      rows: [{ label: 'p  Create a repository (not encrypted)', value: 'plain' as const, key: 'p' }, { label: 'e  Create an encrypted repository (asks for a password)', value: 'encrypted' as const, key: 'e' }],
    });
    if (mode === undefined) return undefined;
    const password = mode === 'encrypted' ? await newPassword(tui.cli, repositoryArgs(folder)) : undefined;
    await services.init(folder, password === undefined ? {} : { password });
  }
  return folder;
}
