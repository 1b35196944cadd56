#!/bin/sh
# Guest job of kernel-stall: direct reads of the disk of $size MiB in a
# loop (GUEST-READING once they flow), until dom0 stops the backend
# without closing it (vgrantd SIGSTOPped: Connected, silent).  Once no
# read has finished for 3 s it prints GUEST-STALLED, and dom0 removes the
# device's frontend directory: the guest's xenwatch thread then runs the
# device's removal, whose virtio_blk remove waits for the read in flight,
# which only the module's drain watch can end (close_timeout_ms of no
# progress, then EIO).  Prints
#   GUEST-STALLED after N reads
#   GUEST-REMOVED secs=S          the xenbus device has gone and the read
#                                 loop has ended (no line: neither within
#                                 120 s)
#   GUEST-READER after N reads    (N: the reads that succeeded)
#   GUEST-DRAIN <kernel line>     the module's "completed none" line
. /e2e/guest/kernel-lib.sh
size=${size:-64}

kernel_setup
vd=$(find_disk "$size" 120) || gerr "no /dev/vd* of $size MiB within 120 s"
# the device's own sysfs directory: it goes at the very end of its removal
# (the bus's link to it and /sys/block/vdX go first)
xdir=$(readlink -f /sys/bus/xen/devices/virtio-grant-0) && [ -d "$xdir" ] ||
    gerr "no sysfs directory for virtio-grant-0"
blocks=$((size * 256))
(
    n=0
    while dd if="/dev/$vd" of=/dev/null bs=4096 count=1 iflag=direct \
            skip=$(( (n * 7919) % blocks )) 2>/dev/null; do
        n=$((n + 1))
        echo "$n" >/tmp/reads
    done
    echo "$n" >/tmp/reads.end
) &
reader=$!
i=0
# (a read of the count may catch the file empty, mid-rewrite: 0)
count() { _c=$(cat /tmp/reads 2>/dev/null); echo "${_c:-0}"; }
until [ "$(count)" -ge 20 ]; do
    i=$((i + 1))
    [ "$i" -gt 240 ] && gerr "fewer than 20 reads of /dev/$vd in 120 s"
    sleep 0.5
done
echo "GUEST-READING /dev/$vd"
# stalled: the count stands still for 3 s (dom0 stops vgrantd after
# GUEST-READING); give up after 180 s
last=-1 still=0 i=0
while [ "$still" -lt 3 ]; do
    n=$(count)
    if [ "$n" = "$last" ]; then still=$((still + 1)); else still=0; last=$n; fi
    i=$((i + 1))
    [ "$i" -gt 180 ] && gerr "the reads never stalled in 180 s ($n done)"
    [ -e /tmp/reads.end ] && gerr "the read loop ended before the stall"
    sleep 1
done
echo "GUEST-STALLED after $last reads"
t0=$(now_s)
i=0
while [ -e "$xdir" ] || [ ! -e /tmp/reads.end ]; do
    i=$((i + 1))
    [ "$i" -gt 240 ] && gerr "the removal of virtio-grant-0 has not finished $(elapsed "$t0") s after the stall ($xdir $( [ -e "$xdir" ] && echo present || echo gone), read loop $( [ -e /tmp/reads.end ] && echo ended || echo blocked))"
    sleep 0.5
done
echo "GUEST-REMOVED secs=$(elapsed "$t0")"
wait "$reader"
echo "GUEST-READER after $(cat /tmp/reads.end) reads"
dmesg | grep 'completed none of' | sed 's/^/GUEST-DRAIN /'
kernel_done
exit 0
