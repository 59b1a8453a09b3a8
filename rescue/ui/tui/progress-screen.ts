// The progress screen of every long operation: a gauge, bytes done of the total, the rate and a
// rate chart, the ETA, the current step and the tail of the notices; "when done" can be changed
// while it runs; Cancel asks, then stops the operation through its AbortSignal. Once it has ended
// there is nothing to cancel: the keys line says Enter continue, and a Cancel question still open
// is withdrawn.

import blessed from 'blessed';
// Only the line chart: blessed-contrib's index loads every widget (its world map alone is 1.4 MB of the bundle).
import line from 'blessed-contrib/lib/widget/charts/line.js';
import { formatBytes, formatRate } from '../../core/human-units.ts';
import { toLifeboatError } from '../../core/errors.ts';
import { formatDuration, type ProgressEvent, type ProgressReporter } from '../../core/progress.ts';
import { elideMiddle, hintLine, type TuiApp } from './app.ts';
import { confirm, errorLines, escapeTags, wrapLines } from './common-screens.ts';

/** What happens when the operation succeeded. */
export type WhenDone = 'stay' | 'poweroff' | 'reboot';

const WHEN_DONE_ORDER: readonly WhenDone[] = ['stay', 'poweroff', 'reboot'];
const WHEN_DONE_LABEL: Readonly<Record<WhenDone, string>> = { stay: 'stay', poweroff: 'power off', reboot: 'reboot' };
/** Redraws at most this often (the operations report per chunk). */
const RENDER_INTERVAL_MS = 250;
/** Rate samples kept for the chart. */
const RATE_SAMPLES = 60;
/** One rate sample per this many milliseconds. */
const RATE_SAMPLE_MS = 500;

/** How an operation ended. */
export interface ProgressOutcome {
  readonly ok: boolean;
  readonly whenDone: WhenDone;
  readonly error?: unknown;
}

export { formatDuration };

/** The gauge as text: `[#####.....]  50%`. */
export function gaugeText(done: number, total: number, width: number): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const inner = Math.max(4, width - 8);
  const filled = Math.round(fraction * inner);
  return `[${'#'.repeat(filled)}${'.'.repeat(inner - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

/** A rate chart in plain characters (bars of #), for terminals without Unicode. */
export function asciiChart(samples: readonly number[], width: number, height: number): string[] {
  const shown = samples.slice(-width);
  const max = Math.max(1, ...shown);
  const rows: string[] = [];
  for (let row = height; row >= 1; row--) {
    rows.push(shown.map((value) => (value / max) * height >= row - 0.5 ? '#' : ' ').join(''));
  }
  rows.push(`max ${formatRate(max)}`);
  return rows;
}

/** Runs `run` with a reporter and a stop signal, drawing its progress; resolves when the user leaves the finished screen. */
export function runWithProgress(app: TuiApp, options: {
  title: string;
  whenDone: WhenDone;
  /** What a stop leaves behind, shown when Cancel asks (default: the backup and restore lines). */
  stopNote?: readonly string[];
  run: (reporter: ProgressReporter, signal: AbortSignal) => Promise<readonly string[]>;
}): Promise<ProgressOutcome | undefined> {
  return app.show<ProgressOutcome>({ title: options.title, hint: hintLine([['w', 'when done'], ['c/Esc', 'cancel']]) }, (page) => {
    const controller = new AbortController();
    // Aborted when the operation has ended: withdraws a Cancel question left open.
    const ended = new AbortController();
    let whenDone = options.whenDone;
    let finished: ProgressOutcome | undefined;
    let last: ProgressEvent | undefined;
    let phase = '';
    let phaseStart = Date.now();
    let lastSample = { time: Date.now(), bytes: 0 };
    const rates: number[] = [];
    const notices: string[] = [];
    const status = blessed.box({ parent: page.box, top: 0, left: 1, width: '100%-4', height: 5, tags: true });
    const chartTop = 5;
    const chartHeight = 8;
    // blessed-contrib's canvas is made when the chart is attached: append it after creating it.
    const chartBox = app.unicode
      ? line({ top: chartTop, left: 0, width: '100%-2', height: chartHeight, label: ' Rate (MiB/s) ', border: { type: 'line' }, style: { line: app.theme.accent, text: app.theme.text, baseline: app.theme.text, border: { fg: app.theme.accent } }, showLegend: false, minY: 0 })
      : blessed.box({ parent: page.box, top: chartTop, left: 0, width: '100%-2', height: chartHeight, label: ' Rate ', border: { type: 'line' }, style: { border: { fg: app.theme.accent } } });
    if (!chartBox.parent) page.box.append(chartBox);
    const noticesBox = blessed.box({ parent: page.box, top: chartTop + chartHeight, left: 0, width: '100%-2', height: '100%-15', label: ' Notices ', border: { type: 'line' }, tags: true, style: { border: { fg: app.theme.accent } } });

    const draw = () => {
      const width = Math.max(20, (status.width as number) - 2);
      const done = last?.bytesDone ?? 0;
      const total = last?.bytesTotal ?? 0;
      const elapsed = (Date.now() - phaseStart) / 1000;
      const rate = elapsed > 0 ? done / elapsed : 0;
      const eta = finished ? 0 : rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
      const failure = finished && !finished.ok ? toLifeboatError(finished.error).code : undefined;
      const state = finished ? (finished.ok ? '{bold}done{/bold}' : failure === 'LB_INPUT_STOPPED' ? '{bold}stopped{/bold}' : '{bold}failed{/bold}') : controller.signal.aborted ? 'stopping...' : 'running';
      // A long item (a file's path) loses its middle rather than pushing the lines below out of the box.
      const step = last ? elideMiddle(`${last.phase}${last.item ? `: ${last.item}` : ''}`, width - 6) : 'starting';
      status.setContent([
        `Step: ${escapeTags(step)}`,
        `${gaugeText(finished?.ok ? Math.max(done, total) : done, total === 0 && !finished?.ok ? 1 : total, width - 8)}  ${state}`,
        `${formatBytes(done)} of ${formatBytes(total)}   ${formatRate(rate)}   ETA ${formatDuration(eta)}`,
        `When done: ${WHEN_DONE_ORDER.map((entry) => (entry === whenDone ? `[${WHEN_DONE_LABEL[entry]}]` : WHEN_DONE_LABEL[entry])).join('  ')}   (w changes)`,
      ].join('\n'));
      if ('setData' in chartBox) {
        const shown = rates.slice(-RATE_SAMPLES);
        (chartBox as unknown as { setData(data: unknown): void }).setData([{ title: 'rate', x: shown.map((_, index) => String(index)), y: shown.map((value) => value / (1024 * 1024)) }]);
      } else {
        const chartWidth = Math.max(10, (chartBox.width as number) - 4);
        chartBox.setContent(asciiChart(rates, chartWidth, chartHeight - 3).join('\n'));
      }
      const noticeWidth = Math.max(20, (noticesBox.width as number) - 4);
      const noticeRows = Math.max(1, (noticesBox.height as number) - 2);
      noticesBox.setContent(wrapLines(notices, noticeWidth).slice(-noticeRows).join('\n'));
      app.render();
    };
    let lastDraw = 0;
    const reporter: ProgressReporter = {
      progress: (event) => {
        if (event.phase !== phase) {
          phase = event.phase;
          phaseStart = Date.now();
          lastSample = { time: Date.now(), bytes: event.bytesDone };
        }
        last = event;
        const now = Date.now();
        if (now - lastSample.time >= RATE_SAMPLE_MS) {
          rates.push(((event.bytesDone - lastSample.bytes) * 1000) / (now - lastSample.time));
          lastSample = { time: now, bytes: event.bytesDone };
        }
        if (now - lastDraw >= RENDER_INTERVAL_MS) {
          lastDraw = now;
          draw();
        }
      },
      notice: (message) => {
        notices.push(escapeTags(message));
        draw();
      },
    };
    const cancel = async () => {
      if (finished || controller.signal.aborted) return;
      const question = [`Stop ${escapeTags(elideMiddle(options.title, 54))}?`, ...(options.stopNote ?? ['A stopped backup leaves the repository as it was;', 'a stopped restore leaves the target incomplete.'])];
      if (await confirm(app, { title: 'Cancel?', lines: question, closeOn: ended.signal })) {
        if (!finished) controller.abort();
        draw();
      }
    };
    page.onKey(['c'], () => void cancel());
    // Escape asks to cancel while the operation runs, and leaves the screen once it has ended.
    page.onEscape(() => {
      if (finished) page.resolve(finished);
      else void cancel();
    });
    page.onKey(['w'], () => {
      if (finished) return;
      whenDone = WHEN_DONE_ORDER[(WHEN_DONE_ORDER.indexOf(whenDone) + 1) % WHEN_DONE_ORDER.length] ?? 'stay';
      draw();
    });
    page.onKey(['enter'], () => {
      if (finished) page.resolve(finished);
    });
    draw();
    options.run(reporter, controller.signal).then((summary) => {
      finished = { ok: true, whenDone };
      notices.push(...summary.map((line) => escapeTags(line)));
      notices.push('Press Enter to continue.');
    }, (error: unknown) => {
      finished = { ok: false, whenDone, error };
      notices.push(...errorLines(error).filter(Boolean), 'Press Enter to continue.');
    }).finally(() => {
      page.setHint(hintLine([['Enter', 'continue']]));
      ended.abort();
      draw();
    });
  });
}
