#!/usr/bin/env bash
# Install the Debian packages pendulum's build and tests use. Needs root (or sudo).
#   python3 make g++  build better-sqlite3 from source (its prebuilt binary is not downloadable here)
#   grub-common       grub-editenv: the GRUB backend and the simulated bootloader are checked against the real tool
#   libubootenv-tool  fw_printenv / fw_setenv: the U-Boot backend is checked against the real tools
#   efibootmgr        the EFI backend is checked against the real tool (on efivarfs files, no UEFI needed)
#   util-linux        losetup and mount: slots on loop devices, full-disk tests on a tiny tmpfs
#   e2fsprogs         mkfs.ext4: refusing to write a mounted slot
#   openssl           a self-signed certificate for the TLS tests
#   postgresql        initdb and pg_ctl: the store tests start a private PostgreSQL server on loopback
#   nginx             grpc_pass in front of two server replicas: the replica fail-over test
set -euo pipefail
packages=(python3 make g++ grub-common libubootenv-tool efibootmgr util-linux e2fsprogs coreutils openssl postgresql nginx)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
