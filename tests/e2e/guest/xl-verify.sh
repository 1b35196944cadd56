#!/bin/sh
# Guest job of the xl scenario: blk-verify.sh on each virtio-grant device
# listed in $devids (comma-separated, default 0), one after the other.
# Per device it prints blk-verify's output with GUEST-CKSUM renamed to
# GUEST-CKSUM-<devid>, then "GUEST-DEV <devid> rc=<rc>".  Each device gets
# $devtimeout seconds (default 240).  The job's status is the first
# device's: the scenario judges the others from their GUEST-DEV lines.
# Then each virtio-rng device in $rng_devids is read (vgrant-io rng) and
# "GUEST-RNG <devid> rc=<rc>" printed.
devids=${devids:-0}
first_rc=""

# gntalloc counts every granted page of the guest against one limit
# (default 1024): a static region of 4 MiB alone is 1024 pages.
limit=/sys/module/xen_gntalloc/parameters/limit
if [ -w "$limit" ]; then echo 65536 >"$limit"; fi

for d in $(echo "$devids" | tr ',' ' '); do
    out=/tmp/xl-verify-$d.out
    devid=$d timeout "${devtimeout:-240}" sh /e2e/guest/blk-verify.sh >"$out" 2>&1
    rc=$?
    sed "s/^GUEST-CKSUM /GUEST-CKSUM-$d /" "$out"
    echo "GUEST-DEV $d rc=$rc"
    [ -n "$first_rc" ] || first_rc=$rc
done
# virtio-rng devices ($rng_devids): read 256 KiB each
for d in $(echo "${rng_devids:-}" | tr ',' ' '); do
    devid=$d
    . /e2e/guest/wait-device.sh
    vgrant-io rng "$d" --length 256K --sizes 4K --depth 4
    echo "GUEST-RNG $d rc=$?"
done
exit "${first_rc:-1}"
