#!/usr/bin/env bash
# qemu/x86_64/build-disk.sh --fetched DIR --rootfs-a IMG [--rootfs-b IMG] --data IMG --out DISK
#     [--slot-size MiB] [--max-try N]
#
# A GPT disk for OVMF, built without mounting anything (mkfs.vfat + mtools,
# sgdisk, dd conv=notrunc):
#   1 ESP       FAT: /EFI/BOOT/BOOTX64.EFI (GRUB), grub.cfg, grubenv (1024 bytes)
#   2 rootfs-A  slot A (raw ext4 image)
#   3 rootfs-B  slot B (empty unless --rootfs-b)
#   4 data      the agent's state (an ext4 image the caller made)
# The factory grubenv boots A; B is not bootable until the agent arms it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
need sgdisk gdisk
need mkfs.vfat dosfstools
need mcopy mtools
need grub-editenv grub-common

fetched="" rootfs_a="" rootfs_b="" data="" out="" slot_mib=192 max_try=3
while [ $# -gt 0 ]; do
  case "$1" in
    --fetched) fetched="$2"; shift 2 ;;
    --rootfs-a) rootfs_a="$2"; shift 2 ;;
    --rootfs-b) rootfs_b="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --slot-size) slot_mib="$2"; shift 2 ;;
    --max-try) max_try="$2"; shift 2 ;;
    *) say "build-disk: unknown argument $1"; exit 2 ;;
  esac
done
[ -f "$fetched/BOOTX64.EFI" ] && [ -f "$rootfs_a" ] && [ -f "$data" ] && [ -n "$out" ] || {
  say "usage: build-disk.sh --fetched DIR --rootfs-a IMG [--rootfs-b IMG] --data IMG --out DISK"
  exit 2
}

esp_mib=32
data_mib=$((($(stat -c %s "$data") + 1048575) / 1048576))
for img in "$rootfs_a" ${rootfs_b:+"$rootfs_b"}; do
  [ "$(stat -c %s "$img")" -le $((slot_mib * 1048576)) ] || { say "$img is larger than a ${slot_mib} MiB slot"; exit 2; }
done

tmp="$(mktemp -d "${out}.parts.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# The ESP.
grub-editenv "$tmp/grubenv" create
grub-editenv "$tmp/grubenv" set ORDER="A B" MAX_TRY="$max_try" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
mkfs.vfat -n ESP -C "$tmp/esp.img" $((esp_mib * 1024)) >/dev/null
mmd -i "$tmp/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$tmp/esp.img" "$fetched/BOOTX64.EFI" "$here/grub.cfg" "$tmp/grubenv" ::/EFI/BOOT/

# The partition table: 1 MiB alignment, a spare MiB at the end for the backup
# GPT. Built as $disk and renamed at the end: a failed run leaves no half disk.
disk="$tmp/disk.img"
total=$((1 + esp_mib + 2 * slot_mib + data_mib + 1))
truncate -s "${total}M" "$disk"
sgdisk --clear \
  -n "1:1M:+${esp_mib}M" -t 1:ef00 -c 1:ESP \
  -n "2:0:+${slot_mib}M" -t 2:8300 -c 2:rootfs-A \
  -n "3:0:+${slot_mib}M" -t 3:8300 -c 3:rootfs-B \
  -n "4:0:+${data_mib}M" -t 4:8300 -c 4:data \
  "$disk" >/dev/null

put() { # put IMAGE PARTITION-NUMBER
  local start
  start=$(sgdisk -i "$2" "$disk" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
  [ -n "$start" ] || { say "no partition $2 in $disk"; exit 4; }
  dd if="$1" of="$disk" bs=512 seek="$start" conv=notrunc,sparse status=none
}
put "$tmp/esp.img" 1
put "$rootfs_a" 2
[ -z "$rootfs_b" ] || put "$rootfs_b" 3
put "$data" 4
mv "$disk" "$out"
