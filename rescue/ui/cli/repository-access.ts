// What every repository command shares: the -r/--password-file/--json options, the password
// (file, LIFEBOAT_PASSWORD, or a prompt), and opening the repository under a lock.

import type { Argv } from 'yargs';
import type { CliContext, RepositoryHandle } from './context.ts';

/** Options common to repository commands. */
export interface RepositoryArgs {
  repo: string;
  'password-file': string | undefined;
  json: boolean;
}

/** Adds -r, --password-file and --json; `repoRequired: false` where the command has a form without a repository. */
export function withRepositoryOptions<T>(yargs: Argv<T>, options: { repoRequired?: boolean } = {}): Argv<T & RepositoryArgs> {
  return yargs
    .option('repo', { alias: 'r', type: 'string', demandOption: options.repoRequired ?? true, describe: 'The repository folder' })
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
