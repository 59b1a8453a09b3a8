import test from 'ava';
import { LifeboatError } from '../../rescue/core/errors.ts';
import { extractRunOutput, parseBootRequest, RUN_MARKERS, splitKernelCmdline, splitRunArguments } from '../../rescue/core/kernel-cmdline.ts';

test('kernel command line: quotes group words and are removed, as the kernel does', (t) => {
  t.deepEqual(splitKernelCmdline('BOOT_IMAGE=/boot/vmlinuz quiet lifeboat.run="disks --json" lifeboat.then=poweroff\n'), [
    'BOOT_IMAGE=/boot/vmlinuz',
    'quiet',
    'lifeboat.run=disks --json',
    'lifeboat.then=poweroff',
  ]);
  t.deepEqual(splitKernelCmdline('  a   "b c"  d="" '), ['a', 'b c', 'd=']);
});

test('lifeboat.run becomes argv; single quotes keep a spaced value together', (t) => {
  const request = parseBootRequest(`quiet lifeboat.run="backup disk /dev/vda --note 'before the upgrade'" lifeboat.then=reboot`);
  t.deepEqual(request.run, ['backup', 'disk', '/dev/vda', '--note', 'before the upgrade']);
  t.is(request.then, 'reboot');
  t.deepEqual(splitRunArguments("a '' b"), ['a', '', 'b']);
});

test('no lifeboat.run means interactive; lifeboat.then defaults to shell', (t) => {
  const request = parseBootRequest('console=ttyS0 quiet');
  t.is(request.run, undefined);
  t.is(request.then, 'shell');
  t.deepEqual(request.params, {});
});

test('bad unattended parameters are coded errors, not guesses', (t) => {
  for (const cmdline of ['lifeboat.run="disks', 'lifeboat.then=halt', 'lifeboat.run=""', `lifeboat.run="ls 'x"`]) {
    const error = t.throws(() => parseBootRequest(cmdline), { instanceOf: LifeboatError });
    t.is(error?.code, 'LB_INPUT_BAD_CMDLINE', cmdline);
  }
});

test('run output is cut from a noisy console transcript with its exit code', (t) => {
  const transcript = `[ 1.0] kernel noise\r\n${RUN_MARKERS.begin}\r\n{"disks": []}\r\n\r\n${RUN_MARKERS.end(3)}\r\n[ 2.0] reboot: Power down\r\n`;
  t.deepEqual(extractRunOutput(transcript), { output: '{"disks": []}\n\n', exitCode: 3 });
  t.is(extractRunOutput('no markers here'), undefined);
  t.is(extractRunOutput(`${RUN_MARKERS.begin}\npartial output, the machine hung`), undefined);
});
