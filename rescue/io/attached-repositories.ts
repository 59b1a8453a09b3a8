// Repositories on attached disks: lists the disks' partitions, probes their filesystems, mounts the
// candidates read-only under /run/lifeboat/mnt (core/attached-repositories.ts decides which and
// how), searches each (top level and one folder down), unmounts those holding none, and keeps the
// others mounted until the TUI ends. A backup into one of them makes its mount writable first.

import { mkdir, readFile, rmdir, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_MOUNT_ROOT,
  inScanScope,
  planRepositoryScan,
  type FoundRepository,
  type MountCommand,
  type MountDrivers,
  type RepositoryPlace,
  type ScanCandidate,
  type ScanReport,
  type ScanScope,
  type SkippedPartition,
  type WritableMethod,
} from '../core/attached-repositories.ts';
import type { DiskSummary } from '../core/disk-facts.ts';
import { LifeboatError, toLifeboatError } from '../core/errors.ts';
import { PROGRAMS } from '../core/external-programs.ts';
import { probeFilesystem } from '../core/filesystems/probe-filesystem.ts';
import { parseMountInfo, type MountEntry } from '../core/mount-info.ts';
import { openByteSource } from './file-source.ts';
import { findRepositories } from './find-repositories.ts';
import { processAlive } from './process-alive.ts';
import { describeExit, locateProgram, programNamed, runProgram, runProgramSync, succeeded } from './run-program.ts';
import { listDisks, mountsOf } from './sysfs-disks.ts';

const MOUNT_TIMEOUT_MS = 60_000;
const UNMOUNT_TIMEOUT_MS = 30_000;
/** Kernel filesystems worth knowing about, by module name. */
const KERNEL_FILESYSTEMS = ['ext4', 'ext3', 'ext2', 'vfat', 'exfat', 'ntfs3'];
const MOUNT_PROGRAMS = [PROGRAMS.ntfs3g, PROGRAMS.mountExfatFuse];
/** How long a scan waits for another Lifeboat's scan to end before it goes ahead anyway. */
const SCAN_LOCK_WAIT_MS = 180_000;
const SCAN_LOCK_POLL_MS = 200;

/** A partition searched where it is mounted (by Lifeboat or before it ran). */
interface SearchedMount {
  readonly device: string;
  readonly mountPoint: string;
  readonly filesystem: string | undefined;
  readonly label: string | undefined;
  readOnly: boolean;
  /** Mounted by Lifeboat: unmounted when it ends. */
  readonly ours: boolean;
  readonly readOnlyCommand: MountCommand | undefined;
  readonly writable: WritableMethod | undefined;
  readonly notWritable: string | undefined;
}

/** How commands are run (tests may record them). */
export type CommandRunner = (command: MountCommand, timeoutMs: number) => Promise<{ ok: boolean; output: string }>;

const runCommand: CommandRunner = async (command, timeoutMs) => {
  const result = await runProgram(programNamed(command.program), command.args, { timeoutMs }).catch((error: Error) => error);
  if (result instanceof Error) return { ok: false, output: result.message };
  return { ok: succeeded(result), output: succeeded(result) ? result.all.trim() : describeExit(result) };
};

/** Filesystems the kernel has (/proc/filesystems) or can load (modules.dep, modules.builtin), and the FUSE mount programs on PATH. */
export async function readMountDrivers(env: Readonly<Record<string, string | undefined>> = process.env): Promise<MountDrivers> {
  const kernel = new Set<string>();
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  for (const line of filesystems.split('\n')) {
    const name = line.trim().split(/\s+/).at(-1);
    if (name) kernel.add(name);
  }
  const modules = path.join('/lib/modules', os.release());
  for (const list of ['modules.dep', 'modules.builtin']) {
    const text = await readFile(path.join(modules, list), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const module = path.basename(line.split(':')[0] ?? '').replace(/\.ko(\.\w+)?$/, '');
      if (KERNEL_FILESYSTEMS.includes(module)) kernel.add(module);
    }
  }
  const programs = new Set<string>();
  for (const program of MOUNT_PROGRAMS) if (locateProgram(program, env)) programs.add(program.name);
  return { kernel, programs };
}

async function readMounts(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
}

async function deviceNumbers(name: string): Promise<string | undefined> {
  return (await readFile(`/sys/class/block/${name}/dev`, 'utf8').catch(() => '')).trim() || undefined;
}

/** The filesystem on a block device as the probes see it; a device that cannot be read has a problem instead. */
async function probeDevice(device: string): Promise<Pick<ScanCandidate, 'filesystem' | 'problem'>> {
  try {
    const source = await openByteSource(device);
    try {
      const probe = await probeFilesystem(source);
      return { filesystem: probe ? { type: probe.type, kind: probe.kind, ...(probe.label ? { label: probe.label } : {}), state: probe.state } : undefined };
    } finally {
      await source.close();
    }
  } catch (error) {
    const coded = toLifeboatError(error);
    return { filesystem: undefined, problem: `${coded.code}: ${coded.message}` };
  }
}

/** Every partition of the listed disks (or the disk itself when it has none), with its filesystem and mounts. */
async function gatherCandidates(disks: readonly DiskSummary[], mounts: readonly MountEntry[], scope: ScanScope): Promise<ScanCandidate[]> {
  const candidates: ScanCandidate[] = [];
  for (const disk of disks) {
    if (disk.transport === 'ram' || disk.sizeBytes === 0) continue;
    const parts = disk.partitions.length > 0 ? disk.partitions.map((partition) => ({ name: partition.name, device: partition.path })) : [{ name: disk.name, device: disk.path }];
    for (const part of parts) {
      const base = { device: part.device, name: part.name, disk: disk.path, holdsMedium: disk.holdsMedium };
      if (!inScanScope(base, scope)) continue;
      const own = mountsOf(mounts, await deviceNumbers(part.name), part.device).map((mount) => ({ mountPoint: mount.mountPoint, readOnly: mount.readOnly, fsType: mount.fsType, options: mount.options }));
      // The medium's disks are not even read; a partition mounted already needs no probe to be searched, but its label is shown.
      const probed = disk.holdsMedium ? { filesystem: undefined } : await probeDevice(part.device);
      candidates.push({ ...base, mounts: own, ...probed });
    }
  }
  return candidates;
}

/**
 * Takes the machine's scan lock: MOUNT_ROOT.lock, created exclusively and holding the owner's pid.
 * A lock whose owner is gone is taken over; one held longer than SCAN_LOCK_WAIT_MS is ignored (a
 * scan goes ahead rather than never). Returns the release.
 */
async function lockScans(mountRoot: string): Promise<() => Promise<void>> {
  const lock = `${mountRoot.replace(/\/+$/, '')}.lock`;
  await mkdir(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + SCAN_LOCK_WAIT_MS;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => unlink(lock).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return async () => undefined;
    }
    const owner = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
    // An empty file is a lock being written: its owner is alive.
    if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) return async () => undefined;
    await new Promise((resolve) => setTimeout(resolve, SCAN_LOCK_POLL_MS));
  }
}

/** Finds repositories on attached disks and owns the mounts it makes for that. */
export class AttachedRepositories {
  private readonly mountRoot: string;
  private readonly scope: ScanScope;
  private readonly run: CommandRunner;
  private readonly listDisks: () => Promise<DiskSummary[]>;
  private readonly searched = new Map<string, SearchedMount>();
  private exitHook: (() => void) | undefined;

  constructor(options: { scope: ScanScope; mountRoot?: string; run?: CommandRunner; listDisks?: () => Promise<DiskSummary[]> }) {
    this.scope = options.scope;
    this.mountRoot = options.mountRoot ?? DEFAULT_MOUNT_ROOT;
    this.run = options.run ?? runCommand;
    this.listDisks = options.listDisks ?? (() => listDisks({ includeVirtual: true }));
  }

  /** Searches every disk in scope; partitions it mounts stay mounted only when they hold a repository. */
  async scan(): Promise<ScanReport> {
    const found: FoundRepository[] = [];
    const skipped: SkippedPartition[] = [];
    if (this.scope.kind === 'none') return { found, skipped };
    // The medium starts a TUI on the screen and one on the serial line at the same moment: one scan
    // at a time, so the second finds the first's mounts and searches them instead of mounting the
    // same partitions again (which failed for FAT: "could not be mounted read-only").
    const unlock = await lockScans(this.mountRoot);
    try {
      return await this.scanLocked(found, skipped);
    } finally {
      await unlock();
    }
  }

  private async scanLocked(found: FoundRepository[], skipped: SkippedPartition[]): Promise<ScanReport> {
    const candidates = await gatherCandidates(await this.listDisks(), await readMounts(), this.scope);
    const drivers = await readMountDrivers();
    for (const decision of planRepositoryScan(candidates, drivers, { mountRoot: this.mountRoot, scope: this.scope })) {
      const { candidate } = decision;
      const filesystem = candidate.filesystem?.type;
      const label = candidate.filesystem?.label;
      if (decision.action === 'skip') {
        skipped.push({ device: candidate.device, reason: decision.reason, notable: decision.notable });
        continue;
      }
      let mount: SearchedMount;
      if (decision.action === 'search-mounted') {
        // Only what this process mounted is unmounted by it: a mount under the mount root made by
        // another Lifeboat (the TUI on the other console) is searched, and left to its owner.
        mount = this.searched.get(decision.mountPoint) ?? {
          device: candidate.device, mountPoint: decision.mountPoint, filesystem, label, readOnly: decision.readOnly, ours: false,
          readOnlyCommand: undefined, writable: decision.writable, notWritable: decision.notWritable,
        };
      } else {
        await mkdir(decision.mountPoint, { recursive: true });
        const mounted = await this.run(decision.method.readOnly, MOUNT_TIMEOUT_MS);
        if (!mounted.ok) {
          await rmdir(decision.mountPoint).catch(() => undefined);
          skipped.push({ device: candidate.device, reason: `${decision.method.description} could not be mounted read-only: ${firstLine(mounted.output)}`, notable: true });
          continue;
        }
        mount = {
          device: candidate.device, mountPoint: decision.mountPoint, filesystem, label, readOnly: true, ours: true,
          readOnlyCommand: decision.method.readOnly, writable: decision.method.writable, notWritable: undefined,
        };
        this.hookExit();
      }
      const repositories = await findRepositories([mount.mountPoint]);
      if (repositories.length === 0) {
        if (decision.action === 'mount') await this.unmount(mount);
        continue;
      }
      this.searched.set(mount.mountPoint, mount);
      for (const repository of repositories) found.push({ path: repository, place: placeOf(mount) });
    }
    return { found, skipped };
  }

  /** Where a folder lives, when it is on a partition this scan searched. */
  placeOf(folder: string): RepositoryPlace | undefined {
    const mount = this.mountHolding(folder);
    return mount ? placeOf(mount) : undefined;
  }

  /**
   * Makes the mount holding `folder` writable when it is a read-only mount this scan searched
   * (remounted, or unmounted and mounted again for FUSE and ext4 mounted without its journal);
   * returns a line for the user, or undefined when nothing had to change. LB_FILESYSTEM_MOUNT_FAILED
   * when it cannot be made writable (the read-only mount is kept).
   */
  async prepareForWriting(folder: string): Promise<string | undefined> {
    const mount = this.mountHolding(folder);
    if (!mount || !mount.readOnly) return undefined;
    const fail = (detail: string, extra: Record<string, unknown> = {}) => new LifeboatError('LB_FILESYSTEM_MOUNT_FAILED', { detail, device: mount.device, mountPoint: mount.mountPoint, ...extra });
    if (!mount.writable) throw fail(`${mount.device} is ${mount.notWritable ?? `mounted read-only on ${mount.mountPoint}`}.`);
    if (mount.writable.mode === 'remount') {
      const done = await this.run(mount.writable.command, MOUNT_TIMEOUT_MS);
      if (!done.ok) throw fail(`${mount.device} could not be remounted read-write: ${firstLine(done.output)}`, { output: done.output });
    } else {
      const unmounted = await this.run({ program: 'umount', args: [mount.mountPoint] }, UNMOUNT_TIMEOUT_MS);
      if (!unmounted.ok) throw fail(`${mount.device} could not be unmounted to mount it read-write: ${firstLine(unmounted.output)}`, { output: unmounted.output });
      const done = await this.run(mount.writable.command, MOUNT_TIMEOUT_MS);
      if (!done.ok) {
        // Back to read-only, so the repositories on it can still be read.
        if (mount.readOnlyCommand) await this.run(mount.readOnlyCommand, MOUNT_TIMEOUT_MS);
        throw fail(`${mount.device} could not be mounted read-write: ${firstLine(done.output)}`, { output: done.output });
      }
    }
    // mount(8) falls back to read-only on a write-protected device: believe the kernel, not the exit status.
    const now = (await readMounts()).find((entry) => entry.mountPoint === mount.mountPoint);
    if (!now || now.readOnly) throw fail(`${mount.device} stayed read-only on ${mount.mountPoint} (write-protected?).`);
    mount.readOnly = false;
    return `${mount.device} (${mount.filesystem ?? 'filesystem'}) is now mounted read-write on ${mount.mountPoint}.`;
  }

  /** Unmounts every partition this scan mounted (and removes its folder). */
  async release(): Promise<void> {
    for (const mount of [...this.searched.values()].reverse()) {
      if (mount.ours) await this.unmount(mount);
      this.searched.delete(mount.mountPoint);
    }
    this.unhookExit();
  }

  /** The same, synchronously: for process exit and signals. */
  releaseSync(): void {
    for (const mount of [...this.searched.values()].reverse()) {
      if (!mount.ours) continue;
      const result = runProgramSync(PROGRAMS.umount, [mount.mountPoint], { stdio: 'ignore', timeout: UNMOUNT_TIMEOUT_MS });
      if (result?.status !== 0) runProgramSync(PROGRAMS.umount, ['-l', mount.mountPoint], { stdio: 'ignore', timeout: UNMOUNT_TIMEOUT_MS });
      runProgramSync(PROGRAMS.rmdir, [mount.mountPoint], { stdio: 'ignore' });
    }
    this.searched.clear();
  }

  private mountHolding(folder: string): SearchedMount | undefined {
    const resolved = path.resolve(folder);
    const holding = [...this.searched.values()].filter((mount) => resolved === mount.mountPoint || resolved.startsWith(`${mount.mountPoint}/`));
    return holding.sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
  }

  private async unmount(mount: SearchedMount): Promise<void> {
    let result = await this.run({ program: 'umount', args: [mount.mountPoint] }, UNMOUNT_TIMEOUT_MS);
    // Busy (a shell left in it): detached now, gone once the last user leaves.
    if (!result.ok) result = await this.run({ program: 'umount', args: ['-l', mount.mountPoint] }, UNMOUNT_TIMEOUT_MS);
    if (result.ok) await rmdir(mount.mountPoint).catch(() => undefined);
  }

  private hookExit(): void {
    if (this.exitHook) return;
    this.exitHook = () => this.releaseSync();
    process.once('exit', this.exitHook);
  }

  private unhookExit(): void {
    if (this.exitHook) process.removeListener('exit', this.exitHook);
    this.exitHook = undefined;
  }
}

function placeOf(mount: SearchedMount): RepositoryPlace {
  return { device: mount.device, mountPoint: mount.mountPoint, ...(mount.filesystem ? { filesystem: mount.filesystem } : {}), ...(mount.label ? { label: mount.label } : {}), readOnly: mount.readOnly };
}

function firstLine(text: string): string {
  return text.split('\n').map((line) => line.trim()).find(Boolean) ?? 'no reason given';
}
