#!/usr/bin/env bash
# run.sh [--uboot FILE] DISK [extra qemu args...] — boot a pendulum aarch64 disk.
#
# Runs, in the foreground, with the serial console on stdio:
#   qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg -smp 1 -m 1024 \
#     -nographic -no-reboot -bios FILE \
#     -drive file=DISK,if=none,format=raw,id=disk0 \
#     -device nvme,drive=disk0,serial=pendulum0 \
#     -nic none [extra qemu args...]
# FILE defaults to fetch.sh's OUTDIR/u-boot.bin if $PENDULUM_A64_OUT is set,
# else Debian's /usr/lib/u-boot/qemu_arm64/u-boot.bin (which waits 2 s).
# The disk is NVMe because Debian's cloud-arm64 kernel has NVMe built in and
# virtio-blk only as a module (no initramfs here); in the guest the disk is
# /dev/nvme0n1 and slot A is /dev/nvme0n1p2.
# -nic none is dropped when the extra args bring their own -netdev/-nic, e.g.
#   -netdev user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:PORT-cmd:... \
#   -device virtio-net-pci,netdev=n0
# The guest's power-off, and with -no-reboot its reboot or panic, end QEMU.
set -euo pipefail

die() { echo "run.sh: $*" >&2; exit 1; }
command -v qemu-system-aarch64 >/dev/null 2>&1 || die "missing qemu-system-aarch64 (apt-get install qemu-system-arm)"

UBOOT=/usr/lib/u-boot/qemu_arm64/u-boot.bin
[ -n "${PENDULUM_A64_OUT:-}" ] && [ -f "$PENDULUM_A64_OUT/u-boot.bin" ] && UBOOT=$PENDULUM_A64_OUT/u-boot.bin
if [ "${1:-}" = --uboot ]; then UBOOT=${2:?--uboot needs a file}; shift 2; fi
[ $# -ge 1 ] || die "usage: run.sh [--uboot FILE] DISK [extra qemu args...]"
DISK=$1; shift
[ -f "$DISK" ] || die "no such disk image: $DISK"
[ -f "$UBOOT" ] || die "missing $UBOOT (apt-get install u-boot-qemu)"

net=(-nic none)
for a in "$@"; do case "$a" in -netdev|-nic|-net) net=();; esac; done

exec qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg -smp 1 -m 1024 \
  -nographic -no-reboot -bios "$UBOOT" \
  -drive "file=$DISK,if=none,format=raw,id=disk0" \
  -device nvme,drive=disk0,serial=pendulum0 \
  "${net[@]}" "$@"
