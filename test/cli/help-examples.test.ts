// Every command's --help ends with examples: the test walks (in process, through runCli) the command tree from `lifeboat
// --help` (each "Commands:" entry, then its own --help for subcommands, plus the hidden `boot`),
// and checks each help has an "Examples:" part whose lines start with `lifeboat`. `backup --help`
// describes all four kinds, and the table of examples (ui/cli/command-examples.ts) has no entry for
// a command that does not exist.

import test from 'ava';
import { COMMAND_EXAMPLES } from '../../rescue/ui/cli/command-examples.ts';
import { runCli } from '../../rescue/main.ts';

/** Hidden commands (describe: false) the walk cannot find in a Commands: list. */
const HIDDEN = ['boot'];

/** The command paths listed in a help text's "Commands:" part (`lifeboat backup disk <source>` -> "backup disk"). */
function listedCommands(help: string): string[] {
  const part = /\nCommands:\n([\s\S]*?)\n\n/.exec(`${help}\n\n`)?.[1] ?? '';
  return part.split('\n').filter((line) => line.startsWith('  lifeboat ')).map((line) => {
    // The command column ends where two spaces start the description.
    const words = (line.trim().split(/ {2,}/)[0] ?? '').split(' ').slice(1);
    return words.filter((word) => !/^[<[]/.test(word)).join(' ');
  });
}

/** `lifeboat PATH --help`, run in this process (yargs prints help with console.log, replaced meanwhile: the tests run one at a time, since help is printed after the command modules load). */
async function helpOf(path: string): Promise<string> {
  const printed: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => printed.push(args.join(' '));
  try {
    const exitCode = await runCli([...(path ? path.split(' ') : []), '--help']);
    if (exitCode !== 0) throw new Error(`lifeboat ${path} --help: exit ${exitCode}\n${printed.join('\n')}`);
  } finally {
    console.log = original;
  }
  return printed.join('\n');
}

test.serial('every command\'s --help has an Examples part', async (t) => {
  const seen: string[] = [];
  // One level of the tree at a time.
  let level = [...listedCommands(await helpOf('')), ...HIDDEN];
  while (level.length > 0) {
    seen.push(...level);
    const helps: Array<{ path: string; help: string }> = [];
    for (const path of level) helps.push({ path, help: await helpOf(path) });
    level = [];
    for (const { path, help } of helps) {
      const examples = /\nExamples:\n([\s\S]*?)(\n\n|$)/.exec(help)?.[1];
      t.truthy(examples, `lifeboat ${path} --help has no Examples part:\n${help}`);
      t.regex(examples ?? '', /^ {2}lifeboat \S/, `lifeboat ${path} --help: examples start with lifeboat`);
      level.push(...listedCommands(help).filter((sub) => sub.startsWith(`${path} `) && !seen.includes(sub)));
    }
  }
  // The walk reached the commands with subcommands, and nothing in the table is left over.
  for (const expected of ['backup disk', 'backup partition', 'backup system', 'backup files', 'import clonezilla', 'logs export', 'build linux']) t.true(seen.includes(expected), `${expected} was walked`);
  t.deepEqual(Object.keys(COMMAND_EXAMPLES).filter((key) => !seen.includes(key)), [], 'every entry of the examples table is a command');
});

test.serial('backup --help describes the four kinds', async (t) => {
  const help = await helpOf('backup');
  t.regex(help, /^Back up a disk, a partition, the partitions a system needs, or folders of files/m);
  const kinds = /\nThe four kinds:\n([\s\S]*)$/.exec(help)?.[1] ?? '';
  for (const kind of ['disk', 'partition', 'system', 'files']) t.regex(kinds, new RegExp(`^ {2}${kind} +\\S`, 'm'), `${kind} is described\n${help}`);
  for (const kind of ['disk', 'partition', 'system', 'files']) t.regex(help, new RegExp(`lifeboat backup ${kind} `), `an example of backup ${kind}`);
});
