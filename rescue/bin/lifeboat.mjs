#!/usr/bin/env node
// Launcher for `npx lifeboat` in a checkout: runs the TypeScript source with Node 24's type stripping.
import { reexecWithMallocTuning } from '../io/malloc-tuning.ts';
import { traceModules } from '../io/module-trace.ts';

reexecWithMallocTuning([...process.execArgv, process.argv[1]], process.argv.slice(2));
traceModules(process.env);
const { main } = await import('../main.ts');
await main();
