#!/bin/sh
# Guest job: verified I/O on virtio-grant block device $devid.
# Arguments (environment): devid (default 0), span (bytes to use, default
# 16M), sizes, count, depth, seed; cksum=1 also prints GUEST-CKSUM of the
# span so dom0 can compare with the backing file.
devid=${devid:-0}
span=${span:-16M}
sizes=${sizes:-512,4K,16K,64K,256K,1M}
count=${count:-8}
depth=${depth:-8}
seed=${seed:-1}

. /e2e/guest/wait-device.sh

vgrant-io info "$devid" || exit 1
vgrant-io verify "$devid" --sizes "$sizes" --count "$count" --depth "$depth" \
    --seed "$seed" --span "$span" || exit 1
if [ "${cksum:-0}" = 1 ]; then
    sum=$(vgrant-io cksum "$devid" --offset 0 --length "$span") || exit 1
    echo "GUEST-CKSUM $sum"
fi
exit 0
