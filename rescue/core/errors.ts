// Errors as data: every failure Lifeboat reports carries a stable code, context and a fix.
// The catalogue below is the one place codes are defined; the CLI maps groups to exit codes.

/** Groups of error codes; each group has its own exit code (see ui/cli/exit-codes.ts). */
export type ErrorGroup = 'input' | 'device' | 'filesystem' | 'repository' | 'network' | 'build' | 'internal';

/** One catalogue entry: what went wrong, the likely cause and what the user should do. */
export interface ErrorSpec {
  readonly group: ErrorGroup;
  readonly message: string;
  readonly cause: string;
  readonly fix: string;
}

/** The catalogue of stable error codes. Codes are never reused for another meaning. */
export const ERROR_CATALOGUE = {
  LB_INPUT_USAGE: {
    group: 'input',
    message: 'The command line is not valid.',
    cause: 'An unknown option, a missing argument or a value of the wrong form.',
    fix: 'Run the command with --help to see its arguments.',
  },
  LB_INPUT_BAD_CMDLINE: {
    group: 'input',
    message: 'A lifeboat.* kernel parameter could not be parsed.',
    cause: 'An unbalanced quote or an unknown value in lifeboat.run or lifeboat.then.',
    fix: 'Edit the boot entry (press e in the boot menu) and correct the parameter.',
  },
  LB_INPUT_READ_OUT_OF_RANGE: {
    group: 'input',
    message: 'A read went past the end of the disk, partition or image.',
    cause: 'A structure on the disk points outside it, or the image file is truncated.',
    fix: 'Check that the image is complete (compare its size with the source disk) and that the right device was named.',
  },
  LB_DEVICE_TABLE_TRUNCATED: {
    group: 'device',
    message: 'The disk is too small to hold the partition table it claims to have.',
    cause: 'A truncated image file, or a table that belongs to a larger disk.',
    fix: 'Use the complete image, or the disk the table was written for.',
  },
  LB_DEVICE_MBR_INVALID: {
    group: 'device',
    message: 'The MBR partition table is damaged.',
    cause: 'A partition that overlaps another or lies past the end of the disk, or a broken extended-partition chain.',
    fix: 'Inspect the disk with `sfdisk -d`; repair the table with testdisk or restore it from a backup before going on.',
  },
  LB_DEVICE_GPT_INVALID: {
    group: 'device',
    message: 'The GPT partition table is damaged in both copies.',
    cause: 'Both the primary and the backup GPT header or entry array fail their CRC32 or range checks.',
    fix: 'Inspect the disk with `sgdisk -v`; recover the table with testdisk or restore it from a backup.',
  },
  LB_FILESYSTEM_CORRUPT: {
    group: 'filesystem',
    message: 'A filesystem structure is damaged.',
    cause: 'A superblock, boot sector or metadata record fails its checksum or holds values out of range.',
    fix: 'Run the filesystem\'s own checker (e2fsck -n, fsck.fat -n, fsck.exfat -n, ntfsfix -n) to see the damage; back up sector by sector (--sector-by-sector) if it cannot be repaired.',
  },
  LB_FILESYSTEM_TRUNCATED: {
    group: 'filesystem',
    message: 'The filesystem is larger than the partition or image holding it.',
    cause: 'A truncated image, or a partition shrunk without shrinking its filesystem first.',
    fix: 'Use the complete image; or grow the partition back to the filesystem\'s size before going on.',
  },
  LB_DEVICE_UNREADABLE: {
    group: 'device',
    message: 'The disk or image could not be opened for reading.',
    cause: 'No permission (Lifeboat needs root for disks), no medium in the drive, or the device vanished.',
    fix: 'Run as root (sudo), insert the medium, or check the cable and name the device again.',
  },
  LB_DEVICE_SYSFS_UNREADABLE: {
    group: 'device',
    message: 'The list of disks could not be read from /sys/block.',
    cause: 'The sysfs filesystem is not mounted, or this is not Linux.',
    fix: 'Mount sysfs (mount -t sysfs sysfs /sys) or run Lifeboat on Linux.',
  },
  LB_BUILD_TOOL_MISSING: {
    group: 'build',
    message: 'A tool the media builder needs is not installed.',
    cause: 'A Debian package the build uses is missing on this machine.',
    fix: 'Run `npm run setup` (or apt-get install the package named in the details).',
  },
  LB_BUILD_NEEDS_CHECKOUT: {
    group: 'build',
    message: 'Building media needs a Lifeboat source checkout.',
    cause: 'The builder was started from the single executable, which does not carry esbuild and the Node binaries.',
    fix: 'Run `npm run iso` in a checkout of Lifeboat.',
  },
  LB_BUILD_KERNEL_NOT_FOUND: {
    group: 'build',
    message: 'No usable Linux kernel was found for the medium.',
    cause: 'The --kernel path holds no vmlinuz and lib/modules, or apt-get could not download linux-image-amd64.',
    fix: 'Give --kernel a linux-image .deb or an extracted one, or run apt-get update and retry.',
  },
  LB_BUILD_MODULE_MISSING: {
    group: 'build',
    message: 'A kernel module named in the media profile is not in the kernel package.',
    cause: 'The profile lists a module that this kernel version does not ship.',
    fix: 'Use the kernel the profile was written for, or remove the module from images/linux/modules.txt.',
  },
  LB_BUILD_STEP_FAILED: {
    group: 'build',
    message: 'A step of the media build failed.',
    cause: 'An external tool (xorriso, grub-mkimage, mtools, cpio, zstd...) exited with an error.',
    fix: 'Read the tool output in the details; run `npm run setup` if a tool is missing.',
  },
  LB_INTERNAL: {
    group: 'internal',
    message: 'An unexpected internal error occurred.',
    cause: 'A bug in Lifeboat.',
    fix: 'Export the logs and report the problem with them.',
  },
} as const satisfies Record<string, ErrorSpec>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The error type every layer throws: code + context + cause; message and fix come from the catalogue. */
export class LifeboatError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, details: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    const spec = ERROR_CATALOGUE[code];
    const detail = typeof details.detail === 'string' ? ` ${details.detail}` : '';
    super(`${spec.message}${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LifeboatError';
    this.code = code;
    this.details = details;
  }

  /** The sentence that tells the user what to do. */
  get fix(): string {
    return ERROR_CATALOGUE[this.code].fix;
  }

  get group(): ErrorGroup {
    return ERROR_CATALOGUE[this.code].group;
  }

  /** A JSON form for --json output and logs. */
  toJSON(): Record<string, unknown> {
    return { code: this.code, group: this.group, message: this.message, fix: this.fix, details: this.details };
  }
}

/** Wrap anything thrown into a LifeboatError so callers handle one type. */
export function toLifeboatError(error: unknown): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LifeboatError('LB_INTERNAL', { detail: message }, { cause: error });
}
