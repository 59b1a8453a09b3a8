// One boot of the medium that carries many steps: a data disk labelled LIFEBOAT holding a job and
// a shell script, the kernel parameters lifeboat.run (one command, or `run JOB`) and
// lifeboat.then=shell, and the script typed into the shell that follows (`sh SCRIPT`, then power
// off). The script frames each step's output with markers on the serial console, so the host reads
// every step's exit status and output from the transcript.

import { execa } from 'execa';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { extractRunOutput } from '../../rescue/core/kernel-cmdline.ts';
import { SERIAL_CONSOLE_APPEND } from './media.ts';
import { bootVm, type BootResult, type ExtraDisk } from './qemu.ts';

const MiB = 1024 * 1024;
/** Where the medium mounts the data partition. */
export const DATA_MOUNT = '/mnt/lifeboat-data';
/** The data partition's place on its disk: 1 MiB in, filling the disk but for the backup GPT. */
export const DATA_OFFSET = MiB;
const SCRIPT_NAME = 'suite.sh';
const SHELL_PROMPT = /Lifeboat rescue shell\.[^]*lifeboat:\S*# /;

/** One step of the script: a name and the shell command it runs (its output and exit status are kept). */
export interface GuestStep {
  readonly name: string;
  readonly command: string;
}

/** What a step printed, how it ended and how long it took (whole seconds, the guest's clock). */
export interface StepResult {
  readonly exitCode: number;
  readonly output: string;
  readonly seconds: number;
}

/** The script: each step in a subshell, its output (stdout and stderr) between two marker lines. */
export function guestScript(steps: readonly GuestStep[]): string {
  const lines = ['#!/bin/sh', '# The guest suite\'s steps (test/helpers/guest-script.ts).', 'cd /tmp'];
  for (const step of steps) {
    if (!/^[a-z0-9-]+$/.test(step.name)) throw new Error(`step name ${step.name}: lower-case letters, digits and dashes only`);
    lines.push(`echo '@@step ${step.name} begin'; started=$(date +%s)`, `( ${step.command} ) 2>&1; rc=$?`, `echo "@@step ${step.name} exit=$rc seconds=$(($(date +%s) - started))"`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every step's result found in the transcript, by name. */
export function parseSteps(transcript: string): Map<string, StepResult> {
  const text = transcript.replace(/\r/g, '');
  const results = new Map<string, StepResult>();
  for (const match of text.matchAll(/^@@step ([a-z0-9-]+) begin\n([^]*?)^@@step \1 exit=(\d+) seconds=(\d+)$/gm)) {
    results.set(match[1] ?? '', { exitCode: Number(match[3]), output: match[2] ?? '', seconds: Number(match[4]) });
  }
  return results;
}

/**
 * A GPT disk of `sizeMiB` whose one partition holds an ext4 filesystem labelled LIFEBOAT with
 * `content` (a folder: mkfs.ext4 -d) plus the script; the medium mounts it on /mnt/lifeboat-data.
 */
export async function makeDataDisk(dir: string, options: { content: string; steps: readonly GuestStep[]; sizeMiB: number }): Promise<string> {
  await mkdir(options.content, { recursive: true });
  await writeFile(path.join(options.content, SCRIPT_NAME), guestScript(options.steps), { mode: 0o755 });
  const partition = path.join(dir, 'data-partition.img');
  const disk = path.join(dir, 'data.img');
  const partitionBytes = (options.sizeMiB - 2) * MiB;
  await execa('truncate', ['-s', String(partitionBytes), partition]);
  await execa('mkfs.ext4', ['-q', '-F', '-L', 'LIFEBOAT', '-d', options.content, partition]);
  await execa('truncate', ['-s', String(options.sizeMiB * MiB), disk]);
  await execa('sfdisk', ['-q', disk], { input: `label: gpt\nstart=${DATA_OFFSET / 512}, size=${partitionBytes / 512}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="LIFEBOAT"\n` });
  await execa('dd', [`if=${partition}`, `of=${disk}`, 'bs=1M', `seek=${DATA_OFFSET / MiB}`, 'conv=notrunc,sparse', 'status=none']);
  await execa('rm', ['-f', partition]);
  return disk;
}

/** What one boot gave: the transcript, the lifeboat.run command's result and each script step's. */
export interface GuestRun {
  readonly boot: BootResult;
  readonly transcript: string;
  readonly run: { exitCode: number; output: string } | undefined;
  readonly steps: Map<string, StepResult>;
  /** True when the script ran to its end (its last line, then the power-off). */
  readonly finished: boolean;
}

/**
 * Boots the ISO's kernel and initramfs with the data disk first (/dev/vda) and `disks` after it
 * (/dev/vdb, vdc...): `lifeboat.run=RUN`, then the script in the shell, then power off.
 */
export async function bootWithScript(options: { kernel: string; initrd: string; run: string; dataDisk: string; disks: readonly ExtraDisk[]; timeoutMs: number }): Promise<GuestRun> {
  const boot = await bootVm({
    firmware: 'seabios',
    medium: { kind: 'kernel', file: options.kernel, initrd: options.initrd, append: `${SERIAL_CONSOLE_APPEND} lifeboat.run="${options.run}" lifeboat.then=shell` },
    disks: [{ file: options.dataDisk, serial: 'LBGUESTDATA' }, ...options.disks],
    timeoutMs: options.timeoutMs,
    input: [{ when: SHELL_PROMPT, text: `sh ${DATA_MOUNT}/${SCRIPT_NAME}; echo "@@suite done"; sync; poweroff -f\n` }],
  });
  const transcript = boot.transcript.replace(/\r/g, '');
  return { boot, transcript, run: extractRunOutput(boot.transcript), steps: parseSteps(transcript), finished: /^@@suite done$/m.test(transcript) };
}

/** One step of a `lifeboat run` job as its output shows it: what it printed and whether it ended with "done". */
export interface JobStepOutput {
  readonly kind: string;
  readonly text: string;
  readonly done: boolean;
}

/** A job's output cut at its "== step N/M (KIND): COMMAND" headings, in order. */
export function splitJobSteps(output: string): JobStepOutput[] {
  const parts = output.split(/^== step \d+\/\d+ \((\w+)\): /m);
  const steps: JobStepOutput[] = [];
  for (let index = 1; index + 1 < parts.length; index += 2) {
    const text = parts[index + 1] ?? '';
    steps.push({ kind: parts[index] ?? '', text, done: /^== step \d+\/\d+ \(\w+\) done\.$/m.test(text) });
  }
  return steps;
}
