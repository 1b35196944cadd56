#!/bin/sh
# Guest job of fault-kill: one vgrant-io seqwrite session of numbered
# writes (write n: block n of `block` bytes, pattern of seed 1000 + n,
# flushed) that runs until dom0 writes data/kw-stop, so dom0 decides when
# the writing ends and can kill vgrantd while it is under way.  Each write
# the guest saw complete is a SEQ-DONE <n> <offset> <cksum> <length> line;
# a failed one (SEQ-FAIL) is retried in a new session (--reconnect) until
# it completes.  Ends with KW-ALL rc=<vgrant-io's status>.
# Arguments: block (bytes, default 65536), tmo (per-request and handshake
# timeout, ms, default 5000).
. /e2e/guest/wait-device.sh
block=${block:-65536}
tmo=${tmo:-5000}
stop=/tmp/kw-stop
rm -f "$stop"
# dom0's stop request, turned into the stop file vgrant-io checks before
# each write
(
    until xenstore-read data/kw-stop >/dev/null 2>&1; do sleep 0.3; done
    touch "$stop"
) &
poller=$!
vgrant-io seqwrite "$devid" --length "$block" --seed 1000 --timeout "$tmo" \
    --reconnect --stop-file "$stop" 2>&1
rc=$?
kill "$poller" 2>/dev/null
wait "$poller" 2>/dev/null
echo "KW-ALL rc=$rc"
exit "$rc"
