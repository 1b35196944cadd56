#!/bin/sh
# Guest job of kernel-fio (and of the fio guests of kernel-unplug): for each
# disk (labels=a,b,..., sizes=MiB,...: the disk of each label is the vdX of
# that size) run fio on the raw device: random reads and writes of 4 KiB to
# 1 MiB, libaio, O_DIRECT, queue depth 16, crc32c verification of every
# block written, fatal on the first verify error.  serialize_overlap: fio
# issues no I/O that overlaps one in flight.  A time-based run (runtime=)
# wraps around its file, and without it a write of the next pass can
# race a write of the last one to the same blocks; virtio-blk (like any
# disk) orders nothing between requests in flight, so the loser's verify
# would fail with no fault of the device.  With it, a verify error is the
# device's.  (kernel-unplug's survivor failed once in eight runs without
# it, fio's err=84; fio's message was not kept, so this race is the likely
# cause, not a proven one: scenarios now print fio's error lines.)
# Prints per disk
#   GUEST-DISK <label> <vdX> <bytes>
#   GUEST-FIO <label> rc=<rc> <fio's err= and io totals> time=Ss
# Arguments: fsize (bytes of the device fio uses, default 48M), loops
# (default 1), runtime=S (time-based: loop for S seconds instead),
# wait=S (seconds to wait for the disks, default 120).
. /e2e/guest/kernel-lib.sh
labels=${labels:-grant}
sizes=${sizes:-64}
fsize=${fsize:-48M}
loops=${loops:-1}

kernel_setup
set -- $(echo "$sizes" | tr ',' ' ')
rc=0
for label in $(echo "$labels" | tr ',' ' '); do
    mib=$1
    shift
    vd=$(find_disk "$mib" "${wait:-120}") || gerr "$label: no /dev/vd* of $mib MiB within ${wait:-120} s ($(ls /sys/block | tr '\n' ' '))"
    echo "GUEST-DISK $label $vd $(($(cat /sys/block/$vd/size) * 512))"
    extra=""
    [ -n "${runtime:-}" ] && extra="--time_based --runtime=$runtime"
    echo "GUEST-FIO-START $label"
    t0=$(now_s)
    # shellcheck disable=SC2086
    fio --name="kfio-$label" --filename="/dev/$vd" --rw=randrw --bsrange=4k-1m \
        --iodepth=16 --ioengine=libaio --direct=1 --size="$fsize" --loops="$loops" \
        --verify=crc32c --verify_fatal=1 --verify_backlog=32 --do_verify=1 \
        --serialize_overlap=1 \
        --randrepeat=0 --group_reporting $extra >"/tmp/fio-$label.out" 2>&1
    frc=$?
    t=$(elapsed "$t0")
    sed "s/^/    fio-$label| /" "/tmp/fio-$label.out"
    err=$(sed -n 's/.*err= *\([0-9-]*\).*/\1/p' "/tmp/fio-$label.out" | head -n1)
    io=$(grep -E '^ *(READ|WRITE):' "/tmp/fio-$label.out" | sed 's/.*io=\([^ ,]*\).*/\1/' | tr '\n' '/' | sed 's,/$,,')
    echo "GUEST-FIO $label rc=$frc err=${err:-?} io=${io:-?} time=${t}s"
    if [ "$frc" != 0 ] || [ "${err:-x}" != 0 ] || grep -qi 'verify failed\|bad magic\|crc32c.*mismatch' "/tmp/fio-$label.out"; then
        echo "GUEST-ERROR $label: fio failed (rc $frc, err=${err:-?})"
        rc=1
        [ "${keep_going:-0}" = 1 ] || break
    fi
done
kernel_done
exit $rc
