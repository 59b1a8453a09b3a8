// Browse: a snapshot's volume (or a partition, image file or DISK:N) as a file tree, read in
// place as `lifeboat ls` reads it (symlinks with their targets); space marks files and folders, g
// restores the marked ones into a folder as `lifeboat get` does. A row too long for the screen
// ends in "...": the selected entry is shown whole under the list.

import blessed from 'blessed';
import { formatBytes } from '../../core/disk-facts.ts';
import type { FileEntry, FileTree } from '../../core/file-trees/file-tree.ts';
import type { ProgressReporter } from '../../core/progress.ts';
import type { StoredSnapshot } from '../../core/repository/repository-port.ts';
import { restoreFiles } from '../../ops/restore-files.ts';
import { openFilesSnapshot } from '../../ops/snapshot-file-tree.ts';
import { openSnapshotVolume } from '../../ops/snapshot-source.ts';
import { withRepository } from '../cli/repository-access.ts';
import { elideMiddle, hintLine, type TuiApp } from './app.ts';
import { askText, chooseFromList, escapeTags, fitRow, showError, showMessage, wrapLines } from './common-screens.ts';
import { runLogged } from './logged-operation.ts';
import { runWithProgress } from './progress-screen.ts';
import { chooseRepository, repositoryArgs, type TuiSession } from './repository-flow.ts';
import { chooseSnapshot } from './restore-flow.ts';
import type { TuiContext } from './tui-context.ts';

/** What the tree screen asks the flow to do. */
type TreeChoice = { readonly kind: 'restore'; readonly paths: readonly string[] };

function joinPath(folder: string, name: string): string {
  return folder === '/' ? `/${name}` : `${folder}/${name}`;
}

/** Columns of a row's name (with a symlink's target): the rest holds the mark, size and time. */
const NAME_COLUMNS = 40;
/** Lines under the list that show the selected entry whole. */
const DETAIL_LINES = 2;

/** An entry shown, with its symlink's target when it has one. */
interface ShownEntry {
  readonly entry: FileEntry;
  readonly target?: string;
}

/** The name as a row and the details show it: folders end in /, symlinks point to their target (as `ls -l`). */
export function entryName(shown: ShownEntry): string {
  const { entry } = shown;
  if (entry.kind === 'directory') return `${entry.name}/`;
  if (entry.kind === 'symlink') return `${entry.name} -> ${shown.target ?? '?'}`;
  return entry.name;
}

/** One row of the file list: mark, name (shortened with "..." when longer than its column), size, time. */
export function entryLine(shown: ShownEntry, marked: boolean): string {
  const { entry } = shown;
  const size = entry.kind === 'directory' || entry.kind === 'symlink' ? '' : formatBytes(entry.size);
  const time = entry.mtimeMs === undefined ? '' : new Date(entry.mtimeMs).toISOString().replace('T', ' ').slice(0, 16);
  return `${marked ? '[x]' : '[ ]'} ${fitRow(entryName(shown), NAME_COLUMNS).padEnd(NAME_COLUMNS)} ${size.padStart(10)}  ${time}`;
}

/** The selected entry whole (its name and a symlink's target), in at most DETAIL_LINES lines of `width`. */
export function entryDetails(shown: ShownEntry | undefined, width: number): string[] {
  if (!shown) return [];
  return wrapLines([elideMiddle(entryName(shown), DETAIL_LINES * width - 8)], width).slice(0, DETAIL_LINES);
}

/** The file tree: folders open with Enter, Backspace goes up, Space marks, g restores the marked. */
export function browseTree(app: TuiApp, tree: FileTree, label: string): Promise<TreeChoice | undefined> {
  return app.show<TreeChoice>({ title: `Browse ${label}`, hint: hintLine([['Enter', 'open'], ['Bksp', 'up'], ['Space', 'mark'], ['g', 'restore marked'], ['Esc', 'back']]) }, async (page) => {
    const marked = new Set<string>();
    const trail: FileEntry[] = [await tree.root()];
    const names: string[] = [];
    let entries: FileEntry[] = [];
    let shown: ShownEntry[] = [];
    const width = Math.max(20, (page.box.width as number) - 4);
    const where = blessed.box({ parent: page.box, top: 0, left: 1, width, height: 1, tags: true });
    const list = blessed.list({ parent: page.box, top: 1, left: 1, width, height: `100%-${4 + DETAIL_LINES}`, keys: true, tags: false, style: { selected: { ...app.theme.selected }, item: { fg: app.theme.text } } });
    const details = blessed.box({ parent: page.box, bottom: 1, left: 1, width, height: DETAIL_LINES, tags: false });
    const status = blessed.box({ parent: page.box, bottom: 0, left: 1, width, height: 1, tags: true });
    const folderPath = () => (names.length === 0 ? '/' : `/${names.join('/')}`);
    list.on('select item', (_item, index) => {
      details.setContent(entryDetails(shown[index], width).join('\n'));
    });
    const redraw = (selected: number) => {
      where.setContent(escapeTags(elideMiddle(`${tree.filesystem}${tree.label ? ` "${tree.label}"` : ''}  ${folderPath()}`, width)));
      list.setItems(shown.map((entry) => entryLine(entry, marked.has(joinPath(folderPath(), entry.entry.name)))) as never);
      list.select(Math.min(selected, Math.max(0, entries.length - 1)));
      details.setContent(entryDetails(shown[(list as unknown as { selected: number }).selected], width).join('\n'));
      status.setContent(escapeTags(fitRow(`${marked.size} marked${marked.size > 0 ? `: ${[...marked].join(' ')}` : ''}`, width)));
      app.render();
    };
    const open = async (folder: FileEntry) => {
      entries = (await tree.list(folder)).sort((a, b) => Number(b.kind === 'directory') - Number(a.kind === 'directory') || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      // Symlinks show their targets as `ls -l` does; one that cannot be read shows "?".
      shown = await Promise.all(entries.map(async (entry) => (entry.kind === 'symlink' ? { entry, target: await tree.readLink(entry).catch(() => '?') } : { entry })));
      redraw(0);
    };
    const up = async () => {
      if (trail.length <= 1) return false;
      trail.pop();
      const left = names.pop();
      const folder = trail.at(-1);
      if (folder) await open(folder);
      const index = entries.findIndex((entry) => entry.name === left);
      redraw(Math.max(0, index));
      return true;
    };
    const guard = (work: () => Promise<unknown>) => () => {
      work().catch((error: unknown) => void showError(app, error));
    };
    list.on('select', (_item, index) => guard(async () => {
      const entry = entries[index];
      if (entry?.kind !== 'directory') return;
      trail.push(entry);
      names.push(entry.name);
      await open(entry);
    })());
    page.onKey(['space'], () => {
      const index = (list as unknown as { selected: number }).selected;
      const entry = entries[index];
      if (!entry) return;
      const full = joinPath(folderPath(), entry.name);
      if (marked.has(full)) marked.delete(full);
      else marked.add(full);
      redraw(Math.min(index + 1, entries.length - 1));
    });
    page.onKey(['backspace', 'left'], guard(up));
    page.onKey(['home'], () => redraw(0));
    page.onKey(['end'], () => redraw(entries.length - 1));
    page.onKey(['g'], () => {
      if (marked.size > 0) page.resolve({ kind: 'restore', paths: [...marked] });
    });
    await open(trail[0] as FileEntry);
    list.focus();
  });
}

/** `source` is what `lifeboat get` names the tree by (['-r', REPO, 'ID:N'], or a device or image), for the run log. */
async function restoreMarked(app: TuiApp, tui: TuiContext, tree: FileTree, paths: readonly string[], source: readonly string[]): Promise<void> {
  const typed = (await askText(app, { title: 'Restore marked files', prompt: [`${paths.length} marked. The folder to restore them into (made if missing):`] }))?.trim();
  if (!typed) return;
  await runWithProgress(app, {
    title: `Restore files into ${typed}`,
    whenDone: 'stay',
    stopNote: ['What was restored before the stop stays;', 'the file being written is removed.'],
    run: (screen, signal) => runLogged(tui, ['get', ...source, ...paths, typed], screen, async (reporter: ProgressReporter) => {
      const destination = await tui.cli.browse.prepareDestination(typed);
      const result = await restoreFiles({ tree, paths, destination, existing: 'refuse', writer: tui.cli.browse.fileWriter, reporter, signal });
      const remarks = result.remarks.map((remark) => `${remark.path}: ${remark.code} ${remark.message}`);
      return [`Restored ${result.files} files (${formatBytes(result.bytes)}), ${result.folders} folders and ${result.links} links into ${destination}.`, ...remarks];
    }),
  });
}

/** Browses a tree until the user leaves; restores what is marked when asked. */
async function browseAndRestore(app: TuiApp, tui: TuiContext, tree: FileTree, label: string, source: readonly string[]): Promise<void> {
  // What the reader did or could not do (a journal replayed in memory, one it could not use) comes
  // first, as `ls` and `get` print it: the files shown depend on it.
  if ((tree.notices ?? []).length > 0) await showMessage(app, { title: `Browse: ${label}`, lines: (tree.notices ?? []).map((notice) => escapeTags(notice)) });
  for (;;) {
    const choice = await browseTree(app, tree, label);
    if (!choice) return;
    await restoreMarked(app, tui, tree, choice.paths, source);
  }
}

async function browseSnapshot(app: TuiApp, tui: TuiContext, session: TuiSession): Promise<void> {
  const folder = await chooseRepository(app, tui, session, 'read');
  if (!folder) return;
  await withRepository(tui.cli, repositoryArgs(folder), { exclusive: false, command: 'browse' }, async (repository) => {
    for (;;) {
      const snapshot: StoredSnapshot | undefined = await chooseSnapshot(app, repository, 'Browse: snapshot');
      if (!snapshot) return;
      const { manifest } = snapshot;
      const shortId = snapshot.id.slice(0, 8);
      if (manifest.kind === 'files') {
        await browseAndRestore(app, tui, openFilesSnapshot(repository, manifest), shortId, ['-r', folder, shortId]);
        continue;
      }
      const volumes = manifest.volumes;
      const volume = volumes.length === 1 ? volumes[0] : await chooseFromList(app, {
        title: 'Browse: partition',
        rows: volumes.map((entry) => ({ label: `${entry.partition ?? '-'}: ${entry.filesystem?.type ?? 'unknown'}${entry.filesystem?.label ? ` "${entry.filesystem.label}"` : ''}  ${formatBytes(entry.content.usedBytes)} used of ${formatBytes(entry.content.sizeBytes)}`, value: entry })),
      });
      if (!volume) continue;
      try {
        const bytes = await openSnapshotVolume(repository, volume.content, manifest.chunkBytes);
        const tree = await tui.cli.browse.openFileTree(bytes);
        const spec = `${shortId}${volume.partition === undefined ? '' : `:${volume.partition}`}`;
        await browseAndRestore(app, tui, tree, spec, ['-r', folder, spec]);
      } catch (error) {
        await showError(app, error);
      }
    }
  });
}

async function browseVolume(app: TuiApp, tui: TuiContext): Promise<void> {
  const spec = (await askText(app, { title: 'Browse a partition', prompt: ['A partition device, an image file, DISK:N (partition N of a disk or image),', 'or a Clonezilla image folder:'] }))?.trim();
  if (!spec) return;
  const volume = await tui.cli.browse.openVolume(spec);
  try {
    await browseAndRestore(app, tui, await tui.cli.browse.openFileTree(volume.source), volume.label, [spec]);
  } finally {
    await volume.close();
  }
}

/** The browse flow: a snapshot, or a partition outside any repository. */
export async function runBrowseFlow(app: TuiApp, tui: TuiContext, session: TuiSession): Promise<void> {
  const what = await chooseFromList(app, {
    title: 'Browse', intro: ['What to browse?'],
    rows: [{ label: 's  A snapshot in a repository', value: 'snapshot' as const, key: 's' }, { label: 'p  A partition, image file or Clonezilla image', value: 'volume' as const, key: 'p' }],
  });
  if (what === 'snapshot') await browseSnapshot(app, tui, session);
  if (what === 'volume') await browseVolume(app, tui);
}
