// The system report that goes with exported logs, and the archive writer: disks (lsblk, blkid,
// sfdisk -d per disk), kernel log, versions, firmware mode, kernel command line, memory. A tool
// that is missing (the medium carries them all; a host may lack one) leaves a note instead of failing.

import { copyFile, lstat, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DATA_PARTITION_MOUNT } from '../core/attached-repositories.ts';
import { LifeboatError } from '../core/errors.ts';
import { PROGRAMS, type ExternalProgram } from '../core/external-programs.ts';
import { describeFirmware, type FirmwareFacts } from '../core/firmware.ts';
import { describeExit, locateProgram, runProgram, succeeded } from './run-program.ts';

const TOOL_TIMEOUT_MS = 30_000;

interface ReportFile {
  readonly name: string;
  readonly text: string;
}

async function runForReport(program: ExternalProgram, args: readonly string[]): Promise<string> {
  const file = locateProgram(program);
  // The command as typed, then which program answered to it (on the medium, the one it carries).
  const line = `$ ${[program.name, ...args].join(' ')}  # ${file ?? 'not found'}\n`;
  if (!file) return `${line}(not run: ${program.name} is not installed; Debian package ${program.debianPackage})\n`;
  const result = await runProgram(program, args, { timeoutMs: TOOL_TIMEOUT_MS });
  const stderr = result.stderr ? `\n(stderr)\n${result.stderr}\n` : '';
  const status = succeeded(result) ? '' : `\n(${describeExit({ ...result, stderr: '', all: '' })})\n`;
  return `${line}${result.stdout}\n${stderr}${status}`;
}

async function readForReport(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: Error) => `(${file} cannot be read: ${error.message})\n`);
}

async function diskNames(): Promise<string[]> {
  const result = await runProgram(PROGRAMS.lsblk, ['-dn', '-o', 'NAME,TYPE'], { timeoutMs: TOOL_TIMEOUT_MS }).catch(() => undefined);
  if (!result || !succeeded(result)) return [];
  return result.stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter(([name, type]) => name && type === 'disk').map(([name]) => name ?? '');
}

/** Gathers the report; `extra` adds files computed by the caller (Lifeboat's own view of the disks). */
export async function gatherSystemReport(options: { version: string; readFirmwareFacts: () => Promise<FirmwareFacts>; extra?: () => Promise<ReportFile[]> }): Promise<ReportFile[]> {
  const firmware = await options.readFirmwareFacts().then(describeFirmware, (error: Error) => `unknown (${error.message})`);
  const files: ReportFile[] = [
    { name: 'lifeboat.txt', text: `lifeboat ${options.version}\nnode ${process.version}\nhost ${os.hostname()}\nreport time ${new Date().toISOString()}\nuptime ${Math.round(os.uptime())} s\n` },
    { name: 'firmware.txt', text: `${firmware}\n` },
    { name: 'uname.txt', text: await runForReport(PROGRAMS.uname, ['-a']) },
    { name: 'cmdline.txt', text: await readForReport('/proc/cmdline') },
    { name: 'meminfo.txt', text: await readForReport('/proc/meminfo') },
    { name: 'mounts.txt', text: await readForReport('/proc/mounts') },
    { name: 'lsblk.json', text: await runForReport(PROGRAMS.lsblk, ['-O', '--json']) },
    { name: 'blkid.txt', text: await runForReport(PROGRAMS.blkid, []) },
  ];
  for (const disk of await diskNames()) files.push({ name: `sfdisk-${disk}.txt`, text: await runForReport(PROGRAMS.sfdisk, ['-d', `/dev/${disk}`]) });
  files.push({ name: 'dmesg.txt', text: await runForReport(PROGRAMS.dmesg, []) });
  if (options.extra) {
    try {
      files.push(...(await options.extra()));
    } catch (error) {
      files.push({ name: 'lifeboat-disks.txt', text: `(Lifeboat's disk list failed: ${(error as Error).message})\n` });
    }
  }
  return files;
}

/** What is at a path. */
export async function pathKind(file: string): Promise<'missing' | 'file' | 'folder' | 'other'> {
  try {
    const info = await stat(file);
    return info.isDirectory() ? 'folder' : info.isFile() ? 'file' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return (await lstat(file).catch(() => undefined)) ? 'other' : 'missing';
    throw error;
  }
}

/** The data partition when the medium mounted it, else the current folder. */
export async function defaultExportDestination(): Promise<string> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  return mounts.split('\n').some((line) => line.split(' ')[1] === DATA_PARTITION_MOUNT) ? DATA_PARTITION_MOUNT : process.cwd();
}

/** Writes `top/logs/*` and `top/system/*` into a .tar.gz with tar (GNU or busybox), through a temporary name. */
export async function writeLogArchive(request: { archive: string; top: string; logs: readonly string[]; report: readonly ReportFile[]; overwrite: boolean }): Promise<{ bytes: number }> {
  const staging = await mkdtemp(path.join(process.env.LIFEBOAT_TMPDIR ?? os.tmpdir(), 'lifeboat-logs-'));
  const partial = `${request.archive}.partial-${process.pid}`;
  try {
    const logsDir = path.join(staging, request.top, 'logs');
    const systemDir = path.join(staging, request.top, 'system');
    await mkdir(logsDir, { recursive: true });
    await mkdir(systemDir, { recursive: true });
    for (const log of request.logs) await copyFile(log, path.join(logsDir, path.basename(log))).catch(() => undefined);
    for (const file of request.report) await writeFile(path.join(systemDir, path.basename(file.name)), file.text);
    const tar = await runProgram(PROGRAMS.tar, ['-czf', partial, '-C', staging, request.top]);
    if (!succeeded(tar)) throw new LifeboatError('LB_DEVICE_EXPORT_FAILED', { detail: describeExit(tar), path: request.archive });
    if (!request.overwrite && (await pathKind(request.archive)) !== 'missing') throw Object.assign(new Error(`${request.archive} appeared while writing`), { code: 'EEXIST' });
    await rename(partial, request.archive);
    return { bytes: (await stat(request.archive)).size };
  } finally {
    await rm(partial, { force: true });
    await rm(staging, { recursive: true, force: true });
  }
}
