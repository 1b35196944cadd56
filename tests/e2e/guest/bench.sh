#!/bin/sh
# Guest job of the bench scenario: the benchmark matrix on one disk.
# Arguments (environment):
#   kind=vg    virtio-grant device $devid (default 0), vgrant-io bench
#   kind=file  Xen's PV block device /dev/xvda, vgrant-io bench-file
#   label      the mode column of the CSV rows
#   sizes, depths, ops, ios, maxbytes   the matrix (see vgrant-io --help)
#   memcpy=1   also print the guest's memcpy bandwidth first
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
set -- --label "$label" --sizes "$sizes" --depths "$depths" --ops "$ops" \
    --ios "$ios" --max-bytes "$maxbytes" --span 32M --csv --progress
case $kind in
    vg)
        . /e2e/guest/wait-device.sh
        vgrant-io bench "$devid" --timeout 20000 "$@" 2>&1
        ;;
    file)
        i=0
        while [ ! -b /dev/xvda ]; do
            i=$((i + 1))
            [ "$i" -gt 100 ] && { echo "bench: /dev/xvda did not appear"; exit 1; }
            sleep 0.1
        done
        vgrant-io bench-file /dev/xvda "$@" 2>&1
        ;;
    *)
        echo "bench: unknown kind '$kind'"
        exit 2
        ;;
esac
