// The TUI's frame: one blessed screen, a title line, a hint line, and a stack of pages. A page is
// pushed by a screen function and popped when it resolves (Escape resolves "back"), so adding an
// operation is adding a screen file and a flow that awaits screens one after the other.

import blessed from 'blessed';
import { themeForColors, type Theme } from './theme.ts';

/** A page on the stack: a full-screen area (or a centred dialog) with its own keys. */
export interface Page<T> {
  readonly box: blessed.Widgets.BoxElement;
  /** Ends the page with a value (the screen function's promise resolves with it). */
  resolve(value: T | undefined): void;
  /** Letter and key shortcuts of this page (blessed key names: 'b', 'enter', 'C-r', 'f5'). */
  onKey(keys: readonly string[], handler: () => void): void;
  /** What Escape does on this page (default: resolve undefined, i.e. go back). */
  onEscape(handler: () => void): void;
  /** Changes the keys line of this page (kept when a dialog over it closes). */
  setHint(hint: string): void;
}

interface StackEntry {
  readonly box: blessed.Widgets.BoxElement;
  readonly keys: Map<string, () => void>;
  escape: () => void;
  hint: string;
  readonly focus: blessed.Widgets.BlessedElement | undefined;
  readonly overlay: boolean;
}

/** How a page is laid out. */
export interface PageOptions {
  readonly title: string;
  /** The keys line at the bottom. */
  readonly hint: string;
  /** A centred dialog over the page below instead of a full page. */
  readonly dialog?: { readonly width: number; readonly height: number };
  /** Closes the page (resolving undefined) when aborted: a question that no longer applies. */
  readonly closeOn?: AbortSignal;
}

/** Columns of the frame around a page's label: the corners, a rule on the left and one on the right, the label's spaces. */
const LABEL_FRAME_COLUMNS = 6;

/** Shortens `text` to `width` columns by putting "..." in its middle (both ends stay readable); shorter text is returned as it is. */
export function elideMiddle(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 3) return text.slice(0, width);
  const head = Math.ceil((width - 3) / 2);
  return `${text.slice(0, head)}...${text.slice(text.length - (width - 3 - head))}`;
}

/** The application: holds the screen and the page stack. */
export class TuiApp {
  readonly screen: blessed.Widgets.Screen;
  readonly theme: Theme;
  /** True when the terminal draws Unicode (braille charts); the Linux console and vt220 do not. */
  readonly unicode: boolean;
  private readonly stack: StackEntry[] = [];
  private readonly titleBar: blessed.Widgets.BoxElement;
  private readonly hintBar: blessed.Widgets.BoxElement;

  constructor(options: { readonly version: string }) {
    this.screen = blessed.screen({ smartCSR: true, title: 'Lifeboat', fullUnicode: false, dockBorders: true, autoPadding: true });
    const tput = this.screen.tput as unknown as { colors: number; unicode: boolean };
    this.theme = themeForColors(tput.colors);
    this.unicode = tput.unicode === true;
    this.titleBar = blessed.box({ parent: this.screen, top: 0, left: 0, width: '100%', height: 1, tags: true, content: `{bold}Lifeboat ${options.version}{/bold}  rescue toolkit: backup, restore, clone`, style: { fg: this.theme.text } });
    this.hintBar = blessed.box({ parent: this.screen, bottom: 0, left: 0, width: '100%', height: 1, tags: true, content: '' });
    this.screen.on('keypress', (_ch: string, key: { full: string } | undefined) => {
      const top = this.stack.at(-1);
      if (!top || !key) return;
      if (key.full === 'escape') {
        top.escape();
        return;
      }
      top.keys.get(key.full)?.();
    });
  }

  /** Shows a page built by `build`; resolves with what the page resolves (undefined: back). */
  show<T>(options: PageOptions, build: (page: Page<T>) => void | Promise<void>): Promise<T | undefined> {
    const below = this.stack.at(-1);
    if (below && !options.dialog) below.box.hide();
    // A title longer than the frame would run over its corner: it loses its middle instead.
    const columns = options.dialog?.width ?? (this.screen.width as number);
    const label = ` ${elideMiddle(options.title, Math.max(8, columns - LABEL_FRAME_COLUMNS))} `;
    const box = options.dialog
      ? blessed.box({ parent: this.screen, top: 'center', left: 'center', width: options.dialog.width, height: options.dialog.height, border: { type: 'line' }, label, tags: true, style: { border: { fg: this.theme.accent } } })
      : blessed.box({ parent: this.screen, top: 1, left: 0, width: '100%', height: '100%-2', border: { type: 'line' }, label, tags: true, style: { border: { fg: this.theme.accent } } });
    return new Promise<T | undefined>((resolvePromise) => {
      let done = false;
      const entry: StackEntry = { box, keys: new Map(), escape: () => finish(undefined), hint: options.hint, focus: this.screen.focused, overlay: options.dialog !== undefined };
      const finish = (value: T | undefined) => {
        if (done) return;
        done = true;
        const index = this.stack.indexOf(entry);
        if (index >= 0) this.stack.splice(index, 1);
        box.destroy();
        const top = this.stack.at(-1);
        if (top) {
          top.box.show();
          this.hintBar.setContent(top.hint);
          entry.focus?.focus();
        }
        this.render();
        resolvePromise(value);
      };
      this.stack.push(entry);
      this.hintBar.setContent(options.hint);
      const page: Page<T> = {
        box,
        resolve: finish,
        onKey: (keys, handler) => {
          for (const key of keys) entry.keys.set(key, handler);
        },
        onEscape: (handler) => {
          entry.escape = handler;
        },
        setHint: (hint) => {
          entry.hint = hint;
          if (this.stack.at(-1) === entry) this.hintBar.setContent(hint);
          this.render();
        },
      };
      if (options.closeOn?.aborted) {
        finish(undefined);
        return;
      }
      options.closeOn?.addEventListener('abort', () => finish(undefined), { once: true });
      // Keys go to this page from now on, not to a list left focused on the page below.
      box.focus();
      Promise.resolve(build(page)).then(() => this.render(), (error: unknown) => {
        finish(undefined);
        this.failed?.(error);
      });
      this.render();
    });
  }

  /** Called when a page's builder throws (the app shows the coded error). */
  failed: ((error: unknown) => void) | undefined;

  /** Redraws after widgets changed. */
  render(): void {
    try {
      this.screen.render();
    } catch {
      // a widget that cannot draw (a chart before it has a size) must not end the TUI
    }
  }

  /** Leaves the terminal as it was. */
  destroy(): void {
    this.screen.destroy();
    // blessed leaves stdin flowing after destroy; paused, it no longer keeps the process alive
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
  }

  /** Hides the title and hint lines (kept for a future full-screen mode). */
  get bars(): { readonly title: blessed.Widgets.BoxElement; readonly hint: blessed.Widgets.BoxElement } {
    return { title: this.titleBar, hint: this.hintBar };
  }
}

/** Keys written the way the hint lines show them. */
export function hintLine(pairs: ReadonlyArray<readonly [string, string]>): string {
  return ` ${pairs.map(([key, what]) => `{bold}${key}{/bold} ${what}`).join('  ')}`;
}
