// Turns a terminal byte stream (a TUI over a serial line) into screen text with a headless xterm.

import xterm from '@xterm/headless';

/** Replays `stream` into an emulated terminal and returns its visible lines. */
export async function renderScreen(stream: string, columns = 80, rows = 24): Promise<string> {
  const terminal = new xterm.Terminal({ cols: columns, rows, allowProposedApi: true });
  await new Promise<void>((resolve) => terminal.write(stream, resolve));
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let row = 0; row < rows; row += 1) lines.push(buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '');
  terminal.dispose();
  return lines.join('\n');
}
