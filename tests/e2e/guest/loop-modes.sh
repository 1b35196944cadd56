#!/bin/sh
# Guest job of fault-destroy-modes: heavy verified I/O on every device of
# $devids at once (one background loop per device), until dom0 destroys
# the guest.  Prints "GUEST-LOOP <devid> <n>" at the start of each round.
devids=${devids:-0}
for devid in $(echo "$devids" | tr , ' '); do
    . /e2e/guest/wait-device.sh
done
for devid in $(echo "$devids" | tr , ' '); do
    (
        n=0
        while :; do
            n=$((n + 1))
            echo "GUEST-LOOP $devid $n"
            vgrant-io verify "$devid" --sizes 64K,256K --count 4 --depth 8 \
                --seed "$n" --span 4M >/dev/null 2>&1 ||
                echo "GUEST-LOOP-FAIL $devid $n"
        done
    ) &
done
wait
