#!/bin/sh
# Guest job: device $devid is read-only.  Writes must fail with a clear
# error; reads work; prints GUEST-CKSUM of the first $span bytes.
. /e2e/guest/wait-device.sh
span=${span:-4M}
vgrant-io info "$devid" | grep -q '^read-only: *yes' || { echo "device not reported read-only"; exit 1; }
if out=$(vgrant-io write "$devid" --offset 0 --length 64K --seed 5 2>&1); then
    echo "write to a read-only device succeeded: $out"
    exit 1
fi
echo "write refused as expected: $out"
sum=$(vgrant-io cksum "$devid" --offset 0 --length "$span") || exit 1
echo "GUEST-CKSUM $sum"
