#!/usr/bin/env bash
# qemu/build-rootfs.sh --sysroot DIR --agent BUNDLE --version V --out IMG [--health ok|fail] [--init ok|broken]
#
# Builds a slot image: an ext4 file system made with `mkfs.ext4 -d` (nothing
# is mounted) holding a fetched sysroot (kernel in /boot, busybox, node and its
# libraries, modules), the bundled agent, and the guest scripts in qemu/guest.
#   --health fail  the image's health check fails (the trial must roll back)
#   --init broken  /sbin/init exits at once: the kernel panics and the boot fails
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
need mkfs.ext4 e2fsprogs
need busybox busybox-static

sysroot="" agent="" version="" out="" health=ok init=ok
while [ $# -gt 0 ]; do
  case "$1" in
    --sysroot) sysroot="$2"; shift 2 ;;
    --agent) agent="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --health) health="$2"; shift 2 ;;
    --init) init="$2"; shift 2 ;;
    *) say "build-rootfs: unknown argument $1"; exit 2 ;;
  esac
done
[ -d "$sysroot" ] && [ -f "$agent" ] && [ -n "$version" ] && [ -n "$out" ] || {
  say "usage: build-rootfs.sh --sysroot DIR --agent BUNDLE --version V --out IMG [--health ok|fail] [--init ok|broken]"
  exit 2
}

staging="$(mktemp -d "${out}.staging.XXXXXX")"
trap 'rm -rf "$staging" "$staging.img"' EXIT
cp -a "$sysroot/." "$staging/"
mkdir -p "$staging"/{proc,sys,dev,tmp,run,data,boot/efi,etc,sbin,usr/sbin,usr/lib/pendulum,opt/pendulum}
# libubootenv (fw_setenv) takes its lock under /var/lock; the root is read-only.
mkdir -p "$staging/var"
ln -sfn /run/lock "$staging/var/lock"
# busybox applets as symlinks, except init, which is ours. The host's
# busybox-static lists them: the guest's may be another architecture's build
# of the same Debian package.
busybox --list-full | while read -r applet; do
  case "$applet" in sbin/init | bin/busybox) continue ;; esac
  mkdir -p "$staging/$(dirname "$applet")"
  [ -e "$staging/$applet" ] || ln -s /bin/busybox "$staging/$applet"
done
cp "$agent" "$staging/opt/pendulum/pendulum-agent.mjs"
install -m 0755 "$here/guest/pendulum-reboot" "$staging/sbin/pendulum-reboot"
echo "$version" >"$staging/etc/pendulum-version"

case "$init" in
  ok) install -m 0755 "$here/guest/init" "$staging/sbin/init" ;;
  broken) printf '#!/bin/busybox sh\necho "PENDULUM-HIL broken init"\nexit 1\n' >"$staging/sbin/init"
    chmod 0755 "$staging/sbin/init" ;;
  *) say "--init ok|broken"; exit 2 ;;
esac
case "$health" in
  ok) install -m 0755 "$here/guest/health" "$staging/usr/lib/pendulum/health" ;;
  fail) printf '#!/bin/sh\necho "PENDULUM-HIL health failing on purpose"\nexit 1\n' >"$staging/usr/lib/pendulum/health"
    chmod 0755 "$staging/usr/lib/pendulum/health" ;;
  *) say "--health ok|fail"; exit 2 ;;
esac

# Size: the content plus a sixth for file system overhead, in whole MiB.
kib=$(du -sk --apparent-size "$staging" | cut -f1)
mib=$(((kib + kib / 6) / 1024 + 8))
# Made beside $out and renamed: a failed run leaves no half-made image.
mkfs.ext4 -q -F -L rootfs -O ^has_journal -E root_owner=0:0 -d "$staging" "$staging.img" "${mib}M"
mv "$staging.img" "$out"
