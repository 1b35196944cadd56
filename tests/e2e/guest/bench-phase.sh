#!/bin/sh
# A phase boundary of the bench guest job (guest/bench.sh):
#   sh /e2e/guest/bench-phase.sh LABEL NAME
# prints "phase LABEL NAME done" on the console, then waits until dom0
# (scenarios/bench.sh, follow_guest) has read vgrantd's counters and
# written NAME into this domain's xenstore key data/bench-ack.  vgrant-io
# bench runs it through --phase-cmd, bench-fio.sh between its fio runs.
# Polls every 0.5 s; after phase_timeout seconds (default 120) it says so
# and exits 1, which stops the guest job.
label=$1 name=$2
if [ -z "$label" ] || [ -z "$name" ]; then
    echo "bench: bench-phase.sh needs LABEL and NAME (got '$*')"
    exit 2
fi
tmo=${phase_timeout:-120}
echo "phase $label $name done"
i=0
while :; do
    ack=$(xenstore-read data/bench-ack 2>/dev/null)
    [ "$ack" = "$name" ] && exit 0
    i=$((i + 1))
    if [ "$i" -gt $((tmo * 2)) ]; then
        echo "bench: phase $label $name: no ack from dom0 within $tmo s (data/bench-ack is '${ack:-unset}')"
        exit 1
    fi
    sleep 0.5
done
