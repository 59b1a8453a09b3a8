// Unattended jobs (`lifeboat run JOB.json`, lifeboat.job= on the medium): the job format, its
// validation, and each step as the command line the CLI runs. Pure: text in, a checked job out;
// the whole job is validated before any step runs.

import { LifeboatError } from './errors.ts';

/** What follows a job that succeeded. */
export type JobThen = 'poweroff' | 'reboot' | 'stay';

/** The step kinds a job can hold. */
export type JobStepKind = 'backup' | 'verify' | 'restore' | 'get';

/**
 * One checked step: the lifeboat command line it runs. The job stops at the first step that fails
 * (unless "continue-on-error"); a files backup step that saved its snapshot without some entries or
 * attributes (exit 11, ui/cli/exit-codes.ts) is not a failure: the job goes on, does its "then",
 * and ends with 11 (ui/cli/run-command.ts).
 */
export interface JobStep {
  readonly do: JobStepKind;
  readonly argv: readonly string[];
  /** True when it overwrites a disk (a restore that is not a dry run). */
  readonly destructive: boolean;
}

/** A checked job. */
export interface Job {
  readonly steps: readonly JobStep[];
  readonly then: JobThen;
  readonly continueOnError: boolean;
}

type OptionType = 'boolean' | 'string' | 'strings' | 'integer';

const BACKUP_OPTIONS: Readonly<Record<string, OptionType>> = { tag: 'strings', note: 'string', 'sector-by-sector': 'boolean', compression: 'integer', verify: 'boolean', encrypt: 'boolean', 'allow-mounted': 'boolean' };
const FILES_OPTIONS: Readonly<Record<string, OptionType>> = {
  tag: 'strings', note: 'string', compression: 'integer', verify: 'boolean', encrypt: 'boolean',
  exclude: 'strings', 'exclude-file': 'string', 'exclude-larger-than': 'string', 'one-file-system': 'boolean', 'default-excludes': 'boolean',
};
const STEP_OPTIONS: Readonly<Record<JobStepKind, Readonly<Record<string, OptionType>>>> = {
  backup: BACKUP_OPTIONS,
  verify: { 'read-data': 'boolean' },
  restore: { tag: 'string', host: 'string', source: 'string', grow: 'boolean', 'dry-run': 'boolean' },
  get: { tag: 'string', host: 'string', source: 'string', overwrite: 'boolean', 'skip-existing': 'boolean' },
};
const STEP_FIELDS: Readonly<Record<JobStepKind, readonly string[]>> = {
  backup: ['do', 'kind', 'source', 'repository', 'options'],
  verify: ['do', 'repository', 'options'],
  restore: ['do', 'repository', 'snapshot', 'target', 'options'],
  get: ['do', 'repository', 'snapshot', 'source', 'paths', 'destination', 'options'],
};
const JOB_FIELDS = ['steps', 'then', 'password-file', 'confirm', 'continue-on-error', 'repository', 'description'];
const BACKUP_KINDS = ['disk', 'partition', 'system', 'files'];
const THEN_VALUES: readonly JobThen[] = ['poweroff', 'reboot', 'stay'];
/** A job longer than this is a mistake, not a plan. */
const MAX_JOB_STEPS = 100;

type Fields = Readonly<Record<string, unknown>>;

function bad(where: string, field: string, problem: string, step?: number): LifeboatError {
  return new LifeboatError('LB_INPUT_BAD_JOB', { detail: `${where}: "${field}" ${problem}`, field, ...(step === undefined ? {} : { step }) });
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Joins a relative path onto the job file's folder (absolute paths and /dev names stay). */
function resolvePath(baseDir: string, file: string): string {
  if (file.startsWith('/') || baseDir === '') return file;
  const parts: string[] = [];
  for (const part of `${baseDir}/${file}`.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return `${baseDir.startsWith('/') ? '/' : ''}${parts.join('/')}`;
}

function optionArgv(where: string, step: number, kind: JobStepKind, table: Readonly<Record<string, OptionType>>, value: unknown): string[] {
  if (value === undefined) return [];
  if (!isObject(value)) throw bad(where, 'options', 'must be an object of option names and values.', step);
  const argv: string[] = [];
  for (const [name, option] of Object.entries(value)) {
    const type = table[name];
    const field = `options.${name}`;
    if (type === undefined) {
      const known = Object.keys(table);
      throw bad(where, field, `is not an option of ${kind} steps (known: ${known.length > 0 ? known.join(', ') : 'none'}; "then", "yes" and "password-file" belong to the job).`, step);
    }
    if (type === 'boolean') {
      if (typeof option !== 'boolean') throw bad(where, field, 'must be true or false.', step);
      argv.push(option ? `--${name}` : `--no-${name}`);
    } else if (type === 'integer') {
      if (typeof option !== 'number' || !Number.isInteger(option)) throw bad(where, field, 'must be a whole number.', step);
      argv.push(`--${name}`, String(option));
    } else if (type === 'string') {
      if (typeof option !== 'string') throw bad(where, field, 'must be a string.', step);
      argv.push(`--${name}`, option);
    } else {
      const list = typeof option === 'string' ? [option] : option;
      if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) throw bad(where, field, 'must be a string or a list of strings.', step);
      for (const item of list as string[]) argv.push(`--${name}`, item);
    }
  }
  return argv;
}

function requireString(where: string, step: number, fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.trim() === '') throw bad(where, name, 'must be a non-empty string.', step);
  return value;
}

function checkStep(raw: unknown, index: number, context: { baseDir: string; repository: string | undefined; defaultRepository: string | undefined; passwordFile: string | undefined; confirm: boolean }): JobStep {
  const step = index + 1;
  if (!isObject(raw)) throw bad(`Step ${step}`, 'steps', 'must hold objects with a "do" field.', step);
  const kind = raw.do;
  if (typeof kind !== 'string' || !(kind in STEP_OPTIONS)) throw bad(`Step ${step}`, 'do', `must be one of ${Object.keys(STEP_OPTIONS).join(', ')}${kind === undefined ? '' : `, not ${JSON.stringify(kind)}`}.`, step);
  const stepKind = kind as JobStepKind;
  const where = `Step ${step} (${stepKind})`;
  for (const name of Object.keys(raw)) {
    if (!STEP_FIELDS[stepKind].includes(name)) throw bad(where, name, `is not a field of ${stepKind} steps (fields: ${STEP_FIELDS[stepKind].join(', ')}).`, step);
  }
  const repositoryField = raw.repository ?? context.repository ?? context.defaultRepository;
  const repositoryArgv = (): string[] => {
    if (repositoryField === undefined) throw bad(where, 'repository', 'is missing: give it in the step, in the job, or with the LIFEBOAT_REPOSITORY environment variable.', step);
    const repository = requireString(where, step, { repository: repositoryField }, 'repository');
    return ['-r', resolvePath(context.baseDir, repository), ...(context.passwordFile ? ['--password-file', context.passwordFile] : [])];
  };
  const path = (name: string) => resolvePath(context.baseDir, requireString(where, step, raw, name));
  if (stepKind === 'backup') {
    const backupKind = raw.kind;
    if (typeof backupKind !== 'string' || !BACKUP_KINDS.includes(backupKind)) throw bad(where, 'kind', `must be one of ${BACKUP_KINDS.join(', ')}.`, step);
    const table = backupKind === 'files' ? FILES_OPTIONS : BACKUP_OPTIONS;
    let sources: string[];
    if (backupKind === 'files' && Array.isArray(raw.source)) {
      if (raw.source.length === 0 || !raw.source.every((item) => typeof item === 'string' && item !== '')) throw bad(where, 'source', 'must be a path or a non-empty list of paths.', step);
      sources = (raw.source as string[]).map((item) => resolvePath(context.baseDir, item));
    } else {
      sources = [path('source')];
    }
    return { do: 'backup', argv: ['backup', backupKind, ...sources, ...repositoryArgv(), ...optionArgv(where, step, 'backup', table, raw.options)], destructive: false };
  }
  if (stepKind === 'verify') {
    const options = optionArgv(where, step, 'verify', STEP_OPTIONS.verify, raw.options);
    return { do: 'verify', argv: ['check', ...repositoryArgv(), ...(options.length > 0 ? options : ['--read-data'])], destructive: false };
  }
  if (stepKind === 'restore') {
    const snapshot = typeof raw.snapshot === 'undefined' ? 'latest' : requireString(where, step, raw, 'snapshot');
    const options = optionArgv(where, step, 'restore', STEP_OPTIONS.restore, raw.options);
    const destructive = !options.includes('--dry-run');
    if (destructive && !context.confirm) {
      throw new LifeboatError('LB_INPUT_JOB_NOT_CONFIRMED', { detail: `${where} overwrites ${String(raw.target)}.`, step, field: 'confirm' });
    }
    return { do: 'restore', argv: ['restore', ...repositoryArgv(), snapshot, path('target'), ...options, ...(destructive ? ['--yes'] : [])], destructive };
  }
  const paths = raw.paths;
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every((item) => typeof item === 'string' && item !== '')) throw bad(where, 'paths', 'must be a non-empty list of paths inside the snapshot or partition.', step);
  if (raw.snapshot !== undefined && raw.source !== undefined) throw bad(where, 'source', 'cannot be given with "snapshot" (a snapshot is read from the repository, a source from a device).', step);
  if (raw.source !== undefined && raw.repository !== undefined) throw bad(where, 'repository', 'cannot be given with "source" (a device or image is read without a repository).', step);
  const withRepository = raw.source === undefined;
  const source = withRepository ? (raw.snapshot === undefined ? 'latest' : requireString(where, step, raw, 'snapshot')) : path('source');
  return {
    do: 'get',
    argv: ['get', ...(withRepository ? repositoryArgv() : []), source, ...(paths as string[]), path('destination'), ...optionArgv(where, step, 'get', STEP_OPTIONS.get, raw.options)],
    destructive: false,
  };
}

/**
 * Parses and checks a job; relative paths are taken from `baseDir` (the job file's folder).
 * `defaultRepository` (LIFEBOAT_REPOSITORY, absolute) serves steps when neither they nor the job name one.
 */
export function parseJob(text: string, options: { baseDir: string; defaultRepository?: string }): Job {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new LifeboatError('LB_INPUT_BAD_JOB', { detail: `The job is not JSON: ${(error as Error).message}.`, field: '' });
  }
  if (!isObject(raw)) throw bad('The job', 'steps', 'is missing: a job is an object with a list of steps.');
  for (const name of Object.keys(raw)) if (!JOB_FIELDS.includes(name)) throw bad('The job', name, `is not a job field (fields: ${JOB_FIELDS.join(', ')}).`);
  const steps = raw.steps;
  if (!Array.isArray(steps) || steps.length === 0) throw bad('The job', 'steps', 'must be a non-empty list.');
  if (steps.length > MAX_JOB_STEPS) throw bad('The job', 'steps', `holds more than ${MAX_JOB_STEPS} steps.`);
  const then = raw.then ?? 'stay';
  if (typeof then !== 'string' || !THEN_VALUES.includes(then as JobThen)) throw bad('The job', 'then', `must be one of ${THEN_VALUES.join(', ')}.`);
  for (const flag of ['confirm', 'continue-on-error']) {
    if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean') throw bad('The job', flag, 'must be true or false.');
  }
  for (const name of ['password-file', 'repository', 'description']) {
    if (raw[name] !== undefined && (typeof raw[name] !== 'string' || raw[name] === '')) throw bad('The job', name, 'must be a non-empty string.');
  }
  const passwordFile = raw['password-file'] === undefined ? undefined : resolvePath(options.baseDir, raw['password-file'] as string);
  const context = { baseDir: options.baseDir, repository: raw.repository as string | undefined, defaultRepository: options.defaultRepository, passwordFile, confirm: raw.confirm === true };
  return {
    steps: steps.map((step, index) => checkStep(step, index, context)),
    then: then as JobThen,
    continueOnError: raw['continue-on-error'] === true,
  };
}
