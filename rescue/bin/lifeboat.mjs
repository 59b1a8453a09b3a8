#!/usr/bin/env node
// Launcher for `npx lifeboat` in a checkout: runs the TypeScript source with Node 24's type stripping.
import { main } from '../main.ts';

await main();
