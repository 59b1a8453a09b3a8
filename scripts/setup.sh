#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine needs, so the README's two commands work on their own:
#   setup.sh build  -> for `npm run iso` (media build tools)
#   setup.sh test   -> for `npm test` (build tools plus QEMU, OVMF, tmux...)
#   setup.sh bench  -> for the benchmarks (test packages plus the peers they compare with: restic)
#   setup.sh screenshots -> for `npm run screenshots` (the test packages: it boots the medium in QEMU)
# npm packages come from package-lock.json (npm ci) whenever node_modules is missing or stale.
set -euo pipefail
mode=${1:-build}
cd "$(dirname "$0")/.."

build_packages=(
  xorriso grub-pc-bin grub-efi-amd64-bin grub-efi-amd64-signed shim-signed
  mtools dosfstools busybox-static kmod cpio zstd xz-utils binutils ncurses-base
  # the programs the medium carries (rescue/core/external-programs.ts)
  e2fsprogs fatresize exfatprogs ntfs-3g util-linux mount fdisk gdisk attr smartmontools gddrescue
  testdisk bzip2 lz4 exfat-fuse qemu-system-common
)
test_packages=(qemu-system-x86 ovmf grub2-common tmux time util-linux fdisk gdisk exfatprogs dosfstools fatresize e2fsprogs xfsprogs btrfs-progs ntfs-3g cryptsetup-bin mtools lvm2 mdadm exfat-fuse partclone parted clonezilla attr acl xz-utils zstd python3)

bench_packages=(restic)

packages=("${build_packages[@]}")
if [ "$mode" = test ] || [ "$mode" = bench ] || [ "$mode" = screenshots ]; then packages+=("${test_packages[@]}"); fi
if [ "$mode" = bench ]; then packages+=("${bench_packages[@]}"); fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done

apt_updated=no
apt_update() {
  if [ "$apt_updated" = no ]; then
    echo "setup: apt-get update" >&2
    apt-get update -qq
    apt_updated=yes
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  apt_update
  echo "setup: apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The builder downloads the kernel with apt-get: the package lists must know linux-image-amd64.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
  apt_update
fi

# A worktree whose node_modules links to another checkout's: npm ci would empty that one (it
# removes the folder's contents through the link) and install into a new folder here.
if [ -L node_modules ]; then
  echo "setup: node_modules is a link to $(readlink node_modules): npm ci left to that checkout" >&2
elif [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

node_version=$(node_modules/.bin/node --version)
case "$node_version" in
  v24.*) ;;
  *) echo "setup: node_modules/.bin/node is $node_version, expected Node 24" >&2; exit 1 ;;
esac
