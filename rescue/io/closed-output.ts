// Output cut short: when the reader of stdout or stderr goes away (`lifeboat errors | head -1`),
// Node reports EPIPE as an 'error' event on the stream, which unhandled ends the process with a
// stack trace. Here the stream is marked closed instead: later writes to it go nowhere, and the
// command runs to its end with its own exit status (a backup or restore piped into head still
// finishes, and never stops half-way because its output was not read).

/** Keeps a closed or failing output stream from ending the process; `onClosed` hears of it once. */
export function tolerateClosedOutput(stream: NodeJS.WriteStream, onClosed: (reason: string) => void = () => undefined): void {
  let told = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (told) return;
    told = true;
    onClosed(error.code ?? error.message);
  });
}
