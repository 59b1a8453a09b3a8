// The examples every command's --help ends with, in one table so they read as a set (and a test,
// test/cli/help-examples.test.ts, walks every command's --help for them). `$0` is `lifeboat`.

import type { Argv } from 'yargs';

/** Example command lines and what each does, by command path. */
export const COMMAND_EXAMPLES = {
  disks: [
    ['$0 disks', 'Every disk with its partitions, filesystems, used space and roles'],
    ['$0 disks /dev/sdb backup.img', 'Only the named disk and disk image'],
    ['$0 disks --all --json', 'Loop, ram and zram devices too, as JSON'],
  ],
  init: [
    ['$0 init -r /mnt/lifeboat-data/repo', 'A repository on the medium\'s LIFEBOAT data partition'],
    ['$0 init -r /media/usb/repo --encrypt', 'An encrypted one (password asked, or --password-file FILE, or LIFEBOAT_PASSWORD)'],
  ],
  backup: [
    ['$0 backup disk /dev/sda -r /media/usb/repo', 'disk: the partition table, boot code and every partition (restores a whole disk)'],
    ['$0 backup partition /dev/sda2 -r /media/usb/repo', 'partition: one partition or filesystem image (used blocks only)'],
    ['$0 backup system /dev/nvme0n1 -r /media/usb/repo', 'system: what the system needs to boot and run (ESP, Windows, Linux root; data partitions left out)'],
    ['$0 backup files /home /etc -r /media/usb/repo', 'files: folders and files, restored with get or restore into a folder'],
  ],
  'backup disk': [
    ['$0 backup disk /dev/sda -r /media/usb/repo --tag weekly --note "before the update"', 'The whole first disk, tagged, with a note'],
    ['$0 backup disk disk.img -r repo --compression 9 --then poweroff', 'A disk image, compressed harder; power off when done'],
  ],
  'backup partition': [
    ['$0 backup partition /dev/sda2 -r /media/usb/repo', 'One partition of a disk'],
    ['$0 backup partition disk.img:2 -r repo', 'Partition 2 of a disk image'],
  ],
  'backup system': [
    ['$0 backup system /dev/sda -r /media/usb/repo', 'The system partitions of /dev/sda; the choice and its reasons are printed first'],
  ],
  'backup files': [
    ['$0 backup files /home/anna /etc -r /media/usb/repo', 'Two folders of this system'],
    ['$0 backup files /mnt/windows/Users -r repo --exclude "*.tmp" --exclude-larger-than 2G', 'Folders of a mounted partition, leaving out temporary and very large files'],
  ],
  snapshots: [
    ['$0 snapshots -r /media/usb/repo', 'The snapshots: id, time, kind, source, sizes, tags and note'],
    ['$0 snapshots -r /media/usb/repo --json', 'The same as JSON, with each snapshot\'s partitions'],
  ],
  restore: [
    ['$0 restore -r /media/usb/repo latest /dev/sdb --dry-run', 'Show the plan and what /dev/sdb would lose; write nothing'],
    ['$0 restore -r /media/usb/repo 3f2a9c1e /dev/sdb', 'Restore a snapshot by id prefix (asks for yes first)'],
    ['$0 restore -r /media/usb/repo latest:2 /dev/sdb2 --yes', 'Only partition 2 of the latest snapshot, onto a partition'],
    ['$0 restore -r /media/usb/repo latest /dev/sdc --grow --yes', 'Onto a larger disk, growing the last partition and its filesystem'],
    ['$0 restore /media/usb/partimag/2024-05-img /dev/sdb', 'A Clonezilla image directory (no -r)'],
  ],
  clone: [
    ['$0 clone disk /dev/sda /dev/sdb --dry-run', 'Show the plan (new layout, steps) and what /dev/sdb would lose; write nothing'],
    ['$0 clone partition /dev/sda2 /dev/sdb2', 'One partition onto another at least as large'],
    ['$0 clone system /dev/sda /dev/sdb', 'Only the partitions the installed system needs to boot, packed to fit'],
  ],
  'clone disk': [
    ['$0 clone disk /dev/sda /dev/sdb', 'The whole disk onto a larger one: the largest data partition grows (asks for yes first)'],
    ['$0 clone disk /dev/sda /dev/sdb --fit proportional --yes --then poweroff', 'The data partitions share the extra space; power off when done'],
  ],
  'clone system': [
    ['$0 clone system /dev/sda /dev/sdb --dry-run', 'Which partitions the system needs (and which are left out, and why), their packed layout on /dev/sdb; write nothing'],
    ['$0 clone system /dev/sda /dev/nvme0n1 --yes --then poweroff', 'Windows or Linux alone onto a smaller SSD: ESP, MSR, system and recovery (or ESP, /boot, root); the data partitions stay behind'],
  ],
  'clone partition': [
    ['$0 clone partition /dev/sda2 /dev/sdb2 --yes', 'Partition 2 onto partition 2 of another disk; its filesystem grows to fill it'],
  ],
  convert: [
    ['$0 convert uefi /dev/sda --undo-file /media/usb/sda.lbundo --dry-run', 'Show the MBR -> GPT plan (same partitions, a new ESP); write nothing'],
    ['$0 convert undo /media/usb/sda.lbundo /dev/sda', 'Put back every sector the conversion changed'],
  ],
  'convert uefi': [
    ['$0 convert uefi /dev/sda --undo-file /media/usb/sda.lbundo', 'Convert in place (asks for yes first); the undo file is written and synced before any change'],
    ['$0 convert uefi /dev/sda --esp-size 100M --json --yes', 'A 100 MiB ESP, no question, JSON output'],
  ],
  'convert undo': [
    ['$0 convert undo /media/usb/sda.lbundo /dev/sda --yes', 'Check the disk is the undo file\'s, then write the saved sectors back'],
  ],
  import: [
    ['$0 import clonezilla /media/usb/partimag/2024-05-img -r /media/usb/repo', 'A Clonezilla image directory into a snapshot'],
  ],
  'import clonezilla': [
    ['$0 import clonezilla /media/usb/partimag/2024-05-img -r /media/usb/repo --tag clonezilla', 'Import, checking every partclone checksum'],
  ],
  ls: [
    ['$0 ls /dev/sdb1 /home -l', 'A folder of a partition, with sizes, owners and times'],
    ['$0 ls disk.img:2 /', 'The top folder of partition 2 of a disk image'],
    ['$0 ls -r /media/usb/repo latest:2 /Users', 'A folder inside a snapshot, without restoring it'],
  ],
  get: [
    ['$0 get -r /media/usb/repo latest:2 /Users/anna/Documents ./rescued', 'A folder out of a snapshot into ./rescued'],
    ['$0 get /dev/sdb1 /etc/fstab /etc/hosts ./copy --overwrite', 'Two files out of a partition, replacing earlier copies'],
  ],
  check: [
    ['$0 check -r /media/usb/repo', 'Check the repository\'s structure (fast)'],
    ['$0 check -r /media/usb/repo --read-data', 'Also read and verify every chunk'],
    ['$0 check -r /media/usb/repo --rebuild-index', 'Rebuild the index from the pack files'],
  ],
  forget: [
    ['$0 forget -r /media/usb/repo 3f2a9c1e', 'Forget one snapshot'],
    ['$0 forget -r /media/usb/repo --keep-last 3 --keep-monthly 6 --prune --dry-run', 'Show what a retention policy would forget and free'],
  ],
  errors: [
    ['$0 errors', 'Every error code with its cause and fix'],
    ['$0 errors LB_REPO_LOCKED', 'One code'],
  ],
  tui: [
    ['$0 tui', 'The text user interface (also what `lifeboat` alone opens on a terminal)'],
  ],
  build: [
    ['$0 build linux', 'The rescue ISO, dist/lifeboat.iso'],
    ['$0 build sea -o dist/lifeboat', 'Only the single executable'],
  ],
  'build linux': [
    ['$0 build linux -o dist/lifeboat.iso', 'The rescue ISO with the kernel downloaded by apt-get'],
    ['$0 build linux --append \'lifeboat.run="disks --json" lifeboat.then=poweroff\'', 'An ISO that lists the disks and powers off'],
  ],
  'build sea': [
    ['$0 build sea -o dist/lifeboat', 'The single executable'],
  ],
  logs: [
    ['$0 logs list', 'The run logs and how each run ended'],
    ['$0 logs export /media/usb', 'The logs and a system report as one .tar.gz on a USB stick'],
  ],
  'logs list': [
    ['$0 logs list --json', 'The run logs as JSON'],
  ],
  'logs export': [
    ['$0 logs export', 'Onto the medium\'s data partition (or the current folder)'],
    ['$0 logs export /media/usb/report.tar.gz --force', 'Into this file, replacing it'],
  ],
  run: [
    ['$0 run /mnt/lifeboat-data/nightly.json', 'Run the job\'s steps (README: Unattended jobs)'],
  ],
  boot: [
    ['$0 boot', 'What the medium\'s init runs: lifeboat.run, lifeboat.job or lifeboat-job.json from the kernel command line'],
  ],
} as const satisfies Record<string, ReadonlyArray<readonly [string, string]>>;

/** A command path that has examples. */
export type ExampleKey = keyof typeof COMMAND_EXAMPLES;

/** Adds the examples of `key` to a command's help. */
export function withExamples<T>(yargs: Argv<T>, key: ExampleKey): Argv<T> {
  return yargs.example(COMMAND_EXAMPLES[key].map(([command, description]) => [command, description]));
}
