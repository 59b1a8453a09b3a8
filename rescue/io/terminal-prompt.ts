// Asks a question on the controlling terminal (password input hidden); undefined without one.

import { createInterface } from 'node:readline';

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
    return await new Promise<string>((resolve) => readline.question(prompt, resolve));
  } finally {
    readline.close();
  }
}
