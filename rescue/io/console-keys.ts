// Key presses on the consoles while nothing else reads them (the medium's job countdown): the
// boot command runs with stdin on /dev/null, so the consoles are opened directly in raw mode.

import { openSync } from 'node:fs';
import tty from 'node:tty';

/** A wait for the first key on any of the consoles; close() gives the terminals back. */
export interface ConsoleKeyWatch {
  readonly pressed: Promise<void>;
  close(): void;
}

/** Watches `devices` (e.g. /dev/tty1 /dev/ttyS0), or stdin when it is a terminal and no device is named. */
export function watchConsoleKeys(devices: readonly string[]): ConsoleKeyWatch {
  const streams: tty.ReadStream[] = [];
  let resolve: () => void = () => undefined;
  const pressed = new Promise<void>((done) => {
    resolve = done;
  });
  const watch = (stream: tty.ReadStream) => {
    stream.setRawMode(true);
    stream.on('data', () => resolve());
    stream.on('error', () => undefined);
    streams.push(stream);
  };
  for (const device of devices) {
    try {
      const fd = openSync(device, 'r');
      if (tty.isatty(fd)) watch(new tty.ReadStream(fd));
    } catch {
      // A console that cannot be opened just cannot cancel.
    }
  }
  if (devices.length === 0 && process.stdin.isTTY) watch(process.stdin as tty.ReadStream);
  return {
    pressed,
    close: () => {
      for (const stream of streams) {
        try {
          stream.setRawMode(false);
          if (stream === process.stdin) stream.pause();
          else stream.destroy();
        } catch {
          // The console went away; nothing to give back.
        }
      }
    },
  };
}
