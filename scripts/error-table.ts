// Rewrites the error table in README.md from the catalogue (node scripts/error-table.ts).

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../builder/paths.ts';
import { ERROR_TABLE_MARKERS, renderErrorTable } from '../rescue/ui/cli/error-table.ts';

const readme = path.join(PROJECT_ROOT, 'README.md');
const text = await readFile(readme, 'utf8');
const begin = text.indexOf(ERROR_TABLE_MARKERS.begin);
const end = text.indexOf(ERROR_TABLE_MARKERS.end);
if (begin < 0 || end < begin) throw new Error('README.md has no error-table markers');
const updated = `${text.slice(0, begin + ERROR_TABLE_MARKERS.begin.length)}\n${renderErrorTable()}\n${text.slice(end)}`;
await writeFile(readme, updated);
