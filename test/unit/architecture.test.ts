// Keeps the layering of shared/notes/architecture.md: core is pure, io and ui depend on core,
// only main.ts joins them, the builder never reaches into ui or io, and there are no cycles.

import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../../builder/paths.ts';
import { ERROR_TABLE_MARKERS, renderErrorTable } from '../../rescue/ui/cli/error-table.ts';

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(PROJECT_ROOT, dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.relative(PROJECT_ROOT, path.join(entry.parentPath, entry.name)));
}

async function imports(file: string): Promise<string[]> {
  const text = await readFile(path.join(PROJECT_ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) => match[1] ?? match[2] ?? '');
  return specifiers.filter((specifier) => specifier.startsWith('.')).map((specifier) => path.normalize(path.join(path.dirname(file), specifier)));
}

const layer = (file: string): string => {
  if (file === 'rescue/main.ts' || file.startsWith('rescue/bin/') || file === 'rescue/sea-entry.ts') return 'main';
  if (file === 'rescue/version.ts') return 'version';
  const [top, sub] = file.split('/');
  return top === 'rescue' ? `rescue/${sub}` : (top ?? '');
};

/** Which layers each layer may import (besides itself and version.ts). */
const ALLOWED: Record<string, readonly string[]> = {
  'rescue/core': [],
  'rescue/io': ['rescue/core'],
  'rescue/ops': ['rescue/core'],
  'rescue/ui': ['rescue/core', 'rescue/ops'],
  main: ['rescue/core', 'rescue/io', 'rescue/ops', 'rescue/ui', 'builder'],
  builder: ['rescue/core', 'native'],
  native: ['rescue/core'],
};

test('imports follow the layers; core is pure (no Node or npm imports)', async (t) => {
  const files = [...(await sourceFiles('rescue')), ...(await sourceFiles('builder')), ...(await sourceFiles('native'))];
  t.true(files.length > 20);
  for (const file of files) {
    const from = layer(file);
    for (const target of await imports(file)) {
      const to = layer(target);
      if (to === from || to === 'version') continue;
      t.true((ALLOWED[from] ?? []).includes(to), `${file} (${from}) must not import ${target} (${to})`);
    }
    if (from === 'rescue/core') {
      const text = await readFile(path.join(PROJECT_ROOT, file), 'utf8');
      t.notRegex(text, /from\s+['"](?!\.)/, `${file} imports a module outside core`);
    }
  }
});

test('no import cycles', async (t) => {
  const files = [...(await sourceFiles('rescue')), ...(await sourceFiles('builder')), ...(await sourceFiles('native'))];
  const graph = new Map<string, string[]>();
  for (const file of files) graph.set(file, await imports(file));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, trail: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'visiting');
    for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  t.deepEqual(cycles, []);
});

test('the README error table is the catalogue (regenerate with node scripts/error-table.ts)', async (t) => {
  const readme = await readFile(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const begin = readme.indexOf(ERROR_TABLE_MARKERS.begin) + ERROR_TABLE_MARKERS.begin.length;
  const end = readme.indexOf(ERROR_TABLE_MARKERS.end);
  t.is(readme.slice(begin, end).trim(), renderErrorTable());
});
