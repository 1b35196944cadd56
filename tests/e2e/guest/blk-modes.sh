#!/bin/sh
# Guest job: verified I/O on virtio-grant block devices $devids (one per
# transport mode), then GUEST-CKSUM <devid> <sum> of each span so dom0 can
# compare with each backing file.
devids=${devids:-0}
span=${span:-8M}
sizes=${sizes:-512,4K,16K,64K,256K,1M}
count=${count:-6}
depth=${depth:-8}
seed=${seed:-1}

# gntalloc counts every granted page of the guest against one limit
# (default 1024): a static region of 4 MiB alone is 1024 pages.
for p in /sys/module/xen_gntalloc/parameters/limit; do
    [ -w "$p" ] && echo 65536 >"$p"
done

for devid in $(echo "$devids" | tr , ' '); do
    . /e2e/guest/wait-device.sh
    vgrant-io info "$devid" || exit 1
    vgrant-io verify "$devid" --sizes "$sizes" --count "$count" \
        --depth "$depth" --seed "$((seed + devid))" --span "$span" || exit 1
    sum=$(vgrant-io cksum "$devid" --offset 0 --length "$span") || exit 1
    echo "GUEST-CKSUM $devid $sum"
done
exit 0
