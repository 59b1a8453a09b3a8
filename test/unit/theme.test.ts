import test from 'ava';
import { themeForColors } from '../../rescue/ui/tui/theme.ts';

test('terminals without colours get no colours and a reverse-video selection', (t) => {
  for (const colors of [-1, 0, 2]) {
    const theme = themeForColors(colors);
    t.is(theme.accent, 'default');
    t.is(theme.text, 'default');
    t.true(theme.selected.inverse);
  }
});

test('colour terminals get the cyan accent and a coloured selection', (t) => {
  for (const colors of [8, 16, 256]) t.like(themeForColors(colors), { accent: 'cyan', selected: { bg: 'cyan' } });
});
