// What every repository command shares: the -r/--password-file/--json options, the password
// (file, LIFEBOAT_PASSWORD, or a prompt), and opening the repository under a lock.

import type { Argv, MiddlewareFunction } from 'yargs';
import type { CliContext, RepositoryHandle } from './context.ts';

/** Options common to repository commands. */
export interface RepositoryArgs {
  repo: string;
  'password-file': string | undefined;
  json: boolean;
}

/** Set on the parsed arguments when -r came from LIFEBOAT_REPOSITORY rather than the command line. */
const FROM_ENVIRONMENT = Symbol('repository from LIFEBOAT_REPOSITORY');

/**
 * yargs middleware (run before validation): -r defaults to $LIFEBOAT_REPOSITORY, as
 * RESTIC_REPOSITORY does for restic, for every command that takes -r.
 */
export function repositoryFromEnvironment(env: Readonly<Record<string, string | undefined>>): MiddlewareFunction {
  // yargs hands middleware the parser as a second argument (its typings leave it out).
  return (parsed: object, ...rest: unknown[]) => {
    const argv = parsed as Record<string | symbol, unknown>;
    const yargs = rest[0] as { getOptions(): { key?: Record<string, unknown> } };
    const folder = env.LIFEBOAT_REPOSITORY;
    // Only for commands that take -r (the others would refuse it as an unknown argument).
    const takesRepository = yargs.getOptions().key?.repo !== undefined;
    if (!takesRepository || argv.repo !== undefined || folder === undefined || folder === '') return;
    argv.repo = folder;
    argv.r = folder;
    argv[FROM_ENVIRONMENT] = true;
  };
}

/**
 * The repository SOURCE is read from, for commands whose SOURCE may also be a device, an image or a
 * Clonezilla directory (ls, get, restore): -r always; LIFEBOAT_REPOSITORY only when SOURCE looks
 * like a snapshot (latest or an id prefix, with an optional :N).
 */
export function repositoryFor(args: { repo?: string | undefined }, source: string): string | undefined {
  if (args.repo === undefined || !(FROM_ENVIRONMENT in args)) return args.repo;
  return /^([0-9a-fA-F]+|latest)(:\d{1,3})?$/.test(source.trim()) ? args.repo : undefined;
}

/** Adds -r, --password-file and --json; `repoRequired: false` where the command has a form without a repository. */
export function withRepositoryOptions<T>(yargs: Argv<T>, options: { repoRequired?: boolean } = {}): Argv<T & RepositoryArgs> {
  return yargs
    .option('repo', { alias: 'r', type: 'string', demandOption: options.repoRequired ?? true, describe: 'The repository folder (default: $LIFEBOAT_REPOSITORY)' })
    .option('password-file', { type: 'string', describe: 'Read the repository password from this file (else LIFEBOAT_PASSWORD, else a prompt)' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output (JSON lines for long operations)' }) as unknown as Argv<T & RepositoryArgs>;
}

/** The password source: --password-file, then LIFEBOAT_PASSWORD, then the terminal. */
export function passwordSource(context: CliContext, args: RepositoryArgs): () => Promise<string | undefined> {
  return async () => {
    const services = context.repositories;
    if (args['password-file']) return services.readPasswordFile(args['password-file']);
    const fromEnv = services.env.LIFEBOAT_PASSWORD;
    if (fromEnv !== undefined) return fromEnv;
    return services.ask('Repository password: ', { secret: true });
  };
}

/** Opens the repository, takes a lock, runs `use`, always releases. */
export async function withRepository<T>(context: CliContext, args: RepositoryArgs, lock: { exclusive: boolean; command: string; tolerant?: boolean }, use: (repository: RepositoryHandle, notices: string[]) => Promise<T>): Promise<T> {
  const repository = await context.repositories.open(args.repo, passwordSource(context, args), { tolerant: lock.tolerant ?? false });
  try {
    const stale = await repository.acquireLock(lock.exclusive, lock.command);
    return await use(repository, stale.map((name) => `Removed a stale lock: ${name}.`));
  } finally {
    await repository.close();
  }
}
