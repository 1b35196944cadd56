#!/bin/sh
# Guest job: heavy I/O until killed (the destroy scenario destroys it).
. /e2e/guest/wait-device.sh
n=0
while :; do
    n=$((n + 1))
    echo "GUEST-LOOP $n"
    vgrant-io verify "$devid" --sizes 64K,256K,1M --count 16 --depth 16 \
        --seed "$n" --span 32M >/dev/null || { echo "loop $n failed"; exit 1; }
done
