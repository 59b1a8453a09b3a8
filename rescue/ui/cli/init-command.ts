// `lifeboat init -r REPO [--encrypt]`: creates an empty repository.

import type { CommandModule } from 'yargs';
import { LifeboatError } from '../../core/errors.ts';
import type { CliContext } from './context.ts';
import { passwordSource, withRepositoryOptions, type RepositoryArgs } from './repository-access.ts';
import { withExamples } from './command-examples.ts';

interface InitArgs extends RepositoryArgs {
  encrypt: boolean;
}

/** Asks for a new password (twice on a terminal). */
export async function newPassword(context: CliContext, args: RepositoryArgs): Promise<string> {
  const services = context.repositories;
  if (args['password-file'] || services.env.LIFEBOAT_PASSWORD !== undefined) {
    const password = await passwordSource(context, args)();
    if (password) return password;
  } else {
    const first = await services.ask('New repository password: ', { secret: true });
    if (first !== undefined) {
      const second = await services.ask('Repeat the password: ', { secret: true });
      if (first !== second) throw new LifeboatError('LB_INPUT_PASSWORDS_DIFFER', { detail: 'Nothing was created.' });
      if (first.length > 0) return first;
    }
  }
  throw new LifeboatError('LB_REPO_PASSWORD_REQUIRED', { detail: 'An encrypted repository needs a non-empty password.' });
}

/** The init command. */
export function initCommand(context: CliContext): CommandModule<object, InitArgs> {
  return {
    command: 'init',
    describe: 'Create a repository for backups',
    builder: (yargs) => withRepositoryOptions(withExamples(yargs, 'init')).option('encrypt', { type: 'boolean', default: false, describe: 'Encrypt with AES-256-GCM under a password' }) as never,
    handler: async (args) => {
      const password = args.encrypt ? await newPassword(context, args) : undefined;
      const config = await context.repositories.init(args.repo, password === undefined ? {} : { password });
      if (args.json) context.stdout.write(`${JSON.stringify({ repository: { path: args.repo, id: config.id, encryption: config.encryption, chunkBytes: config.chunkBytes } })}\n`);
      else context.stdout.write(`Created repository ${args.repo} (id ${config.id.slice(0, 8)}, encryption ${config.encryption}).\n`);
    },
  };
}
