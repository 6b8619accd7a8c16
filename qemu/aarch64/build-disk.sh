#!/usr/bin/env bash
# build-disk.sh — assemble the pendulum aarch64 GPT disk image, no loop mounts.
#
# Usage:
#   build-disk.sh --rootfs-a IMG [--rootfs-b IMG] [--data IMG] --out DISK
#                 [--env-order "A B"] [--env-a-left 3] [--env-b-left 0]
#                 [--env-max-try 3] [--slot-size MiB] [--data-size MiB]
#                 [--boot-size MiB]
#
# Layout (all partitions 1 MiB aligned):
#   1 boot      FAT16, boot.scr (from boot.cmd) + uboot.env and its copy uboot.env.bak (U-Boot env, 0x4000)
#   2 rootfs-A  IMG copied as is (ext4 with /boot/Image)
#   3 rootfs-B  IMG, or zeros when --rootfs-b is omitted (empty slot)
#   4 data      IMG, or a fresh empty ext4 of --data-size MiB (default 64)
# Slot size defaults to the larger rootfs image, rounded up to a MiB.
# The disk is written to DISK.tmp and renamed, so a failed run leaves no
# half-built DISK. Needs: gdisk, dosfstools, mtools, u-boot-tools, e2fsprogs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
die() { echo "build-disk.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1' (apt-get install $2)"; }
need sgdisk gdisk; need mkfs.vfat dosfstools; need mcopy mtools
need mkimage u-boot-tools; need mkenvimage u-boot-tools; need mkfs.ext4 e2fsprogs

ROOTFS_A= ROOTFS_B= DATA= OUT= ORDER="A B" A_LEFT=3 B_LEFT=0 MAX_TRY=3
SLOT_MIB= DATA_MIB=64 BOOT_MIB=32
while [ $# -gt 0 ]; do
  case "$1" in
    --rootfs-a) ROOTFS_A=${2-};; --rootfs-b) ROOTFS_B=${2-};; --data) DATA=${2-};;
    --out) OUT=${2-};; --env-order) ORDER=${2-};; --env-a-left) A_LEFT=${2-};;
    --env-b-left) B_LEFT=${2-};; --env-max-try) MAX_TRY=${2-};;
    --slot-size) SLOT_MIB=${2-};; --data-size) DATA_MIB=${2-};; --boot-size) BOOT_MIB=${2-};;
    *) die "unknown argument '$1' (see the header of $0)";;
  esac
  shift 2 || die "$1 needs a value"
done
[ -n "$ROOTFS_A" ] && [ -n "$OUT" ] || die "--rootfs-a and --out are required"
for f in "$ROOTFS_A" ${ROOTFS_B:+"$ROOTFS_B"} ${DATA:+"$DATA"}; do [ -f "$f" ] || die "no such image: $f"; done
# U-Boot's setexpr parses hex: keep counters to one digit.
for v in "$A_LEFT" "$B_LEFT" "$MAX_TRY"; do [[ "$v" =~ ^[0-9]$ ]] || die "boot counters must be 0..9, got '$v'"; done

mib_of() { local b; b=$(stat -c %s "$1"); echo $(( (b + 1048575) / 1048576 )); }

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
if [ -z "$SLOT_MIB" ]; then
  SLOT_MIB=$(mib_of "$ROOTFS_A")
  [ -n "$ROOTFS_B" ] && [ "$(mib_of "$ROOTFS_B")" -gt "$SLOT_MIB" ] && SLOT_MIB=$(mib_of "$ROOTFS_B")
fi
for f in "$ROOTFS_A" ${ROOTFS_B:+"$ROOTFS_B"}; do
  [ "$(mib_of "$f")" -le "$SLOT_MIB" ] || die "$f is larger than the $SLOT_MIB MiB slot"
done
if [ -z "$DATA" ]; then
  DATA=$work/data.img
  truncate -s "${DATA_MIB}M" "$DATA"; mkfs.ext4 -q -L data "$DATA"
fi
DATA_MIB=$(mib_of "$DATA")

# Boot partition: FAT image with boot.scr and the initial env file.
printf 'BOOT_ORDER=%s\nBOOT_A_LEFT=%s\nBOOT_B_LEFT=%s\nBOOT_MAX_TRY=%s\n' \
  "$ORDER" "$A_LEFT" "$B_LEFT" "$MAX_TRY" >"$work/env.txt"
mkenvimage -s 0x4000 -o "$work/uboot.env" "$work/env.txt"
mkimage -A arm64 -T script -C none -n pendulum -d "$HERE/boot.cmd" "$work/boot.scr" >/dev/null
truncate -s "${BOOT_MIB}M" "$work/boot.img"
mkfs.vfat -F 16 -n BOOT "$work/boot.img" >/dev/null
cp "$work/uboot.env" "$work/uboot.env.bak"
mcopy -i "$work/boot.img" "$work/boot.scr" "$work/uboot.env" "$work/uboot.env.bak" ::

# Partition table; offsets in MiB, 1 MiB head (GPT) and 1 MiB tail (backup GPT).
p1=1 p2=$((1 + BOOT_MIB)) p3=$((1 + BOOT_MIB + SLOT_MIB)) p4=$((1 + BOOT_MIB + 2 * SLOT_MIB))
total=$((p4 + DATA_MIB + 1))
tmp=$OUT.tmp
rm -f "$tmp"; truncate -s "${total}M" "$tmp"
s() { echo $(( $1 * 2048 )); }   # MiB -> 512-byte sectors
e() { echo $(( $1 * 2048 - 1 )); }
# No -q: sgdisk 1.0.9 with -q silently writes nothing.
sgdisk --clear \
  -n "1:$(s $p1):$(e $p2)" -t 1:EF00 -c 1:boot \
  -n "2:$(s $p2):$(e $p3)" -t 2:8300 -c 2:rootfs-A \
  -n "3:$(s $p3):$(e $p4)" -t 3:8300 -c 3:rootfs-B \
  -n "4:$(s $p4):$(e $((p4 + DATA_MIB)))" -t 4:8300 -c 4:data \
  "$tmp" >/dev/null || die "sgdisk failed"
sgdisk -v "$tmp" | grep -q 'No problems found' || die "sgdisk verification failed"

put() { dd if="$1" of="$tmp" bs=1M seek="$2" conv=notrunc,sparse status=none; }
put "$work/boot.img" "$p1"
put "$ROOTFS_A" "$p2"
[ -n "$ROOTFS_B" ] && put "$ROOTFS_B" "$p3"
put "$DATA" "$p4"
mv "$tmp" "$OUT"
echo "build-disk.sh: $OUT (${total} MiB: boot ${BOOT_MIB}, slots ${SLOT_MIB}, data ${DATA_MIB})"
