#!/bin/sh
# Guest job of kernel-xl: the devices came from the domain's xl config
# (virtio_grant = [ blk, rng ]), nothing was attached by hand.  Mount the
# disk of $size MiB (an ext4 image dom0 made), print every file's checksum
# (GUEST-SUM xl ...), write one more file (GUEST-SUM xlnew ...), umount,
# fsck.ext4 -fn; then read the rng (guest/kernel-rng.sh).
. /e2e/guest/kernel-lib.sh
size=${size:-64}
kernel_setup
vd=$(find_disk "$size" 120) || gerr "no /dev/vd* of $size MiB within 120 s"
echo "GUEST-DISK xl $vd $(($(cat /sys/block/$vd/size) * 512))"
mkdir -p /mnt/xl
mount -t ext4 "/dev/$vd" /mnt/xl || gerr "mount /dev/$vd failed"
(cd /mnt/xl && find . -type f | sort | sed 's,^\./,,' | while read -r f; do sha256sum "$f"; done) | sed 's/^/GUEST-SUM xl /'
s=$(head -c 3000000 /dev/urandom | tee /mnt/xl/written-by-guest | sha256sum | cut -d' ' -f1)
echo "GUEST-SUM xlnew $s  written-by-guest"
umount /mnt/xl || gerr "umount failed"
fsck.ext4 -fn "/dev/$vd" >/tmp/xl.fsck 2>&1 || { sed 's/^/    fsck| /' /tmp/xl.fsck; gerr "fsck.ext4 -fn not clean"; }
echo "GUEST-XL-DISK-OK"
kmod_loaded=1 sh /e2e/guest/kernel-rng.sh || gerr "rng failed"
kernel_done
exit 0
