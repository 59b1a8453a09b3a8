// Bundles the rescue program into one CommonJS file with esbuild, made to work inside a Node
// single executable: blessed's dynamic widget requires become static, blessed's terminfo
// and font files travel as SEA assets, unpacked on first use, and the chunk workers' code
// (rescue/io/repository/chunk-worker.ts) is bundled on its own and carried as a string.

import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Plugin } from 'esbuild';
import { PROJECT_ROOT } from './paths.ts';

/** Prefix of SEA asset keys that hold blessed's usr/ folder. */
export const BLESSED_ASSET_PREFIX = 'blessed-usr/';

const BLESSED_USR_MODULE = 'lifeboat-virtual:blessed-usr';

/** The chunk worker's entry, bundled on its own (a worker thread cannot load a file from inside the executable). */
export const CHUNK_WORKER_ENTRY = path.join(PROJECT_ROOT, 'rescue', 'io', 'repository', 'chunk-worker.ts');
/** The module that tells the pool where the worker's code is; in the bundle it carries the code. */
const CHUNK_WORKER_CODE_MODULE = /[\\/]rescue[\\/]io[\\/]repository[\\/]chunk-worker-code\.ts$/;
/** The global function the bundle's module wrappers report each module to (rescue/io/module-trace.ts). */
const TRACE_HOOK = 'globalThis.__lifeboatTraceModule';

/** esbuild's module wrappers as it writes them, and the same reporting the module first. */
const MODULE_WRAPPERS: ReadonlyArray<readonly [string, string]> = [
  [
    'return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;',
    `return fn && (${TRACE_HOOK}?.(__getOwnPropNames(fn)[0]), res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;`,
  ],
  [
    'return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;',
    `return mod || (${TRACE_HOOK}?.(__getOwnPropNames(cb)[0]), (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod)), mod.exports;`,
  ],
];

/**
 * Makes esbuild's lazy module wrappers (__esm, __commonJS) report each module as it is first
 * evaluated, when LIFEBOAT_TRACE_MODULES sets the hook; the cost otherwise is one lookup per module.
 */
export function traceModuleInits(source: string): string {
  let traced = source;
  for (const [wrapper, reporting] of MODULE_WRAPPERS) {
    if (traced.split(wrapper).length !== 2) throw new Error(`esbuild's module wrapper changed: ${wrapper} not found once`);
    traced = traced.replace(wrapper, reporting);
  }
  return traced;
}

/** Options of one bundle. */
export interface BundleOptions {
  readonly entry: string;
  readonly outfile: string;
  readonly version: string;
  /** Asset keys the unpacker may ask for (relative paths inside blessed's usr/). */
  readonly blessedUsrFiles: readonly string[];
  /**
   * Whitespace left out (default true): 2.4 MB of code instead of 1.7 MB, which every start reads
   * and turns into a string (~600 fewer page faults, ~12 ms of CPU per start, measured). Names stay,
   * so stack traces in run logs still name functions. false keeps esbuild's `// path` comments
   * before each module (scripts/bench-start.ts --profile maps a profile to modules with them).
   */
  readonly minify?: boolean;
}

/** Lists blessed's usr/ files, relative to that folder. */
export async function listBlessedUsrFiles(): Promise<string[]> {
  const root = path.join(PROJECT_ROOT, 'node_modules', 'blessed', 'usr');
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** Rewrites blessed's `require('./widgets/' + file)` loop into static requires. */
export function rewriteBlessedWidgetRequires(source: string, widgetFiles: readonly string[]): string {
  const dynamic = "widget[name] = widget[file] = require('./widgets/' + file);";
  if (!source.includes(dynamic)) throw new Error('blessed/lib/widget.js changed: dynamic require not found');
  const table = widgetFiles.map((file) => `  ${JSON.stringify(file)}: function() { return require(${JSON.stringify(`./widgets/${file}`)}); }`).join(',\n');
  return source.replace(dynamic, 'widget[name] = widget[file] = __lifeboatWidgets[file]();').replace(
    'var widget = exports;',
    `var widget = exports;\nvar __lifeboatWidgets = {\n${table}\n};`,
  );
}

/** Rewrites blessed's paths into its usr/ folder so they point at the unpacked assets. */
export function rewriteBlessedUsrPaths(source: string): string {
  return source
    .replace(/__dirname \+ '\/\.\.\/usr\//g, `require(${JSON.stringify(BLESSED_USR_MODULE)})() + '/`)
    .replace(/__dirname \+ '\/\.\.\/\.\.\/usr\//g, `require(${JSON.stringify(BLESSED_USR_MODULE)})() + '/`);
}

/** Source of the module that unpacks blessed's usr/ from SEA assets (or finds it beside the bundle). */
export function blessedUsrModuleSource(version: string, files: readonly string[]): string {
  return `
var fs = require('node:fs');
var os = require('node:os');
var path = require('node:path');
var FILES = ${JSON.stringify(files)};
var dir;
module.exports = function blessedUsrDir() {
  if (dir) return dir;
  var sea;
  try { sea = require('node:sea'); } catch (e) { sea = undefined; }
  if (!sea || !sea.isSea()) { dir = path.join(__dirname, 'blessed-usr'); return dir; }
  var target = path.join(os.tmpdir(), 'lifeboat-' + ${JSON.stringify(version)} + '-' + process.getuid() + '-blessed-usr');
  for (var i = 0; i < FILES.length; i++) {
    var file = path.join(target, FILES[i]);
    if (fs.existsSync(file)) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    var tmp = file + '.' + process.pid;
    fs.writeFileSync(tmp, Buffer.from(sea.getRawAsset(${JSON.stringify(BLESSED_ASSET_PREFIX)} + FILES[i])));
    fs.renameSync(tmp, file);
  }
  dir = target;
  return dir;
};
`;
}

function blessedPlugin(options: BundleOptions, widgetFiles: readonly string[]): Plugin {
  return {
    name: 'lifeboat-blessed',
    setup(build) {
      build.onResolve({ filter: /[\\/]builder[\\/]build-(linux|sea)\.ts$/ }, () => ({
        path: path.join(PROJECT_ROOT, 'builder', 'not-in-executable.ts'),
      }));
      build.onResolve({ filter: /^lifeboat-virtual:blessed-usr$/ }, (args) => ({ path: args.path, namespace: 'lifeboat-virtual' }));
      build.onLoad({ filter: /.*/, namespace: 'lifeboat-virtual' }, () => ({
        contents: blessedUsrModuleSource(options.version, options.blessedUsrFiles),
        loader: 'js',
        resolveDir: PROJECT_ROOT,
      }));
      build.onLoad({ filter: /[\\/]blessed[\\/]lib[\\/](widget|tput|widgets[\\/]bigtext)\.js$/ }, async (args) => {
        const { readFile } = await import('node:fs/promises');
        let source = await readFile(args.path, 'utf8');
        if (args.path.endsWith(`widget.js`) && !args.path.includes(`${path.sep}widgets${path.sep}`)) {
          source = rewriteBlessedWidgetRequires(source, widgetFiles);
        }
        return { contents: rewriteBlessedUsrPaths(source), loader: 'js' };
      });
    },
  };
}

/** What both bundles are: one CommonJS file for Node 24, kept in memory, readable (whitespace goes in a later pass). */
const COMMON_BUILD_OPTIONS = {
  bundle: true,
  write: false,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'silent',
} as const;

/** The chunk worker as one CommonJS script, for `new Worker(code, { eval: true })`. */
export async function bundleChunkWorker(): Promise<{ code: string; warnings: string[] }> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({ ...COMMON_BUILD_OPTIONS, entryPoints: [CHUNK_WORKER_ENTRY] });
  const [output] = result.outputFiles;
  if (!output || result.outputFiles.length !== 1) throw new Error(`esbuild made ${result.outputFiles.length} files of the chunk worker, not 1`);
  return { code: output.text, warnings: result.warnings.map((warning) => warning.text) };
}

/** Source of chunk-worker-code.ts as the bundle carries it: the worker's bundled code. */
export function chunkWorkerCodeModuleSource(code: string): string {
  return `export const BUNDLED_CHUNK_WORKER = ${JSON.stringify(code)};\nexport const CHUNK_WORKER_FILE = undefined;\n`;
}

function chunkWorkerPlugin(code: string): Plugin {
  return {
    name: 'lifeboat-chunk-worker',
    setup(build) {
      build.onLoad({ filter: CHUNK_WORKER_CODE_MODULE }, () => ({ contents: chunkWorkerCodeModuleSource(code), loader: 'js' }));
    },
  };
}

/**
 * Packages whose module top level does costly work that is needed only when they are called:
 * string-width makes an Intl.Segmenter and Unicode property regexps (\\p{RGI_Emoji}), about 30 ms
 * of every start of the single executable; wrap-ansi builds ansi-styles' tables. yargs and cliui
 * call them to lay out help, which yargs does before running any command (it keeps the help of the
 * command for an error message).
 */
export const DEFERRED_PACKAGES: readonly string[] = ['string-width', 'wrap-ansi'];

const DEFERRED_NAMESPACE = 'lifeboat-deferred';

/**
 * Source of the stand-in an `import x from 'PACKAGE'` gets: the real module is required on the
 * first call. string-width's stand-in answers printable ASCII itself (one column per character,
 * what string-width answers too), so help made of ASCII never loads it.
 */
export function deferredModuleSource(name: string): string {
  const ascii = name === 'string-width' ? "  if (typeof args[0] === 'string' && /^[\\x20-\\x7e]*$/.test(args[0])) return args[0].length;\n" : '';
  return `export default function deferred(...args) {\n${ascii}  return require(${JSON.stringify(name)}).default(...args);\n}\n`;
}

/**
 * Source of the stand-in an ES `import { strictEqual, notStrictEqual } from 'assert'` gets (yargs'
 * ESM platform shim). node:assert loads eight more built-in modules (its diff printer among them):
 * ~6 ms of CPU, and every start paid it, because yargs looks for a package.json on each run and
 * takes a failed notStrictEqual as "none found" (it catches the error). The stand-in compares with
 * Object.is, as node:assert does, and throws a plain error with node:assert's name and code;
 * importing any other name fails the build.
 */
export const ASSERT_STAND_IN_SOURCE = `function failed(message, fallback) {
  const error = new Error(message === undefined ? fallback : String(message));
  error.name = 'AssertionError';
  error.code = 'ERR_ASSERTION';
  return error;
}
export function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) throw failed(message, 'Expected values to be strictly equal');
}
export function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) throw failed(message, 'Expected "actual" to be strictly unequal to "expected"');
}
`;

function deferPlugin(): Plugin {
  const names = new RegExp(`^(${DEFERRED_PACKAGES.join('|')})$`);
  return {
    name: 'lifeboat-defer',
    setup(build) {
      build.onResolve({ filter: /^(node:)?assert$/ }, (args) => (args.kind === 'import-statement' && args.namespace === 'file'
        ? { path: 'assert-stand-in', namespace: DEFERRED_NAMESPACE, pluginData: { name: 'assert', resolveDir: args.resolveDir } }
        : undefined));
      // Only ES imports of the default export get the stand-in; the stand-in's own require (and any
      // CommonJS require) resolves to the package as usual, from the importer's folder.
      build.onResolve({ filter: names }, (args) => (args.kind === 'import-statement' && args.namespace === 'file'
        ? { path: path.relative(PROJECT_ROOT, path.join(args.resolveDir, args.path)), namespace: DEFERRED_NAMESPACE, pluginData: { name: args.path, resolveDir: args.resolveDir } }
        : undefined));
      build.onLoad({ filter: /.*/, namespace: DEFERRED_NAMESPACE }, (args) => {
        const { name, resolveDir } = args.pluginData as { name: string; resolveDir: string };
        return { contents: name === 'assert' ? ASSERT_STAND_IN_SOURCE : deferredModuleSource(name), loader: 'js', resolveDir };
      });
    },
  };
}

/** Lists blessed's widget modules (the names its widget.js requires at run time). */
export async function listBlessedWidgets(): Promise<string[]> {
  const dir = path.join(PROJECT_ROOT, 'node_modules', 'blessed', 'lib', 'widgets');
  return (await readdir(dir)).filter((file) => file.endsWith('.js')).map((file) => file.slice(0, -3)).sort();
}

/** Bundles the entry into one CommonJS file; returns esbuild's warnings and the chunk worker's size. */
export async function bundleRescue(options: BundleOptions): Promise<{ warnings: string[]; chunkWorkerBytes: number }> {
  const esbuild = await import('esbuild');
  const widgetFiles = await listBlessedWidgets();
  const worker = await bundleChunkWorker();
  const result = await esbuild.build({
    ...COMMON_BUILD_OPTIONS,
    entryPoints: [options.entry],
    outfile: options.outfile,
    absWorkingDir: PROJECT_ROOT,
    external: ['esbuild', 'postject', 'term.js', 'pty.js'],
    define: { 'import.meta.url': '__lifeboatImportMetaUrl' },
    banner: {
      js: [
        "'use strict';",
        'process.noDeprecation = true;',
        "var __lifeboatImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
      ].join('\n'),
    },
    plugins: [blessedPlugin(options, widgetFiles), chunkWorkerPlugin(worker.code), deferPlugin()],
  });
  const [output] = result.outputFiles;
  if (!output || result.outputFiles.length !== 1) throw new Error(`esbuild made ${result.outputFiles.length} files, not 1`);
  // Whitespace goes in a second pass: the module wrappers are patched in esbuild's readable output.
  const traced = traceModuleInits(output.text);
  const code = options.minify === false ? traced : (await esbuild.transform(traced, { loader: 'js', minifyWhitespace: true, legalComments: 'none', logLevel: 'silent' })).code;
  await writeFile(options.outfile, code);
  const warnings = [...worker.warnings.map((warning) => `chunk worker: ${warning}`), ...result.warnings.map((warning) => warning.text)];
  return { warnings, chunkWorkerBytes: Buffer.byteLength(worker.code) };
}
