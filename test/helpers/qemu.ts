// Boots media in QEMU (TCG: no KVM on these machines) with real firmware, SeaBIOS or OVMF with
// or without Secure Boot, from a CD or a USB stick, and returns what the serial console printed.

import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Firmware to boot with. */
export type Firmware = 'seabios' | 'ovmf' | 'ovmf-secure-boot';

/** How the medium is attached: a CD, a USB stick, a system disk (virtio), or QEMU's direct kernel boot (-kernel/-initrd). */
export type MediumKind = 'cdrom' | 'usb' | 'disk' | 'kernel';

/** A disk attached besides the medium. */
export interface ExtraDisk {
  readonly file: string;
  readonly serial: string;
  readonly bus?: 'virtio' | 'nvme' | 'usb' | 'sd';
  /**
   * QEMU's cache mode (default: QEMU's own, writeback through the host's page cache). `none` opens
   * the file with O_DIRECT: what the guest has not written out is lost when QEMU is killed, as in a
   * power cut, while what it flushed is on the host's disk.
   */
  readonly cache?: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
  /** QEMU's asynchronous I/O engine; `native` needs cache `none` or `directsync`. */
  readonly aio?: 'threads' | 'native' | 'io_uring';
}

/** One VM run. */
export interface BootOptions {
  readonly firmware: Firmware;
  /** For `kernel`, file is the kernel; initrd and append complete it. */
  readonly medium: { readonly kind: MediumKind; readonly file: string; readonly initrd?: string; readonly append?: string };
  readonly disks?: readonly ExtraDisk[];
  readonly memoryMiB?: number;
  readonly timeoutMs?: number;
  /** Stop the VM as soon as the serial console output satisfies this. */
  readonly until?: RegExp | ((transcript: string) => boolean);
  /**
   * SeaBIOS only: mirror the BIOS text screen on the serial port (SeaBIOS's sercon), so what boot
   * code prints through the BIOS before it sets up its own serial terminal (GRUB's rescue prompt,
   * "unknown filesystem") reaches the transcript.
   */
  readonly biosScreenOnSerial?: boolean;
  /** Typed on the serial console (QEMU's stdin), each once, as soon as the transcript matches `when`. */
  readonly input?: ReadonlyArray<{ readonly when: RegExp; readonly text: string }>;
}

/** What came out of a run. */
export interface BootResult {
  readonly transcript: string;
  readonly seconds: number;
  /** True when the guest powered off (QEMU exited by itself). */
  readonly poweredOff: boolean;
  readonly timedOut: boolean;
  /** Seconds from start until `until` matched, when it did. */
  readonly matchedAfterSeconds: number | undefined;
}

const OVMF = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  vars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  secureCode: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
  secureVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
};

/** QEMU arguments for a run; varsFile is the per-VM copy of the UEFI variable store, serconFile SeaBIOS's sercon-port setting (biosScreenOnSerial). */
export function qemuArguments(options: BootOptions, varsFile: string | undefined, serconFile?: string): string[] {
  const args = ['-accel', 'tcg', '-m', String(options.memoryMiB ?? 1024), '-smp', '1', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-nodefaults', '-vga', 'std'];
  if (options.firmware === 'ovmf-secure-boot') {
    args.push('-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on');
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF.secureCode}`, '-drive', `if=pflash,format=raw,unit=1,file=${varsFile}`);
  } else if (options.firmware === 'ovmf') {
    args.push('-machine', 'q35');
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF.code}`, '-drive', `if=pflash,format=raw,unit=1,file=${varsFile}`);
  } else {
    args.push('-machine', 'pc');
    if (serconFile !== undefined) args.push('-fw_cfg', `name=etc/sercon-port,file=${serconFile}`);
  }
  const needsXhci = options.medium.kind === 'usb' || (options.disks ?? []).some((disk) => disk.bus === 'usb');
  if (needsXhci) args.push('-device', 'qemu-xhci,id=xhci');
  if (options.medium.kind === 'cdrom') {
    args.push('-drive', `if=none,id=medium,media=cdrom,readonly=on,format=raw,file=${options.medium.file}`);
    args.push('-device', 'ide-cd,drive=medium,bootindex=0');
  } else if (options.medium.kind === 'usb') {
    args.push('-drive', `if=none,id=medium,format=raw,file=${options.medium.file}`);
    args.push('-device', 'usb-storage,bus=xhci.0,drive=medium,removable=on,bootindex=0');
  } else if (options.medium.kind === 'disk') {
    args.push('-drive', `if=none,id=medium,format=raw,file=${options.medium.file}`);
    args.push('-device', 'virtio-blk-pci,drive=medium,bootindex=0');
  } else {
    args.push('-kernel', options.medium.file, '-initrd', options.medium.initrd ?? '', '-append', options.medium.append ?? '');
  }
  (options.disks ?? []).forEach((disk, index) => {
    const id = `disk${index}`;
    const cache = disk.cache === undefined ? '' : `,cache=${disk.cache}`;
    const aio = disk.aio === undefined ? '' : `,aio=${disk.aio}`;
    args.push('-drive', `if=none,id=${id},format=raw${cache}${aio},file=${disk.file}`);
    if (disk.bus === 'nvme') args.push('-device', `nvme,drive=${id},serial=${disk.serial}`);
    else if (disk.bus === 'usb') args.push('-device', `usb-storage,bus=xhci.0,drive=${id},serial=${disk.serial}`);
    // QEMU's SD card has a fixed CID (serial 0xdeadbeef); disk.serial is not passed on.
    else if (disk.bus === 'sd') args.push('-device', 'sdhci-pci', '-device', `sd-card,drive=${id}`);
    else args.push('-device', `virtio-blk-pci,drive=${id},serial=${disk.serial}`);
  });
  return args;
}

/** Boots the VM and collects its serial console until it powers off, matches, or times out. */
export async function bootVm(options: BootOptions): Promise<BootResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lifeboat-vm-'));
  let varsFile: string | undefined;
  if (options.firmware !== 'seabios') {
    varsFile = path.join(dir, 'vars.fd');
    await copyFile(options.firmware === 'ovmf-secure-boot' ? OVMF.secureVars : OVMF.vars, varsFile);
  }
  let serconFile: string | undefined;
  if (options.firmware === 'seabios' && options.biosScreenOnSerial) {
    serconFile = path.join(dir, 'sercon-port');
    await writeFile(serconFile, Buffer.from([0xf8, 0x03])); // COM1, 0x3f8, as SeaBIOS reads an integer file
  }
  const started = Date.now();
  try {
    return await new Promise<BootResult>((resolve, reject) => {
      const pending = [...(options.input ?? [])];
      const args = qemuArguments(options, varsFile, serconFile);
      // stdin is the serial console's keyboard: a pipe only when something is to be typed.
      const child = pending.length > 0 ? spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let transcript = '';
      let matchedAfterSeconds: number | undefined;
      let timedOut = false;
      let stoppedByUs = false;
      const timer = setTimeout(() => {
        timedOut = true;
        stoppedByUs = true;
        child.kill('SIGKILL');
      }, options.timeoutMs ?? 240_000);
      // One decoder per stream: a character whose UTF-8 bytes arrive in two chunks stays whole
      // (decoding each chunk alone made two U+FFFD of a name's 'é' on the serial console).
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      const onData = (decoder: StringDecoder) => (chunk: Buffer) => {
        transcript += decoder.write(chunk);
        while (pending[0]?.when.test(transcript)) child.stdin?.write(pending.shift()?.text ?? '');
        const until = options.until;
        const matched = until === undefined ? false : until instanceof RegExp ? until.test(transcript) : until(transcript);
        if (matched && matchedAfterSeconds === undefined) {
          matchedAfterSeconds = (Date.now() - started) / 1000;
          stoppedByUs = true;
          child.kill('SIGKILL');
        }
      };
      child.stdin?.on('error', () => undefined);
      child.stdout.on('data', onData(decoders.stdout));
      child.stderr.on('data', onData(decoders.stderr));
      child.on('error', reject);
      child.on('close', () => {
        clearTimeout(timer);
        resolve({ transcript, seconds: (Date.now() - started) / 1000, poweredOff: !stoppedByUs, timedOut, matchedAfterSeconds });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs async jobs at most `limit` at a time (VMs under TCG each want a core). */
export function createLimiter(limit: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active += 1;
    try {
      return await job();
    } finally {
      active -= 1;
      queue.shift()?.();
    }
  };
}
