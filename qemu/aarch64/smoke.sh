#!/usr/bin/env bash
# smoke.sh [WORKDIR] — end-to-end check of the aarch64 boot chain.
#
# Builds a busybox+node rootfs (mkfs.ext4 -d, no mounts) and a broken one
# (kernel but no /sbin/init), a disk with A = good, B = broken, then boots:
#   1 slot A, with virtio-net: guest prints slot, node version, fw_printenv,
#     fetches a page from a host server via guestfwd; BOOT_A_LEFT 3 -> 2 on disk
#   2 after host fw_setenv BOOT_ORDER="B A" BOOT_B_LEFT=1: B panics, QEMU exits
#   3 B has 0 left -> A boots
#   4 all counters 0 -> U-Boot prints "pendulum: no bootable slot", powers off
# Exits 0 and prints "N passed, 0 failed" when every check holds.
# WORKDIR defaults to /tmp/a64/smoke; fetch.sh's output goes to
# ${PENDULUM_A64_OUT:-/tmp/a64/out}. Needs: e2fsprogs, mtools, libubootenv-tool,
# busybox-static, nodejs (host HTTP server), plus what fetch/build-disk/run need.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/a64/smoke}
export PENDULUM_A64_OUT=${PENDULUM_A64_OUT:-/tmp/a64/out}
OUT=$PENDULUM_A64_OUT
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
die() { echo "smoke.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1' (apt-get install $2)"; }
need mkfs.ext4 e2fsprogs; need mcopy mtools; need fw_printenv libubootenv-tool
need busybox busybox-static; need node nodejs; need fsck.fat dosfstools
export MTOOLS_SKIP_CHECK=1

T0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
passed=0 failed=0
check() { # check NAME COMMAND...: record one outcome
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   - $name"
  else failed=$((failed + 1)); echo "FAIL - $name"; fi
}

"$HERE/fetch.sh" "$OUT"
rm -rf "$WORK"; mkdir -p "$WORK"
KVER=$(cat "$OUT/kernel-release")

# Directories and config shared by both rootfs images.
skeleton() {
  local r=$1
  mkdir -p "$r"/{proc,sys,dev,run,tmp,sbin,etc,boot/uboot,data,var}
  cp "$OUT/Image" "$r/boot/Image"
  ln -s /run/lock "$r/var/lock"
  echo "/boot/uboot/uboot.env 0x0 0x4000" >"$r/etc/fw_env.config"
}

good=$WORK/stage-good
mkdir -p "$good"; cp -a "$OUT/rootfs/." "$good/"; skeleton "$good"
cat >"$good/sbin/init" <<'EOF'
#!/bin/busybox sh
# pendulum smoke init: report, exercise node/fw_printenv/network, power off.
/bin/busybox mount -t tmpfs tmpfs /run
/bin/busybox mkdir -p /run/bin /run/lock
/bin/busybox --install -s /run/bin
export PATH=/run/bin:/usr/bin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "PENDULUM-HIL uptime-at-init=$(cut -d' ' -f1 /proc/uptime)"
echo "PENDULUM-HIL booted slot=$(sed -n 's/.*pendulum\.slot=\([A-Z]\).*/\1/p' /proc/cmdline)"
echo "PENDULUM-HIL root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline) disks:" /dev/nvme0n1p*
K=/lib/modules/$(uname -r)
while read -r m; do insmod "$K/$m" || echo "PENDULUM-HIL insmod-failed $m"; done <"$K/load-order"
if mount -t vfat /dev/nvme0n1p1 /boot/uboot; then
  fw_printenv -c /etc/fw_env.config | sed 's/^/PENDULUM-HIL env /'
  # Rewrite the file from Linux; the next U-Boot run must still import it.
  fw_setenv -c /etc/fw_env.config BOOT_MAX_TRY 3 && echo "PENDULUM-HIL fw_setenv ok"
  umount /boot/uboot
fi
t0=$(cut -d' ' -f1 /proc/uptime)
/opt/node/bin/node -e 'console.log("PENDULUM-HIL node ok", process.arch, process.version)'
echo "PENDULUM-HIL node-seconds=$(awk -v a="$t0" '{ printf "%.2f", $1 - a }' /proc/uptime)"
if [ -e /sys/class/net/eth0 ]; then
  ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0
  # busybox wget -T segfaults; bound it with timeout instead.
  echo "PENDULUM-HIL net $(timeout 20 wget -qO- http://10.0.2.100/ || echo failed)"
fi
sync
poweroff -f
EOF
chmod 755 "$good/sbin/init"

broken=$WORK/stage-broken
skeleton "$broken"   # a kernel but no /sbin/init: the kernel panics

mkfs.ext4 -q -L rootfs -d "$good" "$WORK/rootfs-a.img" "$(( $(du -sm "$good" | cut -f1) + 24 ))M"
mkfs.ext4 -q -L rootfs -d "$broken" "$WORK/rootfs-b.img" 48M
DISK=$WORK/disk.img
"$HERE/build-disk.sh" --rootfs-a "$WORK/rootfs-a.img" --rootfs-b "$WORK/rootfs-b.img" \
  --out "$DISK" --env-order "A B" --env-a-left 3 --env-b-left 0 --env-max-try 3
echo "smoke.sh: images ready after $(since "$T0") s"

echo "$WORK/uboot.env 0x0 0x4000" >"$WORK/fw_env.config"
env_pull() { rm -f "$WORK/uboot.env"; mcopy -n -i "$DISK@@1048576" ::uboot.env "$WORK/uboot.env"; }
env_push() { mcopy -o -i "$DISK@@1048576" "$WORK/uboot.env" ::uboot.env; }
env_get() { env_pull; fw_printenv -c "$WORK/fw_env.config" -n "$1"; }
env_set() { env_pull; fw_setenv -c "$WORK/fw_env.config" "$@"; env_push; }

boot() { # boot N [qemu args...]: console to $WORK/bootN.log
  local n=$1 t; shift; t=$(date +%s.%N)
  timeout "$BOOT_TIMEOUT" "$HERE/run.sh" "$DISK" "$@" </dev/null >"$WORK/boot$n.log" 2>&1 || true
  local init; init=$(sed -n 's/.*uptime-at-init=\([0-9.]*\).*/\1/p' "$WORK/boot$n.log" | tr -d '\r')
  echo "smoke.sh: boot $n took $(since "$t") s (${init:+init at $init s guest uptime}${init:-no init})"
}
has() { grep -q "$2" "$WORK/boot$1.log"; }
hasnt() { ! has "$@"; }

# Host side of the guest's 10.0.2.100:80: a one-page HTTP server on loopback.
node -e 'const s=require("http").createServer((q,r)=>r.end("pendulum-net-ok\n"));
  s.listen(0,"127.0.0.1",()=>{console.log(s.address().port)}); setTimeout(()=>process.exit(0),300000)' \
  >"$WORK/port" &
srv=$!
trap 'kill "$srv" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")

boot 1 -netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:busybox nc 127.0.0.1 $PORT" \
  -device virtio-net-pci,netdev=n0 -device virtio-rng-pci
check "boot 1: U-Boot booted slot A" has 1 "PENDULUM-HIL booted slot=A"
check "boot 1: root by PARTUUID on nvme" has 1 "PENDULUM-HIL root=PARTUUID="
check "boot 1: node runs in the guest" has 1 "PENDULUM-HIL node ok arm64 v20"
check "boot 1: guest fw_printenv sees the decrement" has 1 "PENDULUM-HIL env BOOT_A_LEFT=2"
check "boot 1: guest fw_setenv writes the env" has 1 "PENDULUM-HIL fw_setenv ok"
check "boot 1: all modules load" hasnt 1 "insmod-failed"
check "boot 1: virtio-net reaches the host via guestfwd" has 1 "PENDULUM-HIL net pendulum-net-ok"
check "BOOT_A_LEFT is 2 on disk after one boot" test "$(env_get BOOT_A_LEFT)" = 2

env_set BOOT_ORDER "B A"; env_set BOOT_B_LEFT 1
boot 2
check "boot 2: U-Boot imports the env fw_setenv wrote" has 2 "pendulum: env BOOT_ORDER=B A A_LEFT=2 B_LEFT=1"
check "boot 2: broken slot B panics" has 2 "Kernel panic"
check "boot 2: nothing reached init" hasnt 2 "PENDULUM-HIL booted"
check "U-Boot's own env write reads back with fw_printenv (B_LEFT 0)" test "$(env_get BOOT_B_LEFT)" = 0

boot 3
check "boot 3: falls back to slot A" has 3 "PENDULUM-HIL booted slot=A"
check "boot 3: slot B was skipped" hasnt 3 "trying slot B"
check "BOOT_A_LEFT is 1 on disk" test "$(env_get BOOT_A_LEFT)" = 1

env_set BOOT_A_LEFT 0
boot 4
check "boot 4: no slot left is reported" has 4 "pendulum: no bootable slot"
check "boot 4: no kernel started" hasnt 4 "Starting kernel"
# Four U-Boot fatwrites and two Linux writes later the FAT must be clean.
dd if="$DISK" of="$WORK/boot-part.img" bs=1M skip=1 count=32 status=none
fat_clean() { fsck.fat -n "$WORK/boot-part.img" >/dev/null; }
check "boot partition passes fsck.fat" fat_clean

echo "smoke.sh: node in guest took $(sed -n 's/.*node-seconds=\([0-9.]*\).*/\1/p' "$WORK/boot1.log" | tr -d '\r') s; total $(since "$T0") s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
