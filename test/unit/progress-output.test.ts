// The CLI's progress renderer prints sizes and rates humanised: a rate is a fractional number of
// bytes per second, and it once printed as `476.19047619047615 B/s`.

import test from 'ava';
import { PassThrough } from 'node:stream';
import { createCliReporter } from '../../rescue/ui/cli/progress-output.ts';
import { rawFigures } from '../helpers/humanised.ts';

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('a slow phase prints its rate rounded (476 B/s, not 476.19047619047615 B/s)', async (t) => {
  const out = collect();
  const err = collect();
  const reporter = createCliReporter({ json: false, stdout: out.stream, stderr: err.stream, terminal: false });
  reporter.progress({ phase: 'backup', bytesDone: 0, bytesTotal: 1000 });
  // 1000 bytes over a little more than a second: a rate below 1 KiB/s with a fractional part.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  reporter.progress({ phase: 'backup', bytesDone: 1000, bytesTotal: 1000 });
  reporter.finish();
  const lines = err.text();
  t.regex(lines, /backup\s+1000 B of 1000 B 100%\s+\d{1,3} B\/s/, lines);
  t.deepEqual(rawFigures(lines), [], lines);
});
