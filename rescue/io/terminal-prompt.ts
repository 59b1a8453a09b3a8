// Asks a question on the controlling terminal (password input hidden); undefined without one.

import { createInterface } from 'node:readline';
import { LifeboatError } from '../core/errors.ts';

/** Reads one line from the terminal; hides typed characters when `secret`. */
export async function askOnTerminal(prompt: string, options: { secret: boolean }): Promise<string | undefined> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  const output = process.stderr;
  const readline = createInterface({ input: process.stdin, output, terminal: true });
  if (options.secret) {
    const writer = readline as unknown as { _writeToOutput: (text: string) => void };
    writer._writeToOutput = (text: string) => {
      if (text.includes(prompt)) output.write(prompt);
      else if (text.includes('\n') || text.includes('\r')) output.write('\n');
    };
  }
  try {
    // The terminal is raw while reading: Ctrl-C arrives as a key, and stops the command as the signal would.
    return await new Promise<string>((resolve, reject) => {
      readline.once('SIGINT', () => {
        output.write('\n');
        reject(new LifeboatError('LB_INPUT_STOPPED', { detail: 'Ctrl-C at the prompt; nothing was written.' }));
      });
      readline.question(prompt, resolve);
    });
  } finally {
    readline.close();
  }
}
