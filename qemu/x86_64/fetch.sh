#!/usr/bin/env bash
# qemu/x86_64/fetch.sh OUTDIR — everything x86_64 a HIL guest needs, cached in OUTDIR:
#   OUTDIR/rootfs/    files merged into every slot image: the kernel (/boot/vmlinuz)
#                     and its initramfs (/boot/initrd.img, see initramfs-init),
#                     the modules the guest loads (virtio-net, virtio-rng, vfat) indexed by
#                     busybox depmod, static busybox, the stripped node binary and
#                     the glibc/libstdc++ it links.
#   OUTDIR/BOOTX64.EFI  GRUB for the ESP (its prefix is /EFI/BOOT).
# Debian's cloud kernel has ext4 built in but virtio-blk as a module, so the
# slot's initramfs loads it and mounts the slot (qemu/x86_64/initramfs-init).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../lib/common.sh"
out="${1:?usage: fetch.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# The stamp names this script, common.sh and the initramfs's init, so that a change to any of them refetches.
done_stamp="$out/.done-$(cat "$0" "$here/../lib/common.sh" "$here/initramfs-init" | sha256sum | cut -c1-12)"
[ -f "$done_stamp" ] && exit 0

need apt-get apt
need dpkg-deb dpkg
need busybox busybox-static
need gzip gzip
need strip binutils
need grub-mkimage grub-common
need_file /usr/lib/grub/x86_64-efi/linux.mod grub-efi-amd64-bin
need_file /bin/busybox busybox-static
need node nodejs

work="$out/work"
rm -rf "$work" "$out/rootfs"
mkdir -p "$work/debs" "$out/rootfs"
chmod 0777 "$work/debs"
sys="$out/rootfs"

# The kernel: the versioned package behind the linux-image-cloud-amd64 metapackage.
kpkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || { say "cannot resolve linux-image-cloud-amd64 (run apt-get update)"; exit 4; }
apt_fetch "$work/debs" "$kpkg"
dpkg-deb -x "$work/debs/${kpkg}"_*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
mkdir -p "$sys/boot"
cp "$work/kernel/boot/vmlinuz-$kver" "$sys/boot/vmlinuz"
copy_modules "$work/kernel" "$kver" "$sys" virtio_pci virtio_net virtio-rng vfat nls_cp437 nls_ascii nls_utf8

# The initramfs: static busybox, its /init, and the disk driver with what it
# depends on; a gzipped newc cpio as the kernel wants it.
ird="$work/initramfs"
mkdir -p "$ird/bin" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/root"
cp /bin/busybox "$ird/bin/busybox"
for applet in sh mount umount modprobe sed tr od basename dirname readlink cat sleep switch_root poweroff; do
  ln -s busybox "$ird/bin/$applet"
done
copy_modules "$work/kernel" "$kver" "$ird" virtio_pci virtio_blk
install -m 0755 "$here/initramfs-init" "$ird/init"
(cd "$ird" && find . | busybox cpio -o -H newc -R 0:0) | gzip -9 >"$sys/boot/initrd.img"

# busybox (static) and node with the shared libraries it needs, from this host.
mkdir -p "$sys/bin" "$sys/usr/bin"
cp /bin/busybox "$sys/bin/busybox"
node_bin="$(readlink -f "$(command -v node)")"
strip -o "$sys/usr/bin/node" "$node_bin"
interp=$(readelf -l "$node_bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
mkdir -p "$sys$(dirname "$interp")"
cp -L "$interp" "$sys$interp"
ldd "$node_bin" | awk '/=> \//{print $3}' | while read -r lib; do
  mkdir -p "$sys$(dirname "$lib")"
  cp -L "$lib" "$sys$lib"
done

# GRUB as a removable-media EFI binary; grub.cfg and grubenv sit beside it on the ESP.
grub-mkimage -O x86_64-efi -p /EFI/BOOT -o "$out/BOOTX64.EFI" \
  part_gpt fat ext2 normal linux configfile loadenv test echo probe regexp halt reboot sleep

rm -rf "$work"
echo "$kver" >"$out/kernel-version"
touch "$done_stamp"
