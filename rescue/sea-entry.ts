// Entry point of the bundle inside the single executable.
import { reexecWithMallocTuning } from './io/malloc-tuning.ts';
import { traceModules } from './io/module-trace.ts';

/**
 * The builder's code-cache warm-up (builder/code-cache-warm-up.ts) sets this before it runs the
 * bundle: it then gets main.ts to run its own command lines in this process, instead of main().
 */
const WARM_UP_HOOK = '__lifeboatWarmUp';

reexecWithMallocTuning([], process.argv.slice(2));
traceModules(process.env);
void import('./main.ts').then((program) => {
  const warmUp = (globalThis as Record<string, unknown>)[WARM_UP_HOOK];
  return typeof warmUp === 'function' ? (warmUp as (main: typeof program) => Promise<void>)(program) : program.main();
});
