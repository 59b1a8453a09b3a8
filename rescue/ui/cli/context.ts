// What every CLI command receives from main.ts: the io functions it may call and where it writes.

import type { FstabNofailStep } from '../../core/clone/fstab-nofail.ts';
import type { DiskSummary } from '../../core/disk-facts.ts';
import type { ExternalProgram } from '../../core/external-programs.ts';
import type { NewPartition } from '../../core/clone/free-area.ts';
import type { RepositoryConfig, SnapshotSource } from '../../core/repository/format.ts';
import type { RepositoryMaintenance } from '../../core/repository/repository-port.ts';
import type { ByteSource } from '../../core/byte-source.ts';
import type { FileTree } from '../../core/file-trees/file-tree.ts';
import type { FileWriter } from '../../core/file-trees/file-writer-port.ts';
import type { FileSystemWalker, FileWalkOptions } from '../../core/repository/files-backup-port.ts';
import type { DiskContents } from '../../ops/inspect-disk.ts';
import type { OpenedRestoreTarget } from '../../ops/restore.ts';
import type { FilesystemProbe } from '../../core/filesystems/probe-types.ts';
import type { ClonezillaLayout } from '../../core/clonezilla/clonezilla-restore-plan.ts';
import type { ClonezillaRestoreIo, ClonezillaScratch } from '../../core/clonezilla/clonezilla-ports.ts';
import type { ExportLogsResult } from '../../ops/export-logs.ts';
import type { MeasureVolumeMinimum } from '../../ops/restore-shrink.ts';
import type { ShrinkOnView, ShrinkRoom } from '../../ops/shrink-volume.ts';
import type { ConvertDisk, ConvertPorts } from '../../ops/convert-uefi.ts';

/** An open repository with its lock. */
export type RepositoryHandle = RepositoryMaintenance & {
  acquireLock(exclusive: boolean, command: string): Promise<string[]>;
  close(): Promise<void>;
};

/** What the repository commands need from io (wired in main.ts). */
export interface RepositoryServices {
  init(path: string, options: { password?: string }): Promise<RepositoryConfig>;
  open(path: string, password: () => Promise<string | undefined>, options?: { tolerant?: boolean }): Promise<RepositoryHandle>;
  isEmptyFolder(path: string): Promise<boolean>;
  /** Opens a backup source; a source mounted read-write is refused (LB_DEVICE_SOURCE_MOUNTED) unless allowMounted, which turns the refusal into warnings. */
  openSource(path: string, kind: 'disk' | 'partition', options?: { allowMounted?: boolean }): Promise<{ source: ByteSource & { close(): Promise<void> }; facts: SnapshotSource; warnings: readonly string[] }>;
  openTarget(path: string, options: { createBytes: number; sectorSize: number; dryRun: boolean }): Promise<OpenedRestoreTarget>;
  /** The local file system as `backup files` walks it (exclusions applied). */
  openFileWalker(options: FileWalkOptions): Promise<FileSystemWalker>;
  growFilesystem(request: { backingPath: string; partition: number; offset: number; sizeBytes: number; filesystem: string }): Promise<string | undefined>;
  /** Refuses (LB_DEVICE_TOOL_MISSING) when a program a plan needs is not there; called before anything is written. */
  checkPrograms(programs: readonly ExternalProgram[]): Promise<void>;
  /** What a restore onto a smaller disk needs. */
  readonly shrink: RestoreShrinkServices;
  readPasswordFile(path: string): Promise<string>;
  /** Asks on the terminal (input hidden when `secret`); undefined when there is no terminal. */
  ask(prompt: string, options: { secret: boolean }): Promise<string | undefined>;
  hostName(): string;
  powerAction(action: 'poweroff' | 'reboot'): Promise<void>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stderrIsTerminal: boolean;
}

/** Shrinking a snapshot's volumes onto a restore target (wired in main.ts). */
export interface RestoreShrinkServices {
  /** A filesystem's minimum measured on a FUSE view of its bytes (io/measure-on-view.ts). */
  measureMinimum: MeasureVolumeMinimum;
  /** Shrinks a filesystem on a copy-on-write view (io/shrink-view.ts). */
  shrinkOnView: ShrinkOnView;
  /** The room a shrink's overlay may take: memory, and the scratch folder's free space (io/shrink-room.ts). */
  measureRoom(options: { scratchFolder?: string }): Promise<ShrinkRoom>;
  /** mkswap with a UUID and label at a byte offset of a file or device. */
  makeSwap(request: { path: string; offset: number; sizeBytes: number; uuid: string | undefined; label: string | undefined }): Promise<void>;
}

/** Reading files out of volumes (wired in main.ts). */
export interface BrowseServices {
  /** A device, an image file, or DISK:N, opened read-only. */
  openVolume(spec: string): Promise<{ source: ByteSource; label: string; close(): Promise<void> }>;
  /** The file tree of a volume (LB_FILESYSTEM_UNSUPPORTED when no reader knows it). */
  openFileTree(source: ByteSource): Promise<FileTree>;
  readonly fileWriter: FileWriter;
  /** Makes the destination folder (and its parents) when missing; refuses anything that is not a folder. */
  prepareDestination(path: string): Promise<string>;
}

/** An opened Clonezilla image directory: its layout and the io bound to it. */
export interface OpenedClonezillaImage {
  readonly layout: ClonezillaLayout;
  /** The restore io writing into a target's backing file or device at its offset. */
  restoreIo(backing: { path: string; offset: number }): ClonezillaRestoreIo;
  /** A scratch disk file in the temporary folder for `import clonezilla`. */
  createScratch(sizeBytes: number, sectorSize: number): Promise<ClonezillaScratch>;
}

/** Clonezilla image directories (wired in main.ts). */
export interface ClonezillaServices {
  /** True when `path` is a directory holding a Clonezilla image. */
  isImage(path: string): Promise<boolean>;
  open(directory: string): Promise<OpenedClonezillaImage>;
}

/** The run logs and their export (wired in main.ts; the TUI's Logs action calls the same). */
export interface LogServices {
  /** The log folder ($LIFEBOAT_LOG_DIR, else /var/log/lifeboat). */
  readonly directory: string;
  /** The run logs, oldest first, each with how its run ended (success, exit N, an error code, unfinished). */
  list(): Promise<{ name: string; path: string; bytes: number; outcome: string }[]>;
  /** Writes the logs and a system report as one archive into a folder or a *.tar.gz file. */
  export(request: { destination?: string; force: boolean }): Promise<ExportLogsResult>;
  /**
   * Runs an operation started outside the CLI (a TUI action) with its own run log, named and
   * headed by the equivalent command line (e.g. ['backup', 'disk', '/dev/sda', '-r', repo]); wrap
   * its reporter with recordProgress (run-log-scope.ts) to log notices and phase figures.
   */
  runLogged<T>(argv: readonly string[], run: () => Promise<T>): Promise<T>;
}

/** What `clone` needs of its endpoints beyond a restore's (wired in main.ts). */
export interface CloneServices {
  /** Refuses (LB_DEVICE_TARGET_IS_SOURCE) a target that is the source, or holds it, or lies in it. */
  refuseTargetIsSource(source: string, target: string): Promise<void>;
  /** Where a partition device starts on its disk, in logical sectors; undefined for anything else. */
  partitionStartLba(device: string, sectorSize: number): Promise<number | undefined>;
  /** --new-ids: an ext filesystem of the target (its file or device, the partition's bytes) gets `uuid` (tune2fs). */
  setExtUuid(request: { backingPath: string; offset: number; sizeBytes: number; uuid: string }): Promise<void>;
  /** --new-ids: random bytes for the new ids. */
  randomBytes(count: number): Uint8Array;
  /** DISK:free: adds the copy's partition to the disk's table (sfdisk --append), after the copy. */
  addPartition(request: { disk: string; isBlockDevice: boolean; partition: NewPartition }): Promise<void>;
  /** Adds nofail to fstab lines in the copy (clone system; io/fstab-in-copy.ts); returns a notice. */
  addNofailInCopy(request: { backingPath: string; backingOffset: number; step: FstabNofailStep }): Promise<string>;
  /** A filesystem's minimum size (resize2fs -P, ntfsresize --info on a read-only loop device; FAT and exFAT read in place). */
  measureMinimum(request: { path: string; offset: number; sizeBytes: number; probe: FilesystemProbe | undefined; source: ByteSource }): Promise<{ bytes: number | undefined; how: string }>;
}

/** What `convert` needs from io (wired in main.ts). */
export interface ConvertServices {
  openDisk(device: string, options: { writable: boolean }): Promise<ConvertDisk & { close(): Promise<void> }>;
  ports(notice: (message: string) => void): ConvertPorts;
  newGuid(): string;
  /** The medium's data partition when mounted; undefined otherwise. */
  defaultUndoFile(device: string, now: Date): Promise<string | undefined>;
  refuseUndoOnTarget(undoFile: string, device: string): Promise<void>;
  readUndoFile(file: string): Promise<Uint8Array>;
}

/** The capabilities main.ts wires in; commands never import io themselves. */
export interface CliContext {
  readonly listDisks: (options: { includeVirtual: boolean }) => Promise<DiskSummary[]>;
  /** The summary of a named block device or image file. */
  readonly describeTarget: (target: string) => Promise<DiskSummary>;
  /** Reads a disk's table and probes its filesystems (read-only). */
  readonly inspectTarget: (target: string, sectorSize: number | 'detect') => Promise<DiskContents>;
  readonly readKernelCmdline: () => Promise<string>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly repositories: RepositoryServices;
  /** What `ls` and `get` need: volumes outside repositories, file readers, and a file writer. */
  readonly browse: BrowseServices;
  /** `restore` and `import` from Clonezilla image directories. */
  readonly clonezilla: ClonezillaServices;
  /** Run logs: list and export. */
  readonly logs: LogServices;
  /** `clone disk` and `clone partition`. */
  readonly clone: CloneServices;
  /** `convert uefi` and `convert undo`. */
  readonly convert: ConvertServices;
  /** Version of this Lifeboat build. */
  readonly version: string;
  /**
   * Runs an operation that can stop cleanly: Ctrl-C or SIGTERM aborts the signal it gets (it then
   * ends with LB_INPUT_STOPPED). Outside such a call, Ctrl-C ends the process at once.
   */
  readonly stoppable: <T>(work: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}
