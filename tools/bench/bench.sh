#!/usr/bin/env bash
# make bench: run the benchmark scenario (tests/e2e/scenarios/bench.sh) on
# real Xen under QEMU, show its progress as it arrives on the serial
# console, then collect the results:
#   bench/results/latest.csv    mode,op,size,depth,mbps,iops,p50_us,p99_us
#   bench/results/ops.csv       vgrantd's counters per virtio-grant mode and
#                               phase (warm<D>, d<D>; OPS_HEADER below)
#   bench/results/guest-ops.csv virtio_grant.ko's counters per kernel-* mode
#   bench/results/rounds.csv    vgrantd's rounds by size per mode and phase
#   bench/results/memcpy.txt    the guest's memcpy bandwidth (MB/s)
#   bench/results/skipped.txt   modes that did not run (or are suspect), and why
#   bench/results/run-info.txt  when, which commit, which machine
#   bench/results/net.csv       network rows: mode,test,mbps,pps,p50_us,p99_us
#                               (tests/e2e/scenarios/bench-net.lib)
#   bench/results/netops.csv    the backend's counters per network mode and
#                               test (NETOPS_HEADER below)
#   bench/results/net.png       the network rows (plot.sh)
#   bench/results/<op>-qd<depth>.png (libvgrant rows, vgrant-io bench),
#   bench/results/fio-<op>-qd<depth>.png (kernel-* and pvblock rows, fio),
#   docs/benchmarks.md (plot.sh, report.sh)
# Environment: BENCH_TIMEOUT (QEMU run, s, default 3600), BENCH_MODES,
# BENCH_IOS, BENCH_MAXBYTES, BENCH_SIZES, BENCH_DEPTHS, BENCH_MODE_TIMEOUT,
# BENCH_COALESCE_MS, BENCH_NET_MODES, BENCH_NET_SECONDS, BENCH_NET_UDP_RATE,
# BENCH_NET_PINGS, BENCH_NET_REGION, BENCH_NET_MODE_TIMEOUT
# (passed to the scenario, see its header; lists separated by ',' or '+',
# e.g. BENCH_MODES=kernel-grant,pvblock BENCH_SIZES=4K,1M for a short
# run), BENCH_RESULTS (default <repo>/bench/results).  BENCH_MODES or
# BENCH_NET_MODES set but empty (or "none") skips the block or the network
# rows: `make bench BENCH_MODES= BENCH_NET_MODES=net-grant,netfront` runs
# two network modes only.
set -uo pipefail
# ops.csv: mode, phase, then the counters summed over the phase, then the
# high-water marks at its end (tests/e2e/scenarios/bench.sh, OPS_DELTA and
# OPS_HIGH: the BENCH-OPS lines carry these columns in this order)
# rounds.csv: how each phase's rounds were made (the scenario's
# ROUNDS_DELTA, summed over the phase): sizes, and the waits of idle
# queues for a round's worth of requests (vgrantd --coalesce-ms)
ROUNDS_HEADER=mode,phase,rounds,rounds_1,rounds_2_3,rounds_4_7,rounds_8_15,rounds_16_up,gathers,gathers_short
# netops.csv: mode, test, then the backend's counters summed over the test
# (scenarios/bench-net.lib, NETOPS_COLS; empty: not counted for that mode)
NETOPS_HEADER=mode,test,tx_packets,rx_packets,map_batches,maps,unmap_batches,unmaps,copy_batches,grant_copies,notifies_sent,kicks_received,rounds,guest_irqs
NET_HEADER=mode,test,mbps,pps,p50_us,p99_us
OPS_HEADER=mode,phase,requests,map_batches,maps,unmap_batches,unmaps,copy_batches,grant_copies,notifies_sent,kicks_received,rounds,cache_hits,cache_misses,max_round,max_in_flight
repo=$(cd "$(dirname "$0")/../.." && pwd)
bench_name=bench
# shellcheck source=lib.sh
. "$repo/tools/bench/lib.sh"
results=${BENCH_RESULTS:-$repo/bench/results}
logdir=$results/logs
timeout=${BENCH_TIMEOUT:-3600}
mkdir -p "$logdir"
rm -f "$logdir/latest.log"

# set but empty: none of those rows (the scenario's default is all)
for v in BENCH_MODES BENCH_NET_MODES; do
    if [ -n "${!v+set}" ] && [ -z "${!v}" ]; then export "$v=none"; fi
done
if [ "${BENCH_MODES:-}" = none ] && [ "${BENCH_NET_MODES:-}" = none ]; then
    echo "bench: BENCH_MODES and BENCH_NET_MODES both empty: nothing to measure" >&2
    exit 2
fi
# the scenario reads BENCH_* through vgenv_ on dom0's command line
bench_knobs BENCH_MODES BENCH_IOS BENCH_MAXBYTES BENCH_SIZES BENCH_DEPTHS BENCH_MODE_TIMEOUT BENCH_COALESCE_MS \
    BENCH_NET_MODES BENCH_NET_SECONDS BENCH_NET_UDP_RATE BENCH_NET_PINGS BENCH_NET_REGION BENCH_NET_MODE_TIMEOUT

echo "bench: booting Xen under QEMU for the benchmark (timeout ${timeout}s); serial log in $logdir"
bench_start bench "$timeout" "$logdir" "$results/run.out"

# what the serial console says, as it arrives
on_line() {
    case $1 in
        BENCH-PROGRESS\ *)
            set -- ${1#BENCH-PROGRESS }
            printf 'bench: [%4ss] %-10s %-5s %5s qd%-3s point %s\n' \
                "$((SECONDS - t0))" "$1" "$2" "$3" "${4#qd}" "$5" ;;
        BENCH-SKIP\ *)    echo "bench: SKIPPED ${1#BENCH-SKIP }" ;;
        BENCH-MODE\ *)    echo "bench: mode ${1#BENCH-MODE }" ;;
        BENCH-PHASE\ *)   echo "bench: [$(printf '%4s' "$((SECONDS - t0))")s] phase ${1#BENCH-PHASE } done" ;;
        BENCH-MEMCPY\ *)  echo "bench: guest memcpy ${1#BENCH-MEMCPY } MB/s" ;;
        BENCH-NETROW\ *)  echo "bench: [$(printf '%4s' "$((SECONDS - t0))")s] net ${1#BENCH-NETROW }" ;;
        BENCH-NETMODE\ *) echo "bench: network mode ${1#BENCH-NETMODE }" ;;
        "[bench] mode "*|"E2E-RESULT "*) echo "bench: ${1#\[bench\] }" ;;
    esac
}
bench_follow "$logdir" on_line
bench_wait

bench_log "$logdir" "$results/run.out"
bench_csv "$results/latest.csv" "mode,op,size,depth,mbps,iops,p50_us,p99_us" BENCH-ROW
sed -n 's/^BENCH-MEMCPY //p' <<<"$clean" | tail -n1 >"$results/memcpy.txt"
sed -n 's/^BENCH-SKIP //p' <<<"$clean" >"$results/skipped.txt"
bench_csv "$results/ops.csv" "$OPS_HEADER" BENCH-OPS
bench_csv "$results/rounds.csv" "$ROUNDS_HEADER" BENCH-ROUNDS
bench_csv "$results/guest-ops.csv" \
    "mode,requests,completed,grants,setup_grants,zero_copy_bytes,bounce_bytes,bounced_maps,arena_full,map_errors,failed_requests" \
    BENCH-GUESTOPS
bench_csv "$results/net.csv" "$NET_HEADER" BENCH-NETROW
bench_csv "$results/netops.csv" "$NETOPS_HEADER" BENCH-NETOPS
{
    bench_run_info
    echo "knobs:${knobs:- none}"
    echo "duration: $((SECONDS - t0)) s"
} >"$results/run-info.txt"

bench_finish "$results/latest.csv" "$results/skipped.txt" "$results/run.out" \
    "$repo/tools/bench/plot.sh" "$repo/tools/bench/report.sh" "$results" \
    "$repo/docs/benchmarks.md" "; memcpy $(cat "$results/memcpy.txt") MB/s" \
    "$results/net.csv"
exit "$rc"
