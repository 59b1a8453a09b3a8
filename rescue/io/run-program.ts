// The only way the recovery program starts another program: each call names an entry of the one
// list (core/external-programs.ts), found on PATH. A missing program is LB_DEVICE_TOOL_MISSING
// naming its Debian package; a failure carries the real exit status or signal and the program's
// stderr (describeExit), never "exited with undefined".

import { execFile, spawn, spawnSync, type ExecFileOptions, type SpawnOptions, type SpawnSyncOptions, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { execa, type Options as ExecaOptions } from 'execa';
import { LifeboatError } from '../core/errors.ts';
import { isListedProgram, PROGRAM_LIST, PROGRAMS, type ExternalProgram } from '../core/external-programs.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** What a finished program left: exit status or signal, and its output. */
export interface ProgramResult {
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved. */
  readonly all: string;
}

/** Options of runProgram (a small subset of execa's). */
export interface RunProgramOptions {
  readonly input?: string;
  readonly stdin?: 'ignore' | 'pipe';
  readonly timeoutMs?: number;
  readonly env?: Env;
}

/** The listed program called `name` (names from core data such as mount commands); LB_INTERNAL if unlisted. */
export function programNamed(name: string): ExternalProgram {
  const program = PROGRAM_LIST.find((entry) => entry.name === name);
  if (!program) throw new LifeboatError('LB_INTERNAL', { detail: `${name} is not on the list of programs Lifeboat runs (rescue/core/external-programs.ts).`, program: name });
  return program;
}

function requireListed(program: ExternalProgram): void {
  if (!isListedProgram(program)) throw new LifeboatError('LB_INTERNAL', { detail: `${program.name} is not on the list of programs Lifeboat runs (rescue/core/external-programs.ts).`, program: program.name });
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Where `program` is on PATH (as the shell would find it), or undefined. */
export function locateProgram(program: ExternalProgram, env: Env = process.env): string | undefined {
  requireListed(program);
  for (const folder of (env.PATH ?? '').split(':')) {
    if (!folder) continue;
    const candidate = path.join(folder, program.name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The coded error for a program that is not there. */
export function missingProgramError(program: ExternalProgram, env: Env = process.env, cause?: unknown): LifeboatError {
  return new LifeboatError(
    'LB_DEVICE_TOOL_MISSING',
    { detail: `${program.name} (Debian package ${program.debianPackage}; ${program.purpose}) was not found on PATH (${env.PATH ?? ''}).`, program: program.name, package: program.debianPackage },
    cause === undefined ? {} : { cause },
  );
}

/** The program's path; LB_DEVICE_TOOL_MISSING when it is not on PATH. */
export function resolveProgram(program: ExternalProgram, env: Env = process.env): string {
  const file = locateProgram(program, env);
  if (!file) throw missingProgramError(program, env);
  return file;
}

/** True when the program ended with status 0. */
export function succeeded(result: ProgramResult): boolean {
  return result.exitCode === 0 && result.signal === undefined && !result.timedOut;
}

/** "resize2fs /dev/loop3 exited with status 1: <the end of its stderr>", or "... was killed by SIGKILL". */
export function describeExit(result: ProgramResult, outputBytes = 600): string {
  const how = result.timedOut
    ? 'timed out and was stopped'
    : result.signal !== undefined
      ? `was killed by ${result.signal}`
      : `exited with status ${result.exitCode ?? 'unknown'}`;
  const output = (result.stderr.trim() || result.all.trim()).slice(-outputBytes);
  return `${result.command} ${how}${output ? `: ${output}` : ''}`;
}

/** Runs a listed program to its end; never rejects for its exit status (see succeeded, describeExit). */
export async function runProgram(program: ExternalProgram, args: readonly string[], options: RunProgramOptions = {}): Promise<ProgramResult> {
  const env = options.env ?? process.env;
  const file = resolveProgram(program, env);
  const execaOptions: ExecaOptions = {
    reject: false,
    all: true,
    env: options.env === undefined ? undefined : { ...options.env },
    ...(options.input !== undefined ? { input: options.input } : { stdin: options.stdin ?? 'ignore' }),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
  };
  const result = await execa(file, [...args], execaOptions);
  if ((result as { code?: string }).code === 'ENOENT') throw missingProgramError(program, env, result);
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return {
    command: [program.name, ...args].join(' '),
    exitCode: result.exitCode,
    signal: result.signal ?? undefined,
    timedOut: result.timedOut === true,
    stdout: text(result.stdout),
    stderr: text(result.stderr),
    all: text(result.all),
  };
}

/** Starts a listed program whose streams the caller reads and writes (execa's subprocess). */
export function startProgram<O extends ExecaOptions>(program: ExternalProgram, args: readonly string[], options: O) {
  return execa(resolveProgram(program), [...args], options);
}

/** node:child_process spawn of a listed program (LB_DEVICE_TOOL_MISSING is thrown when it is missing). */
export function spawnProgram(program: ExternalProgram, args: readonly string[], options: SpawnOptions) {
  return spawn(resolveProgram(program), [...args], options);
}

/**
 * spawnProgram through setpriv --pdeathsig KILL: the kernel kills the child when Lifeboat's process ends,
 * even by SIGKILL, when no exit handler runs (setpriv execs the program: the pid is the program's).
 */
export function spawnTiedProgram(program: ExternalProgram, args: readonly string[], options: SpawnOptions) {
  return spawn(resolveProgram(PROGRAMS.setpriv), ['--pdeathsig', 'KILL', '--', resolveProgram(program), ...args], options);
}

/** node:child_process execFile of a listed program with buffer output; a missing program reaches the callback as ENOENT. */
export function execFileProgram(program: ExternalProgram, args: readonly string[], options: ExecFileOptions & { encoding: 'buffer' }, callback: (error: (Error & { code?: unknown }) | null, stdout: Buffer, stderr: Buffer) => void): void {
  const file = locateProgram(program);
  if (!file) {
    process.nextTick(() => callback(Object.assign(missingProgramError(program), { code: 'ENOENT' }), Buffer.alloc(0), Buffer.alloc(0)));
    return;
  }
  execFile(file, [...args], options, (error, stdout, stderr) => callback(error, Buffer.from(stdout ?? Buffer.alloc(0)), Buffer.from(stderr ?? Buffer.alloc(0))));
}

/** spawnSync of a listed program (for the exit path, where nothing may wait); undefined when it is missing. */
export function runProgramSync(program: ExternalProgram, args: readonly string[], options: SpawnSyncOptions): SpawnSyncReturns<string | Buffer> | undefined {
  const file = locateProgram(program);
  return file === undefined ? undefined : spawnSync(file, [...args], options);
}

/**
 * Checks, before anything is written, that every program a plan's steps need is on PATH (and, for
 * those whose namesakes lack the options used, that it is the right one); LB_DEVICE_TOOL_MISSING
 * names each one missing and its package.
 */
export async function checkPrograms(programs: readonly ExternalProgram[], env: Env = process.env): Promise<void> {
  const problems: string[] = [];
  const packages = new Set<string>();
  for (const program of new Set(programs)) {
    const file = locateProgram(program, env);
    if (!file) {
      problems.push(`${program.name} (${program.debianPackage}) is not on PATH`);
      packages.add(program.debianPackage);
      continue;
    }
    if (!program.mustIdentify) continue;
    const result = await runProgram(program, program.identify.args, { env, timeoutMs: 10_000 });
    if (!program.identify.pattern.test(result.all)) {
      problems.push(`${file} is not ${program.debianPackage}'s ${program.name} (${program.name} ${program.identify.args.join(' ')}: ${result.all.trim().split('\n')[0] ?? ''})`);
      packages.add(program.debianPackage);
    }
  }
  if (problems.length > 0) {
    throw new LifeboatError('LB_DEVICE_TOOL_MISSING', {
      detail: `${problems.join('; ')}. Nothing was written.`,
      programs: [...new Set(programs)].map((program) => program.name),
      packages: [...packages],
    });
  }
}
