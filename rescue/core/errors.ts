// Errors as data: every failure Lifeboat reports carries a stable code, context and a fix.
// The catalogue below is the one place codes are defined; the CLI maps groups to exit codes.

/** Groups of error codes; each group has its own exit code (see ui/cli/exit-codes.ts). */
export type ErrorGroup = 'input' | 'device' | 'filesystem' | 'repository' | 'network' | 'build' | 'internal';

/** The prefix every code of a group starts with (repository codes are abbreviated LB_REPO_). */
export const GROUP_CODE_PREFIX: Readonly<Record<ErrorGroup, string>> = {
  input: 'LB_INPUT_',
  device: 'LB_DEVICE_',
  filesystem: 'LB_FILESYSTEM_',
  repository: 'LB_REPO_',
  network: 'LB_NETWORK_',
  build: 'LB_BUILD_',
  internal: 'LB_INTERNAL',
};

/** One catalogue entry: what went wrong, the likely cause and what the user should do. */
export interface ErrorSpec {
  readonly group: ErrorGroup;
  readonly message: string;
  readonly cause: string;
  readonly fix: string;
  /** Set while no test reaches the code: why (test/unit/error-codes.test.ts enforces one or the other). */
  readonly reserved?: string;
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
  LB_INPUT_SIZE_BELOW_MINIMUM: {
    group: 'input',
    message: 'A size asked for a partition is below the smallest it can be.',
    cause: 'A --size N=SIZE smaller than the filesystem\'s minimum (what it holds), or than the partition itself where it cannot shrink (XFS, an unknown filesystem, an ESP, MSR, BIOS boot or recovery partition).',
    fix: 'Ask at least the minimum the details name, or leave --size out and let the planner share the space.',
  },
  LB_INPUT_READ_OUT_OF_RANGE: {
    group: 'input',
    message: 'A read went past the end of the disk, partition or image.',
    cause: 'A structure on the disk points outside it, or the image file is truncated.',
    fix: 'Check that the image is complete (compare its size with the source disk) and that the right device was named.',
  },
  LB_INPUT_PATH_NOT_FOUND: {
    group: 'input',
    message: 'The path does not exist in the filesystem.',
    cause: 'A misspelt name, or a path inside another partition of the disk or snapshot.',
    fix: 'List the folder first (lifeboat ls SOURCE /folder); on FAT, exFAT and NTFS names match whatever their case.',
  },
  LB_INPUT_DESTINATION_EXISTS: {
    group: 'input',
    message: 'A file to restore already exists in the destination.',
    cause: 'An earlier restore into the same folder, or a folder that already holds files of that name.',
    fix: 'Choose an empty folder, or pass --overwrite (replace) or --skip-existing (keep what is there).',
  },
  LB_INPUT_UNSAFE_NAME: {
    group: 'input',
    message: 'An entry was not restored: its name or link could lead outside the destination.',
    cause: 'A name with "..", "/", NUL or control characters, or an entry met twice, in a damaged or hostile filesystem.',
    fix: 'Nothing was written for that entry; the others were restored. Inspect it with lifeboat ls -l if you need it.',
  },
  LB_INPUT_DESTINATION_CANNOT_HOLD: {
    group: 'input',
    message: 'An entry was not restored: the destination\'s filesystem cannot hold it.',
    cause: 'A name too long or with a character the filesystem forbids (FAT and exFAT refuse : * ? " < > | \\), a link or device node on a filesystem without them (FAT, exFAT), or a file over 4 GiB on FAT32.',
    fix: 'The other entries were restored. Get this one into a folder on a Linux filesystem (ext4, xfs), which holds any name, link and size.',
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
  LB_FILESYSTEM_UNSUPPORTED: {
    group: 'filesystem',
    message: 'Lifeboat cannot read files on this partition.',
    cause: 'The partition holds no filesystem, an encrypted one, or one Lifeboat has no file reader for (it reads ext2/3/4, FAT, exFAT and NTFS).',
    fix: 'Pick another partition (lifeboat snapshots or lifeboat disks show them), or restore the partition and mount it.',
  },
  LB_FILESYSTEM_MOUNT_FAILED: {
    group: 'filesystem',
    message: 'The partition holding the repository could not be mounted for writing.',
    cause: 'The disk is write-protected, Windows left the NTFS volume hibernated or with Fast Startup on, the filesystem needs a check, or another program mounted it read-only.',
    fix: 'Shut Windows down fully (Fast Startup off) or run the filesystem\'s checker (e2fsck, fsck.fat, fsck.exfat, ntfsfix) in the shell, remove the disk\'s write protection, or back up into a repository on another disk.',
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
    reserved: 'Raised by the media builder for a --kernel without vmlinuz or when apt-get download fails; no test builds media from a bad kernel package yet.',
  },
  LB_BUILD_MODULE_MISSING: {
    group: 'build',
    message: 'A kernel module named in the media profile is not in the kernel package.',
    cause: 'The profile lists a module that this kernel version does not ship.',
    fix: 'Use the kernel the profile was written for, or remove the module from images/linux/modules.txt.',
    reserved: 'Raised by the media builder when the profile names a module the kernel lacks; no test builds with an altered module list yet.',
  },
  LB_BUILD_STEP_FAILED: {
    group: 'build',
    message: 'A step of the media build failed.',
    cause: 'An external tool (xorriso, grub-mkimage, mtools, cpio, zstd...) exited with an error.',
    fix: 'Read the tool output in the details; run `npm run setup` if a tool is missing.',
    reserved: 'Raised by the media builder when an external tool fails; no test makes xorriso, grub-mkimage or mtools fail yet.',
  },
  LB_INPUT_CONFIRMATION_REQUIRED: {
    group: 'input',
    message: 'This step overwrites a disk and needs an explicit confirmation.',
    cause: 'A restore was started without --yes and without a terminal to ask on.',
    fix: 'Check the plan with --dry-run, then run the command again with --yes.',
  },
  LB_INPUT_CANCELLED: {
    group: 'input',
    message: 'The operation was cancelled; nothing was written.',
    cause: 'The confirmation was refused or interrupted.',
    fix: 'Run the command again and confirm when the plan is right.',
  },
  LB_INPUT_STOPPED: {
    group: 'input',
    message: 'The operation was stopped before it finished.',
    cause: 'Cancel was chosen while it ran (the TUI\'s progress screen).',
    fix: 'A stopped backup leaves the repository as it was: run it again. A stopped restore leaves the target incomplete: restore again before using it.',
  },
  LB_INPUT_IMAGE_CORRUPT: {
    group: 'input',
    message: 'An image to read (a Clonezilla or partclone image) is damaged.',
    cause: 'A stored checksum does not match the data, a header or bitmap fails its check, or a compressed part cannot be decompressed: the copy of the image is damaged.',
    fix: 'Copy the image directory again from its original medium; the details name the partition and the block.',
  },
  LB_INPUT_IMAGE_TRUNCATED: {
    group: 'input',
    message: 'An image to read ends early or misses a part.',
    cause: 'A split part (.aa, .ab...) is missing or cut short, usually by an interrupted copy or a full disk when the image was saved.',
    fix: 'Copy the whole image directory again and check that every part is there with its full size.',
  },
  LB_INPUT_IMAGE_UNSUPPORTED: {
    group: 'input',
    message: 'The image uses a format variant Lifeboat cannot read.',
    cause: 'A partclone version, checksum mode (XXH64/XXH128), bitmap mode, compression or partition layout Lifeboat does not handle.',
    fix: 'Restore it with Clonezilla or partclone itself, then back up the restored disk with lifeboat backup disk.',
  },
  LB_INPUT_NOT_CLONEZILLA_IMAGE: {
    group: 'input',
    message: 'The folder is not a Clonezilla image directory.',
    cause: 'It holds no disk or parts list and no partition image files named as ocs-sr names them (sda1.ext4-ptcl-img.zst.aa...).',
    fix: 'Name the folder that holds the files disk, parts and sda-pt.sf (one level inside the Clonezilla image repository).',
  },
  LB_INPUT_BAD_JOB: {
    group: 'input',
    message: 'The job file is not valid; no step was run.',
    cause: 'A job file that cannot be read or is not JSON, an unknown step or field, a missing or mistyped value.',
    fix: 'Name a job file that exists, or correct the step and field the details name (README, "Unattended jobs", shows the format); then run the job again.',
  },
  LB_INPUT_JOB_NOT_CONFIRMED: {
    group: 'input',
    message: 'The job overwrites a disk but does not confirm it; no step was run.',
    cause: 'A restore step in a job without "confirm": true.',
    fix: 'Check the target of each restore step (lifeboat disks), then add "confirm": true to the job.',
  },
  LB_INPUT_ARCHIVE_EXISTS: {
    group: 'input',
    message: 'The archive file already exists.',
    cause: 'A log export named a file that is already there.',
    fix: 'Name another file or a folder, or pass --force to replace it.',
  },
  LB_INPUT_LATEST_AMBIGUOUS: {
    group: 'input',
    message: '`latest` names no one snapshot: the repository holds backups of several sources.',
    cause: 'Two disks, a disk and a partition, or several machines or folders were backed up into one repository; each has its own latest snapshot.',
    fix: 'Say which with --source (a path or serial from `lifeboat snapshots`), --host or --tag, or name the snapshot by its id.',
  },
  LB_INPUT_PASSWORDS_DIFFER: {
    group: 'input',
    message: 'The two passwords typed differ.',
    cause: 'A typing mistake in one of them (the input is hidden), or another keyboard layout than expected.',
    fix: 'Run the command again and type the same password twice; check the keyboard layout in the rescue environment.',
  },
  LB_INPUT_NO_SYSTEM: {
    group: 'input',
    message: 'No partition of the disk holds a system to clone.',
    cause: 'No ESP, BIOS boot, MSR, Windows or Linux root was found: the disk holds only data, or the system is on another disk (or on LVM, RAID or encryption Lifeboat does not read).',
    fix: 'Name the disk the system is on (lifeboat disks lists each disk with its partitions), or copy all of it with lifeboat clone disk.',
  },
  LB_DEVICE_EXPORT_FAILED: {
    group: 'device',
    message: 'The log archive could not be written.',
    cause: 'The destination is read-only, full or was removed.',
    fix: 'Export to another folder (a USB stick or the data partition): lifeboat logs export DEST.',
  },
  LB_DEVICE_TARGET_MOUNTED: {
    group: 'device',
    message: 'The target is in use: it or one of its partitions is mounted.',
    cause: 'A filesystem on the target (or on a loop device backed by the target file) is mounted.',
    fix: 'Unmount every partition of the target (umount), or choose another target.',
  },
  LB_DEVICE_SOURCE_MOUNTED: {
    group: 'device',
    message: 'The source is mounted read-write: a copy of it may be inconsistent.',
    cause: 'A partition of the source (or a filesystem built on it) is mounted read-write, so files can change while the backup reads it.',
    fix: 'Unmount it (umount) or remount it read-only (mount -o remount,ro), or back it up anyway with --allow-mounted, or back up its folders with `backup files`.',
  },
  LB_DEVICE_TARGET_IS_MEDIUM: {
    group: 'device',
    message: 'The target holds the running Lifeboat medium.',
    cause: 'The disk named as target is the stick or disc Lifeboat was started from.',
    fix: 'Choose another disk; `lifeboat disks` marks the medium.',
  },
  LB_DEVICE_TARGET_IS_SOURCE: {
    group: 'device',
    message: 'The target is the source itself.',
    cause: 'The same disk, partition or image file was named twice, or a loop device over the source\'s image file (or a partition of the source disk) was named as the target.',
    fix: 'Name another disk as the target (see `lifeboat disks`); the source is never written.',
  },
  LB_DEVICE_TARGET_TOO_SMALL: {
    group: 'device',
    message: 'The target is too small for what would be written to it.',
    cause: 'The target disk or partition is smaller than the snapshot\'s partitions need.',
    fix: 'Choose a target at least as large as the size shown in the details.',
  },
  LB_DEVICE_TARGET_BELOW_MINIMUM: {
    group: 'device',
    message: 'The target is smaller than the source\'s partitions can be made.',
    cause: 'Even with every filesystem that can shrink at its minimum size (and the ESP, MSR, BIOS boot and recovery partitions at theirs), the partitions, the table and their 1 MiB alignment need more than the target holds.',
    fix: 'Choose a target at least as large as the minimum in the details, or free space in the source\'s filesystems first (its minimum falls with what they hold).',
  },
  LB_DEVICE_SCRATCH_TOO_SMALL: {
    group: 'device',
    message: 'There is not enough room to shrink the filesystem without writing its source.',
    cause: 'A filesystem is shrunk on a copy-on-write overlay of its source: what the shrink moves and rewrites is kept in memory and then in a scratch folder, and together they hold less than it needs (the details give both figures).',
    fix: 'Give a scratch folder on another disk with room for the bytes the details name (--scratch DIR), or free memory, or choose a target that needs less shrinking.',
  },
  LB_DEVICE_SOURCE_DIRTY: {
    group: 'device',
    message: 'A filesystem that must shrink was not closed cleanly.',
    cause: 'Its own flags say it needs a check: an ext filesystem not unmounted cleanly, with errors recorded or a journal to replay, or an NTFS volume marked dirty (Windows runs chkdsk at its next start). Shrinking such a filesystem could lose what its journal still holds.',
    fix: 'Start the system that owns it and shut it down cleanly (Windows: chkdsk /f C:, then shut down), or check it on the source first (e2fsck -f, ntfsfix -d; this writes the source), or clone onto a target large enough that it keeps its size (--fit keep).',
  },
  LB_DEVICE_SOURCE_HIBERNATED: {
    group: 'device',
    message: 'A filesystem that must shrink belongs to a hibernated system.',
    cause: 'Windows is hibernated or was shut down with Fast Startup (hiberfil.sys holds its memory image), or a Linux swap area holds a hibernation image: the system would resume with a memory image that no longer matches the shrunk copy.',
    fix: 'Start the system and shut it down fully (Windows: shutdown /s /t 0, or turn Fast Startup off; Linux: boot it and power off), then clone again; or clone onto a target large enough that it keeps its size (--fit keep).',
  },
  LB_DEVICE_FUSE_UNAVAILABLE: {
    group: 'device',
    message: 'The writable view a filesystem is shrunk on could not be mounted.',
    cause: 'The program qemu-storage-daemon shows the copy-on-write view of the source as a FUSE file; it did not start, could not reach Lifeboat\'s NBD socket, or the kernel has no FUSE (/dev/fuse).',
    fix: 'Boot the Lifeboat medium, whose kernel has FUSE and which carries qemu-storage-daemon; the details hold the daemon\'s own message.',
  },
  LB_DEVICE_SECTOR_SIZE_MISMATCH: {
    group: 'device',
    message: 'The target\'s logical sector size differs from the source\'s.',
    cause: 'A 512-byte-sector (512n/512e) image restored onto a 4Kn disk, or the reverse: partition tables would point to the wrong places.',
    fix: 'Restore onto a disk with the same logical sector size (see `lifeboat disks`), or restore single partitions.',
  },
  LB_DEVICE_READ_FAILED: {
    group: 'device',
    message: 'Reading the source failed part-way.',
    cause: 'A read error on the disk, a cable or USB disconnect, or the disk vanished.',
    fix: 'Check the cable and the disk\'s health (smartctl -a); try again; a disk with bad sectors may need --sector-by-sector after ddrescue.',
  },
  LB_DEVICE_WRITE_FAILED: {
    group: 'device',
    message: 'Writing to the target failed.',
    cause: 'A write error on the target disk, the target was removed, it is read-only, or (restoring files) the destination is full.',
    fix: 'Check the target disk and its cable, make sure it is writable and has room, and run the restore again.',
  },
  LB_DEVICE_TOOL_MISSING: {
    group: 'device',
    message: 'A program this step needs is not installed.',
    cause: 'Lifeboat runs outside its medium, on a system without the Debian package that holds the program, or finds another program of that name (busybox\'s losetup or mkswap lack the options used).',
    fix: 'Boot the Lifeboat medium, which carries every program Lifeboat runs, or install the Debian package the details name and run the command again.',
  },
  LB_DEVICE_NOT_FOUND: {
    group: 'device',
    message: 'The disk, partition or image named does not exist.',
    cause: 'A device name of another machine or an earlier boot (names like sdb change), a disk that is not connected, or a mistyped image path.',
    fix: 'Run `lifeboat disks` to see the disks and partitions by name, model and size, then name the right one (or check the image file\'s path).',
  },
  LB_REPO_NOT_FOUND: {
    group: 'repository',
    message: 'No Lifeboat repository was found at this path.',
    cause: 'The folder does not exist, or has no config.json of a Lifeboat repository.',
    fix: 'Check the path given with -r; create a repository with `lifeboat init -r PATH`.',
  },
  LB_REPO_UNSUPPORTED_VERSION: {
    group: 'repository',
    message: 'The repository was written in a format this Lifeboat does not know.',
    cause: 'A newer Lifeboat wrote the repository.',
    fix: 'Use a Lifeboat at least as new as the one that wrote the repository.',
  },
  LB_REPO_PASSWORD_REQUIRED: {
    group: 'repository',
    message: 'The repository is encrypted and no password was given.',
    cause: 'No --password-file, no LIFEBOAT_PASSWORD and no terminal to ask on.',
    fix: 'Give the password with --password-file FILE or the LIFEBOAT_PASSWORD environment variable.',
  },
  LB_REPO_WRONG_PASSWORD: {
    group: 'repository',
    message: 'The password does not open this repository.',
    cause: 'A mistyped or wrong password (or a damaged key file).',
    fix: 'Try again with the right password; check the keyboard layout in the rescue environment.',
  },
  LB_REPO_LOCKED: {
    group: 'repository',
    message: 'Another Lifeboat process is using the repository.',
    cause: 'A backup, forget or prune is running on it (possibly from another computer).',
    fix: 'Wait for it to finish. If no other process runs, remove the lock file named in the details.',
  },
  LB_REPO_DATA_CORRUPT: {
    group: 'repository',
    message: 'A chunk in the repository is damaged.',
    cause: 'Its content does not match its hash or fails authentication: a bad sector, a faulty disk or cable, or tampering.',
    fix: 'Run `lifeboat check -r REPO --read-data` to list every damaged chunk; back up again to store a good copy; keep a second repository for important data.',
  },
  LB_REPO_PACK_TRUNCATED: {
    group: 'repository',
    message: 'A pack file in the repository is shorter than it should be.',
    cause: 'An interrupted copy of the repository, a full disk, or filesystem damage.',
    fix: 'Run `lifeboat check -r REPO --read-data`; restore the pack from a copy of the repository, or back up again.',
  },
  LB_REPO_PACK_MISSING: {
    group: 'repository',
    message: 'A pack file listed in the repository\'s index is missing.',
    cause: 'A file deleted or lost from the repository folder, or an incomplete copy.',
    fix: 'Copy the missing pack back from another copy of the repository, or back up again.',
  },
  LB_REPO_INDEX_MISSING: {
    group: 'repository',
    message: 'A snapshot refers to chunks that no index of the repository lists.',
    cause: 'Index files deleted or lost from the repository\'s index folder.',
    fix: 'Run `lifeboat check -r REPO --rebuild-index` to rebuild the index from the pack files.',
  },
  LB_REPO_SNAPSHOT_CORRUPT: {
    group: 'repository',
    message: 'A snapshot\'s manifest is damaged or has been altered.',
    cause: 'The manifest does not match its content hash or fails authentication: disk damage or tampering.',
    fix: 'Do not restore from that snapshot; use another one or back up again.',
  },
  LB_REPO_SNAPSHOT_NOT_FOUND: {
    group: 'repository',
    message: 'No snapshot matches what was named.',
    cause: 'A mistyped id prefix, a tag no snapshot carries, an ambiguous prefix, or a partition number the snapshot does not hold.',
    fix: 'List the snapshots with `lifeboat snapshots -r REPO` and name one by a longer id prefix or `latest`.',
  },
  LB_REPO_DESTINATION_FULL: {
    group: 'repository',
    message: 'The disk holding the repository is full.',
    cause: 'Not enough free space for the new chunks.',
    fix: 'Free space (lifeboat forget --prune removes old snapshots) or use a larger disk; the repository was left consistent.',
  },
  LB_REPO_WRITE_FAILED: {
    group: 'repository',
    message: 'Writing to the repository failed.',
    cause: 'The disk holding it is read-only, was removed, or reports write errors.',
    fix: 'Check that the repository disk is writable and connected; the repository was left consistent.',
  },
  LB_REPO_INVALID: {
    group: 'repository',
    message: 'A repository file is not in the expected format.',
    cause: 'A damaged config, key, index or tree file, or a file that does not belong to Lifeboat.',
    fix: 'Run `lifeboat check -r REPO` to see which file; restore it from another copy of the repository.',
  },
  LB_REPO_CHECK_FAILED: {
    group: 'repository',
    message: 'The repository check found problems.',
    cause: 'Damaged or missing files; each problem is listed with its own code.',
    fix: 'Read the problems listed above; each has its own fix.',
  },
  LB_REPO_NOT_A_FOLDER: {
    group: 'repository',
    message: 'The repository path is a file, not a folder.',
    cause: 'The path given with -r names a file (an image or an archive), or a folder on the way is a file.',
    fix: 'Name the folder that holds the repository (its config.json), or a new or empty folder for a new repository.',
  },
  LB_REPO_READ_ONLY: {
    group: 'repository',
    message: 'The repository folder cannot be written.',
    cause: 'Its filesystem is mounted read-only (a write-protected stick, Windows hibernation, or a filesystem the kernel turned read-only after errors), or the folder\'s permissions forbid writing.',
    fix: 'Remove the write protection or remount the filesystem writable (mount -o remount,rw), run as root, or choose a repository folder on another disk.',
  },
  LB_REPO_ALREADY_EXISTS: {
    group: 'repository',
    message: 'The folder already holds a Lifeboat repository.',
    cause: 'An earlier init or backup already made this folder into a repository.',
    fix: 'Use it as it is (lifeboat snapshots -r PATH lists what it holds), or name a new or empty folder for another repository.',
  },
  LB_REPO_FOLDER_NOT_EMPTY: {
    group: 'repository',
    message: 'The folder holds other files, so no repository is made in it.',
    cause: 'A new repository is made only in a missing or empty folder, so that its files never mix with others.',
    fix: 'Name a new or empty folder (a subfolder of this one will do).',
  },
  LB_DEVICE_CONVERT_NOT_MBR: {
    group: 'device',
    message: 'The disk has no MBR partition table to convert.',
    cause: 'Sector 0 lacks the 0x55AA signature, holds a filesystem on the whole disk, or lists no partition.',
    fix: 'Check the device name with `lifeboat disks`; inspect sector 0 with `sfdisk -d DISK`.',
  },
  LB_DEVICE_CONVERT_ALREADY_GPT: {
    group: 'device',
    message: 'The disk is already GPT (or a hybrid MBR/GPT).',
    cause: 'Its MBR holds a protective 0xEE entry: a GPT is there, possibly with a hybrid MBR beside it.',
    fix: 'The disk needs no conversion. A hybrid MBR (GPT with MBR entries beside the protective one) is left as it is: check it with `sgdisk -v DISK`, and boot the system in UEFI mode.',
  },
  LB_DEVICE_CONVERT_DYNAMIC_DISK: {
    group: 'device',
    message: 'The disk is a Windows dynamic disk (MBR type 0x42).',
    cause: 'Windows keeps its volumes in an LDM database; converting the table would lose them.',
    fix: 'Convert it back to a basic disk in Windows (Disk Management) or copy its volumes to a basic disk first.',
  },
  LB_DEVICE_CONVERT_BITLOCKER: {
    group: 'device',
    message: 'A partition is encrypted with BitLocker.',
    cause: 'The BitLocker volume\'s protectors are bound to the legacy boot measurements; after a conversion Windows asks for the recovery key.',
    fix: 'Suspend or turn off BitLocker in Windows (manage-bde -protectors -disable C:) and run the conversion again.',
  },
  LB_FILESYSTEM_CONVERT_NTFS_UNCLEAN: {
    group: 'filesystem',
    message: 'An NTFS volume is hibernated or marked dirty.',
    cause: 'Windows was hibernated (Fast Startup) or not shut down cleanly; its state refers to the old boot setup.',
    fix: 'Start Windows and shut it down fully (shutdown /s /t 0, or turn off Fast Startup), or run `ntfsfix -d` on a dirty volume, then run lifeboat convert again.',
  },
  LB_DEVICE_CONVERT_UNKNOWN_TYPE: {
    group: 'device',
    message: 'A partition has an MBR type the conversion cannot map to a GPT type.',
    cause: 'An uncommon MBR type byte (another operating system, or a mistake when the partition was made).',
    fix: 'Set the right type with `sfdisk --part-type DISK N TYPE` (83 Linux, 7 NTFS/exFAT, c FAT32) if you know it, then run lifeboat convert again.',
  },
  LB_DEVICE_CONVERT_NO_ROOM_FOR_GPT: {
    group: 'device',
    message: 'There is no room for the GPT\'s two tables.',
    cause: 'The first partition starts before LBA 34 (6 on 4Kn disks), or the last one ends within 33 sectors (5 on 4Kn) of the disk\'s end.',
    fix: 'Shrink the last partition\'s end (resize2fs or ntfsresize, then sfdisk) or move the first one, then run lifeboat convert again.',
  },
  LB_DEVICE_CONVERT_NO_ROOM_FOR_ESP: {
    group: 'device',
    message: 'There is no free space for the EFI System partition.',
    cause: 'No 1 MiB aligned gap of the ESP\'s size (default 260 MiB) lies between or after the partitions.',
    fix: 'Ask for a smaller ESP (--esp-size 100M), or shrink the partition the details name (resize2fs or ntfsresize, then sfdisk) and run lifeboat convert again.',
  },
  LB_INPUT_CONVERT_UNDO_FILE_REQUIRED: {
    group: 'input',
    message: 'A conversion needs an undo file on another disk.',
    cause: 'No --undo-file was given and the medium\'s data partition is not mounted.',
    fix: 'Name a file on another disk (a USB stick, the repository disk) with --undo-file PATH.',
  },
  LB_INPUT_CONVERT_UNDO_ON_TARGET: {
    group: 'input',
    message: 'The undo file would be on the disk being converted.',
    cause: 'The --undo-file path lies in a filesystem of that disk (or is the disk image itself).',
    fix: 'Put the undo file on another disk: a USB stick, the repository disk or the medium\'s data partition.',
  },
  LB_INPUT_CONVERT_UNDO_FILE_INVALID: {
    group: 'input',
    message: 'The undo file is not a valid Lifeboat undo file.',
    cause: 'Another file was named, or the undo file was truncated or damaged.',
    fix: 'Name the undo file `lifeboat convert uefi` printed; check its size and copy it again from its backup.',
  },
  LB_DEVICE_CONVERT_UNDO_WRONG_DISK: {
    group: 'device',
    message: 'The disk is not the one the undo file was made for.',
    cause: 'Another disk was named, or the disk was changed after the conversion (its size, serial, signature or data differ).',
    fix: 'Name the disk the conversion ran on (see the undo file\'s device and `lifeboat disks`); nothing was written.',
  },
  LB_DEVICE_CONVERT_VERIFY_FAILED: {
    group: 'device',
    message: 'The GPT read back after the conversion is not the one written.',
    cause: 'The disk did not keep what was written (a failing disk or controller, or another program wrote at the same time).',
    fix: 'Put the disk back with `lifeboat convert undo UNDOFILE DISK`, then check the disk (smartctl -a).',
    reserved: 'Only a disk that silently loses writes reaches it; the storage fault tests of issue 17 will.',
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
