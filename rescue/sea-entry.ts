// Entry point of the bundle inside the single executable.
import { reexecWithMallocTuning } from './io/malloc-tuning.ts';

reexecWithMallocTuning([], process.argv.slice(2));
void import('./main.ts').then(({ main }) => main());
