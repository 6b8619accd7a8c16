#!/usr/bin/env bash
# Install the Debian packages the QEMU hardware-in-the-loop suite (npm run
# test:hil) uses, on top of scripts/install-deps.sh. Needs root (or sudo).
#   qemu-system-x86 ovmf        the x86_64 guest: QEMU and its UEFI firmware
#   grub-efi-amd64-bin          GRUB's EFI modules, for the ESP's BOOTX64.EFI
#   qemu-system-arm u-boot-qemu the aarch64 guest: QEMU's virt machine and Debian's U-Boot for it
#   u-boot-tools                mkimage, to compile the U-Boot boot script
#   libubootenv-tool            fw_printenv/fw_setenv: the boot partition's U-Boot environment
#   gdisk dosfstools mtools     partition table, FAT boot partitions, files put on them without mounting
#   busybox-static              the guest's shell, init and tools
#   socat                       QEMU's guestfwd command: the guest's one connection to the server on loopback
#   binutils                    strip, readelf: a smaller node binary for the guest
# The aarch64 guest's own packages (kernel, libc, busybox, fw_setenv for
# arm64) are fetched with `apt-get download`, which needs the arm64
# architecture added to dpkg.
set -euo pipefail
packages=(qemu-system-x86 ovmf grub-efi-amd64-bin grub-common qemu-system-arm u-boot-qemu u-boot-tools
  libubootenv-tool gdisk dosfstools mtools busybox-static socat binutils e2fsprogs)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "install-hil-deps: adding the arm64 architecture (for apt-get download of guest packages)"
  $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
  updated=1
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-hil-deps: all Debian packages present"
  exit 0
fi
echo "install-hil-deps: installing ${missing[*]}"
[ "$updated" -eq 1 ] || $sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
