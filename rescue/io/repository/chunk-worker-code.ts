// Where a chunk worker's code comes from. In a checkout, Node runs chunk-worker.ts itself. The
// single executable cannot hand a worker a file inside itself, so builder/bundle.ts bundles
// chunk-worker.ts at build time and puts this module in the executable with the bundle as a string.

/** The bundled worker (CommonJS, run with `eval`); undefined in a checkout. */
export const BUNDLED_CHUNK_WORKER: string | undefined = undefined;

/** The worker's source file, for a checkout. */
export const CHUNK_WORKER_FILE = new URL('./chunk-worker.ts', import.meta.url);
