// Choosing a repository: the ones found (LIFEBOAT_REPOSITORY, the medium's data partition, the
// attached disks), the ones typed this session, or a folder typed now; for a backup, the partition
// holding it is made writable first (the search mounts read-only), and an empty or missing folder
// becomes a new repository (encrypted if asked, the password typed twice).

import { describeRepositoryPlace, type RepositoryPlace, type SkippedPartition } from '../../core/attached-repositories.ts';
import type { RepositoryArgs } from '../cli/repository-access.ts';
import { newPassword } from '../cli/init-command.ts';
import type { TuiApp } from './app.ts';
import { askText, chooseFromList, escapeTags, showError, showMessage } from './common-screens.ts';
import type { TuiContext } from './tui-context.ts';

/** A repository the session knows: found (with its partition when on an attached disk) or typed. */
export interface KnownRepository {
  readonly path: string;
  place?: RepositoryPlace;
  readonly typed?: boolean;
}

/** Repositories known in this session (found, then typed), and the search that finds them. */
export interface TuiSession {
  repositories: KnownRepository[];
  /** Partitions the search left out, with the reason. */
  skipped: SkippedPartition[];
  /** Resolves when the current search has ended (the repositories are then in `repositories`). */
  searching: Promise<void>;
}

/** Starts a search (at start-up and on refresh); found repositories replace the earlier found ones, typed ones stay. */
export function startRepositorySearch(tui: TuiContext, session: TuiSession): Promise<void> {
  session.searching = tui.repositorySearch.find().then((report) => {
    const typed = session.repositories.filter((entry) => entry.typed && !report.found.some((found) => found.path === entry.path));
    session.repositories = [...report.found.map((found) => ({ path: found.path, ...(found.place ? { place: found.place } : {}) })), ...typed];
    session.skipped = report.skipped;
  }, (error: unknown) => {
    session.skipped = [{ device: '-', reason: `the search failed: ${(error as Error).message}`, notable: true }];
  });
  return session.searching;
}

/** A repository as a line: the folder, then its partition when it is on an attached disk. */
export function repositoryLabel(entry: KnownRepository): string {
  return entry.place ? `${entry.path}  (${describeRepositoryPlace(entry.place)})` : entry.path;
}

/** The arguments the CLI's repository helpers take, for a folder chosen in the TUI. */
export function repositoryArgs(folder: string): RepositoryArgs {
  return { repo: folder, 'password-file': undefined, json: false };
}

/** Asks for a folder and remembers it for the session. */
export async function typeRepository(app: TuiApp, session: TuiSession): Promise<string | undefined> {
  const typed = (await askText(app, { title: 'Repository folder', prompt: ['The folder of the repository (on a mounted disk):'] }))?.trim();
  if (!typed) return undefined;
  if (!session.repositories.some((entry) => entry.path === typed)) session.repositories.push({ path: typed, typed: true });
  return typed;
}

/** Picks a repository; for `backup`, makes its partition writable and creates one in an empty or missing folder (asking first). */
export async function chooseRepository(app: TuiApp, tui: TuiContext, session: TuiSession, purpose: 'backup' | 'read'): Promise<string | undefined> {
  const TYPE = '\u0000type';
  await session.searching;
  for (;;) {
    const rows = [...session.repositories.map((entry) => ({ label: repositoryLabel(entry), value: entry.path })), { label: 't  Type a folder...', value: TYPE, key: 't' }];
    const chosen = await chooseFromList(app, { title: purpose === 'backup' ? 'Backup: repository' : 'Repository', intro: ['Where the backups are kept.'], rows });
    if (chosen === undefined) return undefined;
    const folder = chosen === TYPE ? await typeRepository(app, session) : chosen;
    if (!folder || purpose === 'read') return folder;
    try {
      const notice = await tui.repositorySearch.prepareForWriting(folder);
      if (notice) {
        for (const entry of session.repositories) {
          const place = tui.repositorySearch.placeOf(entry.path);
          if (place) entry.place = place;
        }
        await showMessage(app, { title: 'Mounted for writing', lines: [escapeTags(notice)] });
      }
    } catch (error) {
      await showError(app, error, 'Not writable');
      continue;
    }
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
}
