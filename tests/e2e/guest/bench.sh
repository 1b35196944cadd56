#!/bin/sh
# Guest job of the bench scenario: the benchmark matrix on one disk.
# Arguments (environment):
#   kind=vg      virtio-grant device $devid (default 0) through libvgrant:
#                vgrant-io bench (its own load generator)
#   kind=kernel  the same device through the guest kernel's virtio_blk over
#                virtio_grant.ko: fio (guest/bench-fio.sh), then the
#                module's counters of the device ("guestops" line)
#   kind=file    Xen's PV block device (xen-blkfront): fio, the same jobs
#   label      the mode column of the CSV rows
#   sizes, depths, ops, ios, maxbytes   the matrix (see vgrant-io --help)
#   mib        size of the disk (kind=kernel/file find it by it; default 64)
#   memcpy=1   also print the guest's memcpy bandwidth first
#   phase_timeout  seconds to wait for dom0's ack of a phase (default 120)
# The matrix runs one depth at a time, depths in the order given (1 before
# 16: vgrantd's in-flight high water read after d1 is depth 1's), each in
# two phases on one connection: warm<D> (every op and size at depth D,
# D+1 I/Os per point, no rows) and d<D> (the measured points, the rows).
# After each phase guest/bench-phase.sh prints "phase LABEL NAME done" and
# waits for dom0 to read vgrantd's counters and ack (data/bench-ack).
# Prints the CSV rows, "progress ..." lines and "memcpy_mbps X" on the
# console; dom0's bench scenario picks them up from there.
kind=${kind:-vg}
label=${label:-grant}
sizes=${sizes:-512,4K,16K,64K,256K,1M}
depths=${depths:-1,16}
ops=${ops:-read,write}
ios=${ios:-128}
maxbytes=${maxbytes:-8M}

if [ "${memcpy:-0}" = 1 ]; then
    vgrant-io memcpy --csv --seconds 1 2>&1
fi
case $kind in
    vg)
        . /e2e/guest/wait-device.sh
        vgrant-io bench "$devid" --timeout 20000 --label "$label" --sizes "$sizes" \
            --depths "$depths" --ops "$ops" --ios "$ios" --max-bytes "$maxbytes" \
            --span 32M --csv --progress \
            --phase-cmd "sh /e2e/guest/bench-phase.sh $label" 2>&1
        ;;
    kernel|file)
        . /e2e/guest/kernel-lib.sh
        . /e2e/guest/bench-fio.sh
        # kind=file: Xen's blkfront disk, virtio_grant.ko is not loaded
        [ "$kind" = file ] && pv=1
        kernel_setup
        vd=$(find_disk "${mib:-64}" 120) || gerr "bench: no disk of ${mib:-64} MiB within 120 s ($(ls /sys/block | tr '\n' ' '))"
        fio_matrix "$label" "/dev/$vd"
        rc=$?
        if [ "$kind" = kernel ]; then
            guest_ops "$label" "${devid:-0}" || rc=1
        fi
        kernel_done
        exit $rc
        ;;
    *)
        echo "bench: unknown kind '$kind'"
        exit 2
        ;;
esac
