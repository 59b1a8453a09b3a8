// What "nothing is cut at 80 columns" means on a captured TUI screen (tmux capture-pane -p), as a
// list of problems (empty when the screen is whole):
// - the title and keys lines stop short of the last column (blessed cuts a longer one there);
// - every frame is whole: each row has as many top-left corners as top-right ones (a title too
//   long for its frame runs over the corner), and a row that starts on the page's frame ends on it;
// - no text runs into a right border (a line sliced to its box's width touches it);
// - each long value the screen is about (a path, label, note, tag) appears whole, read with
//   whitespace and frame characters removed, so a value wrapped over lines counts, one cut or
//   shortened with "..." and never shown whole does not.

/** Characters the frames are drawn with (tmux renders the Linux console's line drawing as these). */
const FRAME = '│┌┐└┘├┤─┬┴┼';
const SCREEN_COLUMNS = 80;

function count(chars: readonly string[], wanted: string): number {
  return chars.filter((char) => char === wanted).length;
}

/** The problems of `screen` (empty: nothing cut); `columns` limits the search for values to a region (the home screen's right side). */
export function cutProblems(screen: string, values: readonly string[], columns: { from: number; to?: number } = { from: 0 }): string[] {
  const rows = screen.replace(/\n+$/, '').split('\n');
  const problems: string[] = [];
  rows.forEach((row, index) => {
    const chars = [...row.trimEnd()];
    const where = `row ${index} "${row.trimEnd()}"`;
    if ((index === 0 || index === rows.length - 1) && chars.length >= SCREEN_COLUMNS) problems.push(`${where} runs to the screen's last column`);
    if (count(chars, '┌') !== count(chars, '┐')) problems.push(`${where}: a frame's top edge is broken (its title runs over the corner?)`);
    if (count(chars, '└') !== count(chars, '┘')) problems.push(`${where}: a frame's bottom edge is broken`);
    if (index > 0 && index < rows.length - 1 && FRAME.includes(chars[0] ?? ' ') && !FRAME.includes(chars[SCREEN_COLUMNS - 1] ?? ' ')) problems.push(`${where} does not end on the page's frame`);
    for (let column = 1; column < chars.length; column++) {
      const before = chars[column - 1] ?? ' ';
      if (chars[column] === '│' && before.trim() !== '' && !FRAME.includes(before)) problems.push(`${where}: text runs into the border at column ${column}`);
    }
  });
  const strip = (text: string) => text.replace(new RegExp(`[\\s${FRAME}]`, 'gu'), '');
  const region = strip(rows.map((row) => [...row].slice(columns.from, columns.to).join('')).join('\n'));
  for (const value of values) if (!region.includes(strip(value))) problems.push(`not shown whole: ${value}`);
  return problems;
}
