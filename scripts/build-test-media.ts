// Builds what the tests boot and run: the unattended test ISO, the interactive test ISO and
// dist/lifeboat, through the same builder `npm run iso` uses.

import { buildLinux } from '../builder/build-linux.ts';
import { TEST_MEDIA, TEST_RUN_APPEND } from '../test/helpers/media.ts';

const log = (line: string) => process.stdout.write(`build-test-media: ${line}\n`);
const common = { kernel: undefined, cache: undefined, compressionLevel: undefined, menuTimeout: 1 };

await buildLinux({ ...common, output: TEST_MEDIA.runIso, append: TEST_RUN_APPEND }, log);
await buildLinux({ ...common, output: TEST_MEDIA.interactiveIso, append: undefined }, log);
