#!/bin/sh
# Guest job of the bench-scale scenario: run the benchmark points dom0
# hands over, each on several virtio-grant devices at once, until dom0
# says stop (start it with -k).
# Arguments (environment):
#   g         this guest's number (seeds the random offsets)
#   seconds   length of each point (vgrant-io bench --seconds, default 3)
#   depth     requests in flight per device (default 16)
#   span      offsets stay in [0, span) (default 8M)
# dom0 writes data/scale-go-<n> (n = 0, 1, ...) holding
#   run LABEL OP SIZE START DEVID...
#                                 one vgrant-io bench per DEVID, all
#                                 started together, random offsets; each
#                                 opens its device and warms up, then
#                                 waits until START (seconds since the
#                                 epoch, the same in every guest:
#                                 --start-at) before measuring; START
#                                 "now": no wait
#   stop                          end the job
# and the job prints on the console
#   SCALE-READY                   before waiting for the first point
#   SCALE-ROW <n> <devid> <mode,op,size,depth,mbps,iops,p50_us,p99_us>
#   SCALE-WIN <n> <devid> <start>,<end>  the measured I/Os' span
#                                 (CLOCK_REALTIME; with a START only)
#   SCALE-FAIL <n> <devid> <what went wrong>
#   SCALE-END <n> rc=<status>
# then writes data/scale-done-<n> = <status> (0: every device gave its row).
seconds=${seconds:-3}
depth=${depth:-16}
span=${span:-8M}
g=${g:-1}

# wait_dev DEVID: until the toolstack has attached it (60 s at most)
wait_dev() {
    _i=0
    until xenstore-read "device/virtio-grant/$1/backend-id" >/dev/null 2>&1; do
        _i=$((_i + 1))
        [ $_i -gt 300 ] && return 1
        sleep 0.2
    done
    return 0
}

# No polling: under TCG every xenstore-read a PV guest forks costs a lot
# of emulated CPU, and idle guests polling starved dom0 and the measured
# guests.  One xenstore-watch on data/ instead, its events through a FIFO:
# the job sleeps in `read` until something under data/ changes (the watch
# also fires once when set up), then looks for its go key.
home=/local/domain/$(xenstore-read domid)
fifo=${TMPDIR:-/tmp}/scale-ev-$$
mkfifo "$fifo" || { echo "SCALE-FAIL - - mkfifo failed"; exit 4; }
xenstore-watch "$home/data" >"$fifo" &
exec 3<"$fifo"
echo "SCALE-READY"
n=0
while :; do
    c=$(xenstore-read "data/scale-go-$n" 2>/dev/null)
    if [ -z "$c" ]; then
        read -r _ <&3 || { echo "SCALE-FAIL $n - xenstore-watch ended"; exit 4; }
        continue
    fi
    # shellcheck disable=SC2086
    set -- $c
    [ "$1" = stop ] && { echo "SCALE-STOP $n"; kill %1 2>/dev/null; exit 0; }
    if [ "$1" != run ] || [ $# -lt 6 ]; then
        echo "SCALE-FAIL $n - bad command '$c'"
        echo "SCALE-END $n rc=2"
        xenstore-write "data/scale-done-$n" 2
        n=$((n + 1))
        continue
    fi
    label=$2 op=$3 size=$4 start=$5
    shift 5
    at=""
    [ "$start" = now ] || at="--start-at $start"
    rc=0
    for d in "$@"; do
        wait_dev "$d" || { echo "SCALE-FAIL $n $d no virtio-grant device $d after 60 s"; rc=3; }
    done
    if [ "$rc" = 0 ]; then
        # every device's load generator starts at once; each runs for
        # `seconds` (after its own depth-sized warm-up).  --timeout 60 s
        # for the handshake and each request: with 4 guests of 8 booted,
        # opens took more than 20 s and requests 9 s at the median (run
        # of 2026-12-01 16:18, commit f8be8da)
        pids=""
        for d in "$@"; do
            # $at: no option or two words
            # shellcheck disable=SC2086
            vgrant-io bench "$d" --label "$label" --ops "$op" --sizes "$size" \
                --depths "$depth" --seconds "$seconds" --span "$span" --random \
                --seed "$((g * 1000 + n * 10 + d % 10))" --timeout 60000 --csv $at \
                >"/tmp/scale-$n-$d.out" 2>&1 &
            pids="$pids $!"
        done
        for p in $pids; do wait "$p" || rc=1; done
        for d in "$@"; do
            row=$(grep -E "^$label,$op,[0-9]+,[0-9]+," "/tmp/scale-$n-$d.out" | tail -n 1)
            if [ -n "$row" ]; then
                echo "SCALE-ROW $n $d $row"
                win=$(sed -n "s/^window $label,$op,[0-9]*,[0-9]*,//p" "/tmp/scale-$n-$d.out" | tail -n 1)
                [ -z "$win" ] || echo "SCALE-WIN $n $d $win"
                grep '^vgrant-io: --start-at' "/tmp/scale-$n-$d.out" | sed "s/^/SCALE-LATE $n $d /"
            else
                rc=1
                echo "SCALE-FAIL $n $d $(grep -v '^mode,' "/tmp/scale-$n-$d.out" | tail -n 1)"
            fi
            rm -f "/tmp/scale-$n-$d.out"
        done
    fi
    echo "SCALE-END $n rc=$rc"
    xenstore-write "data/scale-done-$n" "$rc"
    n=$((n + 1))
done
