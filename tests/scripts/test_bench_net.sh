#!/usr/bin/env bash
# make bench's network rows (issue 10 item 5), checked without Xen:
#   1. guest/bench-net.sh turns iperf3 3.12's and busybox ping's output
#      (recorded runs, tests/scripts/fixtures) into its NETBENCH line:
#      the receiver's Mbit/s, packets/s from the interface's counter over
#      iperf3's duration, received datagrams/s (total - lost), ping
#      percentiles; a failing tool gives NETBENCH-ERROR and a non-zero status
#   2. scenarios/bench-net.lib's net_delta: counter differences in
#      NETOPS_COLS order, empty when not counted, overrides
#   3. tools/bench/report.sh's Network section: results, ratios against
#      netfront, hypervisor operations per packet (n/c for netfront's
#      uncounted grant operations); no network rows: says so
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
. "$repo/tests/scripts/lib.sh"
fx=$repo/tests/scripts/fixtures
guest=$repo/tests/e2e/guest

# 1. a fake interface (its tx/rx counters grow by 1000 frames during each
# run of the tools), fake iperf3 and ping printing recorded output
mkdir -p "$tmp/bin" "$tmp/sys/eth0/statistics" "$tmp/sys/eth0/device" "$tmp/sys/lo"
echo 5000 >"$tmp/sys/eth0/statistics/tx_packets"
echo 7000 >"$tmp/sys/eth0/statistics/rx_packets"
printf '           CPU0\n 40:        10  xen-dyn    -event     vif0-q0-tx\n 41:        20  xen-dyn    -event     vif0-q0-rx\n 42:        99  xen-dyn    -event     xenbus\n 43:         7  xen-dyn-lateeoi    -event     virtio-grant-1-q0\n' >"$tmp/irqs"
cat >"$tmp/bin/bump" <<'B'
#!/bin/sh
for c in tx_packets rx_packets; do f=$FAKE_SYS/eth0/statistics/$c; echo $(($(cat "$f") + 1000)) >"$f"; done
awk '$1 == "40:" { $2 += 5 } $1 == "43:" { $2 += 2 } { print }' "$FAKE_IRQS" >"$FAKE_IRQS.new" && mv "$FAKE_IRQS.new" "$FAKE_IRQS"
B
cat >"$tmp/bin/iperf3" <<'I'
#!/bin/sh
echo "$*" >>"$FAKE_ARGS"
bump
case " $* " in
    *" -u "*) cat "$FAKE_FX/iperf3-3.12-udp64.txt" ;;
    *) [ -n "${FAKE_FAIL:-}" ] && { echo "iperf3: error - unable to connect to server: Connection refused"; exit 1; }
       cat "$FAKE_FX/iperf3-3.12-tcp-reverse.txt" ;;
esac
I
cat >"$tmp/bin/ping" <<'P'
#!/bin/sh
echo "$*" >>"$FAKE_ARGS"
cat "$FAKE_FX/busybox-ping-20.txt"
P
chmod +x "$tmp/bin/"*
bn() {
    PATH=$tmp/bin:$PATH FAKE_SYS=$tmp/sys FAKE_IRQS=$tmp/irqs FAKE_FX=$fx FAKE_ARGS=$tmp/args \
        BENCH_NET_SYSFS=$tmp/sys BENCH_NET_IRQS=$tmp/irqs TMPDIR=$tmp sh "$guest/bench-net.sh" "$@"
}
expect "tcp-tx: receiver Mbit/s, frames sent / iperf3's seconds, the device's interrupts" \
    "NETBENCH tcp-tx mbps=5203 pps=500 secs=2 p50_us= p99_us= lost= irqs=7" "$(bn tcp-tx 10.99.0.1 2)"
expect "tcp-rx: iperf3 -R" "NETBENCH tcp-rx mbps=5203 pps=500 secs=2 p50_us= p99_us= lost= irqs=7" "$(bn tcp-rx 10.99.0.1 2)"
expect "udp64: received datagrams / s" \
    "NETBENCH udp64 mbps=0.97 pps=1887 secs=2.01 p50_us= p99_us= lost=0 irqs=7" "$(bn udp64 10.99.0.1 2 1M)"
expect "ping: percentiles of the per-ping times (µs)" \
    "NETBENCH ping mbps= pps= secs= p50_us=79 p99_us=356 lost=0 irqs=0" "$(bn ping 10.99.0.1 20 0.01)"
expect "ping: lost = asked - replies" \
    "NETBENCH ping mbps= pps= secs= p50_us=79 p99_us=356 lost=5 irqs=0" "$(bn ping 10.99.0.1 25 0.01)"
expect "the tools' arguments" "-c 10.99.0.1 -t 2 -f m
-c 10.99.0.1 -t 2 -f m -R
-c 10.99.0.1 -t 2 -f m -u -l 64 -b 1M
-c 20 -i 0.01 -W 3 10.99.0.1
-c 25 -i 0.01 -W 3 10.99.0.1" "$(sed 's/^[0-9]* iperf3 //' "$tmp/args")"
got=$(FAKE_FAIL=1 bn tcp-tx 10.99.0.1 2; echo "rc=$?")
grep -q '^NETBENCH-ERROR tcp-tx iperf3 failed' <<<"$got" && grep -q '^rc=1$' <<<"$got" && ! grep -q '^NETBENCH ' <<<"$got" &&
    ok "a failing iperf3: NETBENCH-ERROR, rc 1" || { bad "a failing iperf3"; echo "$got"; }
got=$(bn nosuch 10.99.0.1; echo "rc=$?")
grep -q '^NETBENCH-ERROR nosuch unknown test' <<<"$got" && ok "unknown test refused" || bad "unknown test: $got"

# 2. net_delta
got=$(sh -c '. "$1"; net_delta "tx_packets=10 rx_packets=5 maps=7 kicks_received=3" "tx_packets=110 rx_packets=55 maps=9 kicks_received=13" notifies_sent=4' \
    sh "$repo/tests/e2e/scenarios/bench-net.lib")
expect "net_delta: differences, not counted empty, override" "100,50,,2,,,,,4,10,," "$got"

# 3. the report
out=$tmp/b.md
echo 'mode,op,size,depth,mbps,iops,p50_us,p99_us' >"$tmp/latest.csv"
{
    echo "mode,test,mbps,pps,p50_us,p99_us"
    echo "net-grant,tcp-tx,50.0,4300,,"; echo "net-grant,tcp-rx,40,3500,,"
    echo "net-grant,udp64,0.5,980,,"; echo "net-grant,ping,,,800,3000"
    echo "netfront,tcp-tx,100,8600,,"; echo "netfront,tcp-rx,80,7000,,"
    echo "netfront,udp64,1.0,1960,,"; echo "netfront,ping,,,400,1500"
} >"$tmp/net.csv"
{
    echo "mode,test,tx_packets,rx_packets,map_batches,maps,unmap_batches,unmaps,copy_batches,grant_copies,notifies_sent,kicks_received,rounds,guest_irqs"
    echo "net-grant,tcp-tx,1000,500,300,1500,300,1500,0,0,200,400,700,150"
    echo "netfront,tcp-tx,2000,1000,,,,,,,,500,,600"
} >"$tmp/netops.csv"
echo 'net-static: vgrant attach refused' >"$tmp/skipped.txt"
run_or_stop "$tmp/report.log" bash "$repo/tools/bench/report.sh" "$tmp" "$out"
res=$(section '### Results')
grep -q '^| net-grant | tcp-tx | 50.0 | 4300 | – | – |$' <<<"$res" && grep -q '^| netfront | ping | – | – | 400 | 1500 |$' <<<"$res" &&
    ok "network results table" || { bad "network results table"; echo "$res"; }
rat=$(section "### Against Xen's netfront")
grep -q '^| net-grant | 0.50 | 0.50 | 0.50 | 2.00 | 2.00 |$' <<<"$rat" && ! grep -q '^| netfront |' <<<"$rat" &&
    ok "ratios against netfront" || { bad "ratios against netfront"; echo "$rat"; }
ops=$(section '### Hypervisor operations per packet')
grep -q '^| net-grant | tcp-tx | 1000 + 500 | 0.200 | 1.000 | 0.200 | 1.000 | 0.000 | 0.000 | 0.133 | 0.267 | 0.100 | 2.14 |$' <<<"$ops" &&
grep -q '^| netfront | tcp-tx | 2000 + 1000 | n/c | n/c | n/c | n/c | n/c | n/c | n/c | 0.167 | 0.200 | n/c |$' <<<"$ops" &&
    ok "operations per packet" || { bad "operations per packet"; echo "$ops"; }
grep -q '^- `net-static`: vgrant attach refused$' "$out" && ok "skipped network mode listed" || bad "skipped network mode"
rm "$tmp/net.csv"
run_or_stop "$tmp/report.log" bash "$repo/tools/bench/report.sh" "$tmp" "$out"
grep -q '^Not measured in this run (`net.csv` has no rows' "$out" && ok "no network rows: said so" || bad "no network rows"
[ "$fails" = 0 ]
