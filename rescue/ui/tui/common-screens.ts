// Screens every flow uses: pick one row of a list, type a line (or a password), read a message,
// answer yes or no, and the error screen that shows a failure's code, message and fix.

import blessed from 'blessed';
import { toLifeboatError } from '../../core/errors.ts';
import { hintLine, type TuiApp } from './app.ts';

/** One row of a choice list; `refusal` rows are listed but choosing them shows why they cannot be used. */
export interface ChoiceRow<T> {
  readonly label: string;
  readonly value: T;
  /** A shortcut letter. */
  readonly key?: string;
  /** Shown whole under the list while the row is selected: what a one-line row cannot hold (a long path, model, note). */
  readonly details?: readonly string[];
}

/** Escapes blessed's tag braces in text that comes from disks and users. */
export function escapeTags(text: string): string {
  return blessed.escape(text);
}

/** A row that is wider than `width` ends in "..." instead of running off the edge (the details show it whole). */
export function fitRow(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 3)).trimEnd()}...`;
}

/** Most lines the details under a list take. */
const DETAIL_LINES_MAX = 6;

/** A list of rows under an optional header and intro text; resolves with the chosen row's value. Rows too wide are shortened and the selected one is shown whole under the list. */
export function chooseFromList<T>(app: TuiApp, options: { title: string; intro?: readonly string[]; header?: string; rows: readonly ChoiceRow<T>[]; hint?: string; selected?: number }): Promise<T | undefined> {
  return app.show<T>({ title: options.title, hint: options.hint ?? hintLine([['Up/Down', 'move'], ['Enter', 'choose'], ['Esc', 'back']]) }, (page) => {
    const width = Math.max(20, (page.box.width as number) - 4);
    const intro = wrapLines(options.intro ?? [], width);
    let top = 0;
    if (intro.length > 0) {
      blessed.box({ parent: page.box, top: 0, left: 1, width: '100%-4', height: intro.length, tags: true, content: intro.join('\n') });
      top = intro.length + 1;
    }
    if (options.header) {
      blessed.box({ parent: page.box, top, left: 1, width: '100%-4', height: 1, tags: true, content: `{bold}${escapeTags(fitRow(options.header, width))}{/bold}` });
      top += 1;
    }
    // What each row shows whole when selected: its details, or its label when the row had to be shortened.
    const detailsOf = (row: ChoiceRow<T>) => wrapLines(row.details ?? (row.label.length > width ? [row.label] : []), width);
    const detailLines = Math.min(DETAIL_LINES_MAX, Math.max(0, ...options.rows.map((row) => detailsOf(row).length)));
    const detailHeight = detailLines > 0 ? detailLines + 1 : 0;
    const list = blessed.list({
      parent: page.box, top, left: 1, width: width, height: `100%-${top + 2 + detailHeight}`, keys: true, vi: false, mouse: false, tags: false,
      items: options.rows.map((row) => fitRow(row.label, width)), style: { selected: { ...app.theme.selected }, item: { fg: app.theme.text } },
    });
    const details = detailHeight > 0 ? blessed.box({ parent: page.box, bottom: 0, left: 1, width, height: detailHeight, tags: false, content: '' }) : undefined;
    const showDetails = (index: number) => {
      const row = options.rows[index];
      if (!details || !row) return;
      const all = detailsOf(row);
      // More than the area holds (a note of many lines): its last line says so.
      const lines = all.length > detailLines ? [...all.slice(0, detailLines - 1), fitRow(`${all[detailLines - 1] ?? ''} ...`, width)] : all;
      details.setContent(lines.length > 0 ? ['-'.repeat(width), ...lines].join('\n') : '');
    };
    list.on('select item', (_item, index) => showDetails(index));
    list.on('select', (_item, index) => {
      const row = options.rows[index];
      if (row) page.resolve(row.value);
    });
    for (const row of options.rows) if (row.key) page.onKey([row.key], () => page.resolve(row.value));
    page.onKey(['home'], () => { list.select(0); app.render(); });
    page.onKey(['end'], () => { list.select(options.rows.length - 1); app.render(); });
    list.select(options.selected ?? 0);
    // blessed does not report selecting the row already selected (the first, when the list is made).
    showDetails(options.selected ?? 0);
    list.focus();
  });
}

/** One line typed by the user (hidden when `secret`); Escape resolves undefined. */
export function askText(app: TuiApp, given: { title: string; prompt: readonly string[]; initial?: string; secret?: boolean }): Promise<string | undefined> {
  const options = { ...given, prompt: wrapLines(given.prompt, 66) };
  const height = options.prompt.length + 6;
  return app.show<string>({ title: options.title, hint: hintLine([['Enter', 'accept'], ['Esc', 'cancel']]), dialog: { width: 72, height } }, (page) => {
    blessed.box({ parent: page.box, top: 0, left: 1, width: '100%-4', height: options.prompt.length, tags: true, content: options.prompt.join('\n') });
    const input = blessed.textbox({
      parent: page.box, top: options.prompt.length + 1, left: 1, width: '100%-4', height: 1, inputOnFocus: false, censor: options.secret === true,
      style: { fg: app.theme.text, bg: app.theme.selected.bg === 'default' ? 'default' : 'blue' },
    });
    blessed.box({ parent: page.box, top: options.prompt.length + 2, left: 1, width: '100%-4', height: 1, content: options.secret ? '(typed characters are hidden)' : '' });
    if (options.initial) input.setValue(options.initial);
    input.focus();
    app.render();
    input.readInput((error, value) => {
      if (error || value === undefined || value === null) page.resolve(undefined);
      else page.resolve(value);
    });
  });
}

/** A message (lines of text) until Enter (resolves true) or Escape (false); `hint` replaces the keys line "Enter continue". */
export async function showMessage(app: TuiApp, given: { title: string; lines: readonly string[]; hint?: string }): Promise<boolean> {
  const width = Math.min(78, Math.max(40, ...given.lines.map((line) => line.length + 4)));
  const options = { ...given, lines: wrapLines(given.lines, width - 4) };
  const answer = await app.show<boolean>({ title: options.title, hint: options.hint ?? hintLine([['Enter', 'continue']]), dialog: { width, height: Math.min(22, options.lines.length + 4) } }, (page) => {
    const box = blessed.box({ parent: page.box, top: 0, left: 1, width: '100%-4', height: '100%-2', tags: true, scrollable: true, keys: true, content: options.lines.join('\n') });
    box.focus();
    page.onKey(['enter', 'space'], () => page.resolve(true));
  });
  return answer === true;
}

/** Yes or no (keys y and n; Escape is no); `closeOn` withdraws the question (no). */
export async function confirm(app: TuiApp, options: { title: string; lines: readonly string[]; closeOn?: AbortSignal }): Promise<boolean> {
  const answer = await app.show<boolean>({ title: options.title, hint: hintLine([['y', 'yes'], ['n', 'no'], ['Esc', 'no']]), dialog: { width: 64, height: options.lines.length + 5 }, ...(options.closeOn ? { closeOn: options.closeOn } : {}) }, (page) => {
    blessed.box({ parent: page.box, top: 0, left: 1, width: '100%-4', height: options.lines.length + 2, tags: true, content: `${options.lines.join('\n')}\n\n{bold}y{/bold} yes   {bold}n{/bold} no` });
    page.onKey(['y'], () => page.resolve(true));
    page.onKey(['n'], () => page.resolve(false));
  });
  return answer === true;
}

/** The lines an error screen shows: code, message, fix (never a stack trace). */
export function errorLines(error: unknown): string[] {
  const coded = toLifeboatError(error);
  return [`{bold}${coded.code}{/bold}`, '', escapeTags(coded.message), '', `{bold}Fix:{/bold} ${escapeTags(coded.fix)}`];
}

/** Shows any failure as its catalogue entry. */
export async function showError(app: TuiApp, error: unknown, title = 'Error'): Promise<void> {
  await showMessage(app, { title, lines: wrapLines(errorLines(error), 70) });
}

/** Wraps long lines at spaces to `width` columns (tags count, which only makes lines shorter). */
export function wrapLines(lines: readonly string[], width: number): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (line.length <= width) {
      out.push(line);
      continue;
    }
    let rest = line;
    while (rest.length > width) {
      const cut = rest.lastIndexOf(' ', width);
      const at = cut > width / 2 ? cut : width;
      out.push(rest.slice(0, at));
      rest = rest.slice(at).trimStart();
    }
    if (rest) out.push(rest);
  }
  return out;
}

/** Wraps one line to `width`, its continuation lines indented by `hang` spaces (a legend entry, a disk's facts). */
export function wrapHanging(text: string, width: number, hang: number): string[] {
  const [first = ''] = wrapLines([text], width);
  // wrapLines' first line is a prefix of the text: the rest is wrapped again, narrower (a word cut at the edge stays one word).
  const rest = text.slice(first.length).trimStart();
  const continued = rest ? wrapLines([rest], Math.max(10, width - hang)).map((line) => `${' '.repeat(hang)}${line}`) : [];
  return [first, ...continued];
}
