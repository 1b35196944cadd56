#!/bin/sh
# Guest job of kernel-unplug: format and mount the disk of $size MiB, write
# a few files, sync, print GUEST-MOUNTED, and stay idle until dom0 detaches
# the device.  Then report (GUEST-UNPLUG lines) whether the disk went away
# and what a write, a read and the umount did afterwards: each must return
# (an error is fine); a hang shows as no GUEST-DONE and, after 60 s, a
# hung-task report on the console.
. /e2e/guest/kernel-lib.sh
size=${size:-64}

kernel_setup
vd=$(find_disk "$size" 120) || gerr "no /dev/vd* of $size MiB within 120 s"
mkdir -p /mnt/u
mkfs.ext4 -q -F "/dev/$vd" || gerr "mkfs.ext4 failed"
mount -t ext4 "/dev/$vd" /mnt/u || gerr "mount failed"
for i in 1 2 3 4 5 6 7 8; do head -c $((i * 70000)) /dev/urandom >/mnt/u/f$i; done
sync
echo "GUEST-MOUNTED $vd"
t0=$(now_s)
i=0
while [ -e "/sys/block/$vd" ] && [ "$i" -lt 240 ]; do
    sleep 0.5
    i=$((i + 1))
done
if [ -e "/sys/block/$vd" ]; then
    echo "GUEST-UNPLUG disk still present $(elapsed "$t0") s after GUEST-MOUNTED"
else
    echo "GUEST-UNPLUG disk removed $(elapsed "$t0") s after GUEST-MOUNTED"
fi
echo 3 >/proc/sys/vm/drop_caches
out=$(sh -c 'echo after >/mnt/u/after && sync' 2>&1)
echo "GUEST-UNPLUG write rc=$? $out"
out=$(cat /mnt/u/f8 2>&1 >/dev/null)
echo "GUEST-UNPLUG read rc=$? $out"
out=$(umount /mnt/u 2>&1) || out="$out; lazy: $(umount -l /mnt/u 2>&1; echo rc=$?)"
echo "GUEST-UNPLUG umount $out"
kernel_done
exit 0
