// Entry point of the bundle inside the single executable.
import { reexecWithMallocTuning } from './io/malloc-tuning.ts';
import { traceModules } from './io/module-trace.ts';

reexecWithMallocTuning([], process.argv.slice(2));
traceModules(process.env);
void import('./main.ts').then(({ main }) => main());
