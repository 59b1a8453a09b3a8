// Colours the TUI uses, chosen by what the terminal can show: the Linux console has 8 colours,
// a serial vt220 has none (blessed would turn every colour into black: unreadable on black).

/** How a selected row is drawn. */
export interface SelectedStyle {
  readonly fg?: string;
  readonly bg?: string;
  readonly inverse?: boolean;
}

/** The few styles the screens use; 'default' is the terminal's own colour. */
export interface Theme {
  readonly accent: string;
  readonly text: string;
  readonly selected: SelectedStyle;
}

/** Picks the theme for a terminal that reports `colors` colours (-1 or 0 when it has none). */
export function themeForColors(colors: number): Theme {
  if (colors >= 8) return { accent: 'cyan', text: 'white', selected: { fg: 'black', bg: 'cyan' } };
  // Monochrome: no colour at all; the selection is shown in reverse video.
  return { accent: 'default', text: 'default', selected: { fg: 'default', bg: 'default', inverse: true } };
}
