#!/bin/sh
# Guest job: run the commands dom0 hands over, one after the other, until
# the guest is destroyed (start it with -k).  dom0 writes a shell command
# line to data/cmd-<n> (n = 0, 1, ...; fault.lib's gcmd does it); the job
# runs it and prints on the console
#   RCMD-OUT <n> <line>       each line of its output (stdout and stderr)
#   RCMD-END <n> rc=<status>
# Used by the fault-* scenarios to drive a guest step by step.
# Optional: devid (default 0): wait for that device before the first
# command (wait=0 skips the wait).
if [ "${wait:-1}" != 0 ]; then
    . /e2e/guest/wait-device.sh
fi
echo "RCMD-READY"
n=0
while :; do
    c=$(xenstore-read "data/cmd-$n" 2>/dev/null)
    if [ -z "$c" ]; then
        sleep 0.3
        continue
    fi
    sh -c "$c" >/tmp/rcmd.out 2>&1
    rc=$?
    sed "s/^/RCMD-OUT $n /" /tmp/rcmd.out
    echo "RCMD-END $n rc=$rc"
    n=$((n + 1))
done
