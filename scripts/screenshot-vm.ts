// A QEMU machine for the README's pictures: the booted medium (SeaBIOS, q35, its CD on the SATA
// controller) with SATA disks that carry model names and serials. The pictures are what the
// monitor shows: QMP's screendump of the VGA text console; keys are typed with QMP's send-key.
// To know what tty1 shows, a shell on tty2 copies /dev/vcs1 (tty1's text) to the second serial
// port every half second; the first serial port is left out, so the medium runs one console only.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { connectQmp } from '../test/helpers/qemu-session.ts';

/** A disk of the machine: an image file on a SATA port. */
export interface MachineDisk {
  readonly file: string;
  /** What the disk's IDENTIFY data names (the kernel shows its first 16 characters). */
  readonly model: string;
  readonly serial: string;
  /** Reported as non-rotating (ATA rotation rate 1), as an SSD is. */
  readonly solidState?: boolean;
}

/** A running machine. */
export interface ScreenMachine {
  /** tty1's text (80x25), once the reader on tty2 runs; before that, ''. */
  screen(): string;
  /** Resolves with tty1's text once it matches `pattern`; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Presses keys one after the other: qcodes ('ret', 'esc', 'down', 'ctrl-alt-f2', 'shift-a'). */
  press(...keys: string[]): Promise<void>;
  /** Types text (US layout). */
  type(text: string): Promise<void>;
  /** Writes the VGA screen into a PNG file. */
  screendump(file: string): Promise<void>;
  /** The characters of the VGA text memory (32 KiB at 0xB8000, every cell's character byte, Latin-1). */
  vgaMemoryText(): Promise<string>;
  /** Everything the second serial port carried. */
  transcript(): string;
  /** Ends QEMU. */
  stop(): Promise<void>;
}

const SCREEN_START = '@@VCS1@@';
const SCREEN_END = '@@END@@';
const COLUMNS = 80;

/** Keys of the US layout: character -> qcode, with shift when the second field says so. */
function keyFor(character: string): string {
  const plain: Record<string, string> = {
    ' ': 'spc', '\n': 'ret', '-': 'minus', '=': 'equal', '[': 'bracket_left', ']': 'bracket_right', ';': 'semicolon',
    "'": 'apostrophe', '`': 'grave_accent', '\\': 'backslash', ',': 'comma', '.': 'dot', '/': 'slash', '\t': 'tab',
  };
  const shifted: Record<string, string> = {
    '!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9', ')': '0', '_': 'minus', '+': 'equal',
    '{': 'bracket_left', '}': 'bracket_right', ':': 'semicolon', '"': 'apostrophe', '~': 'grave_accent', '|': 'backslash', '<': 'comma', '>': 'dot', '?': 'slash',
  };
  if (/^[a-z0-9]$/.test(character)) return character;
  if (/^[A-Z]$/.test(character)) return `shift-${character.toLowerCase()}`;
  const base = plain[character];
  if (base) return base;
  const withShift = shifted[character];
  if (withShift) return `shift-${withShift}`;
  throw new Error(`no key for ${JSON.stringify(character)}`);
}


/** QEMU's arguments: q35 (AHCI), SeaBIOS, the ISO as a SATA CD, the disks, VGA, ttyS1 on stdio, QMP. */
function machineArguments(options: { iso: string; disks: readonly MachineDisk[]; memoryMiB: number; qmpSocket: string }): string[] {
  const args = ['-accel', 'tcg', '-machine', 'q35', '-m', String(options.memoryMiB), '-smp', '1', '-display', 'none', '-vga', 'std',
    '-nodefaults', '-no-reboot', '-monitor', 'none', '-serial', 'none', '-chardev', 'stdio,id=reader', '-device', 'isa-serial,chardev=reader,iobase=0x2f8,irq=3',
    '-qmp', `unix:${options.qmpSocket},server=on,wait=off`, '-rtc', 'base=utc'];
  options.disks.forEach((disk, index) => {
    args.push('-drive', `if=none,id=disk${index},format=raw,file=${disk.file}`);
    args.push('-device', `ide-hd,bus=ide.${index},drive=disk${index},model=${disk.model},serial=${disk.serial}${disk.solidState ? ',rotation_rate=1' : ''}`);
  });
  args.push('-drive', `if=none,id=medium,media=cdrom,readonly=on,format=raw,file=${options.iso}`);
  args.push('-device', `ide-cd,bus=ide.${options.disks.length},drive=medium,bootindex=0,model=DVDRAM GH24NSD1`);
  return args;
}

/** The shell line on tty2 that copies tty1's text to ttyS1 (non-ASCII bytes become '#'). */
const READER_LINE = `while :; do echo "${SCREEN_START}$(tr -c ' -~' '#' </dev/vcs1)${SCREEN_END}" >/dev/ttyS1; sleep 0.5; done`;

/** Boots the machine, waits for the medium's console, starts the tty1 reader on tty2 and returns a handle. */
export async function startScreenMachine(options: { iso: string; disks: readonly MachineDisk[]; work: string; memoryMiB?: number }): Promise<ScreenMachine> {
  const qmpSocket = path.join(options.work, 'qmp.sock');
  const child: ChildProcess = spawn('qemu-system-x86_64', machineArguments({ ...options, memoryMiB: options.memoryMiB ?? 2048, qmpSocket }), { stdio: ['ignore', 'pipe', 'pipe'] });
  let transcript = '';
  let screen = '';
  child.stdout?.setEncoding('latin1');
  child.stderr?.setEncoding('latin1');
  const onText = (text: string) => {
    transcript += text.replace(/\r/g, '');
    const end = transcript.lastIndexOf(SCREEN_END);
    const start = end < 0 ? -1 : transcript.lastIndexOf(SCREEN_START, end);
    if (start >= 0) {
      const flat = transcript.slice(start + SCREEN_START.length, end);
      const rows: string[] = [];
      for (let at = 0; at < flat.length; at += COLUMNS) rows.push(flat.slice(at, at + COLUMNS));
      screen = rows.join('\n');
    }
    if (transcript.length > 1_000_000) transcript = transcript.slice(-200_000);
  };
  child.stdout?.on('data', onText);
  child.stderr?.on('data', onText);
  const ended = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const send = await connectQmp(qmpSocket, ended);
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      await send('send-key', { keys: key.split('-').map((data) => ({ type: 'qcode', data })) });
      await pause(60);
    }
  };
  const machine: ScreenMachine = {
    screen: () => screen,
    waitFor: async (pattern, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (pattern.test(screen)) return screen;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`QEMU ended before ${pattern}; serial:\n${transcript.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`${pattern} did not appear on tty1 within ${timeoutMs} ms; it shows:\n${screen}`);
        await pause(250);
      }
    },
    press,
    type: async (text) => {
      for (const character of text) await press(keyFor(character));
    },
    screendump: async (file) => {
      await send('screendump', { filename: file, format: 'png' });
    },
    vgaMemoryText: async () => {
      const file = path.join(options.work, 'vga-text.bin');
      await send('pmemsave', { val: 0xb8000, size: 0x8000, filename: file });
      const bytes = await readFile(file);
      return Buffer.from(bytes.filter((_, index) => index % 2 === 0)).toString('latin1');
    },
    transcript: () => transcript,
    stop: async () => {
      child.kill('SIGKILL');
      await ended;
    },
  };
  return machine;
}

/**
 * Starts the tty1 reader once the console shows `ready` (read from the VGA text memory: keys typed
 * earlier would reach GRUB's menu): switches to tty2, opens its shell, types the loop, back to tty1.
 */
export async function startScreenReader(machine: ScreenMachine, ready: RegExp, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(await machine.vgaMemoryText())) {
    if (Date.now() > deadline) throw new Error(`the console did not show ${ready} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  await machine.press('ctrl-alt-f2');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await machine.press('ret');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await machine.type(`${READER_LINE} &\n`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await machine.type('clear\n');
  await machine.press('ctrl-alt-f1');
  await machine.waitFor(/\S/, 60_000);
}
