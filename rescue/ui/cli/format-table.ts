// Renders rows as an aligned text table for terminals; columns sized to their widest cell.

/** A column: its heading and how to pull the cell text from a row. */
export interface Column<Row> {
  readonly heading: string;
  readonly cell: (row: Row) => string;
  readonly alignRight?: boolean;
}

/** Formats rows under headings, two spaces between columns, no trailing spaces. */
export function formatTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.cell(row)));
  const widths = columns.map((column, i) => Math.max(column.heading.length, ...cells.map((line) => (line[i] ?? '').length)));
  const render = (line: readonly string[]): string =>
    line
      .map((text, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.alignRight ? text.padStart(width) : text.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.heading)), ...cells.map(render)].join('\n');
}
