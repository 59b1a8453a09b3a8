// LIFEBOAT_TRACE_MODULES=FILE: the program writes the modules it evaluated into FILE as it exits,
// one per line after a first line `malloc-tuning: on|off` (whether this process is the one
// re-executed with the malloc tuning, rescue/io/malloc-tuning.ts) and a second line
// `code-cache: accepted|rejected|none` (whether V8 took the executable's code cache,
// builder/sea-code-cache.ts; none in a checkout), so tests can check that a short command loads neither the TUI, the builder nor the
// backup code (test/cli/lazy-loading.test.ts). In the single executable the bundle's module
// wrappers report each module when it is first evaluated (builder/bundle.ts traceModuleInits); in
// a checkout Node's module hooks report every module loaded. Both add Node's built-in modules
// loaded since the trace began (process.moduleLoadList), internal ones too: node:NAME.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MALLOC_TUNED_MARKER } from './malloc-tuning.ts';

/** The environment variable naming the file to write. */
export const TRACE_MODULES_ENV = 'LIFEBOAT_TRACE_MODULES';

/** The global the executable's loader sets to `accepted` or `rejected` (builder/sea-code-cache.ts). */
export const CODE_CACHE_STATE = '__lifeboatCodeCache';

/** The global function the bundle's module wrappers call with each module's path. */
export const BUNDLE_TRACE_HOOK = '__lifeboatTraceModule';

/** A module as the trace names it: node_modules/PACKAGE/..., rescue/..., builder/..., or node:NAME. */
export function traceName(name: string): string {
  const file = name.startsWith('file:') ? fileURLToPath(name) : name;
  const packages = file.indexOf('node_modules/');
  if (packages !== -1) return file.slice(packages);
  const own = Math.max(file.lastIndexOf('rescue/'), file.lastIndexOf('builder/'));
  return own === -1 || (own > 0 && file[own - 1] !== '/') ? file : file.slice(own);
}

/** Starts the trace when the environment asks for it; a no-op otherwise. */
export function traceModules(env: Readonly<Record<string, string | undefined>>): void {
  const file = env[TRACE_MODULES_ENV];
  if (!file) return;
  const seen: string[] = [];
  const record = (name: string) => {
    seen.push(traceName(name));
  };
  (globalThis as Record<string, unknown>)[BUNDLE_TRACE_HOOK] = record;
  process.getBuiltinModule('node:module').registerHooks({
    load: (url, context, nextLoad) => {
      record(url);
      return nextLoad(url, context);
    },
  });
  const tuned = env[MALLOC_TUNED_MARKER] === undefined ? 'off' : 'on';
  const codeCache = (globalThis as Record<string, unknown>)[CODE_CACHE_STATE];
  // process.moduleLoadList is undocumented (not in @types/node): Node's own record of what it loaded.
  const loadList = () => (process as unknown as { moduleLoadList?: readonly string[] }).moduleLoadList ?? [];
  const builtInsAtStart = new Set(loadList());
  process.on('exit', () => {
    // Node's built-in modules loaded since the trace began (internal ones too), as node:NAME.
    const builtIns = loadList().filter((entry) => !builtInsAtStart.has(entry) && entry.startsWith('NativeModule ')).map((entry) => `node:${entry.slice('NativeModule '.length)}`);
    const lines = [`malloc-tuning: ${tuned}`, `code-cache: ${typeof codeCache === 'string' ? codeCache : 'none'}`, ...new Set([...seen, ...builtIns])];
    writeFileSync(file, lines.map((line) => `${line}\n`).join(''));
  });
}
