// What runs inside the test systems of bootable-systems.ts: a tiny initramfs (busybox and the
// modules for virtio disks, ext4 and vfat, from the medium's own kernel) that finds the root
// filesystem by the UUID on the kernel command line, and the root's /sbin/init, which mounts what
// /etc/fstab names by UUID and prints one marker line on the serial console before powering off.

import { execa } from 'execa';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KernelTree } from '../../builder/kernel.ts';
import { resolveModuleClosure } from '../../builder/modules.ts';

/** The line a system prints when it is up: every field proven by the boot itself. */
export const SYSTEM_MARKER_PREFIX = 'LIFEBOAT-SYSTEM-UP';

/** The line a system prints when it cannot come up (root or an fstab entry not found). */
export const SYSTEM_FAILURE_PREFIX = 'LIFEBOAT-SYSTEM-FAILED';

/** The static busybox both the initramfs and the root filesystems carry. */
export const BUSYBOX = '/bin/busybox';

/** Modules loaded by the initramfs, in order (their dependencies are added before them). */
export const GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4', 'vfat', 'nls_cp437', 'nls_ascii'];

const INITRAMFS_INIT = `#!/bin/busybox sh
# Finds the root filesystem by root=UUID=... (the kernel alone cannot) and switches to it.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "${SYSTEM_FAILURE_PREFIX} initramfs: $*"; sync; poweroff -f; sleep 30; }
for module in $(cat /modules.order); do insmod "/modules/$module" 2>/dev/null; done
uuid=
for word in $(cat /proc/cmdline); do
  case "$word" in root=UUID=*) uuid="\${word#root=UUID=}" ;; esac
done
[ -n "$uuid" ] || fail "no root=UUID= on the kernel command line"
device=
tries=0
while [ $tries -lt 50 ]; do
  device=$(findfs "UUID=$uuid" 2>/dev/null) && break
  device=
  usleep 100000
  tries=$((tries + 1))
done
[ -n "$device" ] || fail "root UUID=$uuid not found"
mkdir -p /newroot
mount -t ext4 -o ro "$device" /newroot || fail "root $device (UUID=$uuid) did not mount"
for point in dev proc sys; do mount --move "/$point" "/newroot/$point" || fail "cannot move /$point"; done
exec switch_root /newroot /sbin/init
`;

const ROOT_INIT = `#!/bin/sh
# A test system's init: mounts what /etc/fstab names (by UUID, read-only; a missing nofail entry is
# reported as absent), reads the data file, prints one marker line on the console and powers off.
export PATH=/bin
fail() { echo "${SYSTEM_FAILURE_PREFIX} init: $*"; sync; poweroff -f; sleep 30; }
. /etc/lifeboat-system
root_uuid=
for word in $(cat /proc/cmdline); do
  case "$word" in root=UUID=*) root_uuid="\${word#root=UUID=}" ;; esac
done
root_device=$(findfs "UUID=$root_uuid") || fail "root UUID=$root_uuid not found"
mounted_root=$(awk '$2 == "/" && $1 != "rootfs" { print $1 }' /proc/mounts | tail -n 1)
[ "$mounted_root" = "$root_device" ] || fail "/ is $mounted_root, UUID=$root_uuid is $root_device"
mounts=
while read -r spec point type options rest; do
  case "$spec" in UUID=*) ;; *) continue ;; esac
  [ "$point" = / ] && continue
  if ! device=$(findfs "$spec"); then
    # nofail: a system copied without this partition still comes up (as systemd would), and says so
    case ",$options," in *,nofail,*) mounts="$mounts,$point=absent"; continue ;; esac
    fail "fstab: $spec ($point) not found"
  fi
  mount -t "$type" -o ro "$device" "$point" || fail "fstab: $spec ($device) did not mount on $point"
  mounts="$mounts,$point=\${spec#UUID=}"
done < /etc/fstab
data=none
if [ -n "$DATA_FILE" ]; then
  if [ -e "$DATA_FILE" ]; then data=$(cat "$DATA_FILE") || fail "cannot read $DATA_FILE"; else data=absent; fi
fi
root_name=\${root_device#/dev/}
disk=$(basename "$(readlink -f "/sys/class/block/$root_name/..")")
table=none
if [ "$(dd if="/dev/$disk" bs=1 skip=512 count=8 2>/dev/null)" = "EFI PART" ]; then table=gpt
elif [ "$(dd if="/dev/$disk" bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' ')" = 55aa ]; then table=dos
fi
firmware=bios
[ -d /sys/firmware/efi ] && firmware=uefi
start=$(cat "/sys/class/block/$root_name/start")
echo "${SYSTEM_MARKER_PREFIX} name=$NAME firmware=$firmware table=$table disk=$disk root=$root_uuid root-device=$root_name root-start=$start mounts=\${mounts#,} data=$data"
for point in $(awk '$1 ~ /^\\/dev\\// && $2 != "/" { print $2 }' /proc/mounts | sort -r); do umount "$point"; done
sync
poweroff -f
sleep 30
`;

/** Where the root's init reads its name and data file (sourced by the shell). */
export function systemConfig(options: { name: string; dataFile: string | undefined }): string {
  return `NAME=${options.name}\nDATA_FILE=${options.dataFile ?? ''}\n`;
}

/** Makes the initramfs (gzip'd newc cpio) into `file`; `work` is an empty scratch folder. */
export async function makeInitramfs(kernel: KernelTree, file: string, work: string): Promise<void> {
  const root = path.join(work, 'initramfs');
  for (const dir of ['bin', 'dev', 'proc', 'sys', 'modules', 'newroot']) await mkdir(path.join(root, dir), { recursive: true });
  await copyFile(BUSYBOX, path.join(root, 'bin', 'busybox'));
  await chmod(path.join(root, 'bin', 'busybox'), 0o755);
  await execa('mknod', ['-m', '600', path.join(root, 'dev', 'console'), 'c', '5', '1']);
  const moduleRoot = path.join(kernel.root, 'lib', 'modules', kernel.version);
  const files = await resolveModuleClosure(kernel, GUEST_MODULES);
  const order: string[] = [];
  for (const relative of files) {
    const plainName = path.basename(relative).replace(/\.xz$/, '');
    const target = path.join(root, 'modules', plainName);
    if (relative.endsWith('.xz')) await execa('sh', ['-c', 'xz -dc "$1" > "$2"', 'sh', path.join(moduleRoot, relative), target]);
    else await copyFile(path.join(moduleRoot, relative), target);
    order.push(plainName);
  }
  await writeFile(path.join(root, 'modules.order'), `${order.join('\n')}\n`);
  await writeFile(path.join(root, 'init'), INITRAMFS_INIT, { mode: 0o755 });
  await execa('sh', ['-c', 'cd "$1" && find . | sort | cpio --quiet -o -H newc -R 0:0 | gzip -6 > "$2"', 'sh', root, file]);
}

/** Fills `root` with a root filesystem's tree: busybox and its applets, /sbin/init, fstab, the system's config, mount points. */
export async function makeRootTree(root: string, options: { name: string; fstab: string; dataFile: string | undefined; mountPoints: readonly string[] }): Promise<void> {
  for (const dir of ['bin', 'sbin', 'etc', 'dev', 'proc', 'sys', 'tmp', ...options.mountPoints.map((point) => point.slice(1))]) await mkdir(path.join(root, dir), { recursive: true });
  await copyFile(BUSYBOX, path.join(root, 'bin', 'busybox'));
  await chmod(path.join(root, 'bin', 'busybox'), 0o755);
  const { stdout } = await execa(BUSYBOX, ['--list']);
  for (const applet of stdout.split('\n').map((line) => line.trim())) {
    if (applet === '' || applet === 'busybox') continue;
    await symlink('busybox', path.join(root, 'bin', applet));
  }
  await writeFile(path.join(root, 'sbin', 'init'), ROOT_INIT, { mode: 0o755 });
  await writeFile(path.join(root, 'etc', 'fstab'), options.fstab);
  await writeFile(path.join(root, 'etc', 'lifeboat-system'), systemConfig({ name: options.name, dataFile: options.dataFile }));
}

/** The marker's fields, as the guest printed them. */
export interface SystemMarker {
  readonly name: string;
  readonly firmware: 'bios' | 'uefi';
  readonly table: 'gpt' | 'dos' | 'none';
  /** The disk holding the root, as the guest names it (vda). */
  readonly disk: string;
  /** The root filesystem's UUID (the kernel command line's, found by the initramfs and checked to be /). */
  readonly rootUuid: string;
  /** The root's partition device (vda2). */
  readonly rootDevice: string;
  /** The root partition's first sector, as the guest's kernel read it from the table. */
  readonly rootStartSector: number;
  /** Each fstab mount point (besides /) and the UUID it was found and mounted by ('absent': a nofail entry not found). */
  readonly mounts: Readonly<Record<string, string>>;
  /** The data file's content ('none' for a system without one, 'absent' when it is not there). */
  readonly data: string;
}

/** Finds and parses the marker line in a serial transcript. */
export function parseSystemMarker(transcript: string): SystemMarker | undefined {
  const line = transcript.split(/\r?\n/).find((candidate) => candidate.startsWith(`${SYSTEM_MARKER_PREFIX} `));
  if (line === undefined) return undefined;
  const fields = new Map<string, string>();
  for (const word of line.slice(SYSTEM_MARKER_PREFIX.length + 1).trim().split(/\s+/)) {
    const at = word.indexOf('=');
    if (at > 0) fields.set(word.slice(0, at), word.slice(at + 1));
  }
  const mounts: Record<string, string> = {};
  for (const entry of (fields.get('mounts') ?? '').split(',').filter((item) => item !== '')) {
    const at = entry.indexOf('=');
    mounts[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return {
    name: fields.get('name') ?? '',
    firmware: fields.get('firmware') === 'uefi' ? 'uefi' : 'bios',
    table: (fields.get('table') ?? 'none') as SystemMarker['table'],
    disk: fields.get('disk') ?? '',
    rootUuid: fields.get('root') ?? '',
    rootDevice: fields.get('root-device') ?? '',
    rootStartSector: Number(fields.get('root-start')),
    mounts,
    data: fields.get('data') ?? '',
  };
}

/** The failure line's text, when the system printed one. */
export function parseSystemFailure(transcript: string): string | undefined {
  const line = transcript.split(/\r?\n/).find((candidate) => candidate.startsWith(`${SYSTEM_FAILURE_PREFIX} `));
  return line?.slice(SYSTEM_FAILURE_PREFIX.length + 1).trim();
}
