# Shared helpers for the qemu/ scripts. Source it: . "$(dirname "$0")/../lib/common.sh"

# need COMMAND PACKAGE: fail with the Debian package to install when COMMAND is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "pendulum-hil: '$1' is missing; install the Debian package '$2' (scripts/install-hil-deps.sh does)" >&2
    exit 3
  }
}

# need_file PATH PACKAGE: the same for a file a package ships.
need_file() {
  [ -e "$1" ] || {
    echo "pendulum-hil: $1 is missing; install the Debian package '$2' (scripts/install-hil-deps.sh does)" >&2
    exit 3
  }
}

say() { echo "pendulum-hil: $*" >&2; }

# apt_fetch OUTDIR PACKAGE...: download .deb files (no install) into OUTDIR.
apt_fetch() {
  local out="$1"
  shift
  # apt drops privileges to _apt for downloads; a root-only directory would
  # make it warn, so fetch into a directory it may write.
  (cd "$out" && apt-get download -q "$@" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
  local p
  for p in "$@"; do
    ls "$out/${p%%:*}"_*.deb >/dev/null 2>&1 || { say "apt-get download $p failed"; exit 4; }
  done
}

# copy_modules KROOT KVER OUT MODULE...: copy MODULEs and what they depend on
# (per the kernel's modules.dep, made with busybox depmod) into OUT's module
# tree and index it, so that the guest's `modprobe MODULE` works.
copy_modules() {
  local kroot="$1" kver="$2" out="$3"
  shift 3
  local dep="$kroot/lib/modules/$kver/modules.dep"
  [ -f "$dep" ] || busybox depmod -b "$kroot" "$kver"
  local want=() m line f
  for m in "$@"; do
    line=$(grep -E "/${m}\.ko(\.xz|\.zst)?:" "$dep") || { say "module $m not in $kver"; exit 4; }
    want+=("${line%%:*}")
    for f in ${line#*:}; do want+=("$f"); done
  done
  for f in "${want[@]}"; do
    mkdir -p "$out/lib/modules/$kver/$(dirname "$f")"
    cp "$kroot/lib/modules/$kver/$f" "$out/lib/modules/$kver/$f"
  done
  cp "$kroot/lib/modules/$kver/modules.builtin" "$out/lib/modules/$kver/" 2>/dev/null || true
  busybox depmod -b "$out" "$kver"
}
