# pendulum A/B boot script for U-Boot (Debian's qemu_arm64 build).
#
# Compile: mkimage -A arm64 -T script -C none -n pendulum -d boot.cmd boot.scr
# and put boot.scr at the root of GPT partition 1 (FAT); U-Boot's distro boot
# finds it there. Disk layout: 1 = boot (FAT), 2 = rootfs-A, 3 = rootfs-B.
#
# Persistent state is the file uboot.env on partition 1 (with a copy,
# uboot.env.bak, see below), in U-Boot's checksummed format (4-byte CRC32 +
# NUL-separated name=value, 0x4000 bytes), so Linux's
# `fw_printenv/fw_setenv -c fw_env.config` with the line
#   /boot/efi/uboot.env 0x0 0x4000
# (partition 1 mounted at /boot/efi, as the HIL guest does) reads and writes
# the same file. Variables:
#   BOOT_ORDER   slots to try, in order, e.g. "A B"
#   BOOT_A_LEFT  boots left for slot A (0..9: setexpr works in hex)
#   BOOT_B_LEFT  boots left for slot B
#   BOOT_MAX_TRY kept as is (the agent's value for resetting *_LEFT)
# Only these four are imported and written back: any other variable put in
# the file (by fw_setenv) is dropped at the next boot, and none can override
# U-Boot's own (bootcmd, bootargs...).
#
# For each slot in BOOT_ORDER with boots left: decrement, write uboot.env
# back (before booting, so a hang or panic still counts), load /boot/Image
# from that slot's partition and boot it with root=PARTUUID=<partition>.
# A slot whose kernel does not load falls through to the next one. No slot
# left: print "pendulum: no bootable slot" and power off.

setenv pendulum_vars BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT BOOT_MAX_TRY
setenv pendulum_env_size 0x4000
setenv pendulum_env_file uboot.env
# distro boot sets devtype/devnum to the disk this script came from.
if test -z "${devtype}"; then setenv devtype nvme; setenv devnum 0; fi
setenv pendulum_disk ${devtype} ${devnum}
setenv pendulum_env_addr ${ramdisk_addr_r}

# uboot.env.bak is the copy this script saved at the previous boot, written
# after uboot.env: a power cut that tears one of the two (this script's
# write, or the agent's fw_setenv, which writes uboot.env only) leaves the
# other whole, and the CRC tells which is which. Falling back to the copy
# loses at most the agent's last change: an arming (the old slot boots and
# the agent reports the trial failed) or a commit (the trial slot boots
# again and the agent commits again).
setenv pendulum_env_backup uboot.env.bak
if fatload ${pendulum_disk}:1 ${pendulum_env_addr} ${pendulum_env_file} && env import -c ${pendulum_env_addr} ${filesize} ${pendulum_vars}; then
  echo "pendulum: env BOOT_ORDER=${BOOT_ORDER} A_LEFT=${BOOT_A_LEFT} B_LEFT=${BOOT_B_LEFT}"
else
  if fatload ${pendulum_disk}:1 ${pendulum_env_addr} ${pendulum_env_backup} && env import -c ${pendulum_env_addr} ${filesize} ${pendulum_vars}; then
    echo "pendulum: ${pendulum_env_file} missing or bad CRC; using ${pendulum_env_backup}: BOOT_ORDER=${BOOT_ORDER} A_LEFT=${BOOT_A_LEFT} B_LEFT=${BOOT_B_LEFT}"
  else
    # Both copies gone: nothing says which slot is whole. Try both rather
    # than brick the device; a slot that does not boot uses up its tries.
    echo "pendulum: ${pendulum_env_file} and ${pendulum_env_backup} missing or bad CRC, using defaults"
    setenv BOOT_ORDER "A B"; setenv BOOT_A_LEFT 3; setenv BOOT_B_LEFT 3; setenv BOOT_MAX_TRY 3
  fi
fi

for s in ${BOOT_ORDER}; do
  setenv pendulum_part
  if test "${s}" = "A" && test ${BOOT_A_LEFT} -gt 0; then
    setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1; setenv pendulum_part 2
  fi
  if test "${s}" = "B" && test ${BOOT_B_LEFT} -gt 0; then
    setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1; setenv pendulum_part 3
  fi
  if test -n "${pendulum_part}"; then
    echo "pendulum: trying slot ${s} (partition ${pendulum_part}), A_LEFT=${BOOT_A_LEFT} B_LEFT=${BOOT_B_LEFT}"
    env export -c -s ${pendulum_env_size} ${pendulum_env_addr} ${pendulum_vars}
    # Counting only works if the decrement is on disk before the kernel runs.
    if fatwrite ${pendulum_disk}:1 ${pendulum_env_addr} ${pendulum_env_file} ${pendulum_env_size}; then
      # The copy only after the primary is whole; failing to write it is harmless.
      fatwrite ${pendulum_disk}:1 ${pendulum_env_addr} ${pendulum_env_backup} ${pendulum_env_size}
      part uuid ${pendulum_disk}:${pendulum_part} pendulum_partuuid
      if ext4load ${pendulum_disk}:${pendulum_part} ${kernel_addr_r} /boot/Image; then
        setenv bootargs "root=PARTUUID=${pendulum_partuuid} rootfstype=ext4 rootwait ro pendulum.slot=${s} console=ttyAMA0 panic=1 ${pendulum_extra_bootargs}"
        booti ${kernel_addr_r} - ${fdtcontroladdr}
      fi
      echo "pendulum: slot ${s} has no bootable kernel at /boot/Image"
    else
      echo "pendulum: cannot write ${pendulum_env_file}, refusing to boot uncounted"
      poweroff
    fi
  fi
done

echo "pendulum: no bootable slot"
poweroff
