#!/bin/sh
# make bench's network rows, in a guest (the commands dom0 hands to
# guest/kernel-net.sh, scenarios/bench.sh): one test, one result line.
# The same load generator for every row (virtio_net over virtio_grant.ko in
# each mode, xen-netfront): iperf3 3.12 from Debian against dom0's
# `iperf3 -s`, busybox ping.
#
#   bench-net.sh tcp-tx HOST SECONDS       iperf3 -c HOST -t SECONDS: TCP,
#                                          this guest -> HOST
#   bench-net.sh tcp-rx HOST SECONDS       the same with -R: HOST -> guest
#   bench-net.sh udp64 HOST SECONDS RATE   iperf3 -u -l 64 -b RATE: UDP
#                                          datagrams of 64 bytes of
#                                          payload, this guest -> HOST
#   bench-net.sh ping HOST COUNT INTERVAL  busybox ping -c COUNT -i INTERVAL
#
# Output: NETBENCH <test> mbps=<> pps=<> secs=<> p50_us=<> p99_us=<>
# lost=<> irqs=<>, the values a test does not give empty:
#   tcp-*  mbps: iperf3's receiver figure (payload Mbit/s); pps: frames
#          the guest's interface sent (tcp-tx) or received (tcp-rx) during
#          the test over iperf3's duration
#   udp64  mbps: the receiver's payload Mbit/s; pps: datagrams received
#          (iperf3's receiver: total - lost) over its duration; lost: the
#          datagrams lost
#   ping   p50_us, p99_us: of the per-ping round trips busybox printed;
#          lost: pings without a reply line
#   irqs   the guest's interrupts of its network device during the test:
#          the notifications its backend sent that the guest took
#          (/proc/interrupts lines of the device's event channels:
#          xen-netfront's vif<N>-q<Q>[-tx|-rx], virtio_grant.ko's
#          virtio-grant-<N>-q<Q>)
# On failure: NETBENCH-ERROR <test> <why> and the tail of the tool's
# output, non-zero status.  BENCH_NET_SYSFS (default /sys/class/net) and
# BENCH_NET_IRQS (default /proc/interrupts) are for the tests
# (tests/scripts/test_bench_net.sh).
t=${1:-} host=${2:-}
[ -n "$t" ] && [ -n "$host" ] || { echo "usage: bench-net.sh TEST HOST ..." >&2; exit 2; }
out=${TMPDIR:-/tmp}/bench-net-$t.out
sysfs=${BENCH_NET_SYSFS:-/sys/class/net}
irqf=${BENCH_NET_IRQS:-/proc/interrupts}

ifc=""
for n in "$sysfs"/*; do
    [ "${n##*/}" = lo ] && continue
    [ -e "$n/device" ] && { ifc=${n##*/}; break; }
done
[ -n "$ifc" ] || { echo "NETBENCH-ERROR $t no network interface"; exit 1; }
st=$sysfs/$ifc/statistics
irqs() { awk '/ (vif[0-9]+|virtio-grant-[0-9]+)-q[0-9]+(-tx|-rx)?$/ { s = 0; for (k = 2; k <= NF && $k ~ /^[0-9]+$/; k++) s += $k; t += s } END { print t + 0 }' "$irqf"; }

# receiver FILE: "<secs> <mbps> <lost/total or ->" of iperf3's receiver line
receiver() {
    awk '/receiver$/ {
        secs = ""; mbps = ""; lt = "-"
        for (k = 1; k <= NF; k++) {
            if ($k ~ /^[0-9.]+-[0-9.]+$/) { split($k, a, "-"); secs = a[2] - a[1] }
            if ($k == "Mbits/sec") mbps = $(k - 1)
            if ($k ~ /^[0-9]+\/[0-9]+$/) lt = $k
        }
        r = secs " " mbps " " lt
    } END { print r }' "$1"
}

tmo=""
command -v timeout >/dev/null 2>&1 && tmo="timeout"
run_iperf() {   # SECONDS ARGS...
    _s=$1
    shift
    # shellcheck disable=SC2086
    ${tmo:+$tmo $((_s + 60))} iperf3 -c "$host" -t "$_s" -f m "$@" >"$out" 2>&1
}

fail_out() {
    echo "NETBENCH-ERROR $t $1"
    tail -n 8 "$out" 2>/dev/null
    exit 1
}

i0=$(irqs)
case $t in
    tcp-tx|tcp-rx)
        s=${3:-10}
        if [ "$t" = tcp-tx ]; then c=tx_packets; set --; else c=rx_packets; set -- -R; fi
        p0=$(cat "$st/$c")
        run_iperf "$s" "$@" || fail_out "iperf3 failed (rc $?)"
        p1=$(cat "$st/$c")
        # shellcheck disable=SC2046  # three words, split on purpose
        set -- $(receiver "$out")
        [ -n "${2:-}" ] && [ -n "${1:-}" ] || fail_out "no receiver line in iperf3's output"
        pps=$(awk -v n=$((p1 - p0)) -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", n / s }')
        echo "NETBENCH $t mbps=$2 pps=$pps secs=$1 p50_us= p99_us= lost= irqs=$(($(irqs) - i0))"
        ;;
    udp64)
        s=${3:-10} rate=${4:-10M}
        run_iperf "$s" -u -l 64 -b "$rate" || fail_out "iperf3 failed (rc $?)"
        # shellcheck disable=SC2046  # three words, split on purpose
        set -- $(receiver "$out")
        [ -n "${2:-}" ] && [ "${3:--}" != - ] || fail_out "no receiver line with lost/total in iperf3's output"
        lost=${3%/*} total=${3#*/}
        pps=$(awk -v n=$((total - lost)) -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", n / s }')
        echo "NETBENCH $t mbps=$2 pps=$pps secs=$1 p50_us= p99_us= lost=$lost irqs=$(($(irqs) - i0))"
        ;;
    ping)
        n=${3:-200} iv=${4:-0.01}
        # -W: how long busybox waits for the replies after the last ping
        ping -c "$n" -i "$iv" -W 3 "$host" >"$out" 2>&1
        # "64 bytes from A: seq=N ttl=T time=X ms", X in ms
        sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$out" | awk '{ printf "%.0f\n", $1 * 1000 }' | sort -n >"$out.us"
        got=$(wc -l <"$out.us")
        [ "$got" -gt 0 ] || fail_out "no reply"
        p50=$(sed -n "$(((got * 50 + 99) / 100))p" "$out.us")
        p99=$(sed -n "$(((got * 99 + 99) / 100))p" "$out.us")
        echo "NETBENCH $t mbps= pps= secs= p50_us=$p50 p99_us=$p99 lost=$((n - got)) irqs=$(($(irqs) - i0))"
        ;;
    *) echo "NETBENCH-ERROR $t unknown test (tcp-tx, tcp-rx, udp64, ping)"; exit 2 ;;
esac
