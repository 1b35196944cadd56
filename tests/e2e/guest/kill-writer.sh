#!/bin/sh
# Guest job of fault-kill: numbered writes, each in its own vgrant-io
# session, while dom0 kills vgrantd (SIGKILL) and starts a new one.
# Write n covers [n * chunk, (n + 1) * chunk) with the pattern of seed
# 1000 + n.  Each write the guest saw complete is logged as
#   KW-DONE <n> <cksum of the chunk> <length>
# (the cksum vgrant-io computed of the data it wrote), each failed attempt
# as KW-FAIL <n> <error>; a failed write is tried again (a new session, so
# a reconnect through a fresh handshake).  dom0 checks every KW-DONE chunk
# in the image.  Arguments: writes (default 48), chunk (bytes, default
# 1048576), tmo (per-request timeout ms, default 4000).
. /e2e/guest/wait-device.sh
writes=${writes:-48}
chunk=${chunk:-1048576}
tmo=${tmo:-4000}
n=0 fails=0
while [ "$n" -lt "$writes" ]; do
    if out=$(vgrant-io write "$devid" --offset $((n * chunk)) --length "$chunk" \
        --seed $((1000 + n)) --timeout "$tmo" 2>&1); then
        echo "KW-DONE $n $(echo "$out" | tail -n1)"
        n=$((n + 1))
    else
        fails=$((fails + 1))
        echo "KW-FAIL $n $(echo "$out" | tr '\n' ' ' | cut -c1-200)"
        [ "$fails" -gt 60 ] && { echo "too many failed writes"; exit 1; }
        sleep 0.5
    fi
done
echo "KW-ALL $writes writes, $fails failed attempts"
exit 0
