#!/bin/sh
# Guest job of kernel-ro: the disk of $size MiB is a read-only device
# holding an ext4 filesystem dom0 made.  Mount it -o ro, print every file's
# checksum (GUEST-SUM ro <sha256>  <path>), then try to write three ways,
# each of which must fail:
#   a file on the read-only mount            GUEST-RO file <error>
#   mount -o remount,rw                      GUEST-RO remount <error>
#   the raw device, O_DIRECT and fsync'ed    GUEST-RO raw <error>
# GUEST-RO-OK when all three failed and the device says ro=1.
. /e2e/guest/kernel-lib.sh
size=${size:-64}

kernel_setup
vd=$(find_disk "$size" 120) || gerr "no /dev/vd* of $size MiB within 120 s ($(ls /sys/block | tr '\n' ' '))"
ro=$(cat "/sys/block/$vd/ro")
echo "GUEST-DISK ro $vd $(($(cat /sys/block/$vd/size) * 512)) ro=$ro"
mkdir -p /mnt/ro
mount -t ext4 -o ro "/dev/$vd" /mnt/ro || gerr "mount -o ro /dev/$vd failed"
(cd /mnt/ro && find . -type f | sort | sed 's,^\./,,' | while read -r f; do sha256sum "$f"; done) >/tmp/ro.sums
sed 's/^/GUEST-SUM ro /' /tmp/ro.sums
bad=0
if out=$(echo data 2>&1 >/mnt/ro/newfile); then
    echo "GUEST-ERROR writing a file on the read-only mount succeeded"; bad=1
else
    echo "GUEST-RO file ${out:-failed}"
fi
if out=$(mount -o remount,rw /mnt/ro 2>&1); then
    echo "GUEST-ERROR mount -o remount,rw of the read-only device succeeded"; bad=1
else
    echo "GUEST-RO remount ${out:-failed}"
fi
umount /mnt/ro || gerr "umount failed"
# the raw device: direct I/O when dd knows it, and an fsync either way
head -c 65536 /dev/urandom >/tmp/junk
if out=$(dd if=/tmp/junk of="/dev/$vd" bs=4096 count=16 seek=256 oflag=direct conv=fsync 2>&1) ||
   out=$(dd if=/tmp/junk of="/dev/$vd" bs=4096 count=16 seek=256 conv=fsync 2>&1); then
    echo "GUEST-ERROR a raw write to the read-only /dev/$vd succeeded: $out"; bad=1
else
    echo "GUEST-RO raw $(echo "$out" | tr '\n' ' ')"
fi
[ "$ro" = 1 ] || { echo "GUEST-ERROR /sys/block/$vd/ro is '$ro', not 1"; bad=1; }
[ "$bad" = 0 ] && echo "GUEST-RO-OK"
kernel_done
exit $bad
