// Minimal typings for the parts of blessed-contrib Lifeboat uses (the package ships none).
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';

  interface TableData {
    headers: string[];
    data: string[][];
  }
  interface TableElement extends Widgets.BoxElement {
    setData(data: TableData): void;
    /** The list that draws the rows (its style.selected colours the selected row). */
    rows: Widgets.ListElement;
  }
  interface LineSeries {
    title: string;
    x: string[];
    y: number[];
  }
  interface LineElement extends Widgets.BoxElement {
    setData(data: LineSeries[]): void;
  }
  interface Contrib {
    table(options: Record<string, unknown>): TableElement;
    line(options: Record<string, unknown>): LineElement;
  }
  const contrib: Contrib;
  export default contrib;
}

// The line chart alone (progress-screen.ts loads only it).
declare module 'blessed-contrib/lib/widget/charts/line.js' {
  import type { LineElement } from 'blessed-contrib';

  const line: (options: Record<string, unknown>) => LineElement;
  export default line;
}
