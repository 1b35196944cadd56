#!/bin/sh
# Guest job of fault-hostile: the test-only hostile frontend vg-hostile on
# device 0 (event-channel flood while dom0 keeps data/hostile-cmd=flood,
# then a descriptor loop) and device 1 (connects, waits for the same flood
# to end, then an avail index far past the ring).  Output: vg-hostile's
# HOSTILE-* lines.  Exit status 0 when the backend closed both devices.
devid=0; . /e2e/guest/wait-device.sh
devid=1; . /e2e/guest/wait-device.sh
# wait for dom0's word before connecting, so dom0 can measure first
i=0
until [ "$(xenstore-read data/hostile-cmd 2>/dev/null)" = flood ]; do
    i=$((i + 1)); [ "$i" -gt 1200 ] && { echo "no flood command"; exit 3; }
    sleep 0.5
done
vg-hostile 1 --flood-key hostile-cmd --seconds 600 --garbage avail 2>&1 &
p1=$!
vg-hostile 0 --flood-key hostile-cmd --seconds 600 --garbage loop
rc=$?
wait "$p1"
rc1=$?
echo "HOSTILE-RC dev0=$rc dev1=$rc1"
[ "$rc" = 0 ] && [ "$rc1" = 0 ]
