// The system report that goes with exported logs, and the archive writer: disks (lsblk, blkid,
// sfdisk -d per disk), kernel log, versions, firmware mode, kernel command line, memory. A tool
// that is missing (the medium has busybox, not util-linux) leaves a note instead of failing.

import { execa } from 'execa';
import { copyFile, lstat, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../core/errors.ts';
import { describeFirmware, type FirmwareFacts } from '../core/firmware.ts';

/** Where the medium mounts its data partition. */
export const DATA_PARTITION_MOUNT = '/mnt/lifeboat-data';

const TOOL_TIMEOUT_MS = 30_000;

interface ReportFile {
  readonly name: string;
  readonly text: string;
}

async function runForReport(command: string, args: readonly string[]): Promise<string> {
  const result = await execa(command, [...args], { reject: false, timeout: TOOL_TIMEOUT_MS, stdin: 'ignore' });
  const line = `$ ${[command, ...args].join(' ')}\n`;
  if (result.failed && result.exitCode === undefined) return `${line}(not run: ${result.shortMessage})\n`;
  const stderr = result.stderr ? `\n(stderr)\n${result.stderr}\n` : '';
  const status = result.exitCode === 0 ? '' : `\n(exit ${result.exitCode})\n`;
  return `${line}${result.stdout}\n${stderr}${status}`;
}

async function readForReport(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: Error) => `(${file} cannot be read: ${error.message})\n`);
}

async function diskNames(): Promise<string[]> {
  const result = await execa('lsblk', ['-dn', '-o', 'NAME,TYPE'], { reject: false, timeout: TOOL_TIMEOUT_MS });
  if (result.exitCode !== 0) return [];
  return result.stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter(([name, type]) => name && type === 'disk').map(([name]) => name ?? '');
}

/** Gathers the report; `extra` adds files computed by the caller (Lifeboat's own view of the disks). */
export async function gatherSystemReport(options: { version: string; readFirmwareFacts: () => Promise<FirmwareFacts>; extra?: () => Promise<ReportFile[]> }): Promise<ReportFile[]> {
  const firmware = await options.readFirmwareFacts().then(describeFirmware, (error: Error) => `unknown (${error.message})`);
  const files: ReportFile[] = [
    { name: 'lifeboat.txt', text: `lifeboat ${options.version}\nnode ${process.version}\nhost ${os.hostname()}\nreport time ${new Date().toISOString()}\nuptime ${Math.round(os.uptime())} s\n` },
    { name: 'firmware.txt', text: `${firmware}\n` },
    { name: 'uname.txt', text: await runForReport('uname', ['-a']) },
    { name: 'cmdline.txt', text: await readForReport('/proc/cmdline') },
    { name: 'meminfo.txt', text: await readForReport('/proc/meminfo') },
    { name: 'mounts.txt', text: await readForReport('/proc/mounts') },
    { name: 'lsblk.json', text: await runForReport('lsblk', ['-O', '--json']) },
    { name: 'blkid.txt', text: await runForReport('blkid', []) },
  ];
  for (const disk of await diskNames()) files.push({ name: `sfdisk-${disk}.txt`, text: await runForReport('sfdisk', ['-d', `/dev/${disk}`]) });
  files.push({ name: 'dmesg.txt', text: await runForReport('dmesg', []) });
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
    const tar = await execa('tar', ['-czf', partial, '-C', staging, request.top], { reject: false });
    if (tar.exitCode !== 0) throw new LifeboatError('LB_DEVICE_EXPORT_FAILED', { detail: `tar: ${tar.stderr || tar.shortMessage}`, path: request.archive });
    if (!request.overwrite && (await pathKind(request.archive)) !== 'missing') throw Object.assign(new Error(`${request.archive} appeared while writing`), { code: 'EEXIST' });
    await rename(partial, request.archive);
    return { bytes: (await stat(request.archive)).size };
  } finally {
    await rm(partial, { force: true });
    await rm(staging, { recursive: true, force: true });
  }
}
